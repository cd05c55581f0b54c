"""The HTML report: one self-contained page (inline CSS, SVG and a little JS; no external requests).

It shows the state machine drawn from the ASL with how many executions entered each state and took each
transition, the outcome table, latency histograms and a per-email timeline. ``render_report(result,
definition)`` takes the JSON result of ``simulator.runner.results.build_result`` and the resolved ASL.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

OUTCOME_COLOURS = {
    "connected": "#2e7d32",
    "declined_fallback": "#ef6c00",
    "timeout_cleanup": "#8d6e63",
    "collision_skipped": "#6a1b9a",
    "cooldown_skipped": "#00838f",
    "not_urgent": "#546e7a",
    "deferred": "#f9a825",
    "invalid": "#c62828",
    "missing": "#000000",
}
NODE_W, NODE_H, GAP_X, GAP_Y = 184, 46, 24, 60


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


# --- the state machine ---------------------------------------------------------------------------


def asl_edges(definition: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(from, to, kind) for every transition the ASL declares: next, choice, default, catch."""
    edges: list[tuple[str, str, str]] = []
    for name, state in (definition.get("States") or {}).items():
        if state.get("Next"):
            edges.append((name, state["Next"], "next"))
        for choice in state.get("Choices") or []:
            if choice.get("Next"):
                edges.append((name, choice["Next"], "choice"))
        if state.get("Default"):
            edges.append((name, state["Default"], "default"))
        for catch in state.get("Catch") or []:
            if catch.get("Next"):
                edges.append((name, catch["Next"], "catch"))
    unique: dict[tuple[str, str], str] = {}
    for a, b, kind in edges:
        unique.setdefault((a, b), kind)
    return [(a, b, kind) for (a, b), kind in unique.items()]


