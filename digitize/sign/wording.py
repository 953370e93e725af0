"""Plain Vietnamese and English verdicts for a signature report.

Takes the facts validation established, gives one sentence per language: the verdict,
trust, revocation, what changed after signing, the level and the proven time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["LTA_OK", "VerdictFacts", "describe_changes", "summarize"]

LTA_OK = "PASSED/OK"
_VIETNAM_TZ = dt.timezone(dt.timedelta(hours=7))

# ModificationLevel name -> (Vietnamese, English) description of later updates.
_CHANGES = {
    "NONE": ("tài liệu không thay đổi sau khi ký", "document unchanged since signing"),
    "LTA_UPDATES": (
        "sau khi ký chỉ bổ sung dữ liệu kiểm tra và dấu thời gian lưu trữ",
        "only validation data and archive timestamps added since signing",
    ),
    "FORM_FILLING": (
        "sau khi ký chỉ có bổ sung được phép (như chữ ký khác)",
        "only permitted additions since signing (such as another signature)",
    ),
    "ANNOTATIONS": (
        "sau khi ký có thêm chú thích",
        "annotations were added after signing",
    ),
}
_CHANGED = (
    "tài liệu đã bị thay đổi sau khi ký",
    "the document was changed after signing",
)


@dataclass(frozen=True)
class VerdictFacts:
    """The facts a verdict is worded from."""

    intact: bool
    valid: bool
    trusted: bool
    ok: bool
    revocation_checked: bool
    revoked: bool
    modification: str
    docmdp_ok: bool
    level: str
    lta_indication: str
    timestamp_at: dt.datetime | None


def describe_changes(modification: str, docmdp_ok: bool) -> tuple[str, str]:
    """What updates after signing did, in (Vietnamese, English)."""
    if modification in _CHANGES and (modification == "NONE" or docmdp_ok):
        return _CHANGES[modification]
    return _CHANGED


def summarize(facts: VerdictFacts) -> tuple[str, str]:
    """The verdict sentence in (Vietnamese, English)."""
    if not facts.intact:
        return (
            "Chữ ký KHÔNG hợp lệ: nội dung đã ký bị sửa đổi.",
            "Signature INVALID: the signed content was altered.",
        )
    if not facts.valid:
        return (
            "Chữ ký KHÔNG hợp lệ: kiểm tra mật mã thất bại.",
            "Signature INVALID: the cryptographic check failed.",
        )
    parts = [
        _verdict(facts.ok),
        _trust(facts),
        _revocation(facts),
        describe_changes(facts.modification, facts.docmdp_ok),
        _level(facts),
    ]
    head = parts[0]
    return (
        f"{head[0]}: " + "; ".join(p[0] for p in parts[1:]) + ".",
        f"{head[1]}: " + "; ".join(p[1] for p in parts[1:]) + ".",
    )


def _verdict(ok: bool) -> tuple[str, str]:
    if ok:
        return ("Chữ ký hợp lệ", "Signature valid")
    return ("Chữ ký KHÔNG được chấp nhận", "Signature NOT accepted")


def _trust(facts: VerdictFacts) -> tuple[str, str]:
    if facts.trusted and not facts.revoked:
        return (
            "chứng thư số thuộc gốc tin cậy đã cấu hình",
            "the certificate chains to a configured trust root",
        )
    if facts.revoked:
        return ("chứng thư số ĐÃ BỊ THU HỒI", "the certificate is REVOKED")
    return (
        "chứng thư số KHÔNG thuộc gốc tin cậy nào đã cấu hình",
        "the certificate does NOT chain to a configured trust root",
    )


def _revocation(facts: VerdictFacts) -> tuple[str, str]:
    if facts.revoked:
        return ("đã kiểm tra tình trạng thu hồi", "revocation checked")
    if facts.revocation_checked:
        return (
            "đã kiểm tra tình trạng thu hồi: chưa bị thu hồi",
            "revocation checked: not revoked",
        )
    return (
        "chưa kiểm tra tình trạng thu hồi chứng thư số",
        "revocation not checked",
    )


def _level(facts: VerdictFacts) -> tuple[str, str]:
    vi, en = f"mức {facts.level}", f"level {facts.level}"
    if facts.timestamp_at is not None:
        moment = facts.timestamp_at.astimezone(_VIETNAM_TZ).isoformat(
            timespec="seconds"
        )
        vi += f", dấu thời gian {moment}"
        en += f", timestamped {moment}"
    if facts.lta_indication and facts.lta_indication != LTA_OK:
        vi += f", kiểm tra dài hạn KHÔNG đạt ({facts.lta_indication})"
        en += f", long-term validation FAILED ({facts.lta_indication})"
    elif facts.lta_indication:
        vi += ", kiểm tra dài hạn đạt"
        en += ", long-term validation passed"
    return (vi, en)
