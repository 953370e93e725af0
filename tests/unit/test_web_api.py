"""The JSON API over a small hand-made catalog: real SQLite, real app, real HTTP."""

from __future__ import annotations

import io
import time

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from PIL import Image

from digitize import auth
from digitize.web import create_app
from digitize.web.app import ROUTERS
from digitize.web.guard import PUBLIC_PATHS
from tests.unit.web_support import (
    PASSWORD,
    PIN_HANG,
    PIN_OTHER_UNIT,
    USERS,
    Service,
    fake_process,
    fill_catalog,
    make_users,
    page_pdf,
    service_settings,
)


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth, "SCRYPT_N", 2**10)
        settings = service_settings(
            tmp_path_factory.mktemp("web") / "home", web_max_upload_mb=1
        )
        docs = fill_catalog(settings)
        app = create_app(settings, process=fake_process)
        with TestClient(app) as client:
            make_users(app.state.web.access)
            tokens = {}
            for name in USERS:
                body = {"username": name, "password": PASSWORD}
                tokens[name] = client.post("/api/login", json=body).json()["token"]
            yield Service(client, app, settings, docs, tokens)


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is False
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def _png(size: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (size, size), 128).save(buf, format="PNG")
    return buf.getvalue()


# Who may do what


def _sample_path(route: APIRoute) -> str:
    path = route.path
    for name, value in {
        "{person_id}": "1",
        "{form_id}": "ct01",
        "{document_id}": "0" * 16,
        "{page}": "1",
        "{job_id}": "0" * 16,
        "{unit}": "xa-a",
        "{dossier}": "D1",
    }.items():
        path = path.replace(name, value)
    return path


def test_every_route_denies_anonymous_requests(svc):
    checked = 0
    for route in [r for router in ROUTERS for r in router.routes]:
        if not isinstance(route, APIRoute) or route.path in PUBLIC_PATHS:
            continue
        for method in route.methods:
            response = svc.client.request(
                method, _sample_path(route), follow_redirects=False
            )
            if route.path.startswith("/api/"):
                _error(response, 401, "auth.required")
            else:
                assert response.status_code == 303, route.path
                assert response.headers["location"].startswith("/login")
            checked += 1
    assert checked > 25


@pytest.mark.parametrize(
    ("user", "method", "path"),
    [
        ("quay1", "GET", "/api/audit"),
        ("quay1", "GET", "/api/audit/export"),
        ("quay1", "GET", "/api/users"),
        ("quay1", "POST", "/api/users"),
        ("quay1", "POST", "/api/uploads"),
        ("quet1", "GET", f"/api/persons?id_number={PIN_HANG}"),
        ("quet1", "GET", "/api/search?q=cai"),
        ("quet1", "POST", "/api/verify"),
    ],
)
def test_roles_are_enforced(svc, user, method, path):
    response = svc.client.request(method, path, headers=svc.as_user(user))
    _error(response, 403, "auth.forbidden")


def test_login_and_token_errors(svc):
    bad = svc.client.post(
        "/api/login", json={"username": "quay1", "password": "x" * 12}
    )
    _error(bad, 401, "auth.bad_login")
    unknown = svc.client.post("/api/login", json={"username": "ai", "password": "x"})
    _error(unknown, 401, "auth.bad_login")
    headers = {"Authorization": "Basic abc"}
    _error(svc.client.get("/api/me", headers=headers), 401, "auth.bad_header")
    headers = {"Authorization": "Bearer not-a-token"}
    _error(svc.client.get("/api/me", headers=headers), 401, "auth.required")
    me = svc.client.get("/api/me", headers=svc.as_user("quaya")).json()
    assert me == {"ok": True, "username": "quaya", "role": "counter", "units": ["xa-a"]}


def test_expired_token_is_refused(svc):
    access = svc.app.state.web.access
    user = access.get_user("quay1")
    token, _ = access.open_session(
        user, "token", now=time.time() - 100, lifetime_s=10, idle_s=10
    )
    headers = {"Authorization": f"Bearer {token}"}
    _error(svc.client.get("/api/me", headers=headers), 401, "auth.expired")


def test_logout_revokes_the_token(svc):
    body = {"username": "quay1", "password": PASSWORD}
    token = svc.client.post("/api/login", json=body).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert svc.client.post("/api/logout", headers=headers).json() == {"ok": True}
    _error(svc.client.get("/api/me", headers=headers), 401, "auth.required")


