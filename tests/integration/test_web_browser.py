"""The counter page in a real headless Chromium (Playwright) over a real repository.

Generated samples go through the real pipeline (Tesseract, signing); the real service
runs on 127.0.0.1; the browser logs in, looks up an ID number, opens the person,
downloads a signed PDF (validated with pyHanko), checks a signature, uploads a scan
and sees it stored. Screenshots go to $DIGITIZE_SCREENSHOTS when it is set.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from digitize import auth
from digitize.config import load_settings
from digitize.ingest import Watcher
from digitize.keys import ensure_signing_key
from digitize.prefill import load_forms, load_offices, prefill_shares
from digitize.query import get_person
from digitize.sign import verify_pdf
from digitize.store import Catalog
from samples.generate import generate

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "mật khẩu quầy 2025"
# The long plan documents add a minute of OCR and nothing the browser needs.
SKIPPED = ("ke-hoach.pdf", "ke-hoach-trang-1-3.tif")
UPLOADED = "trang-ke-hoach.png"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def repository(tmp_path_factory):
    """Sample cards, a CT01 form and a letter, through the real pipeline."""
    root = tmp_path_factory.mktemp("web-e2e")
    truth = generate(root / "samples", seed=11, set_name="demo")
    inbox = root / "samples" / "inbox"
    upload = root / UPLOADED
    for path in list(inbox.rglob("*")):
        if path.name == UPLOADED:
            shutil.move(path, upload)
        elif path.name in SKIPPED:
            path.unlink()
    settings = replace(load_settings(), home=root / "home", watch_settle_s=0.0)
    ensure_signing_key(settings)
    catalog = Catalog(settings.catalog)
    outcomes = Watcher(inbox, settings, catalog).drain()
    catalog.close()
    assert all(o.status == "stored" for o in outcomes), outcomes
    return {"settings": settings, "truth": truth, "upload": upload}


@pytest.fixture(scope="session")
def server(repository):
    """The real service on a free loopback port, with one admin account."""
    import uvicorn

    from digitize.web import create_app

    auth.SCRYPT_N = 2**12  # test account only
    app = create_app(repository["settings"])
    app.state.web.access.add_user("quantri", PASSWORD, "admin")
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(20)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def _shot(page, name: str) -> None:
    folder = os.environ.get("DIGITIZE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _login(page, base: str) -> None:
    page.goto(base + "/")
    assert "/login" in page.url
    _shot(page, "01-login")
    page.fill("#username", "quantri")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")  # the keyboard alone is enough
    page.wait_for_url(base + "/")


def test_counter_finds_downloads_verifies_and_uploads(server, browser, repository):
    settings = repository["settings"]
    person = repository["truth"]["persons"][0]
    context = browser.new_context(accept_downloads=True, locale="vi-VN")
    page = context.new_page()
    _login(page, server)

    # Search the ID number (the box has the focus); open the person by keyboard.
    page.keyboard.type(person["id_number"])
    page.keyboard.press("Enter")
    page.wait_for_selector(".person-card")
    _shot(page, "02-search-id")
    page.focus(".person-card")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Giấy tờ đã số hóa")
    assert person["id_number"] in page.inner_text(".person-head")
    assert page.locator(".badge-ok", has_text="Đã số hóa").count() >= 1
    _shot(page, "03-person")

    # Download the signed PDF and validate it with pyHanko.
    with page.expect_download() as download_info:
        page.locator("a", has_text="Tải PDF ký số").first.click()
    data = Path(download_info.value.path()).read_bytes()
    (report,) = verify_pdf(data, settings)
    assert report.intact and report.valid and report.trusted

    # Check the signature in place.
    page.locator("button", has_text="Kiểm tra chữ ký").first.click()
    page.wait_for_selector(".verify-result .alert-ok", timeout=30_000)
    assert "Chữ ký hợp lệ" in page.inner_text(".verify-result")
    _shot(page, "04-verified")

    # Document view with page thumbnails that really load.
    page.locator("a.btn", has_text="Xem").first.click()
    page.wait_for_selector(".thumbs img")
    loaded = "[...document.querySelectorAll('.thumbs img')].every(i => i.naturalWidth)"
    for _ in range(100):  # wait_for_function would need 'unsafe-eval' in the CSP
        if page.evaluate(loaded):
            break
        time.sleep(0.1)
    assert page.evaluate(loaded)
    _shot(page, "05-document")

    # Upload a scan; watch it go through the pipeline; open what was stored.
    page.goto(server + "/upload")
    page.set_input_files("#file", str(repository["upload"]))
    page.fill("#unit", "thi-tran-chu-ty")
    page.fill("#dossier", "H23.46-250401-0009")
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector(".job-done", timeout=180_000)
    _shot(page, "06-upload-done")
    page.locator(".job-done a", has_text="Xem tài liệu").click()
    page.wait_for_selector("text=Xem trước các trang")
    assert "H23.46-250401-0009" in page.inner_text(".doc-head")

    # The uploaded dossier is found again by a filtered search.
    page.goto(server + "/?q=k%E1%BA%BF+ho%E1%BA%A1ch&dossier=H23.46-250401-0009")
    assert page.locator(".hit").count() == 1
    _shot(page, "07-search-text")
    context.close()


def test_person_page_fits_a_phone_screen(server, browser, repository):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    _login(page, server)
    page.goto(server + "/?q=" + repository["truth"]["persons"][2]["id_number"])
    page.click(".person-card")
    page.wait_for_selector("text=Giấy tờ đã số hóa")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    _shot(page, "08-phone-person")
    context.close()


def test_prefill_share_over_the_sample_people(repository):
    catalog = Catalog(repository["settings"].catalog)
    ids = [row[0] for row in catalog.db.execute("SELECT id FROM persons")]
    people = [get_person(catalog, person_id) for person_id in ids]
    catalog.close()
    assert len(people) == len(repository["truth"]["persons"])
    shares = prefill_shares(people, load_forms(), load_offices(), today=date.today())
    for form_id, row in shares.items():
        assert row["share"] > 0.6, (form_id, row)
