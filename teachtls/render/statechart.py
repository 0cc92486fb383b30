"""State charts of the TLS 1.3 handshake, drawn from the transition tables themselves.

RFC 8446 Appendix A draws the client's and the server's state machines by
hand. teachtls runs its handshake from tables (`teachtls.handshake.states`),
and this module draws the chart from those same tables -- as h11's
``make-state-diagrams.py`` does -- so the picture cannot drift from the code:

* every entry ``(state, message) -> targets`` of ``CLIENT_13`` / ``SERVER_13``
  becomes one arrow per target, labelled ``recv <Message>``;
* every entry of ``SEND_TRANSITIONS`` (moves a side makes by itself: sending
  its flight, choosing parameters) becomes an arrow labelled with its action,
  in italics.

START is at the top and CONNECTED at the bottom, as in the RFC.

Given a trace, the chart also shows the path that connection took: the
`StateChanged` events of that role are numbered in order and written on the
arrows they followed; visited states are filled, taken arrows bold and
coloured, everything else grey. Moves that are not in the tables -- closing
the connection, or giving up after an alert -- appear only when a trace made
them, as extra arrows to CLOSED (red, with a ✗, after a fatal alert).

Renderers only read: the tables are data, and this module imports no
handshake code, only `teachtls.handshake.states`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import attrs
import graphviz

from teachtls.handshake.states import SEND_TRANSITIONS, TABLES, RecordMessage, State
from teachtls.render import common, style
from teachtls.trace import events as trace
from teachtls.wire.enums import HandshakeType

MACHINES = {"client": "client13", "server": "server13"}
APPENDIX = {"client": "RFC 8446 §A.1", "server": "RFC 8446 §A.2"}
# TLS 1.2 (RFC 5246 §7.3 draws message flows, not machines; teachtls's tables follow them).
MACHINES_12 = {"client": "client12", "server": "server12"}
APPENDIX_12 = "RFC 5246 §7.3"


def machine_of(role: str, version: str) -> str:
    return MACHINES_12[role] if version == "1.2" else MACHINES[role]


def appendix_of(role: str, version: str) -> str:
    return APPENDIX_12 if version == "1.2" else APPENDIX[role]


def version_of(role: str, events: Sequence[trace.TraceEvent] | None) -> str:
    """"1.2" when the trace shows `role` running a TLS 1.2 machine, else "1.3"."""
    for event in events or ():
        if isinstance(event, trace.StateChanged) and event.role == role and event.machine.endswith("12"):
            return "1.2"
    return "1.3"
LABEL_WIDTH = 24  # characters per line of an arrow label


@attrs.frozen
class Edge:
    """One arrow of the chart."""

    source: str
    target: str
    label: str  # "recv ServerHello", "send ClientHello", "select parameters"
    trigger: str  # what a StateChanged.trigger says for it: "ServerHello", "send ClientHello"
    own_action: bool  # a SEND_TRANSITION (the side acts) rather than a received message
    tooltip: str
    in_table: bool = True


def message_name(message: HandshakeType | RecordMessage) -> str:
    """`HandshakeType.server_hello` -> "ServerHello", as messages are named in traces."""
    # TLS 1.2's messages are "_RESERVED" in RFC 8446's HandshakeType enum.
    name = message.name.removesuffix("_RESERVED")
    return "".join(part.capitalize() for part in name.split("_"))


def table_edges(role: str, version: str = "1.3") -> list[Edge]:
    """Every transition of `role`'s tables, in table order."""
    machine = machine_of(role, version)
    edges: list[Edge] = []
    for send in SEND_TRANSITIONS[machine]:
        edges.append(
            Edge(
                source=send.source.value,
                target=send.target.value,
                label=send.action,
                trigger=send.action,
                own_action=True,
                tooltip=f"{send.source.value} -> {send.target.value}: {send.action} ({appendix_of(role, version)})",
            )
        )
    for (state, message), transition in TABLES[machine].items():
        name = message_name(message)
        for target in transition.targets:
            label = f"recv {name}"
            if message == HandshakeType.server_hello and target == state:
                # RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello with a special random.
                label += "\n(HelloRetryRequest)"
            edges.append(
                Edge(
                    source=state.value,
                    target=target.value,
                    label=label,
                    trigger=name,
                    own_action=False,
                    tooltip=f"{state.value} -> {target.value}: {transition.handler}() ({appendix_of(role, version)})",
                )
            )
    return edges


def states_of(edges: Sequence[Edge]) -> list[str]:
    """The states the edges touch, in the order of `State` (RFC Appendix A order)."""
    used = {edge.source for edge in edges} | {edge.target for edge in edges}
    return [state.value for state in State if state.value in used]