# Lookups


def test_lookup_by_id_lists_papers_with_validity(svc):
    response = svc.client.get(
        "/api/persons", params={"id_number": PIN_HANG}, headers=svc.as_user("quay1")
    )
    person = response.json()["person"]
    assert person["full_name"] == "NGUYỄN THỊ HẰNG"
    papers = {p["id"]: p for p in person["papers"]}
    assert set(papers) == {svc.docs["hang"], svc.docs["hang_old"]}
    assert papers[svc.docs["hang"]]["still_valid"] is True
    assert papers[svc.docs["hang_old"]]["still_valid"] is False
    assert papers[svc.docs["hang"]]["paper_types"] == [
        "cccd2021_back",
        "cccd2021_front",
    ]
    assert papers[svc.docs["hang"]]["signed"] and papers[svc.docs["hang"]]["pages"] == 1
    assert {d["dossier"] for d in person["dossiers"]} == {"D0", "D1"}


@pytest.mark.parametrize(
    ("value", "status", "code"),
    [
        ("12ab", 400, "query.bad_id"),
        ("0791900012345", 400, "query.bad_id"),
        ("../../etc/passwd", 400, "query.bad_id"),
        ("001099999999", 404, "query.not_found"),
    ],
)
def test_lookup_by_id_errors(svc, value, status, code):
    response = svc.client.get(
        "/api/persons", params={"id_number": value}, headers=svc.as_user("quay1")
    )
    _error(response, status, code)


def test_lookup_by_name_is_accent_insensitive_exact_first(svc):
    def names(**params):
        response = svc.client.get(
            "/api/persons", params=params, headers=svc.as_user("quay1")
        )
        return [p["full_name"] for p in response.json()["people"]]

    assert names(name="Lê Văn Hưng") == ["LÊ VĂN HƯNG", "LÊ VĂN HÙNG"]
    assert names(name="le van hung", dob="1985-01-02") == ["LÊ VĂN HÙNG", "LÊ VĂN HƯNG"]
    assert names(name="le van hung", dob="1986") == []
    bad = svc.client.get(
        "/api/persons",
        params={"name": "le", "dob": "2-1-1985"},
        headers=svc.as_user("quay1"),
    )
    _error(bad, 400, "query.bad_date")
    _error(
        svc.client.get("/api/persons", headers=svc.as_user("quay1")), 400, "query.empty"
    )


def test_person_by_catalog_id(svc):
    found = svc.client.get(
        "/api/persons", params={"id_number": PIN_HANG}, headers=svc.as_user("quay1")
    ).json()["person"]
    again = svc.client.get(f"/api/persons/{found['id']}", headers=svc.as_user("quay1"))
    assert again.json()["person"]["id_number"] == PIN_HANG
    _error(
        svc.client.get("/api/persons/999999", headers=svc.as_user("quay1")),
        404,
        "query.not_found",
    )
    _error(
        svc.client.get("/api/persons/abc", headers=svc.as_user("quay1")),
        400,
        "query.invalid",
    )


# Full text


def test_search_highlights_and_ranks_exact_first(svc):
    hits = svc.client.get(
        "/api/search", params={"q": "cải cách thủ tục"}, headers=svc.as_user("quay1")
    ).json()["hits"]
    assert [h["document_id"] for h in hits] == [svc.docs["plan"], svc.docs["plan_b"]]
    assert hits[0]["exact"] and not hits[1]["exact"]
    assert {"text": "cải cách thủ tục", "match": True} in hits[0]["parts"]
    assert {"text": "cai cach thu tuc", "match": True} in hits[1]["parts"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"unit": "xa-b"}, ["plan_b"]),
        ({"dossier": "D1"}, ["plan"]),
        ({"date_from": "2000-01-01", "date_to": "2999-12-31"}, ["plan", "plan_b"]),
        ({"date_to": "2000-01-01"}, []),
        ({"paper_type": "cccd2021_front"}, []),
    ],
)
def test_search_filters(svc, params, expected):
    hits = svc.client.get(
        "/api/search", params={"q": "cai cach", **params}, headers=svc.as_user("quay1")
    ).json()["hits"]
    assert sorted(h["document_id"] for h in hits) == sorted(
        svc.docs[k] for k in expected
    )


