"""Per-customer cooldown: a customer prompted within the window is not prompted again (notification fatigue).

The item is keyed by a keyed hash of the customer id or address, so the table never holds an address in
clear. Round trips: ``claim`` 1 (conditional UpdateItem), ``release`` 1 (conditional DeleteItem),
``mark_prompting``/``unmark_prompting`` 1 (conditional UpdateItem), ``holder``/``current_claim`` 1 (GetItem).

The claim is taken at intake, before anyone is prompted; Notify marks it just before the push goes out (and
takes the mark back when the push was certainly not delivered), so another email of the customer can tell
"prompted (or maybe)" from "claimed by an upgrade that has not prompted yet" (which may still give the
claim back).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from dataclasses import dataclass

from email2chat.state.table import ConditionNotMet, StateTable

_SK = "COOLDOWN"
# The default only separates this hash from other uses of the same address; a deployment sets a secret
# ``customer_key_salt`` (NoEcho parameter) to make the keys useless to anyone holding a list of addresses.
_DEFAULT_SALT = "email2chat/cooldown/v1"


def skip_reason(window_hours: float) -> str:
    """Why an email is skipped: the claim is another email's, whose upgrade prompted or is about to prompt."""
    return (
        f"customer already prompted, or being prompted by another email's upgrade, "
        f"within the last {window_hours:g} hours"
    )


@dataclass(frozen=True)
class CooldownClaim:
    owner: str
    claimed_at: float
    prompting_at: float | None  # when the owner's push went out (or may have): ``None``, not yet


def cooldown_key(customer_key: str) -> str:
    return f"COOLDOWN#{customer_key}"


class CustomerCooldown:
    def __init__(self, table: StateTable, *, window_s: float, salt: str = _DEFAULT_SALT) -> None:
        if window_s < 0:
            raise ValueError("window_s must be >= 0")
        self._table = table
        self.window_s = window_s
        self._salt = salt

    def key_for(self, customer_id_or_email: str) -> str:
        """The cooldown key of a customer under this deployment's salt."""
        return self.customer_key(customer_id_or_email, salt=self._salt)

    @staticmethod
    def customer_key(customer_id_or_email: str, *, salt: str = _DEFAULT_SALT) -> str:
        """A stable HMAC-SHA256 of the trimmed, case-folded identifier (the same address in any case
        maps to one key). 32 hex chars: collisions are not a practical concern at contact-centre scale."""
        normalised = customer_id_or_email.strip().casefold()
        if not normalised:
            raise ValueError("an empty customer identifier cannot be put on cooldown")
        digest = hmac.new(salt.encode(), normalised.encode(), hashlib.sha256).hexdigest()
        return digest[:32]

    def claim(self, customer_key: str, owner: str) -> bool:
        """True when the customer may be prompted by ``owner`` now: nobody prompted them within the window,
        or ``owner`` already holds the claim (a retried workflow step). False: another email prompted them.
        """
        if self.window_s == 0:
            return True  # cooldown disabled
        now = self._table.now()
        try:
            # An UpdateItem, not a PutItem: an owner re-entering its claim keeps its prompting mark.
            self._table.update(
                cooldown_key(customer_key),
                _SK,
                "SET #owner = :owner, claimed_at = :now, #until = :until, expires_at = :expires",
                # TTL deletion is lazy: an item past ``until`` may still exist and must not block.
                condition="attribute_not_exists(pk) OR #owner = :owner OR #until <= :now",
                names={"#owner": "owner", "#until": "until"},
                values={
                    ":owner": owner,
                    ":now": now,
                    ":until": now + self.window_s,
                    ":expires": self._table.expires_after(self.window_s, now=now),
                },
                return_values="NONE",
            )
        except ConditionNotMet:
            return False
        return True

    def holder(self, customer_key: str) -> str | None:
        """Who holds the customer's claim now (``None``: nobody within the window)."""
        claim = self.current_claim(customer_key)
        return None if claim is None else claim.owner

    def current_claim(self, customer_key: str) -> CooldownClaim | None:
        """The customer's claim within the window, and whether its owner has prompted them."""
        item = self._table.get(cooldown_key(customer_key), _SK)
        if item is None or float(item.get("until", 0)) <= self._table.now():
            return None
        prompting_at = item.get("prompting_at")
        if item.get("prompting_owner") != item["owner"]:
            prompting_at = None  # a mark of an owner whose claim ran out and was taken over
        return CooldownClaim(
            owner=str(item["owner"]),
            claimed_at=float(item.get("claimed_at", 0)),
            prompting_at=None if prompting_at is None else float(prompting_at),
        )

    def mark_prompting(self, customer_key: str, owner: str) -> bool:
        """Note on ``owner``'s claim that its push is going out (call it before sending). True when this call
        set the mark; False when it was set already (an earlier try of the same step, whose push may have
        gone out: only the call that set a mark may take it back) or the claim is not ``owner``'s."""
        if self.window_s == 0:
            return False
        try:
            self._table.update(
                cooldown_key(customer_key),
                _SK,
                "SET prompting_at = :now, prompting_owner = :owner",
                names={"#owner": "owner"},
                values={":owner": owner, ":now": self._table.now()},
                condition="#owner = :owner"
                " AND (attribute_not_exists(prompting_owner) OR prompting_owner <> :owner)",
                return_values="NONE",
            )
        except ConditionNotMet:
            return False
        return True

    def unmark_prompting(self, customer_key: str, owner: str) -> None:
        """Take ``owner``'s mark back: its push was certainly not delivered (refused, or not taken)."""
        with contextlib.suppress(ConditionNotMet):
            self._table.update(
                cooldown_key(customer_key),
                _SK,
                "REMOVE prompting_at, prompting_owner",
                names={"#owner": "owner"},
                values={":owner": owner},
                condition="#owner = :owner AND prompting_owner = :owner",
                return_values="NONE",
            )

    def release(self, customer_key: str, owner: str) -> None:
        """Give the claim back (the workflow never notified the customer after all). Idempotent."""
        with contextlib.suppress(ConditionNotMet):  # not ours (or already gone): nothing to give back
            self._table.delete(
                cooldown_key(customer_key),
                _SK,
                condition="#owner = :owner",
                names={"#owner": "owner"},
                values={":owner": owner},
            )
