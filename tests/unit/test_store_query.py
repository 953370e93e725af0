import pytest

from digitize.errors import NotFoundError, QueryError
from digitize.query import find_by_id, find_by_name, search_text, show_document
from digitize.records import Field, Paper
from digitize.store import DocumentRecord, blob_path, fold_text, write_blob
from tests.factories import ocr_page_from_lines

PIN = "079190001234"


def _paper(name: str, pin: str = PIN, dob: str = "1990-05-17") -> Paper:
    paper = Paper(page_index=0, paper_type="cccd2021_front")
    paper.fields["id_number"] = Field("id_number", pin, pin, "qr", 0.99, ["pin.shape"])
    paper.fields["full_name"] = Field("full_name", name, name, "qr", 0.99)
    paper.fields["date_of_birth"] = Field("date_of_birth", dob, dob, "qr", 0.99)
    return paper


def _record(sha: str, lines: list[str], papers=()) -> DocumentRecord:
    return DocumentRecord(
        sha256=sha * 64,
        original_name=f"{sha}.png",
        format="png",
        size_bytes=10,
        pages=[ocr_page_from_lines(lines)],
        papers=list(papers),
        unit="xa-a",
        dossier="D1",
    )


def test_fold_text_keeps_offsets():
    text = "Ủy ban Đức Cơ"
    assert fold_text(text) == "uy ban duc co"
    assert len(fold_text(text)) == len(text)


def test_search_with_and_without_diacritics_exact_first(catalog):
    catalog.add_document(_record("a", ["Kế hoạch cải cách thủ tục hành chính"]))
    catalog.add_document(_record("b", ["Ke hoach cai cach thu tuc hanh chinh"]))
    accented = search_text(catalog, "cải cách thủ tục")
    assert [r["document_id"][0] for r in accented] == ["a", "b"]
    assert accented[0]["exact"] and not accented[1]["exact"]
    assert "[cải cách thủ tục]" in accented[0]["snippet"]
    bare = search_text(catalog, "cai cach thu tuc")
    assert {r["document_id"][0] for r in bare} == {"a", "b"}
    assert bare[0]["document_id"][0] == "b"


def test_search_rejects_empty_query(catalog):
    with pytest.raises(QueryError) as err:
        search_text(catalog, "  ...  ")
    assert err.value.code == "query.empty"


def test_find_by_id_lists_the_persons_documents(catalog):
    catalog.add_document(
        _record("c", ["CĂN CƯỚC CÔNG DÂN"], [_paper("NGUYỄN THỊ HẰNG")])
    )
    catalog.add_document(_record("d", ["TỜ KHAI"], [_paper("NGUYỄN THỊ HẰNG")]))
    catalog.add_document(_record("e", ["khác"], [_paper("TRẦN VĂN B", "001090009999")]))
    person = find_by_id(catalog, PIN)
    assert person["full_name"] == "NGUYỄN THỊ HẰNG"
    assert sorted(d["id"][0] for d in person["documents"]) == ["c", "d"]
    assert {f["name"] for f in person["fields"]} >= {"id_number", "full_name"}


def test_find_by_id_errors(catalog):
    with pytest.raises(QueryError) as err:
        find_by_id(catalog, "12345")
    assert err.value.code == "query.bad_id"
    with pytest.raises(NotFoundError):
        find_by_id(catalog, "001090000000")


def test_find_by_name_folds_and_ranks_exact_first(catalog):
    catalog.add_document(_record("f", ["x"], [_paper("LÊ VĂN HÙNG", "001090000001")]))
    catalog.add_document(_record("g", ["y"], [_paper("LÊ VĂN HƯNG", "001090000002")]))
    hits = find_by_name(catalog, "Lê Văn Hưng")
    assert [h["id_number"] for h in hits] == ["001090000002", "001090000001"]
    assert len(find_by_name(catalog, "le van hung", "1990-05-17")) == 2
    assert find_by_name(catalog, "le van hung", "1991") == []


def test_unverified_number_is_not_linked(catalog):
    paper = _paper("PHẠM VĂN C")
    paper.fields["id_number"].checks_passed = []
    paper.fields["id_number"].checks_failed = ["pin.shape"]
    assert catalog.add_document(_record("h", ["z"], [paper])) == []


def test_show_document(catalog):
    catalog.add_document(_record("1", ["Ủy ban nhân dân"]))
    doc = show_document(catalog, "1111")
    assert doc["pages_text"][0]["text"] == "Ủy ban nhân dân"
    with pytest.raises(NotFoundError):
        show_document(catalog, "2222")
    with pytest.raises(QueryError):
        show_document(catalog, "../etc")


def test_blobs_are_content_addressed(tmp_path):
    sha = write_blob(tmp_path, b"hello", ".bin")
    assert blob_path(tmp_path, sha, ".bin").read_bytes() == b"hello"
    assert write_blob(tmp_path, b"hello", ".bin") == sha
    assert not list(tmp_path.rglob(".tmp-*"))


@pytest.mark.parametrize("dob", ["1990-13-45", "1995-02-30", "notadate", "1990-1"])
def test_find_by_name_refuses_impossible_dates(catalog, dob):
    with pytest.raises(QueryError) as err:
        find_by_name(catalog, "Le Van Hung", dob)
    assert err.value.code == "query.bad_date"


def test_catalog_file_is_private(settings, catalog):
    assert settings.catalog.stat().st_mode & 0o077 == 0