def test_search_paper_type_filter_finds_cards(svc):
    hits = svc.client.get(
        "/api/search",
        params={"q": "hằng", "paper_type": "cccd2021_front"},
        headers=svc.as_user("quay1"),
    ).json()["hits"]
    assert [h["document_id"] for h in hits] == [svc.docs["hang"]]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"q": " ... "}, "query.empty"),
        ({"q": "cai", "date_from": "01/02/2025"}, "query.bad_date"),
        ({"q": "cai", "limit": "5000"}, "query.invalid"),
        ({}, "query.invalid"),
    ],
)
def test_search_errors(svc, params, code):
    response = svc.client.get(
        "/api/search", params=params, headers=svc.as_user("quay1")
    )
    _error(response, 400, code)


# Documents and files


def test_document_record_and_dossier(svc):
    doc = svc.client.get(
        f"/api/documents/{svc.docs['hang']}", headers=svc.as_user("quay1")
    ).json()["document"]
    assert doc["paper_types"] == ["cccd2021_back", "cccd2021_front"]
    assert [p["id_number"] for p in doc["persons"]] == [PIN_HANG]
    dossier = svc.client.get("/api/dossiers/xa-a/D1", headers=svc.as_user("quay1"))
    ids = [d["id"] for d in dossier.json()["documents"]]
    assert sorted(ids) == sorted([svc.docs["hang"], svc.docs["plan"]])


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/documents/0123456789abcdef", 404, "query.not_found"),
        ("/api/documents/0123", 400, "query.bad_document"),
        ("/api/documents/..%2F..%2Fetc%2Fpasswd/original", 404, "http.not_found"),
        ("/api/documents/%2e%2e/signed", 400, "query.bad_document"),
        ("/api/dossiers/..%2F..%2Fetc/D1", 404, "http.not_found"),
        ("/api/dossiers/..%5C..%5Cetc/D1", 400, "input.bad_name"),
        ("/api/dossiers/xa-a/nope", 404, "query.not_found"),
        ("/api/nothing-here", 404, "http.not_found"),
        ("/static/..%2F..%2Fauth.py", 404, "http.not_found"),
    ],
)
def test_unknown_ids_and_path_tricks(svc, path, status, code):
    response = svc.client.get(path, headers=svc.as_user("quay1"))
    if path.startswith("/static/"):
        assert response.status_code == 404
        assert b"AccessStore" not in response.content
    else:
        _error(response, status, code)


def test_downloads(svc):
    doc_id = svc.docs["hang"]
    signed = svc.client.get(
        f"/api/documents/{doc_id}/signed", headers=svc.as_user("quay1")
    )
    assert signed.status_code == 200
    assert signed.headers["content-type"] == "application/pdf"
    assert 'filename="hang.signed.pdf"' in signed.headers["content-disposition"]
    assert signed.content.startswith(b"%PDF")
    original = svc.client.get(
        f"/api/documents/{doc_id}/original", headers=svc.as_user("quay1")
    )
    assert original.headers["content-type"] == "image/png"
    assert original.content.endswith(b"scan-hang")
    inline = svc.client.get(
        f"/api/documents/{doc_id}/signed?inline=true", headers=svc.as_user("quay1")
    )
    assert inline.headers["content-disposition"].startswith("inline")


def test_page_images(svc):
    base = f"/api/documents/{svc.docs['plan']}/pages"
    small = svc.client.get(f"{base}/1/image", headers=svc.as_user("quay1"))
    assert small.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(small.content)).width == 240
    large = svc.client.get(f"{base}/1/image?width=1200", headers=svc.as_user("quay1"))
    assert Image.open(io.BytesIO(large.content)).width <= 1200
    _error(
        svc.client.get(f"{base}/2/image", headers=svc.as_user("quay1")),
        404,
        "query.not_found",
    )
    _error(
        svc.client.get(f"{base}/1/image?width=5000", headers=svc.as_user("quay1")),
        404,
        "query.not_found",
    )


def test_verify_stored_and_uploaded(svc):
    stored = svc.client.post(
        f"/api/documents/{svc.docs['plan']}/verify", headers=svc.as_user("quay1")
    ).json()
    assert stored == {"ok": True, "signatures": [], "valid": False}
    files = {"file": ("x.pdf", page_pdf("abc"), "application/pdf")}
    upload = svc.client.post("/api/verify", files=files, headers=svc.as_user("quay1"))
    assert upload.json()["valid"] is False
    files = {"file": ("x.pdf", b"hello, not a pdf", "application/pdf")}
    response = svc.client.post("/api/verify", files=files, headers=svc.as_user("quay1"))
    _error(response, 415, "sign.not_pdf")


