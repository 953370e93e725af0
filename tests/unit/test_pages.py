import io
import tracemalloc

import pikepdf
import pytest
from PIL import Image

from digitize.errors import InputError
from digitize.pages import count_pages, iter_pages, open_document, sniff_format
from tests.fixtures import badinputs as bad


def _save(tmp_path, name, image, **kw):
    path = tmp_path / name
    image.save(path, **kw)
    return path


@pytest.mark.parametrize(
    ("head", "code"),
    [
        (b"", "input.empty"),
        (b"hello world", "input.unsupported_format"),
        (b"PK\x03\x04zip", "input.unsupported_format"),
    ],
)
def test_sniff_rejects(head, code):
    with pytest.raises(InputError) as err:
        sniff_format(head)
    assert err.value.code == code


def test_sniff_ignores_extension(tmp_path):
    path = _save(tmp_path, "scan.pdf", Image.new("L", (10, 10)), format="PNG")
    assert sniff_format(path.read_bytes()[:16]) == "png"


def test_encrypted_pdf_is_refused(tmp_path):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    path = tmp_path / "locked.pdf"
    pdf.save(path, encryption=pikepdf.Encryption(owner="o", user="u"))
    with pytest.raises(InputError) as err:
        count_pages(path, "pdf", max_pages=10)
    assert err.value.code == "input.encrypted"


def test_truncated_pdf_is_refused(tmp_path):
    path = tmp_path / "cut.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj\n<<")
    with pytest.raises(InputError) as err:
        count_pages(path, "pdf", max_pages=10)
    assert err.value.code == "input.damaged_pdf"


def test_page_limit(tmp_path):
    frames = [Image.new("1", (50, 50), 1) for _ in range(3)]
    path = tmp_path / "m.tiff"
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="group4")
    assert count_pages(path, "tiff", max_pages=3) == 3
    with pytest.raises(InputError) as err:
        count_pages(path, "tiff", max_pages=2)
    assert err.value.code == "input.too_many_pages"


def test_multipage_tiff_and_pixel_formats(tmp_path):
    frames = [Image.new("1", (60, 40), 1), Image.new("I;16", (60, 40), 40000)]
    path = tmp_path / "mixed.tiff"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    pages = list(iter_pages(path, "tiff", dpi=300, max_pixels=10**8))
    assert [p.image.mode for p in pages] == ["1", "L"]


def test_alpha_is_flattened_on_white(tmp_path):
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    path = _save(tmp_path, "a.png", image)
    (page,) = iter_pages(path, "png", dpi=300, max_pixels=10**8)
    assert page.image.mode == "RGB" and page.image.getpixel((5, 5)) == (255, 255, 255)


def test_missing_dpi_is_estimated_from_a4(tmp_path):
    path = _save(tmp_path, "nodpi.png", Image.new("L", (1654, 2339), 255))
    (page,) = iter_pages(path, "png", dpi=300, max_pixels=10**8)
    assert page.dpi_estimated and abs(page.dpi - 200) < 2


