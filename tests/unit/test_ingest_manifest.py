"""Dossier manifests: read, validated, defaults on every problem, never a crash."""

import json

import pytest

from digitize.ingest.manifest import apply_manifest, is_dossier_empty, read_manifest
from digitize.store import DocumentRecord
from tests.factories import ocr_page_from_lines

ID = "079190001234"
FILES = {"cccd.jpg", "đơn đề nghị.pdf"}


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_json_manifest(tmp_path):
    path = _write(tmp_path, "manifest.json", json.dumps({
        "procedure_code": "1.001234",
        "applicant_id_number": ID,
        "papers": {"cccd.jpg": "cccd", "đơn đề nghị.pdf": "application_form"},
    }))  # fmt: skip
    manifest = read_manifest(path, FILES)
    assert manifest.fields == {"procedure_code": "1.001234", "applicant_id_number": ID}
    assert manifest.paper_types == {
        "cccd.jpg": "cccd",
        "đơn đề nghị.pdf": "application_form",
    }
    assert manifest.warnings == []


def test_valid_csv_manifest_with_excel_bom(tmp_path):
    text = (
        "\ufefffile,paper_type,procedure_code,applicant_id_number\n"
        f"cccd.jpg,CCCD,1.004227.000.00.00.H12,{ID}\n"
        "đơn đề nghị.pdf,application_form,,\n"
    )
    manifest = read_manifest(_write(tmp_path, "manifest.csv", text), FILES)
    assert manifest.fields["procedure_code"] == "1.004227.000.00.00.H12"
    assert manifest.paper_types["cccd.jpg"] == "cccd"
    assert manifest.warnings == []


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("manifest.json", "{not json", "not valid JSON"),
        ("manifest.json", "[1, 2]", "must be a JSON object"),
        ("manifest.json", '{"procedure_code": "abc"}', "not a national procedure code"),
        ("manifest.json", '{"applicant_id_number": "12345"}', "not a 12-digit ID"),
        ("manifest.json", '{"papers": {"cccd.jpg": "selfie"}}', "recorded as other"),
        ("manifest.json", '{"papers": {"gone.pdf": "cccd"}}', "not among the dossier"),
        ("manifest.json", '{"colour": "blue"}', "unknown manifest key 'colour'"),
        ("manifest.json", '{"papers": "cccd"}', "'papers' must map"),
        ("manifest.csv", "name,kind\na,b\n", "needs a header with a 'file' column"),
        ("manifest.csv", "file,procedure_code\na,1.000001\nb,1.000002\n",
         "rows disagree on procedure_code"),
    ],
)  # fmt: skip
def test_every_problem_gets_a_warning_and_a_default(tmp_path, name, text, fragment):
    manifest = read_manifest(_write(tmp_path, name, text), FILES)
    assert any(fragment in w for w in manifest.warnings), manifest.warnings
    assert set(manifest.fields) == {"procedure_code", "applicant_id_number"}
    assert all(kind in {"cccd", "other", "application_form"}
               for kind in manifest.paper_types.values())  # fmt: skip


def test_bad_id_number_is_masked_in_the_warning(tmp_path):
    manifest = read_manifest(
        _write(tmp_path, "manifest.json", '{"applicant_id_number": "0791900012345"}'),
        FILES,
    )
    assert manifest.fields["applicant_id_number"] == ""
    assert "0791900012345" not in " ".join(manifest.warnings)
    assert "*********" in " ".join(manifest.warnings)


def test_binary_and_oversized_manifests_are_ignored(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert "not UTF-8" in read_manifest(path, FILES).warnings[0]
    path.write_bytes(b"{" + b" " * 70_000 + b"}")
    assert "ignored" in read_manifest(path, FILES).warnings[0]


def test_manifest_applied_to_papers_filed_before_and_after(settings, catalog, tmp_path):
    inbox = tmp_path / "inbox"
    folder = inbox / "xa-ia-dom" / "H23-0001"
    folder.mkdir(parents=True)
    for sha, name in (("a" * 64, "cccd.jpg"), ("b" * 64, "đơn đề nghị.pdf")):
        catalog.add_document(
            DocumentRecord(sha, name, "pdf", 1, [ocr_page_from_lines(["x"])])
        )
    catalog.link_paper("xa-ia-dom", "H23-0001", "a" * 16, "cccd.jpg")
    path = folder / "manifest.json"
    path.write_text(json.dumps({
        "procedure_code": "1.001234", "applicant_id_number": ID,
        "papers": {"cccd.jpg": "cccd", "đơn đề nghị.pdf": "application_form"},
    }), encoding="utf-8")  # fmt: skip
    assert is_dossier_empty(folder)
    apply_manifest(path, inbox, catalog, settings)
    catalog.link_paper("xa-ia-dom", "H23-0001", "b" * 16, "đơn đề nghị.pdf")
    rows = catalog.db.execute(
        "SELECT file_name, paper_type FROM dossier_papers ORDER BY file_name"
    ).fetchall()
    assert [tuple(r) for r in rows] == [
        ("cccd.jpg", "cccd"), ("đơn đề nghị.pdf", "application_form"),
    ]  # fmt: skip
    dossier = catalog.db.execute("SELECT * FROM dossiers").fetchone()
    assert (dossier["procedure_code"], dossier["applicant_id_number"]) == (
        "1.001234",
        ID,
    )
    assert json.loads(dossier["manifest_warnings"]) == [
        "the manifest lists 'đơn đề nghị.pdf', which is not among the dossier's files"
    ]
    assert not path.exists()
    moved = settings.processed / "xa-ia-dom" / "H23-0001" / "manifest.json"
    assert json.loads(moved.read_text(encoding="utf-8"))["procedure_code"] == "1.001234"


def test_a_folder_with_a_scan_left_is_not_empty(tmp_path):
    (tmp_path / "manifest.csv").write_text("file\n")
    (tmp_path / "Thumbs.db").write_bytes(b"x")
    assert is_dossier_empty(tmp_path)
    (tmp_path / "scan.pdf").write_bytes(b"%PDF")
    assert not is_dossier_empty(tmp_path)