# Uploads


def test_upload_runs_the_pipeline_and_can_be_polled(svc):
    files = {"file": ("don-de-nghi.png", _png(), "image/png")}
    data = {"unit": "xa-a", "dossier": "D9"}
    response = svc.client.post(
        "/api/uploads", files=files, data=data, headers=svc.as_user("quet1")
    )
    assert response.status_code == 202, response.text
    job = response.json()["job"]
    assert response.json()["poll"] == f"/api/jobs/{job['id']}"
    done = svc.app.state.web.jobs.wait(job["id"], timeout_s=10)
    assert done["status"] == "stored"
    polled = svc.client.get(f"/api/jobs/{job['id']}", headers=svc.as_user("quet1"))
    assert polled.json()["job"]["document_id"] == done["document_id"]
    hits = svc.client.get(
        "/api/search", params={"q": "Hồ Tùng Mậu"}, headers=svc.as_user("quay1")
    ).json()["hits"]
    assert [h["document_id"] for h in hits] == [done["document_id"]]
    _error(
        svc.client.get(f"/api/jobs/{job['id']}", headers=svc.as_user("quaya")),
        403,
        "auth.forbidden",
    )


@pytest.mark.parametrize(
    ("name", "content", "form", "status", "code"),
    [
        (
            "big.png",
            b"\x89PNG\r\n\x1a\n" + b"0" * (3 << 20),
            {},
            413,
            "input.too_large",
        ),
        ("notes.txt", b"just some text", {}, 415, "input.unsupported_format"),
        ("empty.png", b"", {}, 400, "input.empty"),
        ("../../evil.png", None, {}, 400, "input.bad_name"),
        ("..\\evil.png", None, {}, 400, "input.bad_name"),
        (".hidden.png", None, {}, 400, "input.bad_name"),
        ("ok.png", None, {"unit": "../etc"}, 400, "input.bad_name"),
        ("ok.png", None, {"dossier": ".."}, 400, "input.bad_name"),
    ],
)
def test_bad_uploads(svc, name, content, form, status, code):
    files = {"file": (name, _png() if content is None else content, "image/png")}
    data = {"unit": "xa-a", "dossier": "D9", **form}
    response = svc.client.post(
        "/api/uploads", files=files, data=data, headers=svc.as_user("admin")
    )
    _error(response, status, code)


def test_upload_just_over_the_limit_is_refused_while_streaming(svc):
    # No Content-Length up front: the limit holds while the body streams in.
    def body():
        yield b'--x\r\nContent-Disposition: form-data; name="file"; '
        yield b'filename="a.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n'
        for _ in range(3):
            yield b"0" * (1 << 20)
        yield b"\r\n--x--\r\n"

    headers = {
        **svc.as_user("admin"),
        "content-type": "multipart/form-data; boundary=x",
    }
    response = svc.client.post("/api/uploads", content=body(), headers=headers)
    _error(response, 413, "input.too_large")


# Units, prefill, admin, audit


def test_unit_restricted_counter_sees_only_its_unit(svc):
    headers = svc.as_user("quaya")
    _error(
        svc.client.get(f"/api/documents/{svc.docs['other']}", headers=headers),
        403,
        "auth.unit_forbidden",
    )
    _error(
        svc.client.get(f"/api/documents/{svc.docs['plan_b']}/signed", headers=headers),
        403,
        "auth.unit_forbidden",
    )
    _error(
        svc.client.get(
            "/api/persons", params={"id_number": PIN_OTHER_UNIT}, headers=headers
        ),
        404,
        "query.not_found",
    )
    _error(
        svc.client.get("/api/dossiers/xa-b/B7", headers=headers),
        403,
        "auth.unit_forbidden",
    )
    hits = svc.client.get("/api/search", params={"q": "cai cach"}, headers=headers)
    assert [h["unit"] for h in hits.json()["hits"]] == ["xa-a"]


