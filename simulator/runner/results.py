"""The run's JSON result: per-email outcome, legs, notifications, attributes and timeline, plus totals.

Shape (the ``--json`` file)::

    {"emails": [{"id", "outcome", "reason", "chat_legs", "notifications", "fallback_emails",
                 "chat_attributes": {...}, "timeline": [{"t", "event"}...], ...}],
     "totals": {"<outcome>": n}, "genesys": {"requests", "rate_limited", "errors", ...}, "elapsed_s",
     "latency": {...}, "breaker": [...], "state_machine": {...}, "executions": [...], "run": {...}}

Times in ``timeline`` and ``breaker`` are simulated seconds since the run started; ``elapsed_s`` is real.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from email2chat.workflow.intake_messages import ids_hint

from simulator.runner.pipeline import RawRun
from simulator.runner.scenario import MalformedMessage, ScenarioEmail

OUTCOME_ORDER = (
    "connected",
    "declined_fallback",
    "timeout_cleanup",
    "collision_skipped",
    "cooldown_skipped",
    "not_urgent",
    "deferred",
    "invalid",
)
MISSING = "missing"


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def _stats(values: Sequence[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "p50": _round(percentile(values, 50)),
        "p95": _round(percentile(values, 95)),
        "max": _round(max(values) if values else None),
        "values": [round(v, 3) for v in values],
    }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


AGENT_JOINED_TOPIC = "user.start"


def _topic(event: Mapping[str, Any]) -> str:
    detail = event.get("detail") or {}
    body = detail.get("eventBody") or {}
    detail_type = str(event.get("detail-type", ""))
    short = detail_type.split("{id}.")[-1] if "{id}." in detail_type else detail_type
    media = body.get("mediaType")
    return f"{short} {media}" if media else short


def _conversation_of(event: Mapping[str, Any]) -> str | None:
    body = (event.get("detail") or {}).get("eventBody") or {}
    value = body.get("conversationId")
    return str(value) if value else None


def build_result(raw: RawRun) -> dict[str, Any]:
    scale = raw.options.time_scale
    t0 = raw.started_clock

    def sim(clock_time: float | None) -> float | None:
        return None if clock_time is None else round(clock_time - t0, 2)

    def sim_from_wall(wall: float) -> float:
        return round((wall - raw.started_wall) / scale, 2)

    records_by_email: dict[str, dict[str, Any]] = {r["email_id"]: r for r in raw.outcomes}
    records_by_conversation: dict[str, dict[str, Any]] = {}
    for stored in raw.outcomes:  # scan_all is oldest first: the latest per conversation wins
        rejected_message = str(stored.get("email_id", "")).startswith("sqs-")  # not an email's own outcome
        if stored.get("conversation_id") and not rejected_message:
            records_by_conversation[stored["conversation_id"]] = stored
    executions_by_conversation: dict[str, list[dict[str, Any]]] = {}
    for execution in raw.executions:
        key = execution.get("conversation_id") or ""
        executions_by_conversation.setdefault(key, []).append(execution)
    events_by_conversation: dict[str, list[dict[str, Any]]] = {}
    for entry in raw.status_events:
        event_conversation = _conversation_of(entry["event"])
        if event_conversation:
            events_by_conversation.setdefault(event_conversation, []).append(entry)

    emails: list[dict[str, Any]] = []
    connect_times: list[float] = []
    assignment_times: list[float] = []
    for item in raw.scenario.items:
        delivery = raw.deliveries[item.id]
        if isinstance(item, MalformedMessage):
            emails.append(
                _malformed_result(
                    item, raw, delivery.message_ids, records_by_email, sim(delivery.delivered_at)
                )
            )
            continue
        record: dict[str, Any] | None = records_by_email.get(item.id) or records_by_conversation.get(
            item.conversation_id
        )
        conversation: dict[str, Any] = raw.conversations.get(item.conversation_id, {})
        executions = sorted(
            executions_by_conversation.get(item.conversation_id, []), key=lambda e: e["start_real"]
        )
        timeline: list[dict[str, Any]] = []
        if delivery.delivered_at is not None:
            copies = len(delivery.message_ids)
            label = "email delivered to the intake queue" + (f" ({copies} copies)" if copies > 1 else "")
            timeline.append({"t": sim(delivery.delivered_at), "event": label})
        for execution in executions:
            for state in execution["states"]:
                timeline.append(
                    {
                        "t": sim_from_wall(state["at_real"]),
                        "event": f"state {state['name']}",
                        "execution": execution["name"],
                    }
                )
        for entry in events_by_conversation.get(item.conversation_id, []):
            timeline.append({"t": sim(entry["at"]), "event": f"genesys event {_topic(entry['event'])}"})
        timings: dict[str, float] = dict((record or {}).get("timings") or {})
        for name, at in timings.items():
            timeline.append({"t": sim(at), "event": f"timing {name}"})
        if record is not None and record.get("recorded_at") is not None:
            timeline.append({"t": sim(record["recorded_at"]), "event": f"outcome {record['outcome']}"})
        timeline.sort(key=lambda e: (e["t"] is None, e["t"] or 0.0))

        time_to_connect = _time_to_connect(item, delivery.delivered_at, timings)
        if time_to_connect is not None and record is not None and record["outcome"] == "connected":
            connect_times.append(time_to_connect)
        conversation_events = events_by_conversation.get(item.conversation_id, [])
        assignment = _assignment_latency(timings, _first_agent_event_at(conversation_events))
        if assignment is not None:
            assignment_times.append(assignment)
        dead = [d for d in raw.dead_letters if d["body"] in delivery.bodies]
        if record is None and dead:
            timeline.append({"t": None, "event": f"in the dead-letter queue: {_dlq_reason(dead[0])}"})
        no_outcome = (
            f"no outcome recorded; in the dead-letter queue: {_dlq_reason(dead[0])}"
            if dead
            else "no outcome recorded before the run ended"
        )
        emails.append(
            {
                "id": item.id,
                "conversation_id": item.conversation_id,
                "outcome": record["outcome"] if record else MISSING,
                "reason": record["reason"] if record else no_outcome,
                "expected": item.expect,
                "chat_legs": len(conversation.get("chat_legs", [])),
                "notifications": len(conversation.get("notifications", [])),
                "fallback_emails": len(conversation.get("emails_sent", [])),
                "chat_attributes": dict(conversation.get("chat_attributes", {})),
                "email_attributes": dict(item.attributes),
                "executions": [e["name"] for e in executions],
                "history": [h.get("outcome") for h in (record or {}).get("history", [])],
                "time_to_connect_s": _round(time_to_connect, 2),
                "agent_assignment_s": _round(assignment, 2),
                "timeline": timeline,
            }
        )

    totals = Counter(e["outcome"] for e in emails)
    ordered_totals = {k: totals[k] for k in (*OUTCOME_ORDER, MISSING) if totals.get(k)}
    breaker: list[dict[str, Any]] = []
    state = "closed"  # a metric without from_state: the previous state is the last "to"
    for metric in raw.metrics:
        if metric["name"] != "BreakerTransition":
            continue
        before = (metric.get("properties") or {}).get("from_state") or state
        state = metric["dimensions"].get("to_state", "")
        breaker.append({"t": sim(metric["at"]), "from": before, "to": state})
    genesys = dict(raw.genesys)
    genesys["initiate_requests"] = [
        {"t": sim(r["at"]), "status": r["status"]} for r in raw.genesys.get("initiate_requests", [])
    ]
    return {
        "emails": emails,
        "totals": ordered_totals,
        "genesys": genesys,
        "elapsed_s": round(raw.finished_real - raw.started_real, 2),
        "simulated_s": round((raw.finished_real - raw.started_real) / scale, 1),
        "timed_out": raw.timed_out,
        "missing": [e["id"] for e in emails if e["outcome"] == MISSING],
        "latency": {
            "time_to_connect_s": _stats(connect_times),
            "agent_assignment_s": _stats(assignment_times),
        },
        "breaker": breaker,
        "metrics": _metric_counts(raw.metrics),
        "state_machine": state_machine_counts(raw.definition, raw.executions),
        "executions": [
            {
                "name": e["name"],
                "email_id": e.get("email_id"),
                "conversation_id": e.get("conversation_id"),
                "status": e["status"],
                "states": [s["name"] for s in e["states"]],
            }
            for e in raw.executions
        ],
        "dead_letters": [
            {"message_id": d["message_id"], "reason": _dlq_reason(d), "receive_count": d["receive_count"]}
            for d in raw.dead_letters
        ],
        "handler_errors": raw.handler_errors,
        "run": {
            "scenario": raw.scenario.name,
            "emails": len(raw.scenario),
            "time_scale": scale,
            "rate_limit_per_minute": raw.options.rate_limit_per_minute,
            "error_rate": raw.options.error_rate,
            "lost_answer_rate": raw.options.lost_answer_rate,
            "outage_seconds": raw.options.outage_seconds,
            "outages": [
                {"endpoint": o.endpoint, "start_s": o.start_s, "end_s": o.end_s} for o in raw.options.outages
            ],
        },
    }


def _time_to_connect(
    item: ScenarioEmail, delivered_at: float | None, timings: Mapping[str, float]
) -> float | None:
    connected = timings.get("connected") or timings.get("customer_connected")
    start = delivered_at if delivered_at is not None else timings.get("received")
    if connected is None or start is None:
        return None
    return max(0.0, connected - start)


def _first_agent_event_at(entries: Sequence[Mapping[str, Any]]) -> float | None:
    times = [float(e["at"]) for e in entries if _topic(e["event"]).startswith(AGENT_JOINED_TOPIC)]
    return min(times) if times else None


def _assignment_latency(timings: Mapping[str, float], agent_event_at: float | None) -> float | None:
    """Initiated -> agent assigned. CheckStatus records the assignment only when the agent was already
    there; an agent who joins later is known from the ``user.start`` event (the run waits for it)."""
    assigned = timings.get("agent_assigned") or agent_event_at
    initiated = timings.get("initiated")
    if assigned is None or initiated is None:
        return None
    return max(0.0, assigned - initiated)


def _dlq_reason(dead_letter: Mapping[str, Any]) -> str:
    attributes = dead_letter.get("attributes") or {}
    for key in ("reason", "Reason", "invalid_reason", "error"):
        if attributes.get(key):
            return str(attributes[key])
    if attributes:
        return "; ".join(f"{k}={v}" for k, v in sorted(attributes.items()))
    return f"redriven after {dead_letter.get('receive_count', '?')} receives"


def _malformed_record(
    item: MalformedMessage,
    message_ids: Sequence[str],
    raw: RawRun,
    records_by_email: Mapping[str, Mapping[str, Any]],
) -> Mapping[str, Any] | None:
    """The outcome of a raw message: the intake's rejection of one of its SQS messages, or, when it parsed
    as an email after all (a well-formed email whose conversation Genesys does not have), its email's."""
    sent = set(message_ids)
    rejected = next((r for r in raw.outcomes if (r.get("details") or {}).get("sqs_message_id") in sent), None)
    hint = ids_hint(item.raw_message).email_id
    if (
        rejected is not None
        or not hint
        or any(other.id == hint and other is not item for other in raw.scenario.items)
    ):
        return rejected  # an id another scenario item uses: its outcome is that item's, not this message's
    return records_by_email.get(hint)


