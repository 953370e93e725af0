"""The only place that builds a Tesseract command line, and the warm page engines.

Full pages are read by a pool of warm in-process engines (tesserocr, one model load
per engine, raw pixels handed over without any encoding) when tesserocr is installed,
else by the command line: images in on stdin as uncompressed PNM, TSV back on stdout,
every run time-limited and killed with its process group. Either way at most one
recognition per core runs at once, whatever the number of threads asking.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from PIL import Image

# libtesseract starts OpenMP threads unless told not to; pages already run in parallel.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

try:
    import tesserocr  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - the command line is used instead
    tesserocr = None

from digitize.errors import DependencyError, OcrError, ToolTimeoutError
from digitize.records import Word

__all__ = [
    "OsdResult",
    "TsvResult",
    "check_tesseract",
    "detect_orientation",
    "engine_name",
    "ocr_image",
    "run_tool",
    "use_engine",
]

# One recognition per core at a time: the watcher's files and their pages both run in
# threads, and more Tesseract runs than cores only slow each other down.
_SLOTS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))
_engine = {"name": "tesserocr" if tesserocr is not None else "cli"}


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


def engine_name() -> str:
    """`tesserocr` (warm in-process engines) or `cli` (one process per run)."""
    return _engine["name"]


def use_engine(name: str) -> None:
    """Choose the page engine: `tesserocr` when installed, or `cli` (tests, bench)."""
    if name not in ("tesserocr", "cli") or (name == "tesserocr" and not tesserocr):
        raise DependencyError(f"Tesseract engine {name!r} is not available")
    _engine["name"] = name


class _EnginePool:
    """Warm tesserocr engines by (language, mode, variables), one user at a time.

    An engine loads its model once and is kept for the life of the process, so a
    1-page document pays no start-up; there are never more engines of one kind than
    threads that used it at once.
    """

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int, tuple[tuple[str, str], ...]], list] = {}
        self._lock = threading.Lock()

    @contextmanager
    def engine(self, lang: str, psm: int, config: dict[str, str] | None) -> Iterator:
        key = (lang, psm, tuple(sorted((config or {}).items())))
        with self._lock:
            idle = self._idle.setdefault(key, [])
            api = idle.pop() if idle else None
        if api is None:
            api = _new_api(lang, psm, dict(key[2]))
        try:
            yield api
        finally:
            api.Clear()
            with self._lock:
                self._idle[key].append(api)


def _new_api(lang: str, psm: int, config: dict[str, str]):
    path = _tessdata()
    kwargs = {"path": path} if path else {}
    try:
        api = tesserocr.PyTessBaseAPI(lang=lang, psm=psm, **kwargs)
    except RuntimeError as err:
        raise DependencyError(
            f"Tesseract cannot load language data '{lang}'; "
            f"apt-get install tesseract-ocr-{lang}",
            code="dependency.language",
        ) from err
    for name, value in config.items():
        api.SetVariable(name, value)
    return api


_POOL = _EnginePool()


@cache
def _tessdata() -> str | None:
    """The command-line Tesseract's language folder, shared with the engines."""
    try:
        out = run_tool(["tesseract", "--list-langs"], timeout_s=30, name="tesseract")
    except DependencyError:
        return None
    found = re.search(r'"([^"]+)"', out.decode("utf-8", "replace"))
    return found.group(1) if found else None


def _set_pixels(api, image: Image.Image, dpi: int) -> None:
    """Hand the raw pixels over: no PNG or PNM encoding on the way in."""
    if image.mode not in ("L", "RGB"):
        image = image.convert("L" if image.mode == "1" else "RGB")
    depth = 1 if image.mode == "L" else 3
    api.SetImageBytes(
        image.tobytes(), image.width, image.height, depth, depth * image.width
    )
    api.SetSourceResolution(dpi)


def _recognize(api, timeout_s: float) -> None:
    if not api.Recognize(timeout=round(timeout_s * 1000)):
        raise ToolTimeoutError(
            f"tesseract ran longer than {timeout_s:g} s and was stopped; raise the "
            "time limit in config/digitize.toml if such pages are expected"
        )


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
    if _engine["name"] == "tesserocr":
        with _SLOTS, _POOL.engine(lang, psm, config) as api:
            _set_pixels(api, image, dpi)
            _recognize(api, timeout_s)
            return parse_tsv("header\n" + api.GetTSVText(0))
    argv = ["tesseract", "stdin", "stdout", "-l", lang, "--psm", str(psm)]
    argv += ["--dpi", str(dpi)]
    for key, value in (config or {}).items():
        argv += ["-c", f"{key}={value}"]
    argv.append("tsv")
    stdin = _to_pnm(image)
    with _SLOTS:
        out = run_tool(argv, stdin=stdin, timeout_s=timeout_s, name="tesseract")
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


def detect_orientation(
    image: Image.Image, *, timeout_s: float = 60.0, dpi: int = 300
) -> OsdResult:
    """Ask Tesseract OSD how far the page must turn clockwise to stand upright."""
    if _engine["name"] == "tesserocr":
        with _SLOTS, _POOL.engine("osd", 0, None) as api:
            _set_pixels(api, image, dpi)
            found = api.DetectOrientationScript()
        if not found:
            return OsdResult(rotate_deg=0, confidence=0.0)
        # tesserocr names the turn the scan received; OSD's Rotate is the way back.
        turn = (360 - int(found["orient_deg"])) % 360
        return OsdResult(rotate_deg=turn, confidence=float(found["orient_conf"]))
    argv = ["tesseract", "stdin", "stdout", "--psm", "0", "--dpi", str(dpi)]
    try:
        with _SLOTS:
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