def layout(definition: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """Layers by the longest path from StartAt, loops' back edges ignored (found by DFS), so the flow
    reads top to bottom and the final state sits at the bottom; unreachable states last. Node centres."""
    states = list((definition.get("States") or {}).keys())
    adjacency: dict[str, list[str]] = {s: [] for s in states}
    for a, b, _ in asl_edges(definition):
        if a in adjacency and b in adjacency and b not in adjacency[a]:
            adjacency[a].append(b)
    start = definition.get("StartAt")
    order: list[str] = []  # post-order of the DFS
    forward: dict[str, list[str]] = {s: [] for s in states}
    colour: dict[str, int] = {}  # 1 = on the DFS stack, 2 = done
    if start in adjacency:
        stack: list[tuple[str, int]] = [(str(start), 0)]
        colour[str(start)] = 1
        while stack:
            node, index = stack.pop()
            if index < len(adjacency[node]):
                stack.append((node, index + 1))
                nxt = adjacency[node][index]
                if colour.get(nxt) == 1:
                    continue  # a back edge: a loop (throttle wait, retry), not a layer step
                forward[node].append(nxt)
                if nxt not in colour:
                    colour[nxt] = 1
                    stack.append((nxt, 0))
            else:
                colour[node] = 2
                order.append(node)
    depth: dict[str, int] = {}
    for node in reversed(order):  # reverse post-order is a topological order of the forward edges
        depth.setdefault(node, 0)
        for nxt in forward[node]:
            depth[nxt] = max(depth.get(nxt, 0), depth[node] + 1)
    deepest = max(depth.values(), default=-1)
    for state in states:
        if state not in depth:
            deepest += 1
            depth[state] = deepest
    layers: dict[int, list[str]] = {}
    for state in states:  # start from the ASL's own order: authors order states by the flow
        layers.setdefault(depth[state], []).append(state)
    # Fewer crossings: order each layer by the mean position of its predecessors (one barycentre sweep).
    predecessors: dict[str, list[str]] = {s: [] for s in states}
    for node, targets in forward.items():
        for target in targets:
            predecessors[target].append(node)
    slot: dict[str, float] = {}
    for level in sorted(layers):
        names = layers[level]
        for index, name in enumerate(names):
            placed = [slot[p] for p in predecessors[name] if p in slot]
            slot[name] = sum(placed) / len(placed) if placed else float(index)
        names.sort(key=lambda n: slot[n])
        width_here = len(names)
        for index, name in enumerate(names):  # spread to centred slots so the next layer sees real positions
            slot[name] = index - (width_here - 1) / 2
    widest = max((len(v) for v in layers.values()), default=1)
    width = widest * (NODE_W + GAP_X)
    positions: dict[str, tuple[float, float]] = {}
    for level, names in layers.items():
        row_width = len(names) * (NODE_W + GAP_X)
        left = (width - row_width) / 2 + GAP_X / 2
        for index, name in enumerate(names):
            x = left + index * (NODE_W + GAP_X) + NODE_W / 2
            y = 30 + level * (NODE_H + GAP_Y) + NODE_H / 2
            positions[name] = (x, y)
    return positions


def state_machine_svg(definition: Mapping[str, Any], counts: Mapping[str, Any]) -> str:
    positions = layout(definition)
    if not positions:
        return "<p>No state machine definition.</p>"
    states: Mapping[str, Any] = definition.get("States") or {}
    entered: Mapping[str, int] = counts.get("states") or {}
    taken = {(t["from"], t["to"]): int(t["executions"]) for t in counts.get("transitions") or []}
    total = max(1, int(counts.get("executions") or 0))
    width = max(x for x, _ in positions.values()) + NODE_W / 2 + GAP_X
    height = max(y for _, y in positions.values()) + NODE_H / 2 + 30
    parts = [
        f'<svg class="sm" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="state machine">',
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" '
        'markerWidth="10" markerHeight="10" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#455a64"/></marker>'
        '<marker id="arrow-dim" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" '
        'markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#cfd8dc"/></marker>'
        "</defs>",
    ]
    edges = asl_edges(definition)
    for a, b, kind in edges:
        if a not in positions or b not in positions:
            continue
        n = taken.get((a, b), 0)
        parts.append(_edge_svg(positions[a], positions[b], n, kind, total))
    # transitions observed but not declared (Retry loops show as self-edges are skipped)
    for (a, b), n in taken.items():
        if (a, b, "next") in edges or any(x == a and y == b for x, y, _ in edges):
            continue
        if a in positions and b in positions and a != b:
            parts.append(_edge_svg(positions[a], positions[b], n, "observed", total))
    for name, (x, y) in positions.items():
        n = int(entered.get(name, 0))
        kind = str(states.get(name, {}).get("Type", ""))
        share = n / total
        fill = "#e3f2fd" if n else "#fafafa"
        stroke = "#1565c0" if n else "#b0bec5"
        rx = 22 if kind in {"Choice"} else 8
        parts.append(
            f'<g class="node" data-state="{_e(name)}" data-count="{n}">'
            f"<title>{_e(name)} ({_e(kind)}): entered by {n} of {total} executions</title>"
            f'<rect x="{x - NODE_W / 2:.1f}" y="{y - NODE_H / 2:.1f}" width="{NODE_W}" height="{NODE_H}" '
            f'rx="{rx}" fill="{fill}" stroke="{stroke}" stroke-width="{1 + 2.5 * share:.2f}"/>'
            f'<text x="{x:.1f}" y="{y - 4:.1f}" class="nname">{_e(_short(name))}</text>'
            f'<text x="{x:.1f}" y="{y + 13:.1f}" class="ncount">{_e(kind)} · {n}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(name: str, limit: int = 25) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _edge_svg(a: tuple[float, float], b: tuple[float, float], n: int, kind: str, total: int) -> str:
    (x1, y1), (x2, y2) = a, b
    colour = "#455a64" if n else "#cfd8dc"
    dash = ' stroke-dasharray="5 4"' if kind in {"catch", "observed"} else ""
    widthpx = 1.2 + 4.0 * math.sqrt(n / total) if n else 1.0
    marker = "url(#arrow)" if n else "url(#arrow-dim)"
    if y2 > y1:  # downward: from the bottom of a to the top of b
        sx, sy, ex, ey = x1, y1 + NODE_H / 2, x2, y2 - NODE_H / 2
        path = f"M{sx:.1f},{sy:.1f} C{sx:.1f},{sy + 30:.1f} {ex:.1f},{ey - 30:.1f} {ex:.1f},{ey:.1f}"
        lx, ly = (sx + ex) / 2, (sy + ey) / 2
    else:  # same row or back up (a loop): bow out to the side
        side = NODE_W / 2
        sx, sy = x1 + side, y1
        ex, ey = x2 + side, y2
        bulge = 60 + abs(y1 - y2) * 0.15
        path = f"M{sx:.1f},{sy:.1f} C{sx + bulge:.1f},{sy:.1f} {ex + bulge:.1f},{ey:.1f} {ex:.1f},{ey:.1f}"
        lx, ly = max(sx, ex) + bulge * 0.75, (sy + ey) / 2
    label = f'<text x="{lx + 4:.1f}" y="{ly:.1f}" class="elabel">{n}</text>' if n else ""
    return (
        f'<g class="edge" data-kind="{_e(kind)}" data-count="{n}"><path d="{path}" fill="none" '
        f'stroke="{colour}" stroke-width="{widthpx:.2f}"{dash} marker-end="{marker}"/>{label}</g>'
    )


# --- charts --------------------------------------------------------------------------------------


def histogram_svg(values: Sequence[float], title: str, unit: str = "s", bins: int = 12) -> str:
    if not values:
        return f'<div class="chart"><h3>{_e(title)}</h3><p class="muted">no data</p></div>'
    low, high = min(values), max(values)
    span = high - low or 1.0
    step = span / bins
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / step))] += 1
    peak = max(counts)
    width, height, pad = 420, 180, 30
    bar_w = (width - 2 * pad) / bins
    parts = [
        f'<div class="chart"><h3>{_e(title)}</h3>'
        f'<svg viewBox="0 0 {width} {height + 20}" width="{width}" height="{height + 20}" '
        'xmlns="http://www.w3.org/2000/svg" role="img">'
    ]
    for index, count in enumerate(counts):
        bar_h = (height - 2 * pad) * count / peak
        x = pad + index * bar_w
        y = height - pad - bar_h
        lo = low + index * step
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{bar_h:.1f}" fill="#42a5f5">'
            f"<title>{lo:.1f} to {lo + step:.1f} {unit}: {count}</title></rect>"
        )
        if count:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" class="hcount">{count}</text>')
    axis_y = height - pad
    parts.append(f'<line x1="{pad}" y1="{axis_y}" x2="{width - pad}" y2="{axis_y}" stroke="#90a4ae"/>')
    for fraction in (0.0, 0.5, 1.0):
        x = pad + fraction * (width - 2 * pad)
        parts.append(
            f'<text x="{x:.1f}" y="{axis_y + 16}" class="axis">{low + fraction * span:.1f}{_e(unit)}</text>'
        )
    parts.append("</svg></div>")
    return "".join(parts)


