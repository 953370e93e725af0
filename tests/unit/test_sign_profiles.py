"""Signing profiles, error mapping, verdict wording, key-source settings, the chain."""

from __future__ import annotations

import datetime as dt
import json
from io import BytesIO
from pathlib import Path

import aiohttp
import pikepdf
import pytest
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator.errors import InsufficientRevinfoError, RevokedError

from digitize.config import Settings
from digitize.errors import ConfigError, SigningError, SigningUnavailableError
from digitize.keys import ensure_signing_key
from digitize.sign import sign_pdf
from digitize.sign.chain import (
    list_versions,
    record_input_signatures,
    verify_input_signatures,
)
from digitize.sign.profile import is_loopback_url, resolve_profile, signing_error_from
from digitize.sign.wording import VerdictFacts, describe_changes, summarize
from digitize.store import Catalog, DocumentRecord, write_blob
from tests.factories import ocr_page_from_lines


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(home=tmp_path / "home", **values)  # type: ignore[arg-type]


# --- profiles ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "tsa", "expected"),
    [
        ("auto", "", "B-B"),
        ("auto", "http://127.0.0.1:1/tsa", "B-LTA"),
        ("b-t", "http://127.0.0.1:1/tsa", "B-T"),
        ("B-LT", "https://tsa.example/", "B-LT"),
        ("B-B", "http://127.0.0.1:1/tsa", "B-B"),
    ],
)
def test_profile_levels(tmp_path: Path, level: str, tsa: str, expected: str) -> None:
    profile = resolve_profile(_settings(tmp_path, sign_level=level, sign_tsa_url=tsa))
    assert profile.level == expected
    assert profile.has_timestamp == (expected != "B-B")
    assert profile.embeds_revocation == (expected in ("B-LT", "B-LTA"))
    assert profile.archive_timestamp == (expected == "B-LTA")
    assert (profile.tsa_url != "") == (expected != "B-B")


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"sign_level": "B-X"}, "config.sign_level"),
        ({"sign_level": "B-LTA"}, "config.sign_level"),
        ({"sign_level": "B-T", "sign_tsa_url": "ftp://x/tsa"}, "config.sign_tsa"),
    ],
    ids=["unknown-level", "level-needs-tsa", "tsa-not-http"],
)
def test_bad_profile_settings(tmp_path: Path, values: dict, code: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_profile(_settings(tmp_path, **values))
    assert caught.value.code == code


def test_level_needing_a_tsa_is_refused_before_signing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sign_tsa_url"):
        sign_pdf(b"%PDF-1.7", _settings(tmp_path, sign_level="B-T"))


def test_loopback_urls() -> None:
    assert is_loopback_url("http://127.0.0.1:8080/sign")
    assert is_loopback_url("http://localhost/sign")
    assert not is_loopback_url("http://10.0.0.5/sign")


# --- mapping pyHanko failures to our errors ---------------------------------------


def _bare(kind: type[Exception], message: str) -> Exception:
    # certvalidator's path errors need a validation state; the message is enough here.
    error = kind.__new__(kind)
    Exception.__init__(error, message)
    return error


def _chained(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as err:
            raise outer from err
    except BaseException as err:
        return err


@pytest.mark.parametrize(
    ("inner", "kind", "code"),
    [
        (TimestampRequestError("down"), SigningUnavailableError, "sign.unavailable"),
        (aiohttp.ClientConnectionError("refused"), SigningUnavailableError, None),
        (TimeoutError(), SigningUnavailableError, None),
        (_bare(InsufficientRevinfoError, "no OCSP"), SigningUnavailableError, None),
        (_bare(RevokedError, "revoked"), SigningError, "sign.cert_revoked"),
        (ValueError("odd"), SigningError, "sign.failed"),
    ],
    ids=["tsa", "network", "timeout", "revinfo", "revoked", "other"],
)
def test_signing_errors_are_typed(inner, kind, code) -> None:
    error = signing_error_from(_chained(PyHankoSigningError("outer"), inner))
    assert type(error) is kind
    assert error.transient == (kind is SigningUnavailableError)
    if code:
        assert error.code == code


# --- key source settings -----------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"sign_source": "usb"}, "config.sign_source"),
        ({"sign_source": "pkcs11"}, "config.sign_source"),
        (
            {
                "sign_source": "pkcs11",
                "sign_pkcs11_module": "/x.so",
                "sign_pkcs11_token": "t",
                "sign_pkcs11_key_id": "zz",
            },
            "config.sign_source",
        ),
        ({"sign_source": "remote"}, "config.sign_source"),
    ],
    ids=["unknown", "pkcs11-missing", "pkcs11-bad-id", "remote-missing"],
)
def test_key_source_settings(tmp_path: Path, values: dict, code: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ensure_signing_key(_settings(tmp_path, **values))
    assert caught.value.code == code


def test_pkcs11_source_reads_pin_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root.pem"
    root.write_text("x")
    monkeypatch.setenv("MY_PIN", "2468")
    source = ensure_signing_key(
        _settings(
            tmp_path,
            sign_source="pkcs11",
            sign_pkcs11_module="/usr/lib/x.so",
            sign_pkcs11_token="vntoken",
            sign_pkcs11_key_id="0A",
            sign_pkcs11_pin_env="MY_PIN",
            sign_trust_roots=str(root),
        )
    )
    assert source.key_id == source.cert_id == b"\x0a"  # type: ignore[attr-defined]
    assert source.pin == "2468"  # type: ignore[attr-defined]
    assert "2468" not in repr(source)


# --- wording -------------------------------------------------------------------------


def _facts(**values: object) -> VerdictFacts:
    base = {
        "intact": True,
        "valid": True,
        "trusted": True,
        "ok": True,
        "revocation_checked": True,
        "revoked": False,
        "modification": "LTA_UPDATES",
        "docmdp_ok": True,
        "level": "B-LTA",
        "lta_indication": "PASSED/OK",
        "timestamp_at": dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC),
    }
    base.update(values)
    return VerdictFacts(**base)  # type: ignore[arg-type]


