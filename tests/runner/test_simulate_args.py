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


@pytest.mark.parametrize("flag", ["--error-rate", "--lost-answer-rate"])
def test_a_rate_outside_zero_to_one_is_exit_2_naming_the_flag(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", flag, "1.5"]) == 2
    assert f"{flag} must be between 0 and 1, got 1.5" in capsys.readouterr().err


def test_the_library_log_levels_come_back_after_a_run() -> None:
    # Tests run the command in-process: a library logger left at ERROR hides later tests' log records.
    import logging

    library = logging.getLogger("email2chat")
    library.setLevel(logging.INFO)

    assert main(["simulate", "--time-scale", "0"]) == 2

    assert library.level == logging.INFO


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("get_conversations:0-60", "unknown endpoint 'get_conversations'; known: agentless_email"),
        ("get_conversation:60", "expected ENDPOINT:START-END"),
        ("get_conversation:ten-60", "START and END are numbers"),
        ("get_conversation:90-60", "need 0 <= start < end"),
        ("get_conversation:0-inf", "need 0 <= start < end"),
        ("get_conversation:0-nan", "need 0 <= start < end"),
    ],
)
def test_a_bad_outage_window_is_exit_2_saying_what_is_wrong(
    spec: str, complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["simulate", "--outage", spec])

    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--outage" in err
    assert complaint in err


def test_outage_windows_are_parsed_per_endpoint() -> None:
    from simulator.runner.pipeline import Outage

    assert Outage.parse(" push_notification:30.5-600 ") == Outage("push_notification", 30.5, 600.0)
