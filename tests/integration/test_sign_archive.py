"""The signed archive over time: offline checks, archive timestamps, versions, CLI.

A catalog is filled with files signed against the live test PKI; `signatures check`
runs offline in parallel processes, `signatures extend` adds archive timestamps.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from digitize.cli import main
from digitize.config import Settings
from digitize.sign import sign_pdf, verify_pdf
from digitize.sign.archive import check_archive, extend_archive, extend_pdf
from digitize.sign.chain import list_versions
from digitize.sign.verify import open_pdf
from digitize.store import Catalog, DocumentRecord, blob_path, write_blob
from tests.factories import ocr_page_from_lines
from tests.pki.fixtures import make_pdf, pki_fixture, settings_for  # noqa: F401
from tests.pki.server import TestPki

pytestmark = pytest.mark.slow


def _store(catalog: Catalog, settings: Settings, name: str, level: str) -> str:
    """Sign a small PDF at `level` and catalog it as a document; returns its id."""
    scan = f"scan {name}".encode()
    unsigned = make_pdf(text=name)
    tsa = settings.sign_tsa_url if level != "B-B" else ""
    signed = sign_pdf(unsigned, replace(settings, sign_level=level, sign_tsa_url=tsa))
    record = DocumentRecord(
        sha256=write_blob(settings.repository, scan, ".pdf"),
        original_name=f"{name}.pdf",
        format="pdf",
        size_bytes=len(scan),
        pages=[ocr_page_from_lines([name])],
        unsigned_sha256=write_blob(settings.repository, unsigned, ".unsigned.pdf"),
        signed_sha256=write_blob(settings.repository, signed.data, ".signed.pdf"),
        sign_level=signed.level,
        signer=signed.signer_subject,
        signed_at=signed.signed_at.isoformat(),
        validated=True,
    )
    catalog.add_document(record)
    return record.id


@pytest.fixture
def archive(pki: TestPki, tmp_path: Path):
    settings = settings_for(pki, tmp_path / "home")
    catalog = Catalog(settings.catalog)
    levels = ("B-B", "B-T", "B-LTA")
    ids = {level: _store(catalog, settings, level, level) for level in levels}
    yield settings, catalog, ids
    catalog.close()


def test_check_runs_offline_in_parallel_and_lists_what_to_extend(
    archive,
    pki: TestPki,
) -> None:
    settings, catalog, ids = archive
    pki.stop()
    try:
        seen: list[int] = []
        statuses = check_archive(settings, catalog, processes=2, advance=seen.append)
    finally:
        pki.start()
    assert len(seen) == 3
    by_id = {s.document_id: s for s in statuses}
    lta, bt, bb = by_id[ids["B-LTA"]], by_id[ids["B-T"]], by_id[ids["B-B"]]
    # Pins the LIMITATION in archive._status: B-B has no signature timestamp.
    assert bb.ok and not bb.needs_extension and "cannot be made long-term" in bb.reason
    assert lta.ok and lta.lta_indication == "PASSED/OK" and not lta.needs_extension
    assert lta.expires_at.startswith("2045")  # the test TSA's certificate
    assert bt.ok and bt.needs_extension and "no archive timestamp" in bt.reason


def test_extend_adds_archive_timestamps_as_new_versions(archive) -> None:
    settings, catalog, ids = archive
    results = extend_archive(settings, catalog)
    # Only the B-T file lacks an archive timestamp; the B-LTA one is not due.
    assert [(r["document_id"], r["ok"], r["version"]) for r in results] == [
        (ids["B-T"], True, 2)
    ]
    versions = list_versions(catalog, settings, ids["B-T"])
    assert [v["kind"] for v in versions] == ["signed", "extended"]
    assert versions[0]["superseded_at"] and not versions[0]["current"]
    assert versions[1]["current"] and versions[1]["sign_level"] == "B-LTA"
    old = Path(versions[0]["signed_path"]).read_bytes()
    new = Path(versions[1]["signed_path"]).read_bytes()
    assert new.startswith(old)
    unsigned = blob_path(
        settings.repository, versions[1]["unsigned_sha256"], ".unsigned.pdf"
    ).read_bytes()
    assert new.startswith(unsigned)
    [report] = verify_pdf(new, settings)
    assert (
        report.ok and report.level == "B-LTA" and report.lta_indication == "PASSED/OK"
    )
    assert [v["version"] for v in list_versions(catalog, settings, ids["B-LTA"])] == [1]


def test_extending_a_b_lta_file_adds_a_second_archive_timestamp(archive) -> None:
    settings, catalog, ids = archive
    sha = catalog.db.execute(
        "SELECT signed_sha256 FROM documents WHERE id = ?", (ids["B-LTA"],)
    ).fetchone()[0]
    data = blob_path(settings.repository, sha, ".signed.pdf").read_bytes()
    extended = extend_pdf(data, settings)
    assert extended.startswith(data)
    reader = open_pdf(extended)
    assert len(reader.embedded_timestamp_signatures) == 2
    [report] = verify_pdf(extended, settings)
    assert report.ok and report.lta_indication == "PASSED/OK"


def test_cli_verify_check_and_versions(
    archive, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    settings, catalog, ids = archive
    config = tmp_path / "digitize.toml"
    config.write_text(
        f"home = {str(settings.home)!r}\n[sign]\n"
        f"pkcs12 = {settings.sign_pkcs12!r}\n"
        f"passphrase_file = {settings.sign_passphrase_file!r}\n"
        f"trust_roots = {settings.sign_trust_roots!r}\n"
        f"tsa_url = {settings.sign_tsa_url!r}\n",
        encoding="utf-8",
    )
    doc = catalog.db.execute(
        "SELECT signed_sha256 FROM documents WHERE id = ?", (ids["B-LTA"],)
    ).fetchone()[0]
    path = blob_path(settings.repository, doc, ".signed.pdf")
    assert main(["verify", str(path), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "level         B-LTA" in out and "Chữ ký hợp lệ" in out
    assert main(["verify", str(path), "--json", "--config", str(config)]) == 0
    [report] = json.loads(capsys.readouterr().out)
    assert report["level"] == "B-LTA" and report["revocation_checked"] is True
    assert main(["signatures", "check", "-q", "--config", str(config)]) == 0
    assert "3 checked offline: 3 valid" in capsys.readouterr().out
    assert main(["versions", ids["B-T"], "--config", str(config)]) == 0
    assert "v1 signed" in capsys.readouterr().out


def test_verify_exit_code_for_unsigned_file(tmp_path: Path) -> None:
    path = tmp_path / "plain.pdf"
    path.write_bytes(make_pdf())
    config = tmp_path / "c.toml"
    config.write_text(f"home = {str(tmp_path / 'home')!r}\n", encoding="utf-8")
    assert main(["verify", str(path), "--config", str(config)]) == 7