@attrs.frozen
class TracedPath:
    """What one trace did in one role's machine."""

    steps: tuple[trace.StateChanged, ...]
    # step index -> the fatal alert this role sent or received before that step, if any
    alerts: dict[int, trace.AlertEvent]


def traced_path(role: str, events: Sequence[trace.TraceEvent], version: str = "1.3") -> TracedPath:
    # A TLS 1.2 connection starts in the 1.3 machine (one ClientHello offers
    # both) and moves to the 1.2 one at the hello that picks TLS 1.2.
    machines = {machine_of(role, version)} | ({MACHINES[role]} if version == "1.2" else set())
    steps: list[trace.StateChanged] = []
    alerts: dict[int, trace.AlertEvent] = {}
    last_alert: trace.AlertEvent | None = None
    for event in events:
        if event.role != role:
            continue
        if isinstance(event, trace.AlertEvent) and event.level == "fatal":
            last_alert = event
        elif isinstance(event, trace.StateChanged) and event.machine in machines:
            if last_alert is not None:
                alerts[len(steps)] = last_alert
                last_alert = None
            steps.append(event)
    return TracedPath(tuple(steps), alerts)


def _match(step: trace.StateChanged, edges: Sequence[Edge]) -> Edge | None:
    """The table edge a StateChanged followed: same states, and the same trigger if that is ambiguous."""
    candidates = [edge for edge in edges if edge.source == step.old_state and edge.target == step.new_state]
    if len(candidates) > 1:
        by_trigger = [edge for edge in candidates if edge.trigger == step.trigger]
        candidates = by_trigger or candidates[:1]
    return candidates[0] if candidates else None


def statechart_graph(
    role: str, events: common.TraceLike | None = None, version: str | None = None
) -> graphviz.Digraph:
    """The state chart of `role` ("client" or "server"), with a trace's path if given.

    `version` is "1.3" or "1.2"; by default the trace's (TLS 1.3 without one)."""
    if role not in MACHINES:
        raise ValueError(f"role must be 'client' or 'server', not {role!r}")
    loaded = common.load(events) if events is not None else None
    version = version or version_of(role, loaded)
    if version not in ("1.2", "1.3"):
        raise ValueError(f"version must be '1.2' or '1.3', not {version!r}")
    edges = table_edges(role, version)
    path = traced_path(role, loaded, version) if loaded is not None else TracedPath((), {})

    # Which edges the trace took, and when (1-based step numbers).
    taken: dict[Edge, list[int]] = {}
    extra: list[Edge] = []
    failed_edges: set[Edge] = set()
    for index, step in enumerate(path.steps):
        edge = _match(step, edges + extra)
        if edge is None:
            alert = path.alerts.get(index)
            label = step.trigger
            if alert is not None:
                verb = "sent" if isinstance(alert, trace.AlertSent) else "received"
                label = f"{style.FAILURE_MARK} {alert.description} {verb}\n{step.trigger}"
            edge = Edge(
                source=step.old_state,
                target=step.new_state,
                label=label,
                trigger=step.trigger,
                own_action=True,
                tooltip=f"{step.old_state} -> {step.new_state}: {step.trigger} (not a table transition)",
                in_table=False,
            )
            extra.append(edge)
            if alert is not None:
                failed_edges.add(edge)
        taken.setdefault(edge, []).append(index + 1)

    visited = {step.old_state for step in path.steps} | {step.new_state for step in path.steps}
    final = path.steps[-1].new_state if path.steps else None
    highlighting = loaded is not None

    graph = graphviz.Digraph(name=f"statechart_{role}")
    title = f"{role.capitalize()} handshake states ({appendix_of(role, version)}, TLS {version})"
    if highlighting:
        title += f"\npath of this trace: {len(path.steps)} numbered steps"
    graph.attr(
        **style.graph_attributes(
            rankdir="TB",
            label=title,
            labelloc="t",
            fontsize=str(style.TITLE_FONT_SIZE),
            nodesep="0.5",
            ranksep="0.55",
        )
    )
    graph.attr(
        "node", **style.node_attributes(shape="box", style="rounded,filled", fillcolor="white", margin="0.2,0.08")
    )
    graph.attr("edge", **style.edge_attributes(arrowsize="0.8"))

    states = states_of(edges + extra)
    for state in states:
        graph.node(state, **_state_attributes(state, highlighting, state in visited, state == final))
    with graph.subgraph(name="top") as top:
        top.attr(rank="source")
        top.node(State.START.value)
    with graph.subgraph(name="bottom") as bottom:
        bottom.attr(rank="sink")
        bottom.node(State.CONNECTED.value)
        if State.CLOSED.value in states:
            bottom.node(State.CLOSED.value)

    # Parallel arrows (CONNECTED's two self-loops) are drawn as one, one label line each.
    groups: dict[tuple[str, str], list[Edge]] = {}
    for edge in edges + extra:
        groups.setdefault((edge.source, edge.target), []).append(edge)
    for (source, target), group in groups.items():
        attributes = _edge_attributes(group, highlighting, taken, failed_edges)
        if target == State.CLOSED.value and source == State.CONNECTED.value:
            # Drawn backwards so that CLOSED sits left of CONNECTED, away from its self-loops.
            graph.edge(target, source, dir="back", **attributes)
        else:
            graph.edge(source, target, **attributes)
    if highlighting:
        _key(graph, failed=bool(failed_edges))
    return graph


