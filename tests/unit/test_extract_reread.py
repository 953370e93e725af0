"""A field read twice: from the page and again from its own crop."""

from digitize.extract import extract_page, value_boxes
from digitize.extract.mrz import _read_name
from digitize.records import PageEvidence, Word

ROWS = [
    (100, 100, "CĂN CƯỚC"),
    (100, 160, "Số định danh cá nhân / Personal identification number:"),
    (100, 220, "064190012345"),
    (100, 280, "Họ, chữ đệm và tên khai sinh / Full name:"),
    (100, 340, "LY THỊ HANG"),
    (100, 400, "Ngày, tháng, năm sinh / Date of birth: 12/05/1990"),
    (100, 460, "Giới tính / Sex: Nữ Quốc tịch / Nationality: Việt Nam"),
]


def _words(rows):
    words = []
    for number, (left, top, text) in enumerate(rows, 1):
        x = left
        for token in text.split():
            words.append(Word(token, x, top, 20 * len(token), 30, 95.0, number, 1, 1))
            x += 20 * len(token) + 15
    return words


def _page(reads=None, rows=ROWS):
    page = PageEvidence(0, "", _words(rows))
    if reads:
        boxes = [box for _, box in value_boxes(page)]
        page.field_reads = {box: reads[i] for i, box in enumerate(boxes) if i in reads}
    return page


def _box_of(page, text):
    """The box key whose words spell `text`."""
    for _, box in value_boxes(page):
        left, top, right, bottom = (int(v) for v in box.split(","))
        inside = [
            w.text
            for w in page.words
            if left <= w.left < right and top <= w.top < bottom
        ]
        if " ".join(inside) == text:
            return box
    raise AssertionError(text)


def _read(reads):
    page = _page()
    page.field_reads = {_box_of(page, text): read for text, read in reads.items()}
    (paper,) = extract_page(page)
    return paper.fields


def test_values_to_read_again_are_listed_by_box():
    fields = [name for name, _ in value_boxes(_page())]
    assert fields == ["id_number", "full_name", "date_of_birth", "sex"]


def test_crop_reading_mends_the_name():
    fields = _read({"LY THỊ HANG": ("LÝ THỊ HẰNG", 91.0)})
    assert fields["full_name"].value == "LÝ THỊ HẰNG"
    assert "name.known" in fields["full_name"].checks_passed


def test_agreeing_readings_are_recorded():
    fields = _read({"064190012345": ("064190012345", 95.0)})
    assert "ocr.reread" in fields["id_number"].checks_passed


def test_disagreeing_numbers_are_never_verified():
    fields = _read({"064190012345": ("064190012845", 95.0)})
    pin = fields["id_number"]
    assert "ocr.reread" in pin.checks_failed
    assert not pin.verified
    assert pin.confidence <= 0.7


def test_a_full_date_beats_a_partial_one():
    rows = [*ROWS[:5], (100, 400, "Ngày, tháng, năm sinh / Date of birth: 12/0S/199O")]
    page = _page(rows=rows)
    page.field_reads = {_box_of(page, "12/0S/199O"): ("12/05/1990", 90.0)}
    (paper,) = extract_page(page)
    assert paper.fields["date_of_birth"].value == "1990-05-12"


def test_number_with_fewer_look_alikes_wins_but_stays_unverified():
    fields = _read({"064190012345": ("0640900l2B45", 20.0)})
    assert fields["id_number"].value == "064190012345"
    assert "ocr.reread" in fields["id_number"].checks_failed


def test_poor_crop_reading_of_text_is_ignored():
    fields = _read({"LY THỊ HANG": ("LÊ THỊ HÀ", 20.0)})
    assert fields["full_name"].value == "LÝ THỊ HẰNG"  # mended from the page alone


def test_mrz_name_look_alikes():
    assert _read_name("THAT<<THI<NGOC<DIEM<<<<") == "THAI THI NGOC DIEM"
    assert _read_name("KSOR<<PHIN<<<<") == "KSOR PHIN"  # unknown: left alone
    assert _read_name("NGUYEN<<VAN<A<<<") == "NGUYEN VAN A"