def test_exif_rotation_applied(tmp_path):
    image = Image.new("L", (40, 20), 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rot.jpg"
    image.save(path, exif=exif.tobytes(), dpi=(300, 300))
    (page,) = iter_pages(path, "jpeg", dpi=300, max_pixels=10**8)
    assert page.image.size == (20, 40)


def test_decompression_bomb_is_refused(tmp_path):
    path = _save(tmp_path, "big.png", Image.new("1", (4000, 4000)))
    with pytest.raises(InputError) as err:
        list(iter_pages(path, "png", dpi=300, max_pixels=1_000_000))
    assert err.value.code == "input.too_many_pixels"


def test_pdf_pages_render_at_dpi(tmp_path):
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    buf = io.BytesIO()
    pdf.save(buf)
    path = tmp_path / "blank.pdf"
    path.write_bytes(buf.getvalue())
    (page,) = iter_pages(path, "pdf", dpi=100, max_pixels=10**8)
    assert abs(page.image.width - 826) <= 1 and page.dpi == 100


# --- every kind of awkward input, at the pages stage (tests/fixtures/badinputs.py) ---

UPRIGHT = bad.text_image(["Giấy tờ số 48213", "Hồ sơ đăng ký thường trú"], mark=True)


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _pages(path, **kw):
    fmt = sniff_format(path.read_bytes()[:2048])
    opened = open_document(
        path,
        fmt,
        max_pages=kw.pop("max_pages", 50),
        max_pixels=kw.get("max_pixels", 10**8),
    )
    notes = opened.notes
    pages = list(
        iter_pages(
            opened.path,
            fmt,
            dpi=kw.get("dpi", 300),
            max_pixels=kw.get("max_pixels", 10**8),
            notes=notes,
            text_pages=opened.text_pages,
        )
    )
    return opened, pages


def _marked_top_left(image):
    """The marker square sits top-left and the opposite corner is paper."""
    grey = image.convert("L")
    inside = grey.getpixel((4 + bad.MARK // 2, 4 + bad.MARK // 2))
    corner = grey.getpixel((grey.width - 3, grey.height - 3))
    return inside < 80 and corner > 200


@pytest.mark.parametrize("name", sorted(bad.pixel_formats(UPRIGHT)))
def test_every_pixel_format_becomes_8_bit_on_white(tmp_path, name):
    path = _write(tmp_path, name, bad.pixel_formats(UPRIGHT)[name])
    opened, pages = _pages(path)
    assert opened.pages == len(pages) == (5 if name == "mixed.tiff" else 1)
    for page in pages:
        assert page.image.mode in ("1", "L", "RGB")
        assert page.image.size == UPRIGHT.size
        assert _marked_top_left(page.image), (name, page.index)


@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_exif_orientation_turns_the_pixels_upright(tmp_path, orientation):
    path = _write(tmp_path, "photo.jpg", bad.exif_jpeg(UPRIGHT, orientation))
    opened, (page,) = _pages(path)
    assert page.image.size == UPRIGHT.size
    assert _marked_top_left(page.image)
    assert opened.notes["exif_rotated"] == [1]


@pytest.mark.parametrize("orientation", [0, 9, 65535])
def test_invalid_exif_orientation_is_ignored_with_a_warning(
    tmp_path, orientation, caplog
):
    path = _write(tmp_path, "photo.jpg", bad.exif_jpeg(UPRIGHT, orientation))
    opened, (page,) = _pages(path)
    assert page.image.size == UPRIGHT.size and _marked_top_left(page.image)
    assert opened.notes["exif_invalid"] == [1]
    assert "invalid EXIF orientation" in caplog.text


def test_rotate_key_renders_the_page_upright(tmp_path):
    path = _write(tmp_path, "rotated.pdf", bad.rotated_pdf(UPRIGHT))
    _, (page,) = _pages(path, dpi=150)
    assert page.image.width > page.image.height  # shown as drawn: landscape text line
    assert _marked_top_left(page.image)


@pytest.mark.parametrize(
    ("dpi", "estimated"),
    [(None, True), ((1, 1), True), ((72, 72), True), ((200, 200), False)],
)
def test_missing_or_absurd_dpi_is_estimated_from_a4(tmp_path, dpi, estimated):
    a4_at_200 = Image.new("L", (1654, 2339), 255)
    options = {"dpi": dpi} if dpi else {}
    path = _save(tmp_path, "page.png", a4_at_200, **options)
    opened, (page,) = _pages(path)
    assert page.dpi_estimated is estimated
    assert abs(page.dpi - 200) < 2  # page width = 1654 px / 200 dpi = A4's 8.27 in
    assert opened.notes.get("dpi_estimated", []) == ([1] if estimated else [])


def test_very_fine_scans_are_reduced_to_the_ocr_resolution(tmp_path):
    path = _save(
        tmp_path, "fine.png", Image.new("L", (4960, 7016), 255), dpi=(1200, 1200)
    )
    opened, (page,) = _pages(path)
    assert abs(page.dpi - 300) < 1 and page.image.size == (1240, 1754)
    assert opened.notes["reduced"] == [1]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("bomb.png", bad.png_bomb(30_000)),
        ("bomb.pdf", bad.huge_image_pdf(40_000)),
        ("huge-page.pdf", bad.huge_page_pdf()),
    ],
)
def test_one_pixel_budget_for_every_decoder(tmp_path, name, data):
    path = _write(tmp_path, name, data)
    tracemalloc.start()
    with pytest.raises(InputError) as err:
        _pages(path, max_pixels=50_000_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert err.value.code == "input.too_many_pixels"
    assert "max_pixels" in err.value.message
    assert peak < 20 * 2**20  # refused from the declared size, not after decoding


def test_second_tiff_frame_over_budget_is_refused_before_decoding(tmp_path):
    frames = [Image.new("1", (100, 100), 1), Image.new("1", (9000, 9000), 1)]
    path = tmp_path / "two.tiff"
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="group4")
    with pytest.raises(InputError) as err:
        open_document(path, "tiff", max_pages=5, max_pixels=50_000_000)
    assert (
        err.value.code == "input.too_many_pixels" and "9000x9000" in err.value.message
    )


def test_long_pdf_streams_page_by_page_and_has_a_page_limit(tmp_path):
    path = _write(tmp_path, "long.pdf", bad.long_pdf(1500))
    with pytest.raises(InputError) as err:
        open_document(path, "pdf", max_pages=1000, max_pixels=10**8)
    assert (
        err.value.code == "input.too_many_pages" and "1500 pages" in err.value.message
    )
    opened = open_document(path, "pdf", max_pages=2000, max_pixels=10**8)
    tracemalloc.start()
    count = 0
    for page in iter_pages(opened.path, "pdf", dpi=100, max_pixels=10**8):
        count += 1
        del page
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 1500
    assert peak < 16 * 2**20  # one page at a time, not 1500


@pytest.mark.parametrize("kind", ["no-xref", "junk-after-eof", "zeroed-xref"])
def test_damaged_pdf_is_repaired_once_into_a_clean_twin(tmp_path, kind):
    path = _write(tmp_path, "damaged.pdf", bad.damaged_pdf(kind))
    before = path.read_bytes()
    opened, pages = _pages(path, dpi=100)
    assert opened.notes["repaired"] is True and opened.notes["repair_warnings"]
    assert opened.path != path and opened.path.exists()
    assert path.read_bytes() == before
    assert [p.words[0].text for p in pages] == [
        f"Trang so {n} kiem tra sua loi" for n in (1, 2, 3)
    ]


def test_damaged_pdf_is_not_repaired_while_young(tmp_path):
    path = _write(tmp_path, "damaged.pdf", bad.damaged_pdf("no-xref"))
    with pytest.raises(InputError) as err:
        open_document(path, "pdf", max_pages=10, max_pixels=10**8, allow_repair=False)
    assert err.value.code == "input.damaged_pdf" and "retried" in err.value.message


def test_unrepairable_pdf_keeps_the_parsers_message(tmp_path):
    path = _write(tmp_path, "garbage.pdf", bad.damaged_pdf("garbage"))
    with pytest.raises(InputError) as err:
        open_document(path, "pdf", max_pages=10, max_pixels=10**8)
    assert err.value.code == "input.damaged_pdf"
    assert "trailer" in err.value.message  # qpdf's own words
    assert isinstance(err.value.__cause__, pikepdf.PdfError)


@pytest.mark.parametrize(
    ("kind", "opens"), [(k, v[1]) for k, v in sorted(bad.ENCRYPTIONS.items())]
)
def test_encrypted_pdf_policy_per_kind(tmp_path, kind, opens):
    path = _write(tmp_path, "locked.pdf", bad.encrypted_pdf(kind, UPRIGHT))
    if not opens:
        with pytest.raises(InputError) as err:
            open_document(path, "pdf", max_pages=10, max_pixels=10**8)
        assert err.value.code == "input.encrypted" and "password" in err.value.message
        return
    opened, (page,) = _pages(path, dpi=150)
    encryption = opened.notes["encryption"]
    assert encryption["owner_password_only"] is True
    assert encryption["legacy"] is kind.startswith("rc4")
    assert page.words is None  # a scan: it is OCR'd, never an empty-text success
    assert _marked_top_left(page.image)


def test_mixed_pdf_keeps_real_text_and_ocrs_the_scan_page(tmp_path):
    data = bad.mixed_pdf(["PHIEU TIEP NHAN HO SO 77341"], UPRIGHT)
    path = _write(tmp_path, "mixed.pdf", data)
    opened, pages = _pages(path, dpi=150)
    assert opened.text_pages == frozenset({1})
    assert [w.text for w in pages[0].words] == ["PHIEU TIEP NHAN HO SO 77341"]
    assert pages[1].words is None


def test_legacy_font_mojibake_is_treated_as_no_text():
    from digitize.pages.text import is_readable_text

    assert is_readable_text("Cộng hòa xã hội chủ nghĩa Việt Nam")
    assert not is_readable_text("Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam")  # VNI
    assert not is_readable_text("Céng hoµ x· héi chñ nghÜa ViÖt Nam")  # TCVN3


@pytest.mark.parametrize(
    ("head", "fmt"), [(b"%", None), (b"\x89PN", None), (b"GIF89a", None)]
)
def test_tiny_files_are_not_scans(head, fmt):
    with pytest.raises(InputError) as err:
        sniff_format(head)
    assert err.value.code == "input.unsupported_format"


def test_old_style_jpeg_without_interchange_tags_is_quarantined(tmp_path):
    # Pins the LIMITATION in pages/images.py: no rebuild from strip tables.
    grey = UPRIGHT.convert("L")
    data = bad.old_style_jpeg_tiff(grey, interchange=False)
    path = _write(tmp_path, "ojpeg.tif", data)
    with pytest.raises(InputError) as err:
        _pages(path)
    assert err.value.code == "input.damaged_image"


def test_born_digital_text_on_a_rotated_page_is_ocrd(tmp_path):
    # Pins the LIMITATION in pages/text.py: /Rotate pages do not reuse their text.
    with pikepdf.open(io.BytesIO(bad.text_pdf(["XOAY 12345"]))) as pdf:
        pdf.pages[0].Rotate = 90
        path = tmp_path / "rotated-text.pdf"
        pdf.save(path)
    opened, (page,) = _pages(path, dpi=100)
    assert opened.text_pages == frozenset({1}) and page.words is None


def test_a_long_pdf_comes_out_whole_and_in_order(tmp_path):
    # More pages than the raster renders per opening of the document (it reopens it).
    pdf = pikepdf.new()
    for number in range(37):
        pdf.add_blank_page(page_size=(72 + number, 144))
    path = tmp_path / "long.pdf"
    pdf.save(path)
    pages = list(iter_pages(path, "pdf", dpi=72, max_pixels=10**8))
    assert [p.index for p in pages] == list(range(37))
    assert [p.image.width for p in pages] == [72 + n for n in range(37)]


def test_messages_do_not_name_the_private_copy():
    from digitize.pages.model import short_message

    said = short_message("/srv/home/work/watch/9: unable to find any pages")
    assert said == "unable to find any pages"
    assert short_message("page 3: ratio 1/2") == "page 3: ratio 1/2"
