import logging

from digitize.logs import RedactFilter, mask_id, mask_name


def test_masks():
    assert mask_id("079190001234") == "*********234"
    assert mask_name("Nguyễn Thị Hằng") == "N. T. H."


def test_redaction_filter_masks_digit_runs():
    record = logging.LogRecord(
        "digitize",
        logging.INFO,
        __file__,
        1,
        "looked up %s and phone %s",
        ("079190001234", "0912345678"),
        None,
    )
    RedactFilter().filter(record)
    message = record.getMessage()
    assert "079190001234" not in message and "0912345678" not in message
    assert "*********234" in message
