"""``email2chat score``: JSON lines in, one line out per input line, in order; bad lines get an error."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from email2chat.classifier import UrgencyClassifier

from training.score_cli import score_stream

STOLEN = "Someone stole my card and there are payments I did not make"


@pytest.fixture(scope="module")
def classifier() -> UrgencyClassifier:
    return UrgencyClassifier.load()


def _run(classifier: UrgencyClassifier, payload: bytes, threshold: float = 0.85) -> list[dict[str, object]]:
    sink = io.StringIO()
    score_stream(classifier, io.BytesIO(payload), sink, threshold, 15.0)
    return [json.loads(line) for line in sink.getvalue().splitlines()]


def test_one_output_line_per_input_line_in_order_and_bad_lines_do_not_stop_the_run(
    classifier: UrgencyClassifier,
) -> None:
    lines = [
        json.dumps({"id": "a", "subject": "Help", "body": STOLEN}).encode(),
        b"\xff\xfe not utf-8",
        b"",
        b"{not json",
        json.dumps(["a", "list"]).encode(),
        json.dumps({"subject": "no id"}).encode(),
        json.dumps({"id": "b", "body": 42}).encode(),
        json.dumps({"id": "c", "html": "<p>What time do you open on Sunday?</p>"}).encode(),
        json.dumps({"id": 7, "body": "   "}).encode(),
        json.dumps({"id": "w", "body": "hello", "queue_wait_minutes": 30}).encode(),
        json.dumps({"id": "x", "body": "hello", "queue_wait_minutes": "long"}).encode(),
        b'{"id": "s\\udcff", "body": "lone \\udcff surrogate, card stolen"}',
    ]
    out = _run(classifier, b"\n".join(lines) + b"\n")
    assert len(out) == len(lines)
    assert out[0]["id"] == "a"
    assert out[0]["urgent"] is True
    assert out[0]["score"] > 0.85
    for index in (1, 2, 3, 4, 5):
        assert "error" in out[index]
        assert out[index]["id"] is None
    assert "UTF-8" in str(out[1]["error"])
    assert out[6] == {"id": "b", "error": "'body' must be a string"}
    assert out[7]["id"] == "c"
    assert out[7]["urgent"] is False
    assert out[8]["id"] == 7
    assert out[8]["urgent"] is False
    assert out[9]["urgent"] is True
    assert out[9]["wait_trigger_fired"] is True
    assert out[9]["by_score"] is False
    assert "error" in out[10]
    assert out[11]["id"] == "s\udcff"
    assert 0.0 <= float(out[11]["score"]) <= 1.0


@pytest.mark.parametrize("wait", ["NaN", "Infinity", "-5", "1" + "0" * 400, "true", "null"])
def test_a_wait_that_is_not_a_count_of_minutes_is_an_error(classifier: UrgencyClassifier, wait: str) -> None:
    out = _run(classifier, b'{"id": "w", "body": "hello", "queue_wait_minutes": ' + wait.encode() + b"}")
    assert out == [{"id": "w", "error": "'queue_wait_minutes' must be a finite number of minutes, 0 or more"}]


def test_a_byte_order_mark_opening_the_input_is_not_read_as_json(classifier: UrgencyClassifier) -> None:
    line = json.dumps({"id": "a", "body": STOLEN}).encode()
    out = _run(classifier, b"\xef\xbb\xbf" + line + b"\r\n" + line + b"\r\n")
    assert [row["id"] for row in out] == ["a", "a"]
    assert out[0]["score"] == out[1]["score"]


def test_threshold_option_changes_the_decision_not_the_score(classifier: UrgencyClassifier) -> None:
    line = json.dumps({"id": "a", "body": STOLEN}).encode()
    default = _run(classifier, line)[0]
    strict = _run(classifier, line, threshold=1.0)[0]
    assert default["score"] == strict["score"]
    assert strict["urgent"] is False


def test_errors_never_echo_the_body(classifier: UrgencyClassifier) -> None:
    secret = "my-secret-body-text"
    out = _run(classifier, json.dumps({"body": secret}).encode() + b"\n" + b'{"id": 1, "body": [1]}')
    assert all(secret not in json.dumps(row) for row in out)


def test_command_line_end_to_end() -> None:
    payload = json.dumps({"id": "e1", "body": STOLEN}) + "\n" + "garbage\n"
    result = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "score"],
        input=payload.encode(),
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [row["id"] for row in rows] == ["e1", None]
    assert set(rows[0]) >= {"id", "score", "urgent"}
    assert "error" in rows[1]