def _malformed_result(
    item: MalformedMessage,
    raw: RawRun,
    message_ids: Sequence[str],
    records_by_email: Mapping[str, Mapping[str, Any]],
    delivered: float | None,
) -> dict[str, Any]:
    record = _malformed_record(item, message_ids, raw, records_by_email)
    # The DLQ keeps what the intake read (a retry wrapper unwrapped, "<empty>" for nothing): match by the
    # SQS message id it names, and by body for dead letters that name none (the redrive policy's).
    matches = [
        d
        for d in raw.dead_letters
        if d["attributes"].get("source_message_id") in message_ids or d["body"] == item.raw_message
    ]
    if record is not None:
        outcome, reason = str(record["outcome"]), str(record.get("reason") or "")
    elif matches:
        outcome, reason = "invalid", _dlq_reason(matches[0])
    else:
        outcome, reason = MISSING, "not found in the dead-letter queue"
    timeline = [] if delivered is None else [{"t": delivered, "event": "raw message put on the intake queue"}]
    if matches:
        timeline.append({"t": None, "event": f"in the dead-letter queue: {_dlq_reason(matches[0])}"})
    return {
        "id": item.id,
        "conversation_id": None,
        "outcome": outcome,
        "reason": reason,
        "expected": item.expect,
        "chat_legs": 0,
        "notifications": 0,
        "fallback_emails": 0,
        "chat_attributes": {},
        "email_attributes": {},
        "executions": [],
        "history": [],
        "time_to_connect_s": None,
        "agent_assignment_s": None,
        "dead_letter_copies": len(matches),
        "timeline": timeline,
    }


def _metric_counts(metrics: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    counts: dict[str, float] = {}
    for metric in metrics:
        if metric.get("unit") == "Count":
            counts[metric["name"]] = counts.get(metric["name"], 0.0) + float(metric["value"])
    return counts


def state_machine_counts(
    definition: Mapping[str, Any], executions: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """How many executions entered each state and took each transition (consecutive states entered)."""
    state_executions: Counter[str] = Counter()
    state_visits: Counter[str] = Counter()
    transition_executions: Counter[tuple[str, str]] = Counter()
    for execution in executions:
        names = [s["name"] if isinstance(s, Mapping) else str(s) for s in execution.get("states", [])]
        state_visits.update(names)
        state_executions.update(set(names))
        transition_executions.update(set(itertools.pairwise(names)))
    return {
        "start_at": definition.get("StartAt"),
        "executions": len(executions),
        "states": {name: state_executions.get(name, 0) for name in (definition.get("States") or {})},
        "visits": dict(state_visits),
        "transitions": [
            {"from": a, "to": b, "executions": n} for (a, b), n in sorted(transition_executions.items())
        ],
    }
