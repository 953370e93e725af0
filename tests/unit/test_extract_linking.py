"""People in the catalog: links by ID number, old CMND numbers, candidates."""

import pytest

from digitize.records import Field, OcrPage, Paper
from digitize.store import Catalog, DocumentRecord

PIN = "064090012345"  # Gia Lai, man born 1990
OTHER_PIN = "038090054321"
CMND = "230123456"


def _field(name, value, source="ocr", conf=0.85, passed=(), failed=()):
    return Field(name, value, value, source, conf, list(passed), list(failed))


def _paper(paper_type, *fields, page=0):
    return Paper(page, paper_type, {f.name: f for f in fields})


def _pin(value=PIN, **kw):
    kw.setdefault("passed", ("pin.shape", "pin.province"))
    return _field("id_number", value, **kw)


def _person_fields(name="NGUYỄN VĂN HÙNG", dob="1990-05-12", sex="M", conf=0.85):
    return (
        _field("full_name", name, conf=conf, passed=("name.shape",)),
        _field("date_of_birth", dob, conf=conf, passed=("date.valid",)),
        _field("sex", sex, conf=conf, passed=("sex.valid",)),
    )


def _store(catalog, doc, *papers):
    page = OcrPage(0, 100, 100, 300, [], "", 90.0)
    record = DocumentRecord(
        sha256=doc * 64, original_name=f"{doc}.jpg", format="jpeg", size_bytes=1,
        pages=[page], papers=list(papers),
    )  # fmt: skip
    return catalog.add_document(record)


def _person(catalog, pin=PIN):
    return catalog.db.execute(
        "SELECT * FROM persons WHERE id_number = ?", (pin,)
    ).fetchone()


def _links(catalog):
    return catalog.db.execute(
        "SELECT p.id_number, l.document_id, l.paper_type FROM links l"
        " JOIN persons p ON p.id = l.person_id ORDER BY l.document_id"
    ).fetchall()


