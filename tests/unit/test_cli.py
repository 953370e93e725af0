import pytest

from digitize.cli import main


def test_options_before_the_subcommand_take_effect(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text("[ocr]\ndpi = 5\n")
    monkeypatch.setenv("DIGITIZE_HOME", str(tmp_path / "home"))
    assert main(["--config", str(bad), "find", "--id", "001090000001"]) == 2
    assert "ocr_dpi" in capsys.readouterr().err


def test_json_before_the_subcommand(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DIGITIZE_HOME", str(tmp_path / "home"))
    assert main(["--json", "search", "anything"]) == 10
    assert capsys.readouterr().out.strip() == "[]"


@pytest.mark.parametrize(
    ("argv", "code"), [(["find"], 9), (["find", "--id", "12"], 9)]
)
def test_query_errors_exit_9(tmp_path, monkeypatch, argv, code):
    monkeypatch.setenv("DIGITIZE_HOME", str(tmp_path / "home"))
    assert main(argv) == code
