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


def test_summary_flags_a_repaired_input_and_only_that():
    from digitize.cli import format_summary
    from digitize.pipeline import FileOutcome

    repaired = FileOutcome("a.pdf", "stored", pages=2, notes={"repaired": True})
    plain = FileOutcome("b.pdf", "stored", pages=1, notes={"dpi": 300})
    table = format_summary([repaired, plain])
    assert table.count("note:") == 1
    (line,) = [r for r in table.splitlines() if "note:" in r]
    assert "damaged and rebuilt" in line
    assert table.splitlines().index(line) == 3  # right under a.pdf's row