@pytest.fixture
def cat(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    yield catalog
    catalog.close()


def test_papers_with_the_same_number_join_one_person(cat):
    _store(cat, "a", _paper("cccd2021_front", _pin(), *_person_fields()))
    _store(cat, "b", _paper("registration_form", _pin(), *_person_fields()))
    assert [tuple(r) for r in _links(cat)] == [
        (PIN, "a" * 16, "cccd2021_front"),
        (PIN, "b" * 16, "registration_form"),
    ]
    person = _person(cat)
    assert person["full_name"] == "NGUYỄN VĂN HÙNG"
    assert person["name_key"] == "NGUYEN VAN HUNG"
    assert (person["date_of_birth"], person["sex"]) == ("1990-05-12", "M")


def test_doubtful_number_links_nobody(cat):
    doubtful = _pin(failed=("qr.vs.ocr",))
    assert _store(cat, "a", _paper("cccd2021_front", doubtful)) == []
    assert _person(cat) is None


def test_doubtful_number_of_a_known_person_is_a_candidate(cat):
    _store(cat, "a", _paper("cccd2021_front", _pin(), *_person_fields()))
    _store(cat, "b", _paper("registration_form", _pin(failed=("pin.century_sex",))))
    (row,) = cat.db.execute("SELECT reason, document_id FROM person_candidates")
    assert tuple(row) == ("id_number_doubtful", "b" * 16)
    assert len(_links(cat)) == 1


def test_best_values_win_over_first_seen(cat):
    weak = _person_fields(name="NGUYÊN VĂN HÙNG", dob="1990", conf=0.6)
    _store(cat, "a", _paper("registration_form", _pin(), *weak))
    strong = (
        _field("full_name", "NGUYỄN VĂN HÙNG", "qr", 0.95, ("name.shape",)),
        _field("date_of_birth", "1990-05-12", "qr", 0.95, ("date.valid",)),
    )
    _store(cat, "b", _paper("cccd2021_front", _pin(conf=0.95), *strong))
    person = _person(cat)
    assert person["full_name"] == "NGUYỄN VĂN HÙNG"
    assert person["date_of_birth"] == "1990-05-12"


def test_mrz_name_without_marks_does_not_replace_the_printed_name(cat):
    mrz_name = _field("full_name", "NGUYEN VAN HUNG", "mrz", 0.97, ("name.shape",))
    _store(cat, "a", _paper("cccd2021_back", _pin(conf=0.97), mrz_name))
    _store(cat, "b", _paper("cccd2021_front", _pin(), *_person_fields()))
    assert _person(cat)["full_name"] == "NGUYỄN VĂN HÙNG"


def test_old_number_links_only_through_a_source_stating_both(cat):
    cmnd_paper = _paper(
        "cmnd_front", _field("old_id_number", CMND, passed=("cmnd.shape",)),
        *_person_fields()[:2],
    )  # fmt: skip
    _store(cat, "a", cmnd_paper)
    assert _links(cat) == []  # nobody states which PIN this CMND became
    printed_old = _field("old_id_number", CMND, passed=("cmnd.shape",))
    _store(cat, "b", _paper("registration_form", _pin(), printed_old))
    assert [r[1] for r in _links(cat)] == ["b" * 16]  # print alone does not link it
    qr_old = _field("old_id_number", CMND, "qr", 0.95, ("cmnd.shape",))
    _store(cat, "c", _paper("cccd2021_front", _pin(conf=0.95), qr_old))
    assert [r[1] for r in _links(cat)] == ["a" * 16, "b" * 16, "c" * 16]
    _store(
        cat,
        "d",
        _paper("cmnd_back", _field("old_id_number", CMND, passed=("cmnd.shape",))),
    )
    assert [r[1] for r in _links(cat)][-1] == "d" * 16


def test_same_name_birth_date_and_sex_is_a_candidate_never_a_merge(cat):
    _store(cat, "a", _paper("cccd2021_front", _pin(), *_person_fields()))
    _store(cat, "b", _paper("cccd2021_front", _pin(OTHER_PIN), *_person_fields()))
    assert _person(cat, OTHER_PIN) is not None  # two persons, not merged
    (row,) = cat.db.execute(
        "SELECT id, person_id, document_id, reason, status FROM person_candidates"
    )
    assert (row["document_id"], row["reason"], row["status"]) == (
        "b" * 16,
        "name_dob_sex",
        "open",
    )
    assert row["person_id"] == _person(cat)["id"]


def test_name_and_birth_date_without_sex_is_a_weaker_candidate(cat):
    _store(cat, "a", _paper("cccd2021_front", _pin(), *_person_fields()))
    cmnd_paper = _paper(
        "cmnd_front", _field("old_id_number", CMND, passed=("cmnd.shape",)),
        *_person_fields()[:2],
    )  # fmt: skip
    _store(cat, "b", cmnd_paper)
    (reason,) = cat.db.execute("SELECT reason FROM person_candidates").fetchone()
    assert reason == "name_dob"


def test_confirmed_candidate_links_the_paper_and_is_closed(cat):
    _store(cat, "a", _paper("cccd2021_front", _pin(), *_person_fields()))
    _store(cat, "b", _paper("birth_certificate", *_person_fields()))
    (cand,) = cat.db.execute("SELECT id FROM person_candidates").fetchone()
    assert cat.decide_candidate(cand, accept=True)
    assert ("b" * 16, "birth_certificate") in [(r[1], r[2]) for r in _links(cat)]
    assert not cat.decide_candidate(cand, accept=False)  # already decided
    status = cat.db.execute("SELECT status FROM person_candidates").fetchone()[0]
    assert status == "confirmed"


def test_rejected_candidate_links_nothing(cat):
    _store(cat, "a", _paper("cccd2021_front", _pin(), *_person_fields()))
    _store(cat, "b", _paper("birth_certificate", *_person_fields()))
    (cand,) = cat.db.execute("SELECT id FROM person_candidates").fetchone()
    assert cat.decide_candidate(cand, accept=False)
    assert len(_links(cat)) == 1


def test_find_shows_fields_with_source_and_confidence_and_candidates(cat):
    from digitize.query import find_by_id
    from digitize.views import format_person

    qr_old = _field("old_id_number", CMND, "qr", 0.95, ("cmnd.shape",))
    _store(
        cat, "a", _paper("cccd2021_front", _pin(conf=0.95), qr_old, *_person_fields())
    )
    _store(cat, "b", _paper("birth_certificate", *_person_fields()))
    person = find_by_id(cat, CMND)  # found by the old number the QR stated
    assert person["id_number"] == PIN
    text = format_person(person)
    assert "old_id_number    230123456" in text
    assert "date_of_birth    1990-05-12" in text and "ocr  0.85 CHECK" in text
    assert "#1  bbbbbbbbbbbbbbbb  birth_certificate" in text


def test_cli_confirms_a_candidate_once(tmp_path, monkeypatch, capsys):
    from digitize.cli import main

    catalog = Catalog(tmp_path / "catalog.sqlite3")
    _store(catalog, "a", _paper("cccd2021_front", _pin(), *_person_fields()))
    _store(catalog, "b", _paper("birth_certificate", *_person_fields()))
    (cand,) = catalog.db.execute("SELECT id FROM person_candidates").fetchone()
    catalog.close()
    monkeypatch.setenv("DIGITIZE_HOME", str(tmp_path))
    assert main(["candidate", "confirm", str(cand)]) == 0
    assert f"#{cand} confirmed" in capsys.readouterr().out
    assert main(["candidate", "reject", str(cand)]) == 10  # no longer open
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    assert ("b" * 16, "birth_certificate") in [(r[1], r[2]) for r in _links(catalog)]
    kinds = [r[0] for r in catalog.db.execute("SELECT kind FROM events")]
    catalog.close()
    assert kinds.count("candidate") == 1
