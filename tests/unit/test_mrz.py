import pytest

from digitize.extract.mrz import (
    check_digit,
    clean_mrz_line,
    compose_td1,
    fit_td1_lines,
    parse_td1,
)

# identity-papers.md section 3.2: PIN 123456789012, DOB 1990-01-01, M, expiry 2030.
SPEC = [
    "IDVNM4567890126123456789012<<2",
    "9001011M3001019VNM<<<<<<<<<<<0",
    "NGUYEN<<VAN<A<<<<<<<<<<<<<<<<<",
]
ALL_CHECKS = (
    "mrz.check.docno",
    "mrz.check.pin",
    "mrz.check.dob",
    "mrz.check.expiry",
    "mrz.check.composite",
    "mrz.docno_vs_pin",
)


def test_icao_specimen_check_digit():
    assert check_digit("D23145890") == "7"


@pytest.mark.parametrize(
    ("data", "digit"),
    [("456789012", "6"), ("123456789012", "2"), ("900101", "1"), ("300101", "9")],
)
def test_check_digits_of_the_vietnamese_example(data, digit):
    assert check_digit(data) == digit


def test_check_digit_rejects_foreign_characters():
    with pytest.raises(ValueError, match="not allowed"):
        check_digit("12a")


def test_compose_td1_gives_the_reference_example():
    lines = compose_td1(
        id_number="123456789012",
        dob_yymmdd="900101",
        sex="M",
        expiry_yymmdd="300101",
        name_mrz="NGUYEN<<VAN<A",
    )
    assert lines == SPEC


def test_parse_reference_example():
    mrz = parse_td1(SPEC)
    assert mrz is not None
    assert mrz.pin == "123456789012"
    assert mrz.document_number == "456789012"
    assert mrz.date_of_birth == "1990-01-01"
    assert mrz.sex == "M"
    assert mrz.expiry_date == "2030-01-01"
    assert mrz.nationality == "VNM"
    assert mrz.name == "NGUYEN VAN A"
    assert mrz.checks_passed == ALL_CHECKS
    assert mrz.checks_failed == ()
    assert mrz.repairs == 0


def test_dob_century_comes_from_the_pin():
    lines = compose_td1(
        id_number="001305012345",
        dob_yymmdd="050315",
        sex="F",
        expiry_yymmdd="300315",
        name_mrz="TRAN<<THI<B",
    )
    mrz = parse_td1(lines)
    assert mrz is not None
    assert mrz.date_of_birth == "2005-03-15"
    assert mrz.sex == "F"


@pytest.mark.parametrize(
    ("line", "position", "wrong"),
    [
        (0, 7, "O"),  # letter O for 0 in the document number
        (0, 20, "B"),  # B for 8 in the PIN
        (0, 29, "Z"),  # Z for 2 in the position-30 check digit
        (1, 3, "I"),  # I for 1 in the birth date
        (0, 6, "S"),  # S for 5
        (1, 27, "K"),  # K for a filler
        (2, 20, "K"),  # K for a filler after the name
        (0, 18, "8"),  # 4 read as 8 in the PIN: the document number repairs it
        (0, 9, "3"),  # 8 read as 3 in the document number: the PIN repairs it
    ],
)
def test_single_ocr_slip_is_repaired(line, position, wrong):
    lines = list(SPEC)
    lines[line] = lines[line][:position] + wrong + lines[line][position + 1 :]
    mrz = parse_td1(lines)
    assert mrz is not None
    assert list(mrz.lines) == SPEC
    assert mrz.checks_failed == ()
    assert mrz.repairs >= (1 if line < 2 else 0)  # the name line has no check


def test_digit_slip_repaired_when_only_one_look_alike_fits():
    lines = list(SPEC)
    lines[1] = "9007011M3001019VNM<<<<<<<<<<<0"  # 1 of 900101 read as 7
    mrz = parse_td1(lines)
    assert mrz is not None
    assert mrz.date_of_birth == "1990-01-01"
    assert mrz.passed("mrz.check.dob")
    assert mrz.repairs == 1


def test_ambiguous_digit_slip_is_left_failed():
    # 900107 can be mended to 900101, 980107, 900187 or 9001077 alike, and the
    # composite does not tell them apart: no guess.
    lines = list(SPEC)
    lines[1] = "9001071M3001019VNM<<<<<<<<<<<0"
    mrz = parse_td1(lines)
    assert mrz is not None
    assert mrz.date_of_birth == "1990-01-07"
    assert "mrz.check.dob" in mrz.checks_failed