def test_verdicts_in_both_languages() -> None:
    vi, en = summarize(_facts())
    assert en.startswith("Signature valid:") and "revocation checked" in en
    assert "2026-12-04T17:00:00+07:00" in en and "long-term validation passed" in en
    assert vi.startswith("Chữ ký hợp lệ:") and "mức B-LTA" in vi
    vi, en = summarize(_facts(ok=False, trusted=False, revoked=True))
    assert "REVOKED" in en and "ĐÃ BỊ THU HỒI" in vi
    vi, en = summarize(_facts(intact=False))
    assert "altered" in en and "bị sửa đổi" in vi
    vi, en = summarize(_facts(ok=False, lta_indication="INDETERMINATE/NO_POE"))
    assert "long-term validation FAILED (INDETERMINATE/NO_POE)" in en


def test_changes_wording() -> None:
    assert describe_changes("NONE", False)[1] == "document unchanged since signing"
    assert "another signature" in describe_changes("FORM_FILLING", True)[1]
    assert describe_changes("FORM_FILLING", False)[1].startswith("the document was")
    assert describe_changes("OTHER", True)[0] == "tài liệu đã bị thay đổi sau khi ký"


# --- the legal chain in the catalog -------------------------------------------------


def _record(settings: Settings, tag: str, text: str) -> DocumentRecord:
    return DocumentRecord(
        sha256="ab" * 32,
        original_name="ho-so.pdf",
        format="pdf",
        size_bytes=10,
        pages=[ocr_page_from_lines([text])],
        unsigned_sha256=write_blob(settings.repository, b"u" + tag.encode(), ".u"),
        signed_sha256=write_blob(settings.repository, b"s" + tag.encode(), ".s"),
        sign_level="B-B",
        signer="CN=x",
        signed_at="2026-12-04T17:00:00+07:00",
        validated=True,
    )