def test_prefill_gives_values_with_their_source(svc):
    person = svc.client.get(
        "/api/persons", params={"id_number": PIN_HANG}, headers=svc.as_user("quay1")
    ).json()["person"]
    forms = svc.client.get("/api/forms", headers=svc.as_user("quay1")).json()["forms"]
    assert {f["id"] for f in forms} >= {"ct01", "don-de-nghi"}
    result = svc.client.get(
        f"/api/persons/{person['id']}/prefill/ct01", headers=svc.as_user("quay1")
    ).json()["prefill"]
    fields = {f["key"]: f for f in result["fields"]}
    assert fields["ho_ten"]["value"] == "NGUYỄN THỊ HẰNG"
    assert fields["ngay_sinh"]["value"] == "17/05/1990"
    assert fields["gioi_tinh"]["value"] == "Nữ"
    source = fields["so_dinh_danh"]["source"]
    assert source["kind"] == "paper" and source["paper_date"] == "2022-03-01"
    assert source["document_id"] in {svc.docs["hang"], svc.docs["hang_old"]}
    assert fields["nghe_nghiep"]["value"] is None
    assert result["share"] > 0.6
    _error(
        svc.client.get(
            f"/api/persons/{person['id']}/prefill/nope", headers=svc.as_user("quay1")
        ),
        404,
        "query.not_found",
    )


def test_admin_manages_users(svc):
    body = {"username": "quay2", "password": PASSWORD, "role": "counter"}
    created = svc.client.post("/api/users", json=body, headers=svc.as_user("admin"))
    assert created.status_code == 201
    again = svc.client.post("/api/users", json=body, headers=svc.as_user("admin"))
    _error(again, 409, "auth.user_exists")
    weak = {**body, "username": "quay3", "password": "short"}
    _error(
        svc.client.post("/api/users", json=weak, headers=svc.as_user("admin")),
        400,
        "auth.weak_password",
    )
    role = {**body, "username": "quay4", "role": "god"}
    _error(
        svc.client.post("/api/users", json=role, headers=svc.as_user("admin")),
        400,
        "auth.bad_role",
    )
    names = [
        u["username"]
        for u in svc.client.get("/api/users", headers=svc.as_user("admin")).json()[
            "users"
        ]
    ]
    assert "quay2" in names


def test_audit_records_lookups_without_personal_data(svc):
    svc.client.get(
        "/api/persons", params={"id_number": PIN_HANG}, headers=svc.as_user("quay1")
    )
    svc.client.get(
        "/api/persons", params={"name": "Nguyễn Thị Hằng"}, headers=svc.as_user("quay1")
    )
    export = svc.client.get("/api/audit/export", headers=svc.as_user("admin")).text
    assert PIN_HANG not in export
    assert "Hằng" not in export and "HẰNG" not in export
    entries = svc.client.get("/api/audit?limit=1000", headers=svc.as_user("admin"))
    actions = {(e["action"], e["target"]) for e in entries.json()["entries"]}
    assert ("lookup.id", "*********234") in actions
    assert ("lookup.name", "N. T. H.") in actions
    assert any(a == "denied" for a, _ in actions)
    assert any(a == "download.signed" for a, _ in actions)
    verified = svc.client.get("/api/audit/verify", headers=svc.as_user("admin"))
    assert verified.json()["valid"] is True


def test_openapi_document_lists_the_api(svc):
    paths = svc.client.get("/openapi.json").json()["paths"]
    assert {"/api/persons", "/api/search", "/api/uploads"} <= set(paths)
    assert not any(p.startswith("/persons") for p in paths)


def test_security_headers(svc):
    response = svc.client.get("/api/me", headers=svc.as_user("quay1"))
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_unaccented_query_ranks_unaccented_pages_first(svc):
    hits = svc.client.get(
        "/api/search", params={"q": "cai cach thu tuc"}, headers=svc.as_user("quay1")
    ).json()["hits"]
    assert [h["document_id"] for h in hits] == [svc.docs["plan_b"], svc.docs["plan"]]
    assert [h["exact"] for h in hits] == [True, False]


def test_forwarded_for_is_not_trusted(svc):
    # LIMITATION pinned: the audit keeps the peer address, not X-Forwarded-For.
    headers = {**svc.as_user("quay1"), "X-Forwarded-For": "203.0.113.9"}
    svc.client.get("/api/search", params={"q": "xff probe"}, headers=headers)
    entry = svc.client.get(
        "/api/audit?action=search.text&limit=1", headers=svc.as_user("admin")
    ).json()["entries"][0]
    assert entry["ip"] != "203.0.113.9"
