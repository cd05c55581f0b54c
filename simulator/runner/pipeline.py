"""The local pipeline: the SAM stack in moto, the Genesys emulator, one scaled clock, and a driver.

``LocalPipeline`` wires everything the way AWS would: the intake queue feeds the intake handler in
batches (SQS event shape, partial batch failures, redrive to the DLQ), the real ASL runs in moto with its
Lambda tasks dispatched in-process, and the emulator's status events reach the status-events handler on a
worker thread (as EventBridge -> Lambda would). ``run(scenario)`` delivers each email when it is due and
drives the queues until every email has a final outcome and nothing is in flight, or a global timeout.

Time: one ``ScaledClock(time_scale)`` (real seconds per simulated second) for the emulator and the
library runtime; the ASL's timing parameters are scaled the same way by ``LocalAwsStack``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from email2chat import observability
from email2chat.clock import ScaledClock
from email2chat.config import Settings
from email2chat.runtime import Runtime, build_runtime, set_runtime
from email2chat.state.outcomes import OutcomeRecord

from simulator.emulator import ENDPOINTS, GenesysEmulator
from simulator.local_aws import LocalAwsStack
from simulator.runner.scenario import MalformedMessage, Scenario, ScenarioEmail, ScenarioItem

LOG = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]
POLL_INTERVAL_S = 0.01  # real seconds between driver passes (polling in-process queues, not waiting on time)
CHECK_INTERVAL_S = 0.2  # real seconds between completion checks
IDLE_POLL_MAX_S = 0.08  # real seconds an idle intake worker waits at most between polls
PROCESSING_VISIBILITY_S = 120  # real seconds an intake batch stays hidden while its handler runs
# Simulated seconds a quiet run still waits for agents to join connected chats (the assignment latency).
AGENT_ASSIGNMENT_WAIT_MAX_S = 120.0


def default_template() -> Path:
    candidates = [Path.cwd() / "template.yaml", REPO_ROOT / "template.yaml"]
    return next((c for c in candidates if c.exists()), candidates[-1])


@dataclass(frozen=True)
class Outage:
    """A Genesys endpoint answering 503 from ``start_s`` to ``end_s``, simulated seconds into the run."""

    endpoint: str
    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {self.endpoint!r}; known: {', '.join(sorted(ENDPOINTS))}")
        if not (0 <= self.start_s < self.end_s < float("inf")):
            raise ValueError(
                f"outage of {self.endpoint}: need 0 <= start < end, got {self.start_s}-{self.end_s}"
            )

    @classmethod
    def parse(cls, spec: str) -> Outage:
        """``ENDPOINT:START-END`` in simulated seconds, e.g. ``get_conversation:200-900``."""
        match = re.fullmatch(r"(\w+):([^-]+)-(.+)", spec.strip())
        if match is None:
            raise ValueError(f"{spec!r}: expected ENDPOINT:START-END, e.g. get_conversation:200-900")
        endpoint, start, end = match.groups()
        try:
            start_s, end_s = float(start), float(end)
        except ValueError:
            raise ValueError(f"{spec!r}: START and END are numbers of simulated seconds") from None
        try:
            return cls(endpoint, start_s, end_s)
        except ValueError as exc:
            raise ValueError(f"{spec!r}: {exc}") from None


@dataclass(frozen=True)
class RunOptions:
    """How to run. Clock quantities are simulated seconds; ``timeout_s`` is real seconds."""

    time_scale: float = 0.01
    rate_limit_per_minute: int = 300
    error_rate: float = 0.0
    lost_answer_rate: float = 0.0  # share of calls that take effect, then answer a garbled 200
    outage_seconds: float = 0.0  # initiateChat answers 503 for the run's first S simulated seconds
    outages: tuple[Outage, ...] = ()  # any endpoint, any window
    timeout_s: float = 120.0
    template: Path | None = None
    settings_overrides: Mapping[str, Any] = field(default_factory=dict)
    parameter_overrides: Mapping[str, Any] = field(default_factory=dict)
    # concurrent intake batches, as Lambda scales an SQS event source (the template caps it in AWS)
    intake_concurrency: int = 4
    # concurrent status-event invocations: EventBridge invokes the Lambda asynchronously, not one at a time
    event_concurrency: int = 4


@dataclass
class Progress:
    done: int
    total: int
    elapsed_s: float
    outcomes: dict[str, int]


@dataclass
class Delivery:
    item: ScenarioItem
    due_at: float  # clock time
    delivered_at: float | None = None
    message_ids: list[str] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)


@dataclass
class RawRun:
    """Everything collected during a run, turned into the JSON result by ``simulator.runner.results``."""

    scenario: Scenario
    options: RunOptions
    started_clock: float
    started_wall: float  # epoch seconds (real) at the start: execution histories carry real timestamps
    started_real: float
    finished_real: float
    deliveries: dict[str, Delivery]
    outcomes: list[dict[str, Any]]
    executions: list[dict[str, Any]]
    dead_letters: list[dict[str, Any]]
    genesys: dict[str, Any]
    conversations: dict[str, dict[str, Any]]
    metrics: list[dict[str, Any]]
    status_events: list[dict[str, Any]]
    definition: dict[str, Any]
    timed_out: bool
    handler_errors: dict[str, int]


class LocalPipeline:
    """``with LocalPipeline(options) as pipeline: raw = pipeline.run(scenario)``."""

    def __init__(self, options: RunOptions | None = None) -> None:
        self.options = options or RunOptions()
        self.clock = ScaledClock(self.options.time_scale)
        self.stack: LocalAwsStack | None = None
        self.emulator: GenesysEmulator | None = None
        self.runtime: Runtime | None = None
        self.intake_function = ""
        self.status_function = ""
        self.intake_queue = ""
        self.dead_letter_queue = ""
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._events_pending = 0
        self._events_lock = threading.Lock()
        self._event_workers: list[threading.Thread] = []
        self._metrics: list[dict[str, Any]] = []
        self._metrics_lock = threading.Lock()
        self._remove_listener: Callable[[], None] | None = None
        self._emf_was_enabled = True
        self._status_events: list[dict[str, Any]] = []
        self.handler_errors: dict[str, int] = {}
        self._quiet_checks = 0
        self._quiet_since: float | None = None  # simulated time the run first looked finished
        self._final_outcomes: dict[str, int] = {}  # from the outcome metrics: the progress line's counts
        self._retry_visibility = 1
        self._seeded: set[str] = set()

    # --- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> LocalPipeline:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        options = self.options
        scale = options.time_scale
        # metrics reach us through the listener, not stdout; the previous setting comes back at stop()
        self._emf_was_enabled = bool(getattr(observability, "_emf_enabled", True))
        observability.set_emf_output(False)
        self._remove_listener = observability.add_listener(self._on_metric)
        self.emulator = GenesysEmulator(
            clock=self.clock,
            rate_limit_per_minute=options.rate_limit_per_minute,
            event_sink=self._enqueue_event,
            # one simulated second of granularity for customer and agent actions
            autotick_interval_s=min(0.05, max(0.002, scale)),
            timeout_hold_s=2.0,
        )
        self.emulator.start()
        self.stack = LocalAwsStack(
            options.template or default_template(),
            time_scale=scale,
            parameter_overrides=options.parameter_overrides,
        )
        self.stack.start()
        try:
            self._wire_runtime()
        except BaseException:
            self.stop()
            raise
        self._event_workers = [
            threading.Thread(target=self._deliver_events, name=f"eventbridge-{i}", daemon=True)
            for i in range(max(1, options.event_concurrency))
        ]
        for worker in self._event_workers:
            worker.start()

    def stop(self) -> None:
        if self.stack is not None and self.stack.state_machine_arn:
            with contextlib.suppress(Exception):
                self._stop_running_executions()
        for _ in self._event_workers:
            self._events.put(None)  # one stop mark per worker
        for worker in self._event_workers:
            worker.join(timeout=5)
        self._event_workers = []
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        if self.stack is not None:
            self.stack.stop()
            self.stack = None
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
            observability.set_emf_output(self._emf_was_enabled)
        set_runtime(None)

    def _apply_faults(self) -> None:
        assert self.emulator is not None
        options = self.options
        now = self.clock.now()
        windows: dict[str, list[tuple[float, float]]] = {}
        if options.outage_seconds > 0:
            windows["initiate_chat"] = [(now, now + options.outage_seconds)]
        for outage in options.outages:
            windows.setdefault(outage.endpoint, []).append((now + outage.start_s, now + outage.end_s))
        random_faults = options.error_rate > 0 or options.lost_answer_rate > 0
        for endpoint in ENDPOINTS:
            if endpoint in windows or (random_faults and endpoint != "token"):
                self.emulator.set_fault(
                    endpoint,
                    error_rate=options.error_rate if endpoint != "token" else 0.0,
                    error_status=503,
                    malformed_rate=options.lost_answer_rate if endpoint != "token" else 0.0,
                    outage_windows=windows.get(endpoint, ()),
                )

    def _wire_runtime(self) -> None:
        assert self.stack is not None
        assert self.emulator is not None
        stack = self.stack
        template = stack.template
        intake = _function_with_event(template.functions, {"SQS"}) or template.function_for_code("intake")
        genesys_rules = {  # not the rule on Step Functions' own execution events
            k: f for k, f in template.functions.items() if "aws.states" not in f.rule_sources()
        }
        status = _function_with_event(
            genesys_rules, {"EventBridgeRule", "CloudWatchEvent"}
        ) or template.function_for_code("status_events")
        self.intake_function = intake.logical_id
        self.status_function = status.logical_id
        self.intake_queue = stack.queue_urls[stack.queue_for_function_event(intake.logical_id)]
        self._retry_visibility = int(
            stack.client("sqs").get_queue_attributes(
                QueueUrl=self.intake_queue, AttributeNames=["VisibilityTimeout"]
            )["Attributes"]["VisibilityTimeout"]
        )
        dlq_id = stack.dead_letter_queue_of(stack.queue_for_function_event(intake.logical_id))
        self.dead_letter_queue = stack.queue_urls[dlq_id] if dlq_id else ""
        environment = stack.merged_environment()
        settings = Settings.from_env({k: v for k, v in environment.items() if not v.startswith("local:")})
        overrides: dict[str, Any] = {
            "genesys_base_url": self.emulator.base_url,
            "genesys_login_url": None,
            "genesys_secret_arn": None,  # locally the emulator's well-known client credentials
            "genesys_client_id": "local-client",
            "genesys_client_secret": "local-secret",
            "intake_queue_url": self.intake_queue,
            "dead_letter_queue_url": self.dead_letter_queue or None,
            "state_machine_arn": stack.state_machine_arn,
            "time_scale": self.options.time_scale,
        }
        if stack.table_names:
            overrides["state_table_name"] = next(iter(stack.table_names.values()))
        overrides = {k: v for k, v in overrides.items() if k in Settings.model_fields}
        overrides.update(self.options.settings_overrides)
        settings = Settings.model_validate({**settings.model_dump(), **overrides})
        scale = self.options.time_scale
        self.runtime = build_runtime(
            settings,
            clock=self.clock,
            dynamodb_client=stack.client("dynamodb"),
            sqs_client=stack.client("sqs"),
            sfn_client=stack.client("stepfunctions"),
            sleep=lambda seconds: time.sleep(seconds * scale),
        )
        set_runtime(self.runtime)
        # Lambda's init phase: load the model and the attribute map before the first email, not during it
        _ = self.runtime.classifier, self.runtime.mapper

    # --- events: EventBridge -> status-events Lambda -----------------------------------------------

    def _enqueue_event(self, event: dict[str, Any]) -> None:
        with self._events_lock:
            self._events_pending += 1
        self._events.put(event)

    def _deliver_events(self) -> None:
        while True:
            event = self._events.get()
            if event is None:
                return
            try:
                self._status_events.append({"at": self.clock.now(), "event": event})
                # EventBridge retries a failed asynchronous Lambda invoke; one retry is enough locally.
                for attempt in range(2):
                    try:
                        assert self.stack is not None
                        self.stack.invoke(self.status_function, event)
                        break
                    except Exception as exc:
                        self._count_error(self.status_function, exc)
                        if attempt == 1:
                            LOG.warning("status event dropped after a retry: %s", type(exc).__name__)
            finally:
                with self._events_lock:
                    self._events_pending -= 1

    def _on_metric(self, event: observability.MetricEvent) -> None:
        with self._metrics_lock:
            self._metrics.append(
                {
                    "at": self.clock.now(),
                    "name": event.name,
                    "value": event.value,
                    "unit": event.unit,
                    "dimensions": dict(event.dimensions),
                    "properties": dict(event.properties),
                }
            )
            if event.name == observability.OUTCOME:  # emitted once per final outcome
                outcome = event.dimensions.get("outcome", "?")
                self._final_outcomes[outcome] = self._final_outcomes.get(outcome, 0) + int(event.value)

    def _count_error(self, function: str, exc: Exception) -> None:
        key = f"{function}:{getattr(exc, 'error_type', type(exc).__name__)}"
        with self._metrics_lock:
            self.handler_errors[key] = self.handler_errors.get(key, 0) + 1

    # --- delivery ----------------------------------------------------------------------------------

    def message_for(self, item: ScenarioItem) -> str:
        """The intake message of a scenario item (seeding its conversation in the emulator first)."""
        assert self.emulator is not None
        if isinstance(item, MalformedMessage):
            return item.raw_message
        if item.conversation_id not in self._seeded:  # two emails may race on one conversation
            self._seed(item)
        return self._message_body(item)

    def _seed(self, item: ScenarioEmail) -> None:
        assert self.emulator is not None
        self.emulator.seed_email_conversation(
            item.conversation_id,
            subject=item.subject,
            text_body=item.body,
            html_body=item.html,
            customer_id=item.customer.id,
            customer_email=item.customer.email,
            customer_name=item.customer.name,
            attributes=item.attributes,
            queue_wait_s=item.queue_wait_minutes * 60.0,
            customer_action=item.customer_action,
            answer_after_s=item.answer_after_s,
            agent_delay_s=item.agent_delay_s,
            manual_chat=item.manual_chat,
        )
        self._seeded.add(item.conversation_id)

    def _message_body(self, item: ScenarioEmail) -> str:
        assert self.emulator is not None
        if item.form == "direct":
            return json.dumps(
                {
                    "email_id": item.id,
                    "conversation_id": item.conversation_id,
                    "subject": item.subject,
                    "body": item.body,
                    "html": item.html,
                    "customer": {
                        "id": item.customer.id,
                        "email": item.customer.email,
                        "name": item.customer.name,
                    },
                    "attributes": dict(item.attributes),
                    "queue_wait_minutes": item.queue_wait_minutes,
                }
            )
        return json.dumps(self.emulator.email_started_event(item.conversation_id))

    def deliver(self, delivery: Delivery) -> None:
        assert self.stack is not None
        body = self.message_for(delivery.item)
        copies = delivery.item.deliveries if isinstance(delivery.item, ScenarioEmail) else 1
        sqs = self.stack.client("sqs")
        for _ in range(copies):
            sent = sqs.send_message(QueueUrl=self.intake_queue, MessageBody=body)
            delivery.message_ids.append(sent["MessageId"])
            delivery.bodies.append(body)
        delivery.delivered_at = self.clock.now()

    def _intake_worker(self, stop: threading.Event) -> None:
        """One concurrent "Lambda" polling the intake queue until the run ends."""
        idle_wait = POLL_INTERVAL_S
        while not stop.is_set():
            try:
                handled = self.drain_intake_once()
            except Exception as exc:  # a driver bug must not kill the worker silently
                self._count_error("driver", exc)
                LOG.exception("intake worker failed")
                handled = 0
            if handled:
                idle_wait = POLL_INTERVAL_S
                continue
            # Back off while the queue is empty: every poll of moto costs CPU the GIL-bound handlers need.
            stop.wait(idle_wait)
            idle_wait = min(IDLE_POLL_MAX_S, idle_wait * 2)

    def drain_intake_once(self) -> int:
        """Receive one batch (up to 10) from the intake queue and run the intake handler on it."""
        assert self.stack is not None
        sqs = self.stack.client("sqs")
        received = sqs.receive_message(
            QueueUrl=self.intake_queue,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            # Handlers run in REAL time: hide the batch for longer than any batch takes, even on a loaded
            # machine (the queue's own, scaled-down timeout would let a second worker take it meanwhile).
            VisibilityTimeout=PROCESSING_VISIBILITY_S,
        ).get("Messages", [])
        if not received:
            return 0
        event = {"Records": [_sqs_record(m, self.stack.queue_arn_for(self.intake_queue)) for m in received]}
        try:
            answer = self.stack.invoke(self.intake_function, event) or {}
            failed = {f.get("itemIdentifier") for f in answer.get("batchItemFailures", [])}
        except Exception as exc:  # the whole batch failed: every message comes back after its visibility
            self._count_error(self.intake_function, exc)
            failed = {m["MessageId"] for m in received}
        done = [m for m in received if m["MessageId"] not in failed]
        retry = [m for m in received if m["MessageId"] in failed]
        for start in range(0, len(retry), 10):  # failures come back after the queue's (scaled) timeout
            sqs.change_message_visibility_batch(
                QueueUrl=self.intake_queue,
                Entries=[
                    {
                        "Id": str(i),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": self._retry_visibility,
                    }
                    for i, m in enumerate(retry[start : start + 10])
                ],
            )
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start : start + 10])
            ]
            sqs.delete_message_batch(QueueUrl=self.intake_queue, Entries=entries)
        return len(received)

    # --- the run -----------------------------------------------------------------------------------

    def run(self, scenario: Scenario, progress: Callable[[Progress], None] | None = None) -> RawRun:
        assert self.stack is not None
        assert self.emulator is not None
        assert self.runtime is not None
        self._apply_faults()  # the outage window opens with the run, not with the (slow) stack start
        started_clock = self.clock.now()
        started_wall = time.time()
        started_real = time.monotonic()
        deliveries = {
            item.id: Delivery(item=item, due_at=started_clock + item.send_at_s) for item in scenario.items
        }
        answers: list[tuple[float, str]] = sorted(
            (started_clock + e.send_at_s + e.answered_after_s, e.conversation_id)
            for e in scenario.emails
            if e.answered_after_s is not None
        )
        pending = sorted(deliveries.values(), key=lambda d: d.due_at)
        deadline = started_real + self.options.timeout_s
        timed_out = False
        stop = threading.Event()
        workers = [
            threading.Thread(target=self._intake_worker, args=(stop,), name=f"intake-{i}", daemon=True)
            for i in range(max(1, self.options.intake_concurrency))
        ]
        for worker in workers:
            worker.start()
        next_check = 0.0
        try:
            while True:
                now = self.clock.now()
                while pending and pending[0].due_at <= now:
                    self.deliver(pending.pop(0))
                while answers and answers[0][0] <= now:
                    _, conversation_id = answers.pop(0)
                    self.emulator.answer_email(conversation_id)
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + CHECK_INTERVAL_S
                    finished, done, outcomes = self._finished(scenario, pending, answers)
                    if progress is not None:
                        progress(Progress(done, len(scenario), time.monotonic() - started_real, outcomes))
                    if finished:
                        break
                    if time.monotonic() >= deadline:
                        timed_out = True
                        break
                time.sleep(POLL_INTERVAL_S)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=30)
        finished_real = time.monotonic()
        return self._collect(
            scenario, deliveries, (started_clock, started_wall, started_real, finished_real), timed_out
        )

    def _finished(
        self, scenario: Scenario, pending: list[Delivery], answers: list[tuple[float, str]]
    ) -> tuple[bool, int, dict[str, int]]:
        """(finished, items settled, outcome counts).

        Finished = nothing left to deliver and the system quiet (no message queued, delayed or in flight,
        no running execution, no status event undelivered) on two checks in a row: from then on no outcome
        can change. Emails without an outcome are reported missing.

        The progress counts come from the final-outcome metrics the handlers emit in-process: an outcome
        Scan at every check took 28 % of the run's CPU, once a second still 24 % (moto serialises a Scan
        slowly)."""
        with self._metrics_lock:
            counts = dict(self._final_outcomes)
        done = min(len(scenario), sum(counts.values()))
        quiet = not pending and not answers and self._quiet()
        if not quiet:
            self._quiet_checks = 0
            self._quiet_since = None
            return False, done, counts
        if self._awaiting_agents():
            return False, done, counts
        self._quiet_checks += 1
        return self._quiet_checks >= 2, done, counts

    def _awaiting_agents(self) -> bool:
        """Connected chats whose agent is still to join: their assignment latency is part of the report.

        Bounded by ``AGENT_ASSIGNMENT_WAIT_MAX_S`` simulated seconds after the run first looked finished.
        """
        assert self.emulator is not None
        now = self.clock.now()
        if self._quiet_since is None:
            self._quiet_since = now
        if now - self._quiet_since >= AGENT_ASSIGNMENT_WAIT_MAX_S:
            return False
        return self.emulator.pending_agent_assignments() > 0

    def _scan_outcomes(self) -> list[OutcomeRecord]:
        assert self.runtime is not None
        records: list[OutcomeRecord] = self.runtime.outcomes.scan_all()
        return records

    def _quiet(self) -> bool:
        """Nothing queued, delayed, in flight or running: no outcome can change any more."""
        assert self.stack is not None
        with self._events_lock:
            if self._events_pending:
                return False
        attributes = self.stack.client("sqs").get_queue_attributes(
            QueueUrl=self.intake_queue,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        if any(int(v) for v in attributes.values()):
            return False
        running = self.stack.client("stepfunctions").list_executions(
            stateMachineArn=self.stack.state_machine_arn, statusFilter="RUNNING"
        )["executions"]
        return not running

    def _stop_running_executions(self) -> None:
        assert self.stack is not None
        sfn = self.stack.client("stepfunctions")
        for execution in sfn.list_executions(
            stateMachineArn=self.stack.state_machine_arn, statusFilter="RUNNING"
        )["executions"]:
            with contextlib.suppress(Exception):
                sfn.stop_execution(executionArn=execution["executionArn"], cause="local run ended")

    # --- collection --------------------------------------------------------------------------------

    def _collect(
        self,
        scenario: Scenario,
        deliveries: dict[str, Delivery],
        times: tuple[float, float, float, float],
        timed_out: bool,
    ) -> RawRun:
        started_clock, started_wall, started_real, finished_real = times
        assert self.stack is not None
        assert self.emulator is not None
        assert self.runtime is not None
        emulator = self.emulator
        conversations: dict[str, dict[str, Any]] = {}
        for email in scenario.emails:
            conversation_id = email.conversation_id
            legs = emulator.chat_legs(conversation_id)
            attributes: dict[str, str] = {}
            ours = [leg for leg in legs if leg.get("initiation_method") == "workflow"] or legs
            if ours:
                with contextlib.suppress(Exception):
                    attributes = emulator.participant_attributes(conversation_id, ours[-1]["participant_id"])
            conversations[conversation_id] = {
                "chat_legs": legs,
                "chat_attributes": attributes,
                "notifications": emulator.notifications(conversation_id),
                "emails_sent": emulator.emails_sent(conversation_id),
            }
        requests = emulator.request_log()
        genesys = {
            "requests": emulator.request_count,
            "rate_limited": emulator.rate_limited_count,
            "errors": emulator.error_count,
            "garbled_answers": emulator.garbled_count,
            "tokens_issued": emulator.tokens_issued,
            "disjointed_conversations": emulator.disjointed_conversations(),
            "initiate_requests": [
                {"at": r["at"], "status": r["status"]}
                for r in requests
                if r.get("endpoint") == "initiate_chat"
            ],
        }
        with self._metrics_lock:
            metrics = list(self._metrics)
        return RawRun(
            scenario=scenario,
            options=self.options,
            started_clock=started_clock,
            started_wall=started_wall,
            started_real=started_real,
            finished_real=finished_real,
            deliveries=deliveries,
            outcomes=[r.to_dict() for r in self._scan_outcomes()],
            executions=self._executions(),
            dead_letters=self._dead_letters(),
            genesys=genesys,
            conversations=conversations,
            metrics=metrics,
            status_events=list(self._status_events),
            definition=self.stack.definition,
            timed_out=timed_out,
            handler_errors=dict(self.handler_errors),
        )

    def _executions(self) -> list[dict[str, Any]]:
        """Every execution with its input case and the states it entered (from its history)."""
        assert self.stack is not None
        sfn = self.stack.client("stepfunctions")
        executions: list[dict[str, Any]] = []
        paginator_token: str | None = None
        listed: list[dict[str, Any]] = []
        while True:
            kwargs: dict[str, Any] = {"stateMachineArn": self.stack.state_machine_arn, "maxResults": 1000}
            if paginator_token:
                kwargs["nextToken"] = paginator_token
            page = sfn.list_executions(**kwargs)
            listed.extend(page["executions"])
            paginator_token = page.get("nextToken")
            if not paginator_token:
                break
        for execution in listed:
            arn = execution["executionArn"]
            described = sfn.describe_execution(executionArn=arn)
            try:
                case = json.loads(described.get("input") or "{}").get("case") or {}
            except (ValueError, AttributeError):
                case = {}
            # moto ignores history paging: one call returns every event
            events = sfn.get_execution_history(executionArn=arn)["events"]
            states = [
                {"name": e["stateEnteredEventDetails"]["name"], "at_real": e["timestamp"].timestamp()}
                for e in events
                if "stateEnteredEventDetails" in e
            ]
            executions.append(
                {
                    "name": execution["name"],
                    "status": described["status"],
                    "email_id": case.get("email_id"),
                    "conversation_id": case.get("conversation_id"),
                    "start_real": execution["startDate"].timestamp(),
                    "stop_real": execution["stopDate"].timestamp() if execution.get("stopDate") else None,
                    "states": states,
                }
            )
        return executions

    def _dead_letters(self) -> list[dict[str, Any]]:
        if not self.dead_letter_queue or self.stack is None:
            return []
        sqs = self.stack.client("sqs")
        found: dict[str, dict[str, Any]] = {}
        for _ in range(10):
            batch = sqs.receive_message(
                QueueUrl=self.dead_letter_queue,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                VisibilityTimeout=30,
            ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                attributes = {
                    k: v.get("StringValue") for k, v in (message.get("MessageAttributes") or {}).items()
                }
                found[message["MessageId"]] = {
                    "message_id": message["MessageId"],
                    "body": message["Body"],
                    "attributes": attributes,
                    "receive_count": int(message["Attributes"].get("ApproximateReceiveCount", "1")),
                }
        return list(found.values())


def _function_with_event(functions: Mapping[str, Any], kinds: set[str]) -> Any:
    for spec in functions.values():
        if spec.event_types() & kinds:
            return spec
    return None


def _sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """One record of the SQS -> Lambda event, as the event source mapping builds it."""
    attributes = message.get("Attributes") or {}
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", "0"),
            "SenderId": attributes.get("SenderId", "local"),
            "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }
