from dataclasses import replace
from pathlib import Path

import pytest

from digitize.ingest import Watcher, dossier_of, is_ignored


@pytest.mark.parametrize(
    "name",
    ["scan.pdf.part", "a.tmp", "b.filepart", "c.crdownload", "~$form.docx", ".hidden.pdf",
     "Thumbs.db", ".DS_Store", "desktop.ini", "x.pdf.reason.json"],
)
def test_temporary_and_system_names_are_ignored(name):
    assert is_ignored(name)


@pytest.mark.parametrize("name", ["scan.pdf", "Hồ sơ Nguyễn.jpg", "IMG_0001.JPG"])
def test_ordinary_names_are_taken(name):
    assert not is_ignored(name)


def test_unit_and_dossier_come_from_the_folders():
    assert dossier_of(Path("xa-ia-dom/H23-0001/cccd.jpg")) == ("xa-ia-dom", "H23-0001")
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
