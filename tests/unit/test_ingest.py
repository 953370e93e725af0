"""Ingest parts without Tesseract: names, settling, ledger, claim, put-away, reasons."""

import errno
import hashlib
import json
import os
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest

from digitize.errors import DigitizeError, InputError, ToolTimeoutError
from digitize.ingest import Watcher, dossier_of, is_ignored, is_manifest
from digitize.ingest.claim import FileChangedError, claim_entry
from digitize.ingest.putaway import free_target, move_file
from digitize.ingest.reasons import reason_for, write_reason
from digitize.ingest.recovery import remove_orphans
from digitize.ingest.worker import is_transient
from digitize.ledger import Ledger
from digitize.store import DocumentRecord, blob_path, write_blob
from tests.factories import ocr_page_from_lines


@pytest.mark.parametrize(
    "name",
    ["scan.pdf.part", "a.tmp", "b.filepart", "c.crdownload", "~$form.docx",
     ".hidden.pdf", "Thumbs.db", ".DS_Store", "desktop.ini", "x.pdf.reason.json",
     "~lock.x.odt#"],
)  # fmt: skip
def test_temporary_and_system_names_are_ignored(name):
    assert is_ignored(name)


@pytest.mark.parametrize("name", ["scan.pdf", "Hồ sơ Nguyễn.jpg", "IMG_0001.JPG"])
def test_ordinary_names_are_taken(name):
    assert not is_ignored(name) and not is_manifest(name)


def test_manifest_names():
    assert is_manifest("manifest.json") and is_manifest("MANIFEST.CSV")


def test_unit_and_dossier_come_from_the_folders_in_nfc():
    nfd = unicodedata.normalize("NFD", "xã-ia-dơk")
    assert dossier_of(Path(f"{nfd}/H23-0001/cccd.jpg")) == ("xã-ia-dơk", "H23-0001")
    assert dossier_of(Path("xa-ia-dom/cccd.jpg")) == ("xa-ia-dom", "")
    assert dossier_of(Path("cccd.jpg")) == ("", "")


def test_a_file_is_taken_only_after_it_stops_changing(settings, catalog, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    watcher = Watcher(inbox, replace(settings, watch_settle_s=5.0), catalog)
    path = inbox / "scan.png"
    path.write_bytes(b"x")
    assert not watcher.settled(path, 100.0)
    assert not watcher.settled(path, 103.0)
    path.write_bytes(b"xy")
    assert not watcher.settled(path, 104.0)
    assert not watcher.settled(path, 108.0)
    assert watcher.settled(path, 109.5)


def test_scan_skips_dot_folders_and_temporary_files(settings, catalog, tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / ".sync").mkdir(parents=True)
    (inbox / "u" / "d").mkdir(parents=True)
    (inbox / ".sync" / "a.pdf").write_bytes(b"%PDF")
    (inbox / "u" / "d" / "b.pdf").write_bytes(b"%PDF")
    (inbox / "u" / "d" / "c.pdf.part").write_bytes(b"%PDF")
    found = list(Watcher(inbox, settings, catalog).scan())
    assert [p.relative_to(inbox).as_posix() for p in found] == ["u/d/b.pdf"]


# --- ledger -------------------------------------------------------------------


@pytest.fixture
def ledger(tmp_path):
    book = Ledger(tmp_path / "ledger.sqlite3")
    yield book
    book.close()


def test_ledger_keeps_entries_across_a_restart(tmp_path):
    path = tmp_path / "inbox" / "a.png"
    path.parent.mkdir()
    path.write_bytes(b"abc")
    first = Ledger(tmp_path / "ledger.sqlite3")
    entry = first.observe(path.parent, Path("a.png"), path.stat())
    first.update(entry.id, state="queued")
    first.close()
    again = Ledger(tmp_path / "ledger.sqlite3")
    (kept,) = again.entries()
    assert (kept.id, kept.state, kept.relative, kept.size_bytes) == (
        entry.id, "queued", Path("a.png"), 3,
    )  # fmt: skip
    again.close()


def test_a_file_changed_after_it_was_queued_is_requeued(ledger, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"abc")
    entry = ledger.observe(tmp_path, Path("a.png"), path.stat())
    ledger.update(entry.id, state="queued")
    assert ledger.observe(tmp_path, Path("a.png"), path.stat()).state == "queued"
    path.write_bytes(b"abcdef")
    again = ledger.observe(tmp_path, Path("a.png"), path.stat())
    assert (again.id, again.state, again.size_bytes) == (entry.id, "seen", 6)


def test_a_finished_path_gets_a_new_entry_when_a_file_comes_again(ledger, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"abc")
    first = ledger.observe(tmp_path, Path("a.png"), path.stat())
    ledger.update(first.id, state="processed")
    second = ledger.observe(tmp_path, Path("a.png"), path.stat())
    assert second.id != first.id and second.state == "seen"
    assert ledger.last_final(tmp_path, Path("a.png")).id == first.id
    assert ledger.counts() == {"processed": 1, "seen": 1}


def test_ledger_stores_raw_non_utf8_names(ledger, tmp_path):
    name = os.fsdecode(b"scan-\xff.png")
    path = tmp_path / name
    path.write_bytes(b"x")
    entry = ledger.observe(tmp_path, Path(name), path.stat())
    assert ledger.get(entry.id).path == path


# --- claim --------------------------------------------------------------------


def _entry(ledger, folder, relative):
    path = folder / relative
    return ledger.observe(folder, Path(relative), path.stat())


def test_claim_copies_and_hashes_the_raw_bytes(ledger, tmp_path):
    (tmp_path / "in" / "u" / "d").mkdir(parents=True)
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)
    (tmp_path / "in" / "u" / "d" / "Giấy tờ.png").write_bytes(data)
    entry = _entry(ledger, tmp_path / "in", "u/d/Giấy tờ.png")
    claim = claim_entry(entry, tmp_path / "work", max_bytes=10**6, young=False)
    assert claim.sha256 == hashlib.sha256(data).hexdigest()
    assert claim.copy.read_bytes() == data and claim.size_bytes == len(data)
    assert (claim.name, claim.unit, claim.dossier) == ("Giấy tờ.png", "u", "d")
    assert claim.copy.name == str(entry.id)  # the copy never carries the name
    claim.discard()
    assert not claim.copy.exists()


