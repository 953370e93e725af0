from pathlib import Path

import pytest

from digitize.config import DEFAULT_CONFIG, Settings, load_settings
from digitize.errors import ConfigError


def test_defaults_file_loads_and_documents_every_setting():
    settings = load_settings(DEFAULT_CONFIG)
    assert settings.ocr_lang == "vie"
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    for name in Settings.__dataclass_fields__:
        key = name.split("_", 1)[-1] if "_" in name else name
        assert key in text, f"setting {name} is not documented in {DEFAULT_CONFIG}"


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("DIGITIZE_OCR_DPI", "200")
    monkeypatch.setenv("DIGITIZE_HOME", "/tmp/elsewhere")
    settings = load_settings(DEFAULT_CONFIG)
    assert settings.ocr_dpi == 200
    assert settings.catalog == Path("/tmp/elsewhere/catalog.sqlite3")


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[ocr]\nlanguage = 'vie'\n")
    with pytest.raises(ConfigError, match="ocr_language"):
        load_settings(path)


def test_out_of_range_and_bad_type(tmp_path, monkeypatch):
    path = tmp_path / "c.toml"
    path.write_text("[ocr]\ndpi = 5000\n")
    with pytest.raises(ConfigError, match="allowed"):
        load_settings(path)
    monkeypatch.setenv("DIGITIZE_OCR_WORKERS", "many")
    with pytest.raises(ConfigError, match="DIGITIZE_OCR_WORKERS"):
        load_settings(DEFAULT_CONFIG)


def test_broken_toml(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[ocr\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)