def test_reprocessing_supersedes_and_keeps_old_versions(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    catalog = Catalog(settings.catalog)
    try:
        first = _record(settings, "1", "bản cũ")
        catalog.add_document(first)
        second = _record(settings, "2", "bản mới")
        assert catalog.replace_reading(second, kind="reprocessed") == 2
        versions = list_versions(catalog, settings, first.id)
        assert [(v["version"], v["kind"], v["current"]) for v in versions] == [
            (1, "signed", False),
            (2, "reprocessed", True),
        ]
        assert versions[0]["signed_sha256"] == first.signed_sha256
        assert versions[0]["superseded_at"]
        row = catalog.db.execute("SELECT * FROM documents").fetchone()
        assert row["signed_sha256"] == second.signed_sha256
        texts = [r["text"] for r in catalog.db.execute("SELECT text FROM pages")]
        assert texts == ["bản mới"]
    finally:
        catalog.close()


def test_versions_backfilled_for_documents_stored_before(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    catalog = Catalog(settings.catalog)
    try:
        first = _record(settings, "1", "x")
        catalog.add_document(first)
        catalog.db.execute("DELETE FROM versions")
        catalog.db.commit()
        [only] = list_versions(catalog, settings, first.id)
        assert only["version"] == 1 and only["current"]
        catalog.add_signed_version(_record(settings, "3", "x"), kind="extended")
        kinds = [v["kind"] for v in list_versions(catalog, settings, first.id)]
        assert kinds == ["signed", "extended"]
    finally:
        catalog.close()


def test_input_signatures_are_verified_and_stored(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = BytesIO()
    pdf.save(out)
    assert verify_input_signatures(out.getvalue(), settings) == []
    assert verify_input_signatures(b"\x89PNG not a pdf", settings) == []
    signed = sign_pdf(out.getvalue(), settings).data
    path = tmp_path / "third-party.pdf"
    path.write_bytes(signed)
    [report] = verify_input_signatures(path, settings)
    assert report["ok"] and report["level"] == "B-B"
    catalog = Catalog(settings.catalog)
    try:
        record_input_signatures(catalog, "cd" * 32, None, [report])
        record_input_signatures(
            catalog, "cd" * 32, None, [{"checked": False, "code": "sign.damaged_pdf"}]
        )
        rows = catalog.db.execute(
            "SELECT * FROM input_signatures ORDER BY id"
        ).fetchall()
        assert [r["ok"] for r in rows] == [1, 0]
        assert json.loads(rows[0]["report"])["field_name"] == "ChuKySo"
    finally:
        catalog.close()


def test_stamp_font_is_a_serif_with_tounicode(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = BytesIO()
    pdf.save(out)
    data = sign_pdf(out.getvalue(), settings).data
    with pikepdf.open(BytesIO(data)) as signed:
        fonts = [
            o
            for o in signed.objects
            if isinstance(o, pikepdf.Dictionary) and o.get("/Subtype") == "/Type0"
        ]
        assert fonts and all("/ToUnicode" in f for f in fonts)
        assert all("Serif" in str(f.BaseFont) for f in fonts)


def test_remote_signer_needs_an_rsa_certificate(tmp_path: Path) -> None:
    # Pins the LIMITATION in remote.RemoteSigner: RSA PKCS#1 v1.5 only.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.factories import self_signed

    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed(key, "ec signer", serial=7)
    pem = tmp_path / "ec.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    source = ensure_signing_key(
        _settings(
            tmp_path,
            sign_source="remote",
            sign_remote_url="http://127.0.0.1:9/sign",
            sign_remote_cert=str(pem),
            sign_trust_roots=str(pem),
        )
    )
    with pytest.raises(ConfigError) as caught:
        source.load_signer()
    assert caught.value.code == "config.sign_remote"


def test_pkcs11_without_pin_is_refused(tmp_path: Path) -> None:
    # Pins the LIMITATION in token.Pkcs11KeySource: the PIN comes from the environment.
    module = tmp_path / "module.so"
    module.write_bytes(b"not loaded")
    root = tmp_path / "root.pem"
    root.write_text("x")
    source = ensure_signing_key(
        _settings(
            tmp_path,
            sign_source="pkcs11",
            sign_pkcs11_module=str(module),
            sign_pkcs11_token="vntoken",
            sign_pkcs11_key_id="01",
            sign_pkcs11_pin_env="DIGITIZE_TEST_NO_SUCH_PIN",
            sign_trust_roots=str(root),
        )
    )
    with pytest.raises(ConfigError) as caught:
        source.load_signer()
    assert caught.value.code == "config.sign_pin"


def test_verify_command_on_a_missing_file(tmp_path: Path) -> None:
    from digitize.cli import main

    config = tmp_path / "c.toml"
    config.write_text(f"home = {str(tmp_path / 'home')!r}\n", encoding="utf-8")
    assert main(["verify", str(tmp_path / "none.pdf"), "--config", str(config)]) == 10