def test_claim_notices_a_file_that_changed_since_it_settled(ledger, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"abc")
    entry = _entry(ledger, tmp_path, "a.png")
    path.write_bytes(b"abcd")
    with pytest.raises(FileChangedError):
        claim_entry(entry, tmp_path / "work", max_bytes=10**6, young=False)


def test_claim_refuses_files_over_max_file_mb(ledger, tmp_path):
    (tmp_path / "big.pdf").write_bytes(b"%PDF" + b"0" * 2000)
    entry = _entry(ledger, tmp_path, "big.pdf")
    with pytest.raises(InputError) as err:
        claim_entry(entry, tmp_path / "work", max_bytes=1000, young=False)
    assert err.value.code == "input.too_large"


# --- put-away -----------------------------------------------------------------


def test_free_target_never_overwrites(tmp_path):
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "a.pdf").write_bytes(b"1")
    (tmp_path / "u" / "a-1.pdf").write_bytes(b"2")
    assert free_target(tmp_path, Path("u/a.pdf")) == tmp_path / "u" / "a-2.pdf"
    assert free_target(tmp_path, Path("u/b.pdf")) == tmp_path / "u" / "b.pdf"


def _ident(path):
    st = path.lstat()
    return st.st_size, st.st_mtime_ns, st.st_ino


def test_move_keeps_the_bytes_and_is_idempotent(tmp_path):
    source = tmp_path / "in" / "a.pdf"
    source.parent.mkdir()
    source.write_bytes(b"%PDF-1.7 scan")
    ident = _ident(source)
    target = tmp_path / "processed" / "u" / "a.pdf"
    assert move_file(source, target, ident, plain=True) == "moved"
    assert target.read_bytes() == b"%PDF-1.7 scan" and not source.exists()
    assert move_file(source, target, ident, plain=True) == "gone"


def test_move_leaves_a_file_that_was_replaced(tmp_path):
    source = tmp_path / "a.pdf"
    source.write_bytes(b"one")
    ident = _ident(source)
    source.unlink()
    source.write_bytes(b"another file")
    assert move_file(source, tmp_path / "out.pdf", ident, plain=True) == "changed"
    assert source.read_bytes() == b"another file"


def test_move_across_file_systems_copies_then_unlinks(tmp_path, monkeypatch):
    source = tmp_path / "a.pdf"
    source.write_bytes(b"scan bytes")
    ident = _ident(source)

    def cross_device(self, target):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(Path, "rename", cross_device)
    target = tmp_path / "q" / "a.pdf"
    assert move_file(source, target, ident, plain=True) == "moved"
    assert target.read_bytes() == b"scan bytes" and not source.exists()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert move_file(fifo, tmp_path / "q" / "pipe", _ident(fifo), plain=False) == "left"
    assert fifo.exists()


def test_move_after_a_crash_between_copy_and_unlink(tmp_path):
    source = tmp_path / "a.pdf"
    source.write_bytes(b"scan")
    target = tmp_path / "q" / "a.pdf"
    target.parent.mkdir()
    target.write_bytes(b"scan")  # the copy finished, the unlink did not
    assert move_file(source, target, _ident(source), plain=True) == "moved"
    assert not source.exists() and target.read_bytes() == b"scan"


# --- reasons, transient errors, orphans ---------------------------------------


