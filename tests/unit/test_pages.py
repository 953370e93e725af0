import io

import pikepdf
import pytest
from PIL import Image

from digitize.errors import InputError
from digitize.pages import count_pages, iter_pages, sniff_format


def _save(tmp_path, name, image, **kw):
    path = tmp_path / name
    image.save(path, **kw)
    return path


@pytest.mark.parametrize(
    ("head", "code"),
    [(b"", "input.empty"), (b"hello world", "input.unsupported_format"),
     (b"PK\x03\x04zip", "input.unsupported_format")],
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
