"""The TLS 1.3 key schedule, drawn as RFC 8446 §7.1 draws it, with a trace's real values.

RFC 8446 §7.1 shows the key schedule as a ladder: three HKDF-Extract steps
down a spine (Early Secret, Handshake Secret, Master Secret), each fed a new
input from the side -- the PSK (or zeros), the (EC)DHE shared secret, zeros
again -- and each followed by Derive-Secret(., "derived", "") to salt the next.
Branching off the spine are the secrets that are actually used: traffic
secrets for each direction and phase, the exporter and resumption secrets.

This module draws that ladder for one side of a connection, labelling every
secret with its RFC name, its Derive-Secret label and the messages its
transcript hash covers, and -- this is the point -- the first bytes of the
value that side computed (hover in SVG to see all of it). Below the traffic
secrets hang the traffic keys and IVs the trace installed (RFC 8446 §7.3),
and, after a KeyUpdate, the next generations of application traffic secrets
(RFC 8446 §7.2).

The ladder's secrets that a trace did not derive (the binder key and early
traffic secret without a PSK; everything below the point where a failed
handshake stopped) are drawn grey and dashed, so the whole RFC figure is
always there to explain.

Traffic secrets are outlined in the line style of the records they protect
(`teachtls.render.style.PROTECTIONS`): the same dashed blue as handshake
records in the sequence diagram, the same bold green as application data.

Renderers only read: everything here comes from `SecretDerived` and
`KeysInstalled` events.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import attrs
import graphviz

from teachtls.render import common, style
from teachtls.trace import events as trace

HEX_BYTES = 6  # bytes of each value shown in a node


@attrs.frozen
class Secret:
    """One secret of the RFC 8446 §7.1 ladder, as the RFC describes it."""

    name: str  # as teachtls traces it: "client_handshake_traffic_secret"
    operation: str  # "HKDF-Extract", "Derive-Secret", "HKDF-Expand-Label"
    label: str  # Derive-Secret label; "" for HKDF-Extract
    parent: str  # the input secret (for HKDF-Extract: the salt)
    messages: str = ""  # Derive-Secret's Messages, or HKDF-Extract's IKM
    spine: bool = False  # on the Extract / "derived" spine of the ladder


# RFC 8446 §7.1, top to bottom. Names are those teachtls traces.
LADDER: tuple[Secret, ...] = (
    Secret("early_secret", "HKDF-Extract", "", "0", "PSK (or 0)", spine=True),
    Secret("binder_key", "Derive-Secret", "ext binder | res binder", "early_secret", "(empty)"),
    Secret("client_early_traffic_secret", "Derive-Secret", "c e traffic", "early_secret", "ClientHello"),
    Secret("early_exporter_master_secret", "Derive-Secret", "e exp master", "early_secret", "ClientHello"),
    Secret("early_secret_derived", "Derive-Secret", "derived", "early_secret", "(empty)", spine=True),
    Secret("handshake_secret", "HKDF-Extract", "", "early_secret_derived", "(EC)DHE", spine=True),
    Secret(
        "client_handshake_traffic_secret",
        "Derive-Secret",
        "c hs traffic",
        "handshake_secret",
        "ClientHello..ServerHello",
    ),
    Secret(
        "server_handshake_traffic_secret",
        "Derive-Secret",
        "s hs traffic",
        "handshake_secret",
        "ClientHello..ServerHello",
    ),
    Secret("handshake_secret_derived", "Derive-Secret", "derived", "handshake_secret", "(empty)", spine=True),
    Secret("master_secret", "HKDF-Extract", "", "handshake_secret_derived", "0", spine=True),
    Secret(
        "client_application_traffic_secret_0",
        "Derive-Secret",
        "c ap traffic",
        "master_secret",
        "ClientHello..server Finished",
    ),
    Secret(
        "server_application_traffic_secret_0",
        "Derive-Secret",
        "s ap traffic",
        "master_secret",
        "ClientHello..server Finished",
    ),
    Secret("exporter_master_secret", "Derive-Secret", "exp master", "master_secret", "ClientHello..server Finished"),
    Secret("resumption_master_secret", "Derive-Secret", "res master", "master_secret", "ClientHello..client Finished"),
)


def _from_event(event: trace.SecretDerived, known: Secret | None) -> Secret:
    """The ladder entry for a traced secret (the trace's own description wins)."""
    return Secret(
        name=event.name,
        operation=event.operation,
        label=event.label,
        parent=event.parent,
        messages=_inputs_text(event) or (known.messages if known else ""),
        spine=known.spine if known else False,
    )


def _inputs_text(event: trace.SecretDerived) -> str:
    """Derive-Secret's Messages or HKDF-Extract's IKM, as the trace names them."""
    for item in event.inputs:
        key, _, value = item.partition("=")
        if key in ("Messages", "IKM"):
            return value
    return ", ".join(event.inputs)


def _protection(name: str) -> str:
    """Which records a traffic secret protects ("" for other secrets)."""
    for kind in ("early", "handshake", "application"):
        if f"_{kind}_traffic_secret" in name:
            return kind
    return ""


def keyschedule_graph(events: common.TraceLike, role: str = "client") -> graphviz.Digraph:
    """The key-schedule ladder of `role` ("client" or "server") in a trace."""
    loaded = common.load(events)
    derived = {e.name: e for e in loaded if isinstance(e, trace.SecretDerived) and e.role == role}
    installed = [e for e in loaded if isinstance(e, trace.KeysInstalled) and e.role == role]
    exchange = next((e for e in loaded if isinstance(e, trace.KeyExchangeComputed) and e.role == role), None)

    ladder = {secret.name: secret for secret in LADDER}
    secrets: list[Secret] = []
    for secret in LADDER:
        event = derived.get(secret.name)
        secrets.append(_from_event(event, secret) if event is not None else secret)
    # Secrets beyond the RFC figure: KeyUpdate generations, resumption PSKs.
    for name, event in derived.items():
        if name not in ladder:
            secrets.append(_from_event(event, None))

    graph = graphviz.Digraph(name=f"keyschedule_{role}")
    title = f"TLS 1.3 key schedule (RFC 8446 §7.1), as the {role} computed it"
    suite = next((e.cipher_suite for e in installed), "")
    if suite:
        title += f"\n{suite}"
    graph.attr(
        **style.graph_attributes(
            rankdir="TB",
            label=style.escape(title),
            labelloc="t",
            fontsize=str(style.TITLE_FONT_SIZE),
            nodesep="0.3",
            ranksep="0.35",
            ordering="out",
        )
    )
    graph.attr("node", **style.node_attributes(shape="box", style="rounded,filled", fillcolor="white"))
    graph.attr("edge", **style.edge_attributes(arrowsize="0.7", color=style.SOFT_INK))

    names = {secret.name for secret in secrets}
    # With ordering=out, a node's children are placed in the order of its
    # edges: spine first, so the ladder runs down the left and branches off
    # to the right, as in the RFC's figure.
    for secret in sorted(secrets, key=lambda secret: not secret.spine):
        event = derived.get(secret.name)
        if secret.operation == "HKDF-Extract":
            _extract(graph, secret, event, exchange, names)
        else:
            source = node_id(secret.parent) if secret.parent in names else _constant(graph, secret.parent)
            graph.edge(source, node_id(secret.name), **_edge_style(event is not None, spine=secret.spine))
        graph.node(node_id(secret.name), **_secret_attributes(secret, event))

    for keys in installed:
        leaf = node_id(f"keys_{keys.direction}_{keys.secret_name}")
        graph.node(leaf, **_keys_attributes(keys))
        if keys.secret_name in names:
            graph.edge(node_id(keys.secret_name), leaf, **_edge_style(True, spine=False))
    _key(graph)
    return graph


def _edge_style(traced: bool, *, spine: bool) -> dict[str, str]:
    attributes = {"weight": "10" if spine else "1"}
    if not traced:
        attributes.update(color=style.MUTED, style="dashed")
    elif spine:
        attributes.update(penwidth="1.6", color=style.INK)
    return attributes


def node_id(name: str) -> str:
    """A DOT node id for a secret: its name, with anything but letters, digits and _ made _."""
    return re.sub(r"\W", "_", name)


def _constant(graph: graphviz.Digraph, text: str) -> str:
    name = node_id(f"input_{text}")
    graph.node(name, label=style.escape(text), shape="plaintext", fillcolor="none", fontcolor=style.SOFT_INK)
    return name


def _extract(
    graph: graphviz.Digraph,
    secret: Secret,
    event: trace.SecretDerived | None,
    exchange: trace.KeyExchangeComputed | None,
    names: set[str],
) -> None:
    """HKDF-Extract(salt, IKM): salt from above, IKM from the left (RFC 8446 §7.1)."""
    operation = node_id(f"extract_{secret.name}")
    traced = event is not None
    colour = style.INK if traced else style.MUTED
    graph.node(
        operation,
        label="HKDF-Extract",
        shape="ellipse",
        style="filled" if traced else "dashed",
        fillcolor=style.PARTICIPANT_FILL if traced else "white",
        color=colour,
        fontcolor=colour,
        fontsize=str(style.SMALL_FONT_SIZE),
        margin="0.05,0.02",
        height="0.3",
        group="spine",
        tooltip=f"{secret.name} = HKDF-Extract(salt={secret.parent}, IKM={secret.messages})",
    )
    salt = node_id(secret.parent) if secret.parent in names else _constant(graph, secret.parent)
    graph.edge(salt, operation, **_edge_style(traced, spine=True))
    ikm = node_id(f"ikm_{secret.name}")
    ikm_text = secret.messages or "IKM"
    tooltip = f"IKM = {ikm_text}"
    if "(EC)DHE" in ikm_text and exchange is not None:
        ikm_text = f"{exchange.group} (EC)DHE shared secret"
        value = common.short_hex(exchange.shared_secret, HEX_BYTES)
        tooltip = f"IKM = {exchange.group} shared_secret = {exchange.shared_secret.hex()}"
        label = style.html_label(f"<B>{style.escape(ikm_text)}</B><BR/>{style.hex_text(value)}")
    else:
        label = style.html_label(style.escape(ikm_text))
    with graph.subgraph(name=f"rank_{operation}") as rank:
        rank.attr(rank="same")
        rank.node(operation)
        rank.node(
            ikm,
            label=label,
            shape="box",
            style="rounded,dashed" if not traced else "rounded,filled",
            fillcolor=style.NOTE_FILL,
            color=style.LIFELINE if traced else style.MUTED,
            fontcolor=colour,
            fontsize=str(style.SMALL_FONT_SIZE),
            tooltip=tooltip,
        )
    graph.edge(ikm, operation, **_edge_style(traced, spine=False), label="IKM", fontcolor=style.SOFT_INK)
    graph.edge(operation, node_id(secret.name), **_edge_style(traced, spine=True))


def _secret_attributes(secret: Secret, event: trace.SecretDerived | None) -> dict[str, str]:
    traced = event is not None
    ink = style.INK if traced else style.MUTED
    soft = style.SOFT_INK if traced else style.MUTED
    lines = [f"<B>{style.font(style.escape(secret.name), colour=ink)}</B>"]
    if secret.operation != "HKDF-Extract":
        call = f'{secret.operation} "{secret.label}"' if secret.label else secret.operation
        lines.append(style.font(style.escape(call), size=style.SMALL_FONT_SIZE, colour=soft))
        if secret.messages:
            lines.append(style.font(style.escape(_inputs_line(secret)), size=style.SMALL_FONT_SIZE, colour=soft))
    if event is not None:
        value = common.short_hex(event.value, HEX_BYTES)
        lines.append(style.hex_text(value, colour=ink))
        tooltip = f"{secret.name} = {event.value.hex()}"
        if event.transcript_hash:
            tooltip += f"\ntranscript hash through {event.transcript_through}: {event.transcript_hash.hex()}"
    else:
        lines.append(style.font("not derived in this trace", size=style.SMALL_FONT_SIZE, colour=style.MUTED))
        tooltip = f"{secret.name}: not derived in this trace"
    attributes = {"label": style.html_label("<BR/>".join(lines)), "tooltip": tooltip, "margin": "0.12,0.05"}
    protection = _protection(secret.name)
    if not traced:
        attributes.update(style="rounded,filled,dashed", color=style.MUTED, fillcolor=style.MUTED_FILL)
    elif protection:
        line = style.PROTECTIONS[protection]
        attributes.update(
            color=line.colour,
            penwidth=f"{line.penwidth:g}",
            style=f"rounded,filled,{line.style}" if line.style != "solid" else "rounded,filled",
        )
    else:
        attributes.update(penwidth="1.4")
    if secret.spine:
        attributes["group"] = "spine"
    return attributes


def _inputs_line(secret: Secret) -> str:
    """ "Messages: ClientHello..ServerHello" for Derive-Secret; other inputs as traced ("ticket_nonce=0000")."""
    return f"Messages: {secret.messages}" if secret.operation == "Derive-Secret" else secret.messages


def _keys_attributes(keys: trace.KeysInstalled) -> dict[str, str]:
    line = style.protection_style(keys.protection)
    rows = [
        f"<B>{style.escape(keys.direction)} key, iv</B>",
        style.font('HKDF-Expand-Label "key", "iv"', size=style.SMALL_FONT_SIZE, colour=style.SOFT_INK),
    ]
    for name, value in (("key", keys.key), ("iv ", keys.iv)):
        rows.append(style.hex_text(f"{name} {common.short_hex(value, HEX_BYTES)}"))
    return {
        "label": style.html_label("<BR/>".join(rows)),
        "shape": "note",
        "style": "filled",
        "fillcolor": style.NOTE_FILL,
        "color": line.colour,
        "fontsize": str(style.SMALL_FONT_SIZE),
        "tooltip": f"{keys.direction} {keys.protection} keys from {keys.secret_name}: "
        f"key = {keys.key.hex()}, iv = {keys.iv.hex()} ({keys.rfc})",
    }


def _key(graph: graphviz.Digraph) -> None:
    rows = [
        "<B>how to read</B>",
        "bold name: a secret, with the first bytes of its value (hover: all of it)",
        "outline = what it protects: "
        + ", ".join(f"{style.font(line.meaning, colour=line.colour)} ({line.pattern})" for line in _protections()),
        f"{style.font('grey, dashed, shaded', colour=style.MUTED)}: in RFC 8446 §7.1, not derived in this trace",
    ]
    cells = "".join(f'<TR><TD ALIGN="LEFT">{row}</TD></TR>' for row in rows)
    table = f'<TABLE BORDER="1" COLOR="{style.MUTED}" CELLBORDER="0" CELLPADDING="2" STYLE="rounded">{cells}</TABLE>'
    with graph.subgraph(name="key") as key:
        key.attr(rank="sink")
        key.node("how_to_read", label=style.html_label(table), shape="plaintext", fontsize=str(style.SMALL_FONT_SIZE))


def _protections() -> Sequence[style.LineStyle]:
    return [style.PROTECTIONS[kind] for kind in ("early", "handshake", "application")]


def keyschedule_dot(events: common.TraceLike, role: str = "client") -> str:
    source: str = keyschedule_graph(events, role).source
    return source


def keyschedule_svg(events: common.TraceLike, role: str = "client") -> str:
    return style.svg_text(keyschedule_graph(events, role))


def render_keyschedule(events: common.TraceLike, path: str | os.PathLike[str], role: str = "client") -> Path:
    """Write the ladder to `path`; the format follows the suffix (.svg, .png, .pdf, .dot)."""
    return style.write_graph(keyschedule_graph(events, role), path)
