"""Image scans (TIFF, JPEG, PNG): one pixel budget, frames, orientation, resolution.

Every frame's declared size is checked against the budget before it is decoded; every
page leaves as 8-bit grey, bilevel or RGB on white, upright, with a credible DPI.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, ImageSequence, TiffImagePlugin, UnidentifiedImageError

from digitize.errors import InputError
from digitize.pages.model import PageImage, short_message, too_many_pixels

__all__ = ["count_frames", "iter_image_pages", "normalise"]

log = logging.getLogger(__name__)

A4_WIDTH_IN = 8.27
_MIN_DPI, _MAX_DPI = 100, 1200
# Scans at twice the OCR resolution or finer are reduced to about it: Tesseract reads
# 300 dpi best, and a 1200 dpi page costs 16 times the memory for nothing.
_REDUCE_FROM = 2.0
_EXIF_ORIENTATION = 0x0112
_DECODE_ERRORS = (OSError, ValueError, EOFError, SyntaxError)
# Pillow warns past its own pixel limit; digitize applies max_pixels itself (below) and
# raises a typed error, so the warning would only be noise on stderr.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def open_image(path: Path, max_pixels: int) -> Image.Image:
    """Open lazily, with the budget applied to the declared size.

    Raises:
        InputError: over the budget, or not decodable.
    """
    # Pillow's own bomb check is process-wide: only ever raise it to our budget, and
    # apply the budget ourselves on each frame's declared size before decoding.
    if Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        image = Image.open(path)
    except Image.DecompressionBombError as err:
        raise too_many_pixels() from err
    except (UnidentifiedImageError, *_DECODE_ERRORS) as err:
        raise damaged_image(err) from err
    check_pixels(image, max_pixels)
    return image


def count_frames(path: Path, max_pixels: int) -> int:
    """Frame count, with every frame's declared size checked before any decoding.

    Raises:
        InputError: a frame is over the budget, or the file is damaged.
    """
    with open_image(path, max_pixels) as image:
        count = 0
        try:
            for frame in ImageSequence.Iterator(image):
                check_pixels(frame, max_pixels)
                count += 1
        except _DECODE_ERRORS as err:
            raise damaged_image(err) from err
        is_png = image.format == "PNG"
    if is_png:
        _verify_png(path)
    return count


def _verify_png(path: Path) -> None:
    # PNG chunks carry CRCs: verify() finds a truncated or corrupt file without
    # decoding its pixels.
    try:
        with Image.open(path) as image:
            image.verify()
    except _DECODE_ERRORS as err:
        raise damaged_image(err) from err


def check_pixels(image: Image.Image, max_pixels: int) -> None:
    """Refuse a frame whose declared size is over the budget."""
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise too_many_pixels(f"the image is {width}x{height}")


def damaged_image(err: BaseException) -> InputError:
    """The error for an image the decoder refuses, with the decoder's words."""
    return InputError(
        f"the image cannot be decoded ({type(err).__name__}: "
        f"{short_message(str(err))}); scan it again or save it anew",
        code="input.damaged_image",
    )


def iter_image_pages(
    path: Path, target_dpi: int, max_pixels: int, notes: dict[str, Any]
) -> Iterator[PageImage]:
    """Each frame decoded, upright, at a credible DPI, normalised."""
    with open_image(path, max_pixels) as image:
        frames = ImageSequence.Iterator(image)
        for index in range(getattr(image, "n_frames", 1)):
            frame = _decoded_frame(frames, index, max_pixels)
            yield _image_page(index, frame, target_dpi, notes)


def _decoded_frame(
    frames: ImageSequence.Iterator, index: int, max_pixels: int
) -> Image.Image:
    try:
        frame = frames[index]
    except _DECODE_ERRORS as err:
        raise damaged_image(err) from err
    check_pixels(frame, max_pixels)
    try:
        frame.load()
    except _DECODE_ERRORS as err:
        fallback = _old_style_jpeg(frame)
        if fallback is None:
            raise damaged_image(err) from err
        log.debug("page %d: decoded old-style JPEG-in-TIFF directly", index + 1)
        return fallback
    return frame


