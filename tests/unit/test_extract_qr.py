from digitize.extract.qr import parse_qr_payload

CCCD = (
    "038090012345|123456789|Nguyễn Văn Hùng|01011990|Nam|"
    "Số 12, ngõ 5, phố Huế, Hai Bà Trưng, Hà Nội|10082021"
)


def test_chip_cccd_payload():
    qr = parse_qr_payload(CCCD)
    assert qr is not None
    assert qr.id_number == "038090012345"
    assert qr.old_id_number == "123456789"
    assert qr.full_name == "Nguyễn Văn Hùng"
    assert qr.date_of_birth == "1990-01-01"
    assert qr.sex == "M"
    assert qr.residence == "Số 12, ngõ 5, phố Huế, Hai Bà Trưng, Hà Nội"
    assert qr.issue_date == "2021-08-10"
    assert qr.extras == []
    assert qr.card == "cccd2021"


def test_payload_without_old_cmnd():
    qr = parse_qr_payload(
        "040195221636||LÝ THU LINH|28081995|Nữ|Thôn 7, Ia Dom, Đức Cơ, Gia Lai|25102021"
    )
    assert qr is not None
    assert qr.old_id_number is None
    assert qr.full_name == "LÝ THU LINH"
    assert qr.sex == "F"
    assert qr.residence == "Thôn 7, Ia Dom, Đức Cơ, Gia Lai"


def test_can_cuoc_2024_order_with_extras():
    # Circular 16/2024 order: PIN, name, DOB, sex, residence, issue date, CMND,
    # cancelled PINs, parents' names (a child's card).
    payload = (
        "001318012345|Trần Thị Bé|15032018|Nữ|Tổ 3, Phường Láng, Hà Nội|20082024||"
        "001318099999|Trần Văn Cha|Lê Thị Mẹ"
    )
    qr = parse_qr_payload(payload)
    assert qr is not None
    assert qr.id_number == "001318012345"
    assert qr.full_name == "Trần Thị Bé"
    assert qr.date_of_birth == "2018-03-15"
    assert qr.issue_date == "2024-08-20"
    assert qr.residence == "Tổ 3, Phường Láng, Hà Nội"
    assert qr.old_id_number is None
    assert qr.extras == ["001318099999", "Trần Văn Cha", "Lê Thị Mẹ"]
    assert qr.card == "cancuoc2024"


def test_dates_out_of_order_are_sorted():
    qr = parse_qr_payload("038090012345|Nguyễn Văn Hùng|10082021|Nam|Hà Nội|01011990")
    assert qr is not None
    assert (qr.date_of_birth, qr.issue_date) == ("1990-01-01", "2021-08-10")
    assert qr.residence == "Hà Nội"


def test_decomposed_text_is_normalised():
    import unicodedata

    qr = parse_qr_payload(unicodedata.normalize("NFD", CCCD))
    assert qr is not None
    assert qr.full_name == "Nguyễn Văn Hùng"
    assert qr.sex == "M"


def test_not_an_id_payload():
    assert parse_qr_payload("https://dichvucong.gov.vn/p/home") is None
    assert parse_qr_payload("") is None
