"""A small counter service for the web tests: hand-made records, real SQLite, real app.

Two units (xa-a, xa-b), three people, one expired card, a stand-in pipeline for uploads,
and one account per role plus a counter restricted to unit xa-a.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from digitize import auth
from digitize.config import Settings, load_settings
from digitize.pages import sniff_format
from digitize.pdf import build_searchable_pdf, encode_page_image
from digitize.pipeline import FileOutcome
from digitize.records import Field, Paper
from digitize.store import Catalog, DocumentRecord, sha256_file, write_blob
from tests.factories import ocr_page_from_lines

PASSWORD = "mật khẩu đủ dài 123"
PIN_HANG = "079190001234"
PIN_HUNG = "001090000001"
PIN_HUNG2 = "001090000002"
PIN_OTHER_UNIT = "064180000777"
USERS = {
    "admin": ("admin", ()),
    "quay1": ("counter", ()),
    "quet1": ("scanner", ()),
    "quaya": ("counter", ("xa-a",)),
}


def card(pin: str, name: str, dob: str, *, expiry: str = "2040-01-01") -> list[Paper]:
    """Front and back of a chip CCCD with verified fields."""
    front = Paper(page_index=0, paper_type="cccd2021_front")
    back = Paper(page_index=0, paper_type="cccd2021_back")
    values = {
        "id_number": pin,
        "full_name": name,
        "date_of_birth": dob,
        "sex": "F",
        "nationality": "Việt Nam",
        "residence": "Thôn 1, Ia Dom, Đức Cơ, Gia Lai",
        "issue_date": "2022-03-01",
        "expiry_date": expiry,
    }
    for key, value in values.items():
        checks = ["pin.shape"] if key == "id_number" else []
        front.fields[key] = Field(key, value, value, "qr", 0.99, checks)
    back.fields["id_number"] = Field("id_number", pin, pin, "mrz", 0.99, ["pin.shape"])
    back.fields["expiry_date"] = Field("expiry_date", expiry, expiry, "mrz", 0.99)
    return [front, back]


def page_pdf(text: str) -> bytes:
    """A one-page searchable PDF (unsigned) whose page image is a grey rectangle."""
    image = Image.new("L", (850, 1100), 235)
    ocr = ocr_page_from_lines([text])
    ocr.width_px, ocr.height_px, ocr.dpi = 850, 1100, 100
    return build_searchable_pdf([(ocr, encode_page_image(image))])


def _store(
    catalog: Catalog, settings: Settings, key: str, lines: list[str], **kw
) -> str:
    original = f"scan-{key}".encode() * 50
    png = io.BytesIO()
    Image.new("L", (20, 20), 200).save(png, format="PNG")
    original = png.getvalue() + original
    sha = write_blob(settings.repository, original, ".png")
    pdf = page_pdf(lines[0])
    unsigned = write_blob(settings.repository, pdf, ".unsigned.pdf")
    # The fast tests serve an unsigned PDF under the signed name; the slow browser
    # test checks real signatures.
    signed = write_blob(settings.repository, pdf, ".signed.pdf")
    record = DocumentRecord(
        sha256=sha,
        original_name=f"{key}.png",
        format="png",
        size_bytes=len(original),
        pages=[ocr_page_from_lines(lines)],
        unsigned_sha256=unsigned,
        signed_sha256=signed,
        sign_level="B-B",
        signer="CN=test",
        signed_at="2025-03-03T10:00:00+07:00",
        validated=True,
        **kw,
    )
    catalog.add_document(record)
    return record.id


def fill_catalog(settings: Settings) -> dict[str, str]:
    """Documents of three people in two units; returns document ids by key."""
    catalog = Catalog(settings.catalog)
    docs = {
        "hang": _store(
            catalog,
            settings,
            "hang",
            ["CĂN CƯỚC CÔNG DÂN Nguyễn Thị Hằng"],
            papers=card(PIN_HANG, "NGUYỄN THỊ HẰNG", "1990-05-17"),
            unit="xa-a",
            dossier="D1",
        ),
        "hang_old": _store(
            catalog,
            settings,
            "hangold",
            ["CHỨNG MINH cũ hết hạn"],
            papers=card(PIN_HANG, "NGUYỄN THỊ HẰNG", "1990-05-17", expiry="2020-01-01"),
            unit="xa-a",
            dossier="D0",
        ),
        "plan": _store(
            catalog,
            settings,
            "plan",
            ["Kế hoạch cải cách thủ tục hành chính năm nay"],
            unit="xa-a",
            dossier="D1",
        ),
        "plan_b": _store(
            catalog,
            settings,
            "planb",
            ["Ke hoach cai cach thu tuc hanh chinh xa B"],
            unit="xa-b",
            dossier="B7",
        ),
        "hung": _store(
            catalog,
            settings,
            "hung",
            ["LÊ VĂN HÙNG"],
            papers=card(PIN_HUNG, "LÊ VĂN HÙNG", "1985-01-02"),
            unit="xa-a",
            dossier="D2",
        ),
        "hung2": _store(
            catalog,
            settings,
            "hung2",
            ["LÊ VĂN HƯNG"],
            papers=card(PIN_HUNG2, "LÊ VĂN HƯNG", "1985-01-02"),
            unit="xa-a",
            dossier="D3",
        ),
        "other": _store(
            catalog,
            settings,
            "other",
            ["Giấy tờ xã B"],
            papers=card(PIN_OTHER_UNIT, "TRẦN THỊ B", "1970-07-07"),
            unit="xa-b",
            dossier="B1",
        ),
    }
    catalog.close()
    return docs


def fake_process(
    path: Path, settings: Settings, catalog: Catalog, *, unit: str, dossier: str
) -> FileOutcome:
    """Stand-in for pipeline.process_file: stores the upload with known text."""
    sha = sha256_file(path)
    fmt = sniff_format(path.read_bytes()[:2048])
    record = DocumentRecord(
        sha256=sha,
        original_name=path.name,
        format=fmt,
        size_bytes=path.stat().st_size,
        pages=[ocr_page_from_lines(["Đơn đề nghị cấp bản sao Hồ Tùng Mậu"])],
        unit=unit,
        dossier=dossier,
    )
    if catalog.find_document_by_sha(sha):
        return FileOutcome(path.name, "duplicate", document_id=record.id, pages=1)
    write_blob(settings.repository, path, "." + fmt)
    catalog.add_document(record)
    return FileOutcome(path.name, "stored", document_id=record.id, pages=1)


@dataclass
class Service:
    """The running test service: client, state, document ids, tokens by user."""

    client: object
    app: object
    settings: Settings
    docs: dict[str, str]
    tokens: dict[str, str]

    def as_user(self, username: str) -> dict[str, str]:
        """Headers carrying `username`'s bearer token."""
        return {"Authorization": f"Bearer {self.tokens[username]}"}


def service_settings(home: Path, **overrides) -> Settings:
    """Settings on `home`, with a small upload limit."""
    return replace(load_settings(), home=home, **overrides)


def make_users(access: auth.AccessStore) -> None:
    """One account per entry of USERS, all with PASSWORD."""
    for name, (role, units) in USERS.items():
        access.add_user(name, PASSWORD, role, units)