def _old_style_jpeg(frame: Image.Image) -> Image.Image | None:
    """Decode an old-style (compression 6) TIFF frame from its embedded JPEG stream."""
    # libtiff 4.x refuses some grey old-style JPEG TIFFs ("decoder error -2") that
    # carry a whole JFIF stream at JPEGInterchangeFormat (tag 513, TIFF 6.0 sec. 22).
    if not isinstance(frame, TiffImagePlugin.TiffImageFile):
        return None
    tags = frame.tag_v2
    # LIMITATION: old-style JPEG with strip tables and no JPEGInterchangeFormat is not
    # rebuilt -> if libtiff refuses it too, the file is quarantined as damaged_image.
    if tags.get(259) != 6 or 513 not in tags or 514 not in tags:
        return None
    # Pillow drops its file handle after a failed decode: read from the file again.
    filename = getattr(frame, "filename", "")
    if not filename:
        return None
    with Path(filename).open("rb") as handle:
        handle.seek(int(tags[513]))
        data = handle.read(int(tags[514]))
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except _DECODE_ERRORS:
        return None
    image.info["dpi"] = frame.info.get("dpi")
    return image


def _image_page(
    index: int, frame: Image.Image, target_dpi: int, notes: dict[str, Any]
) -> PageImage:
    upright = _orient(frame, index, notes)
    dpi, estimated = _page_dpi(frame, upright)
    if estimated:
        notes.setdefault("dpi_estimated", []).append(index + 1)
    factor = round(dpi / target_dpi) if dpi >= _REDUCE_FROM * target_dpi else 1
    if factor > 1:
        if upright.mode not in ("L", "RGB"):
            upright = normalise(upright)
            upright = upright.convert("L") if upright.mode == "1" else upright
        upright = upright.reduce(factor)
        dpi /= factor
        notes.setdefault("reduced", []).append(index + 1)
    return PageImage(index, normalise(upright), dpi, dpi_estimated=estimated)


def _orient(frame: Image.Image, index: int, notes: dict[str, Any]) -> Image.Image:
    """Apply a valid EXIF orientation to the pixels once; ignore an invalid one."""
    try:
        value = frame.getexif().get(_EXIF_ORIENTATION)
    except _DECODE_ERRORS:
        value = "unreadable"
    if value in (None, 1):
        return frame
    if value not in range(2, 9):
        log.warning("page %d: invalid EXIF orientation ignored", index + 1)
        notes.setdefault("exif_invalid", []).append(index + 1)
        return frame
    notes.setdefault("exif_rotated", []).append(index + 1)
    turned = ImageOps.exif_transpose(frame)
    return turned if turned is not None else frame


def _page_dpi(frame: Image.Image, image: Image.Image) -> tuple[float, bool]:
    raw = frame.info.get("dpi")
    try:
        dpi = float(raw[0]) if raw else 0.0
    except (TypeError, ValueError, IndexError):
        dpi = 0.0
    if _MIN_DPI <= dpi <= _MAX_DPI:
        return dpi, False
    # Never fail on a missing or absurd resolution: assume the shorter side is A4's
    # width (most dossier papers); scans far finer than needed are reduced later.
    return max(72.0, min(image.size) / A4_WIDTH_IN), True


def normalise(image: Image.Image) -> Image.Image:
    """Flatten alpha onto white and reduce every pixel format to 1, L or RGB, 8-bit."""
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", image.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I") or image.mode == "F":
        wide = image.convert("I") if image.mode != "F" else image
        return ImageOps.autocontrast(wide.point(lambda v: v / 256).convert("L"))
    if image.mode in ("1", "L", "RGB"):
        return image.copy()
    return image.convert("RGB")