def test_reason_names_code_stage_tool_message_and_next_step(tmp_path):
    try:
        try:
            raise RuntimeError("qpdf: file is damaged")
        except RuntimeError as cause:
            raise InputError("the PDF is damaged", code="input.damaged_pdf") from cause
    except InputError as err:
        reason = reason_for(err, file="u/d/đơn.pdf", sha256="ab" * 32, stage="open")
    assert reason["code"] == "input.damaged_pdf" and reason["stage"] == "open"
    assert reason["class"] == "InputError"
    assert "qpdf: file is damaged" in reason["tool_message"]
    assert "new copy" in reason["what_to_do"] and "inbox" in reason["release"]
    path = write_reason(tmp_path / "q" / "đơn.pdf", reason)
    assert path.name == "đơn.pdf.reason.json"
    assert json.loads(path.read_text(encoding="utf-8")) == reason
    assert not list(path.parent.glob(".tmp-*"))


def test_reason_for_a_tool_timeout_and_an_unexpected_error():
    reason = reason_for(
        ToolTimeoutError("tesseract ran too long"), file="a", sha256=None
    )
    assert reason["code"] == "tool.timeout" and "timeout_s" in reason["what_to_do"]
    reason = reason_for(KeyError("x"), file="a", sha256=None)
    assert reason["code"] == "internal.error" and "log" in reason["message"]


@pytest.mark.parametrize(
    ("err", "transient"),
    [
        (OSError(errno.EBUSY, "busy"), True),
        (OSError(errno.ESTALE, "stale"), True),
        (OSError(errno.EACCES, "denied"), True),
        (OSError(errno.ENOENT, "gone"), False),
        (InputError("bad", code="input.empty"), False),
    ],
)
def test_transient_errors(err, transient):
    assert is_transient(err) is transient


def test_transient_cause_makes_a_storage_error_transient():
    err = DigitizeError("cannot write blob", code="store.failed")
    err.__cause__ = OSError(errno.ENOSPC, "full")
    assert is_transient(err)


def test_orphan_blobs_go_and_referenced_ones_stay(settings, catalog):
    kept = write_blob(settings.repository, b"%PDF kept", ".pdf")
    orphan = write_blob(settings.repository, b"%PDF orphan", ".signed.pdf")
    record = DocumentRecord(
        sha256=kept, original_name="a.pdf", format="pdf", size_bytes=9,
        pages=[ocr_page_from_lines(["x"])],
    )  # fmt: skip
    catalog.add_document(record)
    paths = [
        blob_path(settings.repository, kept, ".pdf"),
        blob_path(settings.repository, orphan, ".signed.pdf"),
        blob_path(settings.repository, "0" * 64, ".unsigned.pdf"),  # never written
    ]
    half = paths[1].with_name(f".tmp-{paths[1].name}.k2j4h1")  # killed mid-write
    half.write_bytes(b"%PDF half")
    assert remove_orphans(paths, catalog) == 1
    assert paths[0].exists() and not paths[1].exists() and not half.exists()


# --- watched folders from the settings --------------------------------------------


def test_watch_folders_from_toml_with_their_own_timings(tmp_path, monkeypatch):
    from digitize.config import load_settings
    from digitize.ingest.folders import resolve_folders

    path = tmp_path / "c.toml"
    path.write_text(
        f"[watch]\npolling = false\nsettle_s = 3.0\n"
        f'[[watch.folders]]\npath = "{tmp_path}/local"\n'
        f'[[watch.folders]]\npath = "{tmp_path}/smb"\nmode = "polling"\n'
        "settle_s = 90.0\nyoung_s = 240\n"
    )
    local, smb = resolve_folders(load_settings(path))
    assert (local.mode, local.settle_s) == ("events", 3.0)
    assert (smb.mode, smb.settle_s, smb.young_s) == ("polling", 90.0, 240.0)
    assert smb.path == (tmp_path / "smb").resolve() and smb.path.is_dir()
    monkeypatch.setenv("DIGITIZE_WATCH_FOLDERS", f'[{{"path": "{tmp_path}/env"}}]')
    (only,) = resolve_folders(load_settings(path))
    assert only.path.name == "env"


@pytest.mark.parametrize(
    "table",
    ['[[watch.folders]]\nmode = "polling"\n',
     '[[watch.folders]]\npath = "/x"\ncolour = "red"\n',
     '[[watch.folders]]\npath = "/x"\nmode = "sometimes"\n',
     '[[watch.folders]]\npath = "/x"\nsettle_s = -1\n'],
)  # fmt: skip
def test_bad_watch_folders_are_refused_by_name(tmp_path, table):
    from digitize.config import load_settings
    from digitize.errors import ConfigError

    path = tmp_path / "c.toml"
    path.write_text(table)
    with pytest.raises(ConfigError, match=r"watch\.folders"):
        load_settings(path)


def test_reason_file_message_does_not_name_the_work_copy():
    from digitize.ingest.reasons import _tool_message

    err = ValueError("/srv/home/work/watch/2: unable to find trailer dictionary")
    said = _tool_message(err)
    assert "/work/" not in said and "unable to find trailer dictionary" in said
