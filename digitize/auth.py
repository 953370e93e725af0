"""Who may do what: users with roles, scrypt password hashes, sessions and API tokens.

Users, sessions and tokens live in `home/access.sqlite3`. Only a SHA-256 of each session
or token is stored, so a copy of the file cannot be replayed. Every permission is listed
in `PERMISSIONS`; anything not listed for a role is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from digitize.errors import AuthError, ConfigError, PermissionDeniedError, StorageError
from digitize.store import create_private, now_iso

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "AccessStore",
    "Session",
    "User",
    "hash_password",
    "verify_password",
]

ROLES = ("scanner", "counter", "admin")
# "self": see one's own account and upload jobs, log out. Everything else is named.
_COUNTER = frozenset({"self", "lookup", "view", "download", "verify", "prefill"})
PERMISSIONS: dict[str, frozenset[str]] = {
    "scanner": frozenset({"self", "upload"}),
    "counter": _COUNTER,
    "admin": _COUNTER | {"upload", "users", "audit"},
}

# OWASP's scrypt guidance (2023): N=2^17, r=8, p=1 costs 128 MiB; 2^16 halves the
# memory for a small office server and still takes ~0.1 s per guess on one core.
SCRYPT_N = 2**16
_SCRYPT_R, _SCRYPT_P = 8, 1
_MIN_PASSWORD = 10
_USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
_UNIT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MAX_FAILURES = 5
_LOCKOUT_S = 300.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    units TEXT NOT NULL DEFAULT '',
    password TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_s REAL NOT NULL,
    seen_s REAL NOT NULL,
    expires_s REAL NOT NULL,
    idle_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);
"""


@dataclass(frozen=True)
class User:
    """An account: its role decides what it may do, `units` what it may see."""

    id: int
    username: str
    role: str
    units: tuple[str, ...] = ()
    """Units whose papers this user may see; empty means every unit."""

    def can(self, permission: str) -> bool:
        """True when the role grants `permission`."""
        return permission in PERMISSIONS.get(self.role, frozenset())

    def may_see_unit(self, unit: str) -> bool:
        """True when the user is not restricted to units, or `unit` is one of theirs."""
        return not self.units or unit in self.units


@dataclass(frozen=True)
class Session:
    """A logged-in session (browser cookie) or an API bearer token."""

    user: User
    kind: str
    """`session` for the page, `token` for the API."""
    csrf: str
    """The anti-forgery token the page must echo on every state-changing request."""
    expires_s: float
    token_sha: str


def hash_password(password: str, *, n: int | None = None) -> str:
    """Hash with scrypt and a random salt: `scrypt$N$r$p$salt$hash` (hex)."""
    cost = n or SCRYPT_N
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, cost, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${cost}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches the stored hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        actual = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, bytes.fromhex(digest))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # maxmem must exceed 128 * N * r bytes or OpenSSL refuses the parameters.
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * n * r,
        dklen=32,
    )


