"""Scanner and photocopier defects for sample pages, and saving them as scan files.

Noise comes from the seeded RNG (not Pillow's `effect_noise`, which uses C `rand()`), so
the same seed writes the same pixels.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

from PIL import Image, ImageChops, ImageFilter

__all__ = ["LOOKS", "Look", "degrade", "save_scan"]

_PAPER = 250
# Pillow stamps the current time into PDF info; a fixed date keeps files repeatable.
_PDF_DATE = time.gmtime(1_735_689_600)  # 2025-01-01T00:00:00Z


@dataclass(frozen=True)
class Look:
    """Ranges the defects of one kind of scan are drawn from."""

    skew_deg: tuple[float, float]
    blur_radius: float
    noise_sigma: float
    clean: bool
    """True when Tesseract should read the page with a low error rate."""


LOOKS = {
    "mild": Look(skew_deg=(0.5, 1.0), blur_radius=0.5, noise_sigma=6.0, clean=True),
    "rough": Look(skew_deg=(1.4, 2.0), blur_radius=1.5, noise_sigma=24.0, clean=False),
    "copy": Look(skew_deg=(0.2, 0.9), blur_radius=0.6, noise_sigma=9.0, clean=False),
}


def _add_noise(image: Image.Image, sigma: float, rng: random.Random) -> Image.Image:
    normal = NormalDist(128, sigma)
    lut = [min(255, max(0, round(normal.inv_cdf((i + 0.5) / 256)))) for i in range(256)]
    width, height = image.size
    noise = Image.frombytes("L", image.size, rng.randbytes(width * height))
    return ImageChops.add(image, noise.point(lut), scale=1.0, offset=-128)


def degrade(
    image: Image.Image, look: Look, rng: random.Random, *, rotation: int = 0
) -> Image.Image:
    """Skew, blur and add noise as `look` says, then turn `rotation` deg clockwise."""
    low, high = look.skew_deg
    angle = rng.uniform(low, high) * rng.choice((-1, 1))
    out = image.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=_PAPER)
    if look.blur_radius:
        out = out.filter(ImageFilter.GaussianBlur(look.blur_radius))
    if look.noise_sigma:
        out = _add_noise(out, look.noise_sigma, rng)
    if rotation:
        out = out.rotate(-rotation, expand=True)
    return out


def _binarize(image: Image.Image) -> Image.Image:
    return image.point(lambda value: 255 if value > 150 else 0, mode="1")


def save_scan(path: Path, fmt: str, images: list[Image.Image], dpi: int) -> None:
    """Write `images` as one scan file of format jpeg, png, pdf or tiff (Group 4)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    first, rest = images[0], images[1:]
    if fmt in ("jpeg", "png") and rest:
        raise ValueError(f"{fmt} holds one page, got {len(images)}")
    if fmt == "jpeg":
        first.save(path, "JPEG", quality=85, dpi=(dpi, dpi))
    elif fmt == "png":
        first.save(path, "PNG", dpi=(dpi, dpi), optimize=False)
    elif fmt == "tiff":
        pages = [_binarize(image) for image in images]
        pages[0].save(
            path,
            "TIFF",
            compression="group4",
            dpi=(dpi, dpi),
            save_all=True,
            append_images=pages[1:],
        )
    elif fmt == "pdf":
        first.save(
            path,
            "PDF",
            resolution=float(dpi),
            save_all=True,
            append_images=rest,
            creationDate=_PDF_DATE,
            modDate=_PDF_DATE,
        )
    else:
        raise ValueError(f"unknown scan format {fmt!r}")