def _timeline_svg(events: Sequence[Mapping[str, Any]], horizon: float, colour: str) -> str:
    width, height = 360, 22
    points = [e for e in events if isinstance(e.get("t"), int | float)]
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" class="tl">']
    parts.append(f'<line x1="4" y1="11" x2="{width - 4}" y2="11" stroke="#eceff1" stroke-width="2"/>')
    if points:
        first = min(float(e["t"]) for e in points)
        last = max(float(e["t"]) for e in points)
        x1 = 4 + (width - 8) * first / horizon
        x2 = 4 + (width - 8) * last / horizon
        parts.append(
            f'<line x1="{x1:.1f}" y1="11" x2="{max(x2, x1 + 1):.1f}" y2="11" stroke="{colour}" '
            'stroke-width="4" stroke-linecap="round" opacity="0.45"/>'
        )
        for event in points:
            x = 4 + (width - 8) * float(event["t"]) / horizon
            parts.append(
                f'<circle cx="{x:.1f}" cy="11" r="3" fill="{colour}"><title>t={float(event["t"]):.1f}s '
                f"{_e(event.get('event', ''))}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _num(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{float(value):.1f} s"


def _at(t: Any) -> str:
    return "" if not isinstance(t, int | float) else f"{float(t):.1f}s"


# --- the page ------------------------------------------------------------------------------------

CSS = """
:root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #263238; }
body { margin: 0; background: #f5f7f9; }
header { background: #0d47a1; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; opacity: .85; font-size: 14px; }
main { padding: 20px 32px 48px; max-width: 1400px; }
section { background: #fff; border-radius: 10px; box-shadow: 0 1px 3px rgba(0,0,0,.08);
          padding: 16px 20px; margin-bottom: 20px; }
h2 { font-size: 17px; margin: 0 0 12px; }
h3 { font-size: 14px; margin: 0 0 6px; color: #455a64; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border-radius: 8px; padding: 10px 14px; min-width: 120px; color: #fff; }
.card .n { font-size: 26px; font-weight: 700; }
.card .l { font-size: 12px; opacity: .9; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eceff1; vertical-align: top; }
th { background: #fafafa; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; }
.muted { color: #90a4ae; }
.grid { display: flex; flex-wrap: wrap; gap: 24px; }
.sm { max-width: 100%; height: auto; }
.chart { max-width: 600px; }
.sm .nname { font-size: 12px; font-weight: 600; text-anchor: middle; fill: #0d47a1; }
.sm .ncount { font-size: 11px; text-anchor: middle; fill: #546e7a; }
.sm .elabel { font-size: 11px; fill: #37474f; font-weight: 600; }
.hcount { font-size: 10px; text-anchor: middle; fill: #37474f; }
.axis { font-size: 10px; text-anchor: middle; fill: #78909c; }
details summary { cursor: pointer; color: #1565c0; }
details ol { margin: 6px 0 0; padding-left: 18px; font-size: 12px; }
.filters button { border: 1px solid #cfd8dc; background: #fff; border-radius: 14px; padding: 3px 10px;
                  margin: 0 4px 8px 0; cursor: pointer; font-size: 12px; }
.filters button.on { background: #0d47a1; color: #fff; border-color: #0d47a1; }
#js-errors { color: #c62828; font-weight: 600; }
.kv { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; font-size: 13px; }
"""

JS = """
window.__errors = [];
window.onerror = function (message, source, line) {
  window.__errors.push(String(message));
  var box = document.getElementById('js-errors');
  if (box) { box.textContent = 'JS error: ' + message + ' (line ' + line + ')'; }
};
document.addEventListener('DOMContentLoaded', function () {
  var buttons = document.querySelectorAll('.filters button');
  var rows = document.querySelectorAll('tr.email');
  buttons.forEach(function (button) {
    button.addEventListener('click', function () {
      var wanted = button.getAttribute('data-outcome');
      buttons.forEach(function (b) { b.classList.toggle('on', b === button); });
      rows.forEach(function (row) {
        row.style.display = (wanted === 'all' || row.getAttribute('data-outcome') === wanted) ? '' : 'none';
      });
    });
  });
  var data = JSON.parse(document.getElementById('report-data').textContent);
  document.body.setAttribute('data-rendered', String(data.emails));
});
"""


def render_report(result: Mapping[str, Any], definition: Mapping[str, Any]) -> str:
    totals: Mapping[str, int] = result.get("totals") or {}
    total = sum(totals.values())
    run = result.get("run") or {}
    genesys = result.get("genesys") or {}
    latency = result.get("latency") or {}
    emails: Sequence[Mapping[str, Any]] = result.get("emails") or []
    counts = result.get("state_machine") or {}

    cards = "".join(
        f'<div class="card" style="background:{OUTCOME_COLOURS.get(name, "#37474f")}">'
        f'<div class="n">{count}</div><div class="l">{_e(name)}</div></div>'
        for name, count in totals.items()
    )
    outcome_rows = "".join(
        f'<tr><td><span class="badge" style="background:{OUTCOME_COLOURS.get(name, "#37474f")}">{_e(name)}'
        f'</span></td><td class="num">{count}</td>'
        f'<td class="num">{100.0 * count / max(1, total):.1f}%</td></tr>'
        for name, count in totals.items()
    )
    requests = int(genesys.get("requests") or 0)
    rate_limited = int(genesys.get("rate_limited") or 0)
    breaker = result.get("breaker") or []
    breaker_rows = (
        "".join(f"<li>t={_e(b['t'])}s: {_e(b['from'])} → {_e(b['to'])}</li>" for b in breaker[:30])
        or "<li class='muted'>none</li>"
    )

    horizon = max(
        [1.0]
        + [
            float(ev["t"])
            for email in emails
            for ev in email.get("timeline", [])
            if isinstance(ev.get("t"), int | float)
        ]
    )
    email_rows = []
    for email in emails:
        outcome = str(email.get("outcome"))
        colour = OUTCOME_COLOURS.get(outcome, "#37474f")
        events = email.get("timeline") or []
        steps = "".join(f"<li><b>{_at(ev.get('t'))}</b> {_e(ev.get('event', ''))}</li>" for ev in events)
        attrs = email.get("chat_attributes") or {}
        attrs_html = (
            "<div class='muted'>attributes on the chat leg</div><div class='kv'>"
            + "".join(f"<span>{_e(k)}</span><span>{_e(v)}</span>" for k, v in attrs.items())
            + "</div>"
            if attrs
            else "<span class='muted'>none</span>"
        )
        expected = email.get("expected")
        mismatch = (
            f" <span class='muted' title='expected by the scenario'>(expected {_e(expected)})</span>"
            if expected and expected != outcome
            else ""
        )
        email_rows.append(
            f'<tr class="email" data-outcome="{_e(outcome)}"><td>{_e(email.get("id"))}</td>'
            f'<td><span class="badge" style="background:{colour}">{_e(outcome)}</span>{mismatch}</td>'
            f"<td>{_e(email.get('reason', ''))}</td>"
            f'<td class="num">{_e(email.get("chat_legs", 0))}</td>'
            f'<td class="num">{_e(email.get("notifications", 0))}</td>'
            f'<td class="num">{_e(email.get("fallback_emails", 0))}</td>'
            f"<td>{_timeline_svg(events, horizon, colour)}"
            f"<details><summary>{len(events)} events · chat attributes</summary><ol>{steps}</ol>"
            f"{attrs_html}</details></td></tr>"
        )
    filters = "".join(
        f'<button data-outcome="{_e(name)}">{_e(name)} ({count})</button>' for name, count in totals.items()
    )
    connect = latency.get("time_to_connect_s") or {}
    assign = latency.get("agent_assignment_s") or {}
    connect_chart = histogram_svg(
        connect.get("values") or [],
        f"Time to connect (email arrived → customer in chat), p50 {_num(connect.get('p50'))}, "
        f"p95 {_num(connect.get('p95'))}",
    )
    assign_chart = histogram_svg(
        assign.get("values") or [],
        f"Agent assignment (chat initiated → agent assigned), p50 {_num(assign.get('p50'))}, "
        f"p95 {_num(assign.get('p95'))}",
    )
    payload = json.dumps({"emails": len(emails), "totals": totals}).replace("</", "<\\/")
    share_429 = 100.0 * rate_limited / requests if requests else 0.0
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>email2chat local run</title>
<style>{CSS}</style>
<script>{JS}</script>
</head><body>
<header><h1>email2chat · local run report</h1>
<p>{_e(run.get("emails", len(emails)))} emails from {_e(run.get("scenario", "scenario"))} ·
time scale {_e(run.get("time_scale"))} real s per simulated s · Genesys limit
{_e(run.get("rate_limit_per_minute"))}/min · wall time {_e(result.get("elapsed_s"))} s
({_e(result.get("simulated_s"))} simulated s){" · TIMED OUT" if result.get("timed_out") else ""}</p></header>
<main>
<div id="js-errors"></div>
<section><h2>Outcomes</h2><div class="cards">{cards}</div>
<div class="grid" style="margin-top:14px">
<div style="min-width:320px"><table><thead><tr><th>outcome</th><th class="num">emails</th>
<th class="num">share</th></tr></thead><tbody>{outcome_rows}</tbody></table></div>
<div><h3>Genesys (emulator)</h3><div class="kv">
<span>requests</span><span>{requests}</span>
<span>429 rate limited</span><span>{rate_limited} ({share_429:.1f}%)</span>
<span>errors (5xx, timeouts)</span><span>{_e(genesys.get("errors", 0))}</span>
<span>tokens issued</span><span>{_e(genesys.get("tokens_issued", "-"))}</span>
<span>disjointed conversations</span><span>{len(genesys.get("disjointed_conversations") or [])}</span>
</div></div>
<div><h3>Circuit breaker transitions ({len(breaker)})</h3><ul>{breaker_rows}</ul></div>
</div></section>
<section><h2>State machine: executions per state and transition</h2>
<p class="muted">{_e(counts.get("executions", 0))} executions. Node label: state type · executions that
entered it; edge label and width: executions that took the transition; dashed: Catch routes.</p>
{state_machine_svg(definition, counts)}</section>
<section><h2>Latency (simulated seconds)</h2><div class="grid">
{connect_chart}
{assign_chart}
</div></section>
<section><h2>Per-email timeline</h2>
<div class="filters"><button data-outcome="all" class="on">all ({len(emails)})</button>{filters}</div>
<table><thead><tr><th>email</th><th>outcome</th><th>reason</th><th class="num">chat legs</th>
<th class="num">pushes</th><th class="num">emails sent</th>
<th>timeline (0 to {horizon:.0f} simulated s)</th></tr></thead>
<tbody>{"".join(email_rows)}</tbody></table></section>
</main>
<script type="application/json" id="report-data">{payload}</script>
</body></html>
"""
