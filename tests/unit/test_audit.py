"""The audit log: append-only, hash-chained, tamper-evident, no raw personal data."""

from __future__ import annotations

import json
import sqlite3

import pytest

from digitize.audit import AuditLog, mask_query, scrub, verify_chain
from digitize.cli import main
from digitize.errors import StorageError


@pytest.fixture
def log(tmp_path):
    audit = AuditLog(tmp_path / "audit.sqlite3")
    for n in range(5):
        audit.record(
            username="quay1",
            role="counter",
            action="lookup.id",
            target=f"*********{n:03d}",
            ip="127.0.0.1",
        )
    yield audit
    audit.close()


def _raw(log: AuditLog) -> sqlite3.Connection:
    """A connection with the append-only triggers dropped, as an intruder would."""
    db = sqlite3.connect(log.path)
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("DROP TRIGGER audit_no_delete")
    return db


def test_intact_chain_verifies(log):
    report = verify_chain(log.path)
    assert report.ok and report.entries == 5
    first, second = log.entries(limit=5)[-1], log.entries(limit=5)[-2]
    assert first["prev"] == "0" * 64
    assert second["prev"] == first["hash"]


def test_update_and_delete_are_refused(log):
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        log.db.execute("UPDATE audit SET username = 'x' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        log.db.execute("DELETE FROM audit WHERE seq = 1")


def test_edited_entry_is_detected(log):
    db = _raw(log)
    db.execute("UPDATE audit SET username = 'someone' WHERE seq = 3")
    db.commit()
    report = verify_chain(log.path)
    assert not report.ok
    assert report.problems == ["entry 3 was changed after it was written"]


def test_deleted_entry_is_detected(log):
    db = _raw(log)
    db.execute("DELETE FROM audit WHERE seq = 2")
    db.commit()
    problems = verify_chain(log.path).problems
    assert "entries 2-2 are missing" in problems
    assert "entry 3 does not follow the entry before it" in problems


def test_removed_last_entries_are_detected_by_the_head(log):
    db = _raw(log)
    db.execute("DELETE FROM audit WHERE seq >= 4")
    db.commit()
    (problem,) = verify_chain(log.path).problems
    assert "ends at entry 3" in problem and "head records entry 5" in problem


def test_rehashed_forgery_still_breaks_the_head(log):
    # Rewriting an entry and re-chaining everything after it still leaves the head.
    from digitize.audit import _entry_hash

    db = _raw(log)
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute("SELECT * FROM audit ORDER BY seq")]
    rows[1]["target"] = "forged"
    prev = rows[0]["hash"]
    for row in rows[1:]:
        row["prev"], row["hash"] = prev, _entry_hash(row, prev)
        db.execute(
            "UPDATE audit SET target = ?, prev = ?, hash = ? WHERE seq = ?",
            (row["target"], row["prev"], row["hash"], row["seq"]),
        )
        prev = row["hash"]
    db.commit()
    assert any("head" in p for p in verify_chain(log.path).problems)


def test_cli_audit_verify_exit_codes(log, monkeypatch, capsys):
    monkeypatch.setenv("DIGITIZE_HOME", str(log.path.parent))
    assert main(["audit", "verify", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == 5
    db = _raw(log)
    db.execute("UPDATE audit SET outcome = 'ok?' WHERE seq = 1")
    db.commit()
    assert main(["audit", "verify"]) == 8
    assert "BROKEN" in capsys.readouterr().out
    assert main(["audit", "export"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3, 4, 5]


def test_missing_log_is_an_error(tmp_path):
    with pytest.raises(StorageError) as err:
        verify_chain(tmp_path / "none.sqlite3")
    assert err.value.code == "audit.missing"


def test_entries_never_hold_full_numbers(log):
    log.record(username="a", role="admin", action="x", target="so 079190001234 goi")
    assert log.entries(limit=1)[0]["target"] == "so *********234 goi"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Nguyễn Thị Hằng", "N. T. H."),
        ("079190001234", "*********234"),
        ("cải cách 2025", "C. C. 2025"),
        ("hồ sơ 123456789", "H. S. ******789"),
    ],
)
def test_mask_query(text, masked):
    assert mask_query(text) == masked


def test_scrub_masks_digit_runs_only():
    assert scrub("job 12345678 id 001090000001") == "job 12345678 id *********001"