def test_slip_in_province_digits_is_not_mended_by_the_document_number():
    lines = list(SPEC)
    lines[0] = SPEC[0][:16] + "7" + SPEC[0][17:]  # PIN 123... read as 173...
    mrz = parse_td1(lines)
    assert mrz is not None
    # The document number lacks the province digits, so it cannot vouch for a new
    # PIN check digit; several look-alikes fit, so the PIN stays failed.
    assert mrz.pin == "173456789012"
    assert "mrz.check.pin" in mrz.checks_failed


def test_unrepairable_field_fails_its_check():
    lines = list(SPEC)
    lines[1] = lines[1].replace("900101", "920304")
    mrz = parse_td1(lines)
    assert mrz is not None
    assert "mrz.check.dob" in mrz.checks_failed
    assert "mrz.check.composite" in mrz.checks_failed
    assert "mrz.check.pin" in mrz.checks_passed


def test_pin_and_document_number_disagreeing_fails():
    lines = list(SPEC)
    pin = "123456789013"
    lines[0] = lines[0][:15] + pin + "<<" + check_digit(pin)
    mrz = parse_td1(lines)
    assert mrz is not None
    assert "mrz.docno_vs_pin" in mrz.checks_failed


def test_ocr_noise_of_real_tesseract_output():
    # What Tesseract `eng` read from a generated card: `<` runs too short or read as
    # `c`, a `T` for the `I` of `ID`, a lowercase guillemet run in the name line.
    lines = [
        "TDVNM0967302740038096730274<<7",
        "9612280M3612288VNM<<<<ccccccc4",
        "DO<<MINH<DAT<<<<<<ccccccccecccce",
    ]
    mrz = parse_td1(lines)
    assert mrz is not None
    assert mrz.pin == "038096730274"
    assert mrz.date_of_birth == "1996-12-28"
    assert mrz.expiry_date == "2036-12-28"
    assert mrz.name == "DO MINH DAT"
    assert mrz.checks_failed == ()


def test_fit_lines_restores_filler_runs():
    fitted = fit_td1_lines(
        ["IDVNM4567890126123456789012<<<2", "9001011M3001019VNM<<<<0"]
    )
    assert fitted == [SPEC[0], SPEC[1], "<" * 30]


def test_guillemet_counts_as_two_fillers_when_the_line_is_short():
    assert clean_mrz_line("IDVNM4567890126123456789012«2") == SPEC[0]
    assert clean_mrz_line("ab c«") == "ABC<<"


@pytest.mark.parametrize(
    "lines",
    [[], ["IDVNM4567890126123456789012<<2"], ["P<UTOERIKSSON<<ANNA", "L898902C36UTO"]],
)
def test_not_a_vietnamese_td1(lines):
    assert parse_td1(lines) is None


@pytest.mark.parametrize(
    ("name_line", "name"),
    [("VO0<<CONG<TRUNG", "VO CONG TRUNG"), ("PHAN<<THI<THU<THA0Q", "PHAN THI THU THAO"),
     ("NGUYEN<<VAN<A<<<<K<<C", "NGUYEN VAN A"), ("PHAM<<DUC<PHUOC", "PHAM DUC PHUOC")],
)  # fmt: skip
def test_name_line_slips(name_line, name):
    mrz = parse_td1([SPEC[0], SPEC[1], name_line])
    assert mrz is not None
    assert mrz.name == name
    assert mrz.repairs == 0  # the checked lines were read right


SHIFTED = compose_td1(
    id_number="042076804214",
    dob_yymmdd="761117",
    sex="M",
    expiry_yymmdd="361117",
    name_mrz="THAI<<CONG<KHANH",
)


@pytest.mark.parametrize(
    "line1",
    [
        SHIFTED[0][:7] + "8" + SHIFTED[0][7:],  # a character slipped into the docno
        SHIFTED[0][:7] + SHIFTED[0][8:],  # one dropped from it
    ],
)
def test_line1_rebuilt_from_its_checked_pin(line1):
    mrz = parse_td1([line1, SHIFTED[1], SHIFTED[2]])
    assert mrz.pin == "042076804214"
    assert mrz.checks_failed == ()
    assert mrz.repairs > 0  # verified, but as a repaired MRZ


def test_failed_pin_does_not_set_the_birth_century():
    line1 = SHIFTED[0][:18] + "2" + SHIFTED[0][19:]  # PIN digit 4 read as 2 (2000s)
    line1 = line1[:5] + "5" + line1[6:]  # and the docno wrong too: nothing repairs
    mrz = parse_td1([line1, SHIFTED[1], SHIFTED[2]])
    assert "mrz.check.pin" in mrz.checks_failed
    assert mrz.date_of_birth == "1976-11-17"  # before the 2036 expiry, not 2076
