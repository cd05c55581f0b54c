"""What a person sees in the terminal: a progress bar while the run goes, a summary table at the end."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from simulator.runner.pipeline import Progress
from simulator.runner.results import OUTCOME_ORDER


class ProgressBar:
    """One line, redrawn in place on a terminal (plain lines, at most every 10%, otherwise)."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.interactive = bool(getattr(stream, "isatty", lambda: False)())
        self._last_decile = -1

    def __call__(self, progress: Progress) -> None:
        total = max(1, progress.total)
        filled = int(self.width * progress.done / total)
        bar = "#" * filled + "-" * (self.width - filled)
        counts = " ".join(f"{k}={v}" for k, v in sorted(progress.outcomes.items()))
        line = f"[{bar}] {progress.done}/{progress.total} emails  {progress.elapsed_s:5.1f}s  {counts}"
        if self.interactive:
            self.stream.write("\r" + line[:160].ljust(160))
            self.stream.flush()
            return
        decile = 10 * progress.done // total
        if decile != self._last_decile:
            self._last_decile = decile
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()


def _fmt(value: Any, unit: str = "s") -> str:
    return "-" if value is None else f"{value:.1f}{unit}"


def summary_table(result: Mapping[str, Any]) -> str:
    """Outcomes, Genesys traffic, breaker transitions and latencies, as aligned text."""
    totals: Mapping[str, int] = result["totals"]
    total = sum(totals.values())
    lines = ["", "Outcomes", "--------"]
    for name in (*OUTCOME_ORDER, "missing"):
        count = totals.get(name, 0)
        if count or name in OUTCOME_ORDER:
            share = 100.0 * count / total if total else 0.0
            lines.append(f"  {name:<20} {count:>5}  {share:5.1f}%")
    lines.append(f"  {'total':<20} {total:>5}")
    genesys = result["genesys"]
    requests = genesys.get("requests", 0)
    rate_limited = genesys.get("rate_limited", 0)
    share_429 = 100.0 * rate_limited / requests if requests else 0.0
    lines += [
        "",
        "Genesys (emulator)",
        "------------------",
        f"  requests             {requests:>5}",
        f"  429 rate limited     {rate_limited:>5}  {share_429:5.1f}% of requests",
        f"  errors (5xx/timeout) {genesys.get('errors', 0):>5}",
    ]
    if genesys.get("garbled_answers"):
        lines.append(
            f"  garbled 200s         {genesys['garbled_answers']:>5}  (took effect; the answer was lost)"
        )
    breaker = result.get("breaker") or []
    lines += ["", f"Circuit breaker transitions: {len(breaker)}"]
    for transition in breaker[:12]:
        lines.append(f"  t={transition['t']:>7}s  {transition['from']} -> {transition['to']}")
    if len(breaker) > 12:
        lines.append(f"  ... {len(breaker) - 12} more")
    latency = result["latency"]
    connect = latency["time_to_connect_s"]
    assign = latency["agent_assignment_s"]
    lines += [
        "",
        "Latency (simulated seconds)              n     p50     p95     max",
        "--------------------------------------------------------------",
        f"  time to connect (email -> chat)    {connect['count']:>5} {_fmt(connect['p50']):>7} "
        f"{_fmt(connect['p95']):>7} {_fmt(connect['max']):>7}",
        f"  agent assignment (initiated->agent){assign['count']:>5} {_fmt(assign['p50']):>7} "
        f"{_fmt(assign['p95']):>7} {_fmt(assign['max']):>7}",
        "",
        f"Wall time {result['elapsed_s']:.1f}s for {result['simulated_s']:.0f} simulated seconds "
        f"(time scale {result['run']['time_scale']})",
    ]
    if result.get("missing"):
        why = "the run timed out" if result.get("timed_out") else "nothing left in flight"
        lines.append(f"NO OUTCOME ({why}): {', '.join(result['missing'])}")
    return "\n".join(lines)