def _token_sha(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _check_new_user(username: str, role: str, units: tuple[str, ...]) -> None:
    if not _USERNAME_RE.match(username):
        raise ConfigError(
            "a user name is 2-32 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter",
            code="auth.bad_username",
        )
    if role not in ROLES:
        raise ConfigError(
            f"unknown role {role!r}; use one of {', '.join(ROLES)}",
            code="auth.bad_role",
        )
    bad = [u for u in units if not _UNIT_RE.match(u)]
    if bad:
        raise ConfigError(
            "a unit is a folder name of letters, digits, '.', '_' or '-'",
            code="auth.bad_unit",
        )


def _check_password(password: str) -> None:
    if len(password) < _MIN_PASSWORD:
        raise ConfigError(
            f"the password is too short: use at least {_MIN_PASSWORD} characters",
            code="auth.weak_password",
        )


class AccessStore:
    """Users, sessions and tokens in one SQLite file, safe to share between threads."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the store at `path`."""
        create_private(path)
        try:
            self.db = sqlite3.connect(path, timeout=30, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as err:
            raise StorageError(f"cannot open the user store {path}: {err}") from err
        self.lock = threading.Lock()
        self.failures: dict[str, list[float]] = {}
        self._dummy_hash = hash_password(secrets.token_hex(8))

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            try:
                yield self.db
                self.db.commit()
            except BaseException:
                self.db.rollback()
                raise

    def add_user(
        self, username: str, password: str, role: str, units: tuple[str, ...] = ()
    ) -> User:
        """Create an account.

        Raises:
            ConfigError: bad user name, role, unit, a short password or a taken name.
        """
        _check_new_user(username, role, units)
        _check_password(password)
        try:
            with self._write() as db:
                cur = db.execute(
                    "INSERT INTO users (username, role, units, password, created_at)"
                    " VALUES (?,?,?,?,?)",
                    (
                        username,
                        role,
                        ",".join(units),
                        hash_password(password),
                        now_iso(),
                    ),
                )
        except sqlite3.IntegrityError as err:
            raise ConfigError(
                f"the user name {username!r} is taken", code="auth.user_exists"
            ) from err
        return User(int(cur.lastrowid or 0), username, role, units)

    def set_password(self, username: str, password: str) -> None:
        """Replace a user's password and end all their sessions."""
        _check_password(password)
        user = self.get_user(username)
        with self._write() as db:
            db.execute(
                "UPDATE users SET password = ? WHERE id = ?",
                (hash_password(password), user.id),
            )
            db.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))

    def get_user(self, username: str) -> User:
        """The enabled account named `username`.

        Raises:
            AuthError: no such enabled account.
        """
        row = self.db.execute(
            "SELECT * FROM users WHERE username = ? AND disabled = 0", (username,)
        ).fetchone()
        if row is None:
            raise AuthError("no such user", code="auth.unknown_user")
        return _user(row)

    def list_users(self) -> list[dict[str, object]]:
        """Every account, without password hashes."""
        rows = self.db.execute(
            "SELECT id, username, role, units, disabled, created_at FROM users"
            " ORDER BY username"
        ).fetchall()
        return [dict(row) for row in rows]

    def count_admins(self) -> int:
        """How many enabled admin accounts exist."""
        row = self.db.execute(
            "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0"
        ).fetchone()
        return int(row[0])

    def authenticate(self, username: str, password: str, *, now: float) -> User:
        """The user whose name and password match.

        Raises:
            AuthError: wrong name or password (one message for both), or too many
                failed attempts in a row (code auth.throttled).
        """
        key = username.strip().lower()
        # LIMITATION: failures are counted in this process only -> several service
        # processes each allow _MAX_FAILURES attempts per window.
        recent = [t for t in self.failures.get(key, []) if now - t < _LOCKOUT_S]
        if len(recent) >= _MAX_FAILURES:
            raise AuthError(
                "too many failed logins; wait five minutes and try again",
                code="auth.throttled",
            )
        row = self.db.execute(
            "SELECT * FROM users WHERE username = ? AND disabled = 0", (key,)
        ).fetchone()
        # Hash even for an unknown name, so timing does not tell which names exist.
        ok = verify_password(password, row["password"] if row else self._dummy_hash)
        if row is None or not ok:
            self.failures[key] = [*recent, now]
            raise AuthError("wrong user name or password", code="auth.bad_login")
        self.failures.pop(key, None)
        return _user(row)

    def open_session(
        self, user: User, kind: str, *, now: float, lifetime_s: float, idle_s: float
    ) -> tuple[str, Session]:
        """Start a session or token; return the raw secret (shown once) and it."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        sha = _token_sha(token)
        with self._write() as db:
            db.execute(
                "INSERT INTO sessions VALUES (?,?,?,?,?,?,?,?)",
                (sha, user.id, kind, csrf, now, now, now + lifetime_s, idle_s),
            )
        return token, Session(user, kind, csrf, now + lifetime_s, sha)

    def resolve(self, token: str, kind: str, *, now: float) -> Session:
        """The live session or token for this secret; refreshes its idle timer.

        Raises:
            AuthError: unknown secret (auth.required) or past its time (auth.expired).
        """
        sha = _token_sha(token)
        row = self.db.execute(
            "SELECT s.*, u.username, u.role, u.units FROM sessions s"
            " JOIN users u ON u.id = s.user_id"
            " WHERE s.token_sha = ? AND s.kind = ? AND u.disabled = 0",
            (sha, kind),
        ).fetchone()
        if row is None:
            raise AuthError("log in first", code="auth.required")
        if now > row["expires_s"] or now - row["seen_s"] > row["idle_s"]:
            self.close_session(token)
            raise AuthError(
                "the session has expired; log in again", code="auth.expired"
            )
        if now - row["seen_s"] > 30:
            with self._write() as db:
                db.execute(
                    "UPDATE sessions SET seen_s = ? WHERE token_sha = ?", (now, sha)
                )
        user = User(row["user_id"], row["username"], row["role"], _units(row["units"]))
        return Session(user, kind, row["csrf"], row["expires_s"], sha)

    def close_session(self, token: str) -> None:
        """End a session or revoke a token (nothing happens if it is unknown)."""
        self.end_session(_token_sha(token))

    def end_session(self, token_sha: str) -> None:
        """End the session or token with this hash."""
        with self._write() as db:
            db.execute("DELETE FROM sessions WHERE token_sha = ?", (token_sha,))

    def purge_expired(self, *, now: float | None = None) -> int:
        """Delete sessions past their lifetime; return how many."""
        now = time.time() if now is None else now
        with self._write() as db:
            cur = db.execute("DELETE FROM sessions WHERE expires_s < ?", (now,))
        return cur.rowcount

    def require(self, user: User, permission: str) -> None:
        """Raise unless the user's role grants `permission`.

        Raises:
            PermissionDeniedError: the role does not allow it.
        """
        if not user.can(permission):
            raise PermissionDeniedError(
                f"the role '{user.role}' may not do this ({permission})",
                code="auth.forbidden",
            )


def _units(text: str) -> tuple[str, ...]:
    return tuple(u for u in text.split(",") if u)


def _user(row: sqlite3.Row) -> User:
    return User(int(row["id"]), row["username"], row["role"], _units(row["units"]))
