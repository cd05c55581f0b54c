"""Urgency classifier: the embedded model behind the guide's "Urgent intent > 0.85" decision.

``normalise`` (email -> the customer's newest words), ``features`` (hashed n-grams, shared with training),
``model`` (the numpy runtime and its artifact), ``decision`` (score / wait trigger -> ``UrgencyDecision``),
``classifier`` (the facade the workflow uses).
"""

from __future__ import annotations

from email2chat.classifier.classifier import UrgencyClassifier
from email2chat.classifier.decision import UrgencyDecision, decide
from email2chat.classifier.normalise import NormalisedEmail, normalise_email

__all__ = ["NormalisedEmail", "UrgencyClassifier", "UrgencyDecision", "decide", "normalise_email"]
