"""What each sample set holds: fake people, units, dossiers, files and their pages.

A page's `content` names what is drawn on it: `doc:N` (page N of the paginated plan
corpus), `doc:N+planted` (the same with the planted phrase), `form:P` (a CT01 form
of person P), `card:P:front`, `card:P:back` or `card:P:both` (a photocopy of person P's
card). A file name may hold `{name}`, the folded name of the file's person.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PLANS", "UNITS", "FileSpec", "PageSpec", "PersonSpec", "SetPlan", "Unit"]


@dataclass(frozen=True)
class Unit:
    """A one-stop-shop office (commune or town) whose inbox receives dossiers."""

    code: str
    """Agency code that opens its dossier codes."""
    place: str
    authority: str
    """Where its residence forms are addressed."""
    residence: str
    """Address pattern of its residents; `{n}` is the hamlet number."""


@dataclass(frozen=True)
class PersonSpec:
    """A fake person to draw: card type, sex and the unit they live in."""

    card: str
    sex: str
    unit: str


@dataclass(frozen=True)
class PageSpec:
    """One scanned page: what is on it and how it was scanned."""

    content: str
    dpi: int = 300
    look: str = "mild"
    rotation: int = 0
    """Degrees the page was turned clockwise from upright when saved."""


@dataclass(frozen=True)
class FileSpec:
    """One file handed in: where it goes, its format and its pages."""

    unit: str
    dossier: int
    name: str
    fmt: str
    pages: tuple[PageSpec, ...]


@dataclass(frozen=True)
class SetPlan:
    """A whole sample set."""

    persons: tuple[PersonSpec, ...]
    files: tuple[FileSpec, ...]


UNITS = {
    "xa-ia-dom": Unit(
        "H23.45", "Ia Dom", "Công an xã Ia Dom", "Thôn {n}, Ia Dom, Đức Cơ, Gia Lai"
    ),
    "thi-tran-chu-ty": Unit(
        "H23.46",
        "Chư Ty",
        "Công an thị trấn Chư Ty",
        "Tổ dân phố {n}, Chư Ty, Đức Cơ, Gia Lai",
    ),
    "xa-ia-kla": Unit(
        "H23.47", "Ia Kla", "Công an xã Ia Kla", "Thôn {n}, Ia Kla, Đức Cơ, Gia Lai"
    ),
}

_CARD = "copy"
_DEMO_PERSONS = (
    PersonSpec("cccd2021", "F", "xa-ia-dom"),
    PersonSpec("cccd2021", "M", "xa-ia-dom"),
    PersonSpec("cancuoc2024", "F", "thi-tran-chu-ty"),
)
_DEMO_FILES = (
    FileSpec("xa-ia-dom", 1, "ke-hoach-trang-1-3.tif", "tiff",
             (PageSpec("doc:0"), PageSpec("doc:1"), PageSpec("doc:2"))),
    FileSpec("xa-ia-dom", 1, "cccd-{name}.jpg", "jpeg",
             (PageSpec("card:0:both", look=_CARD),)),
    FileSpec("xa-ia-dom", 2, "to-khai-ct01.png", "png", (PageSpec("form:1"),)),
    FileSpec("xa-ia-dom", 2, "cccd-mat-truoc.jpg", "jpeg",
             (PageSpec("card:1:front", look=_CARD),)),
    FileSpec("xa-ia-dom", 2, "cccd-mat-sau.jpg", "jpeg",
             (PageSpec("card:1:back", look=_CARD),)),
    FileSpec("thi-tran-chu-ty", 1, "ke-hoach.pdf", "pdf",
             (PageSpec("doc:3"), PageSpec("doc:4", rotation=180),
              PageSpec("doc:5", look="rough"))),
    FileSpec("thi-tran-chu-ty", 1, "van-ban-200dpi.jpg", "jpeg",
             (PageSpec("doc:6+planted", dpi=200),)),
    FileSpec("thi-tran-chu-ty", 2, "can-cuoc-{name}.jpg", "jpeg",
             (PageSpec("card:2:both", look=_CARD),)),
    FileSpec("thi-tran-chu-ty", 2, "trang-ke-hoach.png", "png",
             (PageSpec("doc:1", dpi=200, look="rough"),)),
)  # fmt: skip

_FULL_PERSONS = (
    *_DEMO_PERSONS,
    PersonSpec("cccd2021", "M", "thi-tran-chu-ty"),
    PersonSpec("cancuoc2024", "M", "xa-ia-kla"),
    PersonSpec("cccd2021", "F", "xa-ia-kla"),
)
_FULL_FILES = (
    *_DEMO_FILES,
    FileSpec("xa-ia-kla", 1, "ke-hoach-day-du.pdf", "pdf",
             tuple(PageSpec(f"doc:{n}", dpi=200, look="rough" if n == 4 else "mild")
                   for n in range(7))),
    FileSpec("xa-ia-kla", 1, "can-cuoc-{name}.jpg", "jpeg",
             (PageSpec("card:4:both", look=_CARD),)),
    FileSpec("xa-ia-kla", 2, "to-khai-ct01.png", "png", (PageSpec("form:5"),)),
    FileSpec("xa-ia-kla", 2, "cccd-truoc.jpg", "jpeg",
             (PageSpec("card:5:front", look=_CARD),)),
    FileSpec("xa-ia-kla", 2, "cccd-sau.png", "png",
             (PageSpec("card:5:back", look=_CARD),)),
    FileSpec("thi-tran-chu-ty", 3, "cccd-{name}.png", "png",
             (PageSpec("card:3:both", look=_CARD),)),
    FileSpec("thi-tran-chu-ty", 3, "scan-0007.tif", "tiff",
             (PageSpec("doc:3"), PageSpec("doc:4", look="rough"), PageSpec("doc:5"),
              PageSpec("doc:6"))),
    FileSpec("thi-tran-chu-ty", 3, "trang-xoay.jpg", "jpeg",
             (PageSpec("doc:2", rotation=90),)),
    FileSpec("xa-ia-dom", 3, "phu-luc.jpg", "jpeg",
             (PageSpec("doc:5", dpi=200, look="rough"),)),
    FileSpec("xa-ia-dom", 3, "phu-luc-tiep.jpg", "jpeg",
             (PageSpec("doc:6", rotation=270),)),
)  # fmt: skip

PLANS = {
    "demo": SetPlan(_DEMO_PERSONS, _DEMO_FILES),
    "full": SetPlan(_FULL_PERSONS, _FULL_FILES),
}
