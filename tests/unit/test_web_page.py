"""The counter page over the small catalog: login, CSRF, search, person, errors."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from digitize import auth
from digitize.web import create_app
from tests.unit.web_support import (
    PASSWORD,
    PIN_HANG,
    fake_process,
    fill_catalog,
    make_users,
    service_settings,
)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth, "SCRYPT_N", 2**10)
        settings = service_settings(tmp_path_factory.mktemp("page") / "home")
        fill_catalog(settings)
        app = create_app(settings, process=fake_process)
        with TestClient(app):
            make_users(app.state.web.access)
            yield app


def _login(app, username: str = "quay1") -> TestClient:
    client = TestClient(app, follow_redirects=False)
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/",
        },
    )
    assert response.status_code == 303, response.text
    return client


def _csrf(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def test_anonymous_is_sent_to_login(app):
    client = TestClient(app, follow_redirects=False)
    response = client.get(f"/?q={PIN_HANG}")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/&reason=auth.required"
    assert "Đăng nhập" in client.get("/login").text


def test_login_needs_the_form_token_and_the_password(app):
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    response = client.post(
        "/login", data={"username": "quay1", "password": PASSWORD, "csrf_token": "x"}
    )
    assert response.status_code == 401
    assert "Biểu mẫu đã cũ" in response.text
    token = client.cookies.get("dz_login_csrf")
    wrong = client.post(
        "/login",
        data={"username": "quay1", "password": "nope nope nope", "csrf_token": token},
    )
    assert wrong.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in wrong.text


def test_login_never_redirects_off_site(app):
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    token = client.cookies.get("dz_login_csrf")
    response = client.post(
        "/login",
        data={
            "username": "quay1",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/x",
        },
    )
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_search_by_id_shows_the_person(app):
    client = _login(app)
    page = client.get("/", params={"q": PIN_HANG[:4] + " " + PIN_HANG[4:]})
    assert page.status_code == 200
    assert "NGUYỄN THỊ HẰNG" in page.text
    assert "2 giấy tờ đã số hóa" in page.text


def test_search_errors_are_worded_in_vietnamese(app):
    client = _login(app)
    bad = client.get("/", params={"q": "12345"})
    assert bad.status_code == 400
    assert "phải có 12 chữ số" in bad.text
    missing = client.get("/", params={"q": "001099999999"})
    assert missing.status_code == 404
    assert "Không tìm thấy" in missing.text


def test_search_by_name_and_text(app):
    client = _login(app)
    page = client.get("/", params={"q": "le van hung"})
    assert page.text.index("LÊ VĂN HÙNG") > 0 and "LÊ VĂN HƯNG" in page.text
    text = client.get("/", params={"q": "cải cách"})
    assert "<mark>cải cách</mark>" in text.text
    assert "<mark>cai cach</mark>" in text.text


def test_person_page_marks_papers_and_validity(app):
    client = _login(app)
    found = client.get("/", params={"q": PIN_HANG}).text
    person_url = re.search(r'href="(/persons/\d+)"', found).group(1)
    page = client.get(person_url).text
    assert page.count("Đã số hóa") >= 2
    assert "Hết hạn" in page and "Còn hạn" in page
    assert "Tải PDF ký số" in page and "Kiểm tra chữ ký" in page
    prefill = re.search(r'href="(/persons/\d+/prefill/ct01)"', page).group(1)
    filled = client.get(prefill).text
    assert "17/05/1990" in filled and "công dân kê khai" in filled


def test_document_and_dossier_pages(app):
    client = _login(app)
    found = client.get("/", params={"q": "cải cách thủ tục"}).text
    doc_url = re.search(r'href="(/documents/[0-9a-f]{16})"', found).group(1)
    doc = client.get(doc_url).text
    assert "Xem trước các trang" in doc and "/pages/1/image?width=240" in doc
    dossier = client.get("/dossiers/xa-a/D1").text
    assert "Hồ sơ D1" in dossier


def test_state_change_without_csrf_is_refused(app):
    client = _login(app)
    page = client.get("/")
    doc = client.get("/api/search", params={"q": "cai cach"}).json()["hits"][0]
    url = f"/api/documents/{doc['document_id']}/verify"
    refused = client.post(url)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "auth.csrf"
    accepted = client.post(url, headers={"X-CSRF-Token": _csrf(page.text)})
    assert accepted.status_code == 200


def test_expired_session_goes_back_to_login(app):
    client = _login(app)
    access = app.state.web.access
    access.db.execute("UPDATE sessions SET seen_s = ?", (time.time() - 10**6,))
    access.db.commit()
    response = client.get("/")
    assert response.status_code == 303
    assert "reason=auth.expired" in response.headers["location"]
    follow = client.get(response.headers["location"])
    assert "Phiên làm việc đã hết hạn" in follow.text
    api = client.get("/api/me")
    assert api.json()["error"]["code"] in ("auth.expired", "auth.required")


def test_logout_ends_the_session(app):
    client = _login(app)
    csrf = _csrf(client.get("/").text)
    response = client.post("/logout", data={"csrf_token": csrf})
    assert response.headers["location"] == "/login"
    assert client.get("/").status_code == 303


def test_roles_shape_the_page(app):
    scanner = _login(app, "quet1")
    assert scanner.get("/").headers["location"] == "/upload"
    upload = scanner.get("/upload").text
    assert "Tải lên bản quét" in upload and "Nhật ký truy cập" not in upload
    assert scanner.get("/admin/audit").status_code == 403
    counter = _login(app, "quay1")
    assert counter.get("/admin/audit").status_code == 403
    refused = counter.get("/upload")
    assert refused.status_code == 403 and "không có quyền" in refused.text
    admin = _login(app, "admin")
    audit = admin.get("/admin/audit").text
    assert "Toàn vẹn" in audit and "lookup.id" in audit
    assert PIN_HANG not in audit


def test_unknown_pages_and_restricted_units(app):
    client = _login(app, "quaya")
    missing = client.get("/persons/999999")
    assert missing.status_code == 404 and "Không tìm thấy" in missing.text
    other = client.get("/dossiers/xa-b/B1")
    assert other.status_code == 403 and "đơn vị khác" in other.text
    assert client.get("/nothing").status_code == 404