def _state_attributes(state: str, highlighting: bool, visited: bool, final: bool) -> dict[str, str]:
    attributes = {"tooltip": state}
    if not highlighting:
        return attributes
    if visited:
        attributes.update(fillcolor=style.VISITED_FILL, color=style.HIGHLIGHT, penwidth="2", fontname=style.FONT)
        attributes["label"] = style.html_label(f"<B>{style.escape(state)}</B>")
    else:
        attributes.update(color=style.MUTED, fontcolor=style.MUTED, fillcolor="white")
    if final:
        attributes.update(peripheries="2", tooltip=f"{state}: where this trace ends")
    return attributes


def _edge_attributes(
    group: Sequence[Edge], highlighting: bool, taken: dict[Edge, list[int]], failed_edges: set[Edge]
) -> dict[str, str]:
    lines = []
    for edge in group:
        # Short lines keep label boxes narrow, so arrows need not detour around them.
        wrapped = [line for part in edge.label.split("\n") for line in style.wrap(part, LABEL_WIDTH)]
        text = "<BR/>".join(style.escape(line) for line in wrapped)
        if edge.own_action:
            text = f"<I>{text}</I>"
        numbers = taken.get(edge, [])
        if highlighting and numbers:
            colour = style.FAILURE if edge in failed_edges else style.HIGHLIGHT
            steps = ", ".join(str(number) for number in numbers)
            text = f"<B>{style.font(steps + '.', colour=colour)}</B> {style.font(text, colour=colour)}"
        elif highlighting:
            text = style.font(text, colour=style.MUTED)
        lines.append(text)
    attributes = {"label": style.html_label("<BR/>".join(lines)), "tooltip": "; ".join(e.tooltip for e in group)}
    if not highlighting:
        return attributes
    if any(edge in taken for edge in group):
        failed = any(edge in failed_edges for edge in group)
        in_table = any(edge.in_table for edge in group)
        attributes.update(
            color=style.FAILURE if failed else style.HIGHLIGHT,
            penwidth="2.6",
            style="bold" if in_table else "bold,dashed",
        )
    else:
        attributes.update(color=style.MUTED, penwidth="1")
    return attributes


def _key(graph: graphviz.Digraph, *, failed: bool) -> None:
    """A short key under the chart."""
    rows = [
        f"<B>{style.font('1. recv Message', colour=style.HIGHLIGHT)}</B>  taken by this trace, in order (bold)",
        f"{style.font('recv Message', colour=style.MUTED)}  in the table, not taken (grey)",
        "<I>italic</I>  the side's own action, not a received message",
        "double border  where the trace ends",
    ]
    if failed:
        rows.append(f"{style.font(style.FAILURE_MARK + ' alert', colour=style.FAILURE)}  closed after a fatal alert")
    cells = "".join(f'<TR><TD ALIGN="LEFT">{row}</TD></TR>' for row in rows)
    table = f'<TABLE BORDER="1" COLOR="{style.MUTED}" CELLBORDER="0" CELLPADDING="2" STYLE="rounded">{cells}</TABLE>'
    with graph.subgraph(name="key") as key:
        key.attr(rank="sink")
        key.node("key", label=style.html_label(table), shape="plaintext", fontsize=str(style.SMALL_FONT_SIZE))


def statechart_dot(role: str, events: common.TraceLike | None = None, version: str | None = None) -> str:
    source: str = statechart_graph(role, events, version).source
    return source


def statechart_svg(role: str, events: common.TraceLike | None = None, version: str | None = None) -> str:
    return style.svg_text(statechart_graph(role, events, version))


def render_statechart(
    role: str, path: str | os.PathLike[str], events: common.TraceLike | None = None, version: str | None = None
) -> Path:
    """Write the chart to `path`; the format follows the suffix (.svg, .png, .pdf, .dot)."""
    return style.write_graph(statechart_graph(role, events, version), path)
