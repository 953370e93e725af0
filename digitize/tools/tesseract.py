"""The only place that builds a Tesseract command line.

Images go in on stdin as uncompressed PNM (no PNG round trip between stages), results
come back as TSV on stdout. Every run has a time limit and is killed with its group.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import unicodedata
from dataclasses import dataclass
from functools import cache

from PIL import Image

from digitize.errors import DependencyError, OcrError, ToolTimeoutError
from digitize.records import Word

__all__ = [
    "OsdResult",
    "TsvResult",
    "check_tesseract",
    "detect_orientation",
    "ocr_image",
    "run_tool",
]


@dataclass(frozen=True)
class TsvResult:
    """Words (NFC) and the plain text rebuilt from Tesseract's TSV output."""

    words: list[Word]
    text: str

    @property
    def mean_conf(self) -> float:
        """Mean word confidence, 0-100; 0 when nothing was read."""
        if not self.words:
            return 0.0
        return sum(w.conf for w in self.words) / len(self.words)


@dataclass(frozen=True)
class OsdResult:
    """Tesseract's orientation guess: degrees to rotate clockwise to make it upright."""

    rotate_deg: int
    confidence: float


def run_tool(
    argv: list[str], *, stdin: bytes | None = None, timeout_s: float, name: str
) -> bytes:
    """Run an external program in its own process group; kill the group on timeout.

    Raises:
        DependencyError: the program is not installed.
        ToolTimeoutError: it ran longer than `timeout_s`.
        OcrError: it exited non-zero.
    """
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except FileNotFoundError as err:
        raise DependencyError(
            f"{name} is not installed; run `make setup` or install it with apt",
            code="dependency.missing",
        ) from err
    try:
        out, errout = proc.communicate(stdin, timeout=timeout_s)
    except subprocess.TimeoutExpired as err:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        # communicate() leaves stdin open when the child never read all of it.
        if proc.stdin is not None:
            proc.stdin.close()
        raise ToolTimeoutError(
            f"{name} ran longer than {timeout_s:g} s and was killed; raise the time "
            "limit in config/digitize.toml if such pages are expected"
        ) from err
    if proc.returncode != 0:
        tail = errout.decode("utf-8", "replace").strip()[-300:]
        raise OcrError(f"{name} exited with {proc.returncode}: {tail}")
    return out


def _to_pnm(image: Image.Image) -> bytes:
    if image.mode not in ("1", "L", "RGB"):
        image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format="PPM")
    return buf.getvalue()


def ocr_image(
    image: Image.Image,
    *,
    lang: str = "vie",
    psm: int = 3,
    dpi: int = 300,
    timeout_s: float = 120.0,
    config: dict[str, str] | None = None,
) -> TsvResult:
    """OCR one image with one Tesseract thread; return its words and text."""
    argv = ["tesseract", "stdin", "stdout", "-l", lang, "--psm", str(psm)]
    argv += ["--dpi", str(dpi)]
    for key, value in (config or {}).items():
        argv += ["-c", f"{key}={value}"]
    argv.append("tsv")
    out = run_tool(argv, stdin=_to_pnm(image), timeout_s=timeout_s, name="tesseract")
    return parse_tsv(out.decode("utf-8", "replace"))


def parse_tsv(tsv: str) -> TsvResult:
    """Turn Tesseract TSV into words and text (lines joined by newlines, NFC)."""
    words: list[Word] = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        words.append(
            Word(
                text=unicodedata.normalize("NFC", cols[11].strip()),
                left=int(cols[6]),
                top=int(cols[7]),
                width=int(cols[8]),
                height=int(cols[9]),
                conf=float(cols[10]),
                block=int(cols[2]),
                par=int(cols[3]),
                line=int(cols[4]),
            )
        )
    return TsvResult(words=words, text=_join_lines(words))


def _join_lines(words: list[Word]) -> str:
    lines: list[str] = []
    key: tuple[int, int, int] | None = None
    for word in words:
        here = (word.block, word.par, word.line)
        if here != key:
            if key is not None and here[:2] != key[:2]:
                lines.append("")
            lines.append(word.text)
            key = here
        else:
            lines[-1] += " " + word.text
    return "\n".join(lines)


def detect_orientation(image: Image.Image, *, timeout_s: float = 60.0) -> OsdResult:
    """Ask Tesseract OSD how far the page must turn clockwise to stand upright."""
    argv = ["tesseract", "stdin", "stdout", "--psm", "0", "--dpi", "300"]
    try:
        out = run_tool(
            argv, stdin=_to_pnm(image), timeout_s=timeout_s, name="tesseract"
        )
    except OcrError:
        # Tesseract exits non-zero when a page has too few characters for OSD.
        return OsdResult(rotate_deg=0, confidence=0.0)
    values = dict(
        line.split(":", 1) for line in out.decode().splitlines() if ":" in line
    )
    rotate = int(values.get("Rotate", "0").strip() or 0)
    conf = float(values.get("Orientation confidence", "0").strip() or 0)
    return OsdResult(rotate_deg=rotate, confidence=conf)


@cache
def check_tesseract(lang: str = "vie") -> str:
    """Return Tesseract's version, or raise when it or the language data is missing."""
    if shutil.which("tesseract") is None:
        raise DependencyError(
            "tesseract is not installed; run `make setup` "
            "(apt-get install tesseract-ocr tesseract-ocr-vie)"
        )
    langs = run_tool(["tesseract", "--list-langs"], timeout_s=30, name="tesseract")
    if lang not in langs.decode().split():
        raise DependencyError(
            f"Tesseract language data '{lang}' is missing; "
            f"apt-get install tesseract-ocr-{lang}",
            code="dependency.language",
        )
    version = run_tool(["tesseract", "--version"], timeout_s=30, name="tesseract")
    return version.decode().splitlines()[0]
