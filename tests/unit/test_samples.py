"""The synthetic sample generator writes files that agree with its truth.json."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import pikepdf
import pytest
import zxingcpp
from PIL import Image

from digitize.extract.mrz import check_digit
from samples import generate as generate_module
from samples.generate import _make_persons, generate, main
from samples.pages import CORPUS
from samples.plans import PLANS

PROVINCES_2016 = {
    "001", "002", "004", "006", "008", "010", "011", "012", "014", "015", "017",
    "019", "020", "022", "024", "025", "026", "027", "030", "031", "033", "034",
    "035", "036", "037", "038", "040", "042", "044", "045", "046", "048", "049",
    "051", "052", "054", "056", "058", "060", "062", "064", "066", "067", "068",
    "070", "072", "074", "075", "077", "079", "080", "082", "083", "084", "086",
    "087", "089", "091", "092", "093", "094", "095", "096",
}  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("samples")
    return out, generate(out, seed=7, set_name="demo")


def _page_count(path: Path, fmt: str) -> int:
    if fmt == "pdf":
        with pikepdf.open(path) as pdf:
            return len(pdf.pages)
    with Image.open(path) as image:
        return getattr(image, "n_frames", 1)


def test_truth_json_matches_returned_dict(demo):
    out, truth = demo
    on_disk = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert on_disk == truth
    raw = (out / "truth.json").read_text(encoding="utf-8")
    assert "Việt Nam" in raw
    assert "\\u" not in raw


def test_every_file_exists_with_its_page_count(demo):
    out, truth = demo
    listed = {path for path in truth["files"]}
    written = {
        p.relative_to(out / "inbox").as_posix()
        for p in (out / "inbox").rglob("*")
        if p.is_file()
    }
    assert written == listed
    for relpath, entry in truth["files"].items():
        path = out / "inbox" / relpath
        assert _page_count(path, entry["format"]) == len(entry["pages"]), relpath


def test_demo_set_is_small_and_varied(demo):
    _, truth = demo
    files = truth["files"].values()
    pages = [page for entry in files for page in entry["pages"]]
    assert 7 <= len(truth["files"]) <= 9
    assert 12 <= len(pages) <= 16
    assert {e["format"] for e in files} == {"jpeg", "png", "pdf", "tiff"}
    assert {e["kind"] for e in files} == {"document", "card", "form"}
    assert [p["rotation"] for p in pages].count(180) == 1
    assert {p["dpi"] for p in pages} == {200, 300}
    assert sum(p["clean"] for p in pages) >= len(pages) // 2


def test_folders_are_units_and_dossier_codes(demo):
    _, truth = demo
    units = set()
    for relpath in truth["files"]:
        unit, dossier, _ = relpath.split("/")
        units.add(unit)
        assert re.fullmatch(r"H\d{2}\.\d{2}-\d{6}-\d{4}", dossier), dossier
    assert 2 <= len(units) <= 3


def test_dpi_is_stored_in_image_files(demo):
    out, truth = demo
    for relpath, entry in truth["files"].items():
        if entry["format"] in ("jpeg", "png", "tiff"):
            with Image.open(out / "inbox" / relpath) as image:
                dpi = image.info["dpi"]
            assert round(dpi[0]) == entry["pages"][0]["dpi"], relpath


def test_group4_tiff_is_bilevel(demo):
    out, truth = demo
    tiffs = [p for p, e in truth["files"].items() if e["format"] == "tiff"]
    assert tiffs
    with Image.open(out / "inbox" / tiffs[0]) as image:
        assert image.mode == "1"
        assert image.info["compression"] == "group4"
        assert 2 <= image.n_frames <= 3


def test_pdf_has_no_text_layer(demo):
    out, truth = demo
    for relpath, entry in truth["files"].items():
        if entry["format"] != "pdf":
            continue
        with pikepdf.open(out / "inbox" / relpath) as pdf:
            for page in pdf.pages:
                assert b"Tj" not in page.Contents.read_bytes()
                assert "/Font" not in page.Resources


def test_planted_phrase_occurs_once(demo):
    _, truth = demo
    phrase = truth["planted"]["phrase"]
    assert unicodedata.is_normalized("NFC", phrase)
    hits = [
        path
        for path, entry in truth["files"].items()
        for page in entry["pages"]
        if phrase in page["text"]
    ]
    assert hits == [truth["planted"]["file"]]
    assert phrase not in unicodedata.normalize("NFC", CORPUS.read_text("utf-8"))


def test_mrz_check_digits_are_valid(demo):
    _, truth = demo
    for person in truth["persons"]:
        line1, line2, line3 = person["mrz"]
        assert all(len(line) == 30 for line in person["mrz"])
        assert line1[14] == check_digit(line1[5:14])
        assert line1[15:27] == person["id_number"]
        assert line1[29] == check_digit(line1[15:27])
        assert line2[6] == check_digit(line2[0:6])
        assert line2[14] == check_digit(line2[8:14])
        composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
        assert line2[29] == check_digit(composite)
        assert line2[7] == person["sex"]
        assert line3.startswith(line3.split("<<")[0] + "<<")


def test_id_numbers_agree_with_birth_and_sex(demo):
    _, truth = demo
    for person in truth["persons"]:
        number = person["id_number"]
        born = date.fromisoformat(person["date_of_birth"])
        assert re.fullmatch(r"\d{12}", number)
        assert number[:3] in PROVINCES_2016
        century_sex = int(number[3])
        assert 1900 + 100 * (century_sex // 2) + int(number[4:6]) == born.year
        assert ("F" if century_sex % 2 else "M") == person["sex"]
        assert re.fullmatch(r"(\d{9})?", person["old_id_number"])


def test_expiry_is_birthday_at_a_renewal_age(demo):
    _, truth = demo
    for person in truth["persons"]:
        born = date.fromisoformat(person["date_of_birth"])
        expiry = date.fromisoformat(person["expiry_date"])
        assert (expiry.month, expiry.day) == (born.month, born.day)
        assert expiry.year - born.year in (14, 25, 40, 60)
        assert expiry > date.fromisoformat(person["issue_date"])


def test_names_are_nfc_upper_case(demo):
    _, truth = demo
    for person in truth["persons"]:
        name = person["full_name"]
        assert unicodedata.is_normalized("NFC", name)
        assert name == name.upper()


def _decoded(path: Path) -> list[str]:
    with Image.open(path) as image:
        return [code.text for code in zxingcpp.read_barcodes(image)]


def test_qr_codes_decode_to_the_truth_payload(demo):
    out, truth = demo
    payloads = {p["id_number"]: p["qr"] for p in truth["persons"]}
    seen = set()
    for relpath, entry in truth["files"].items():
        if entry["kind"] != "card":
            continue
        for text in _decoded(out / "inbox" / relpath):
            assert text == payloads[entry["persons"][0]], relpath
            seen.add(text)
    assert seen == set(payloads.values())
    for payload in seen:
        fields = payload.split("|")
        assert len(fields) == 7
        assert fields[4] in ("Nam", "Nữ")
        assert unicodedata.is_normalized("NFC", payload)


def test_card_text_repeats_the_person(demo):
    _, truth = demo
    persons = {p["id_number"]: p for p in truth["persons"]}
    for entry in truth["files"].values():
        if entry["kind"] not in ("card", "form"):
            continue
        text = "\n".join(page["text"] for page in entry["pages"])
        for number in entry["persons"]:
            person = persons[number]
            assert number in text  # printed, or inside MRZ line 1
            assert person["full_name"] in text or person["mrz"][2] in text


def test_form_shares_a_dossier_with_its_card(demo):
    _, truth = demo
    forms = [(p, e) for p, e in truth["files"].items() if e["kind"] == "form"]
    assert forms
    for relpath, entry in forms:
        dossier = relpath.rsplit("/", 1)[0]
        cards = [
            e
            for p, e in truth["files"].items()
            if e["kind"] == "card" and p.startswith(dossier + "/")
        ]
        assert any(set(entry["persons"]) <= set(card["persons"]) for card in cards)


def test_same_seed_gives_same_files(demo, tmp_path):
    out, truth = demo
    assert generate(tmp_path, seed=7) == truth
    for relpath in truth["files"]:
        again = (tmp_path / "inbox" / relpath).read_bytes()
        assert again == (out / "inbox" / relpath).read_bytes(), relpath


def test_other_seed_gives_other_people():
    plan = PLANS["demo"]
    assert _make_persons(plan, 7) == _make_persons(plan, 7)
    assert _make_persons(plan, 7) != _make_persons(plan, 8)


def test_cli_passes_arguments(tmp_path, monkeypatch, capsys):
    calls = []

    def fake_generate(out, seed, set_name):
        calls.append((out, seed, set_name))
        return {"files": {"a": {"pages": [{}]}}, "persons": []}

    monkeypatch.setattr(generate_module, "generate", fake_generate)
    assert main(["--out", str(tmp_path), "--seed", "3", "--set", "full"]) == 0
    assert calls == [(tmp_path, 3, "full")]
    assert "1 files, 1 pages" in capsys.readouterr().out


def test_cli_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    foreign = tmp_path / "inbox"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not ours")
    assert main(["--out", str(tmp_path)]) == 2
    assert "choose an empty --out directory" in capsys.readouterr().err
    assert (foreign / "keep.txt").exists()


def test_full_plan_is_bigger_and_keeps_the_demo():
    demo, full = PLANS["demo"], PLANS["full"]
    assert full.files[: len(demo.files)] == demo.files
    assert len(full.persons) == 6
    documents = [p for f in full.files for p in f.pages if p.content.startswith("doc")]
    assert len(documents) >= 20
    assert sum("planted" in p.content for p in documents) == 1


def test_unknown_set_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown sample set"):
        generate(tmp_path, set_name="huge")
