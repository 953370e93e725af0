"""The one place errors become responses: JSON for /api, a Vietnamese page otherwise.

API shape: `{"ok": false, "error": {"code": ..., "message": ...}}` with the error
class's status (a few codes have a more precise one). Unexpected errors are logged
with their traceback and shown as generic text with an incident id.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from digitize.errors import AuthError, DigitizeError

__all__ = ["VI_MESSAGES", "install_error_handlers", "message_vi"]

log = logging.getLogger(__name__)

_STATUS_BY_CODE = {
    "input.too_large": 413,
    "input.unsupported_format": 415,
    "input.empty": 400,
    "input.bad_name": 400,
    "auth.throttled": 429,
    "auth.bad_username": 400,
    "auth.bad_role": 400,
    "auth.bad_unit": 400,
    "auth.weak_password": 400,
    "auth.user_exists": 409,
    "sign.not_pdf": 415,
    "sign.damaged_pdf": 422,
    "sign.encrypted": 422,
}
_HTTP_CODES = {
    404: ("http.not_found", "no such address"),
    405: ("http.method_not_allowed", "this address does not accept that method"),
}
VI_MESSAGES = {
    "query.bad_id": "Số định danh cá nhân phải có 12 chữ số (hoặc 9 chữ số CMND cũ).",
    "query.bad_date": "Ngày phải theo dạng năm-tháng-ngày, ví dụ 1990-05-17.",
    "query.empty": "Hãy nhập số định danh, họ tên hoặc nội dung cần tìm.",
    "query.not_found": "Không tìm thấy trong kho hồ sơ đã số hóa.",
    "query.bad_document": "Mã tài liệu không hợp lệ.",
    "query.invalid": "Yêu cầu tra cứu không hợp lệ.",
    "http.not_found": "Không có trang này.",
    "auth.required": "Vui lòng đăng nhập.",
    "auth.expired": "Phiên làm việc đã hết hạn, vui lòng đăng nhập lại.",
    "auth.bad_login": "Sai tên đăng nhập hoặc mật khẩu.",
    "auth.throttled": "Đăng nhập sai quá nhiều lần; vui lòng thử lại sau 5 phút.",
    "auth.forbidden": "Tài khoản của bạn không có quyền thực hiện việc này.",
    "auth.unit_forbidden": "Hồ sơ này thuộc đơn vị khác; bạn không có quyền xem.",
    "auth.csrf": "Biểu mẫu đã cũ; vui lòng tải lại trang và thử lại.",
    "input.too_large": "Tệp quá lớn.",
    "input.unsupported_format": "Chỉ nhận tệp PDF, TIFF, JPEG hoặc PNG.",
    "input.empty": "Tệp rỗng; vui lòng quét lại.",
    "input.bad_name": "Tên tệp, đơn vị hoặc mã hồ sơ không hợp lệ.",
    "sign.not_pdf": "Tệp không phải PDF.",
    "sign.damaged_pdf": "Tệp PDF bị hỏng, không đọc được.",
    "store.missing_blob": "Tệp lưu trữ bị thiếu; hãy báo quản trị viên.",
    "internal.error": "Đã có lỗi ngoài dự kiến; hãy báo quản trị viên kèm mã sự cố.",
}


def message_vi(code: str) -> str:
    """The Vietnamese wording of an error code for the page."""
    return VI_MESSAGES.get(code, "Yêu cầu không thực hiện được.")


def status_of(err: DigitizeError) -> int:
    """The HTTP status for an error: its code's, else its class's."""
    return _STATUS_BY_CODE.get(err.code, err.http_status)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def _json(status: int, code: str, message: str) -> JSONResponse:
    body = {"ok": False, "error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status)


def _page(request: Request, status: int, code: str, detail: str = "") -> Response:
    if status == 401:
        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"/login?next={target}&reason={code}", status_code=303)
    templates = request.app.state.web.templates
    context: dict[str, Any] = {
        "code": code,
        "message": message_vi(code),
        "detail": detail,
        "status": status,
        "actor": getattr(request.state, "actor", None),
    }
    return templates.TemplateResponse(
        request, "error.html", context, status_code=status
    )


def _respond(request: Request, status: int, code: str, message: str) -> Response:
    if _is_api(request):
        return _json(status, code, message)
    return _page(request, status, code, message)


async def _on_digitize_error(request: Request, err: Exception) -> Response:
    assert isinstance(err, DigitizeError)
    if not isinstance(err, AuthError) and status_of(err) >= 500:
        log.error("%s on %s: %s", err.code, request.url.path, err.message)
    return _respond(request, status_of(err), err.code, err.message)


async def _on_validation_error(request: Request, err: Exception) -> Response:
    assert isinstance(err, RequestValidationError)
    names = [".".join(str(p) for p in e.get("loc", ())[1:]) for e in err.errors()]
    message = "bad or missing parameter: " + ", ".join(n for n in names if n)
    return _respond(request, 400, "query.invalid", message)


async def _on_http_error(request: Request, err: Exception) -> Response:
    assert isinstance(err, HTTPException)
    cause = err.__cause__ or err.__context__
    if isinstance(cause, DigitizeError):
        return await _on_digitize_error(request, cause)
    code, message = _HTTP_CODES.get(err.status_code, ("http.error", str(err.detail)))
    return _respond(request, err.status_code, code, message)


async def _on_unexpected(request: Request, err: Exception) -> Response:
    incident = secrets.token_hex(4)
    log.exception("unexpected error %s on %s", incident, request.url.path)
    message = f"unexpected error; incident {incident} is in the service log"
    return _respond(request, 500, "internal.error", message)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on `app`."""
    app.add_exception_handler(DigitizeError, _on_digitize_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
