"""Accounts, password hashes, sessions and tokens, role permissions."""

from __future__ import annotations

import pytest

from digitize import auth
from digitize.auth import PERMISSIONS, AccessStore, User, hash_password, verify_password
from digitize.errors import AuthError, ConfigError

PASSWORD = "một mật khẩu dài"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(auth, "SCRYPT_N", 2**10)
    access = AccessStore(tmp_path / "access.sqlite3")
    yield access
    access.close()


def test_password_hash_round_trip_and_format():
    encoded = hash_password(PASSWORD, n=2**10)
    scheme, n, r, p, salt, digest = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", "1024", "8", "1")
    assert len(bytes.fromhex(salt)) == 16 and len(bytes.fromhex(digest)) == 32
    assert verify_password(PASSWORD, encoded)
    assert not verify_password(PASSWORD + "x", encoded)
    assert hash_password(PASSWORD, n=2**10) != encoded  # a fresh salt each time


@pytest.mark.parametrize("encoded", ["", "md5$x", "scrypt$1024$8$1$zz$00", "a$b$c"])
def test_malformed_hash_never_matches(encoded):
    assert not verify_password(PASSWORD, encoded)


@pytest.mark.parametrize(
    "password", ["a", " ", "Đặng Thị Ngọc 💡", "x" * 500, "p\x00q"]
)
def test_any_password_verifies_only_itself(password):
    encoded = hash_password(password, n=2**4)
    assert verify_password(password, encoded)
    assert not verify_password(password + "!", encoded)


def test_default_cost_is_a_modern_scrypt():
    encoded = hash_password("x" * 12)
    assert int(encoded.split("$")[1]) >= 2**15


@pytest.mark.parametrize(
    ("username", "password", "role", "units", "code"),
    [
        ("Admin", PASSWORD, "admin", (), "auth.bad_username"),
        ("a", PASSWORD, "admin", (), "auth.bad_username"),
        ("../x", PASSWORD, "admin", (), "auth.bad_username"),
        ("quay", PASSWORD, "root", (), "auth.bad_role"),
        ("quay", PASSWORD, "counter", ("../x",), "auth.bad_unit"),
        ("quay", "s3cr3t", "counter", (), "auth.weak_password"),
    ],
)
def test_add_user_refuses_bad_input(store, username, password, role, units, code):
    with pytest.raises(ConfigError) as err:
        store.add_user(username, password, role, units)
    assert err.value.code == code
    assert password not in err.value.message


def test_authenticate_and_throttle(store):
    store.add_user("quay", PASSWORD, "counter")
    assert store.authenticate("quay", PASSWORD, now=0).role == "counter"
    for attempt in range(5):
        with pytest.raises(AuthError) as err:
            store.authenticate("quay", "wrong password", now=attempt)
        assert err.value.code == "auth.bad_login"
    with pytest.raises(AuthError) as err:
        store.authenticate("quay", PASSWORD, now=10)
    assert err.value.code == "auth.throttled"
    assert store.authenticate("quay", PASSWORD, now=400).username == "quay"


def test_unknown_user_gets_the_same_message(store):
    with pytest.raises(AuthError) as err:
        store.authenticate("nobody", PASSWORD, now=0)
    assert err.value.code == "auth.bad_login"


def test_session_idle_and_absolute_expiry(store):
    user = store.add_user("quay", PASSWORD, "counter")
    token, session = store.open_session(
        user, "session", now=1000, lifetime_s=3600, idle_s=600
    )
    assert store.resolve(token, "session", now=1500).user.username == "quay"
    assert store.resolve(token, "session", now=2000).csrf == session.csrf
    with pytest.raises(AuthError) as err:
        store.resolve(token, "session", now=2700)
    assert err.value.code == "auth.expired"
    with pytest.raises(AuthError) as err:  # an expired session is gone for good
        store.resolve(token, "session", now=2000)
    assert err.value.code == "auth.required"
    token, _ = store.open_session(user, "session", now=0, lifetime_s=100, idle_s=600)
    with pytest.raises(AuthError):
        store.resolve(token, "session", now=150)


def test_a_session_is_not_a_token(store):
    user = store.add_user("quay", PASSWORD, "counter")
    token, _ = store.open_session(user, "session", now=0, lifetime_s=99, idle_s=99)
    with pytest.raises(AuthError):
        store.resolve(token, "token", now=1)


def test_only_hashes_of_secrets_are_stored(store, tmp_path):
    user = store.add_user("quay", PASSWORD, "counter")
    token, _ = store.open_session(user, "token", now=0, lifetime_s=99, idle_s=99)
    raw = (tmp_path / "access.sqlite3").read_bytes()
    wal = tmp_path / "access.sqlite3-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert token.encode() not in raw
    assert PASSWORD.encode() not in raw


def test_new_password_ends_sessions(store):
    user = store.add_user("quay", PASSWORD, "counter")
    token, _ = store.open_session(user, "session", now=0, lifetime_s=99, idle_s=99)
    store.set_password("quay", "another long password")
    with pytest.raises(AuthError):
        store.resolve(token, "session", now=1)


def test_permissions_deny_by_default():
    scanner, counter, admin = (User(1, "x", role) for role in auth.ROLES)
    assert scanner.can("upload") and not scanner.can("lookup")
    assert counter.can("lookup") and counter.can("prefill")
    assert not counter.can("upload") and not counter.can("audit")
    assert not counter.can("users") and not counter.can("anything-new")
    assert all(admin.can(p) for role in PERMISSIONS.values() for p in role)
    assert not User(1, "x", "intruder").can("self")


def test_unit_restriction():
    assert User(1, "x", "counter").may_see_unit("xa-b")
    restricted = User(1, "x", "counter", ("xa-a",))
    assert restricted.may_see_unit("xa-a") and not restricted.may_see_unit("xa-b")
