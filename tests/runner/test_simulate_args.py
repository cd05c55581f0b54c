"""``email2chat simulate`` refuses bad arguments before starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.cli import main


def test_a_missing_scenario_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--scenario", str(tmp_path / "absent.jsonl")]) == 2
    assert "absent.jsonl" in capsys.readouterr().err


def test_a_bad_scenario_line_is_exit_2_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "bad.jsonl"
    scenario.write_text('{"id": "x", "raw_message": "ok"}\n{"id": "y", "conversation_id": "c"}\n')
    assert main(["simulate", "--scenario", str(scenario)]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err


def test_a_non_positive_time_scale_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--time-scale", "0"]) == 2
    assert "--time-scale" in capsys.readouterr().err


def test_the_library_log_levels_come_back_after_a_run() -> None:
    # Tests run the command in-process: a library logger left at ERROR hides later tests' log records.
    import logging

    library = logging.getLogger("email2chat")
    library.setLevel(logging.INFO)

    assert main(["simulate", "--time-scale", "0"]) == 2

    assert library.level == logging.INFO
