"""``UrgencyClassifier``: normalise an email, score it with the embedded model, decide, explain."""

from __future__ import annotations

from pathlib import Path

from email2chat.classifier.decision import (
    DEFAULT_THRESHOLD,
    DEFAULT_WAIT_TRIGGER_MINUTES,
    UrgencyDecision,
    decide,
)
from email2chat.classifier.features import token_spans
from email2chat.classifier.model import UrgencyModel
from email2chat.classifier.normalise import normalise_email

MAX_DRIVERS = 3
DRIVER_WINDOW_TOKENS = 2  # words kept either side of a driving word: enough to read, short enough for records
MAX_DRIVER_CHARS = 60


class UrgencyClassifier:
    """Load once per process (cold start), then call ``score`` / ``decide`` per email."""

    def __init__(self, model: UrgencyModel) -> None:
        self.model = model

    @classmethod
    def load(cls, path: Path | None = None) -> UrgencyClassifier:
        """The artifact shipped in the layer by default; ``path`` for another one."""
        return cls(UrgencyModel.load(path))

    def score(self, subject: str = "", text: str = "", html: str = "") -> float:
        """Calibrated probability that the email's newest message is Urgent."""
        return self.model.score(normalise_email(subject, text, html).model_text())

    def score_many(self, emails: list[tuple[str, str, str]]) -> list[float]:
        """Bulk ``score`` of ``(subject, text, html)`` triples."""
        return self.model.score_many([normalise_email(s, t, h).model_text() for s, t, h in emails])

    def decide(
        self,
        subject: str = "",
        text: str = "",
        html: str = "",
        *,
        queue_wait_minutes: float = 0.0,
        threshold: float = DEFAULT_THRESHOLD,
        wait_trigger_minutes: float = DEFAULT_WAIT_TRIGGER_MINUTES,
    ) -> UrgencyDecision:
        model_text = normalise_email(subject, text, html).model_text()
        score, token_drivers = self.model.score_with_drivers(model_text)
        drivers = _driver_snippets(
            model_text, [(d.index, d.contribution) for d in token_drivers], score > 0.5
        )
        return decide(
            score,
            drivers,
            queue_wait_minutes=queue_wait_minutes,
            threshold=threshold,
            wait_trigger_minutes=wait_trigger_minutes,
        )


def _driver_snippets(
    text: str, contributions: list[tuple[int, float]], toward_urgent: bool
) -> tuple[str, ...]:
    """Short phrases around the words that pushed hardest in the direction of the outcome."""
    spans = token_spans(text)
    if not spans or len(spans) != len(contributions):
        return ()
    sign = 1.0 if toward_urgent else -1.0
    ranked = sorted((i for i, c in contributions if sign * c > 0), key=lambda i: -sign * contributions[i][1])
    windows: list[tuple[int, int]] = []
    for index in ranked:
        low, high = max(0, index - DRIVER_WINDOW_TOKENS), min(len(spans) - 1, index + DRIVER_WINDOW_TOKENS)
        if any(low <= w_high and w_low <= high for w_low, w_high in windows):
            continue  # overlaps a phrase already chosen
        windows.append((low, high))
        if len(windows) == MAX_DRIVERS:
            break
    snippets = []
    for low, high in windows:
        snippet = " ".join(text[spans[low][0] : spans[high][1]].split())
        snippets.append(snippet[:MAX_DRIVER_CHARS])
    return tuple(snippets)
