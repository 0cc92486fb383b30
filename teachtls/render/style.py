"""One look for every diagram: fonts, colours and line styles.

The sequence diagrams, state charts and key-schedule ladders share this
module, so a colour means the same thing everywhere: blue is always "handshake
traffic keys", red is always "something failed".

Diagrams end up on slides, in printed handouts and on black-and-white
photocopies, so nothing is told by colour alone:

* Each record protection has a colour *and* a line style (`PROTECTIONS`):
  plaintext is a thin solid line, early data (0-RTT) dotted, handshake traffic
  keys dashed, application traffic keys bold. The colours come from the
  Okabe-Ito palette (safe for the common colour-vision deficiencies) and
  differ in lightness, so they stay apart in greyscale too.
* A failure is red, bold, and marked with a ✗ in its text.

Fonts are given as lists, first match wins: Graphviz hands the list to
Pango (PNG, PDF) and writes it into the SVG for the browser to resolve.

The module also holds what every diagram shares besides its look: escaping
for Graphviz's HTML-like labels, and writing a graph as DOT, SVG, PNG or PDF.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import attrs
import graphviz

FONT = "Helvetica,Arial,sans-serif"
MONO_FONT = "DejaVu Sans Mono,Menlo,Consolas,monospace"

FONT_SIZE = 12  # message names, states, secret names
SMALL_FONT_SIZE = 10  # key fields, hex values, notes
TITLE_FONT_SIZE = 16

INK = "#1a1a1a"  # text and plaintext arrows
SOFT_INK = "#4d4d4d"  # secondary text (key fields under a message name)
MUTED = "#a6a6a6"  # what a trace did not touch (state chart, key schedule)
MUTED_FILL = "#f5f5f5"
LIFELINE = "#9e9e9e"
PARTICIPANT_FILL = "#e8eef5"  # the Client / Server boxes
NOTE_FILL = "#fffbe6"  # key-schedule notes beside a lifeline
VISITED_FILL = "#d6e9f8"  # a state the trace passed through
HIGHLIGHT = "#0072b2"  # the path a trace took (state chart)

FAILURE = "#c62828"
FAILURE_FILL = "#fdecea"
FAILURE_MARK = "✗"
SUCCESS_MARK = "✓"


@attrs.frozen
class LineStyle:
    """How one kind of arrow is drawn, and how the legend explains it."""

    colour: str
    style: str  # Graphviz edge style: "solid", "dashed", "dotted", "bold"
    penwidth: float
    meaning: str  # legend text, e.g. "handshake traffic keys"
    pattern: str  # legend text for black-and-white readers, e.g. "dashed"

    def edge_attributes(self) -> dict[str, str]:
        return {"color": self.colour, "style": self.style, "penwidth": f"{self.penwidth:g}"}


# Ordered as a connection uses them (the legend follows this order).
PROTECTIONS: dict[str, LineStyle] = {
    "plaintext": LineStyle(INK, "solid", 1.2, "plaintext, no protection", "thin solid line"),
    "early": LineStyle("#d55e00", "dotted", 2.2, "early traffic keys (0-RTT)", "dotted line"),
    "handshake": LineStyle("#0072b2", "dashed", 1.6, "handshake traffic keys", "dashed line"),
    "application": LineStyle("#009e73", "bold", 2.8, "application traffic keys", "bold line"),
}

FAILURE_LINE = LineStyle(FAILURE, "bold", 2.4, "failed check or alert", f"red, marked {FAILURE_MARK}")


def protection_style(protection: str) -> LineStyle:
    """The line style for a record protection ("handshake", "application 1", ...).

    KeyUpdate generations ("application 1") are drawn like their kind;
    an unknown name falls back to plaintext rather than failing a render."""
    kind = protection.split()[0] if protection else "plaintext"
    return PROTECTIONS.get(kind, PROTECTIONS["plaintext"])


def graph_attributes(**extra: str) -> dict[str, str]:
    """Graph-wide defaults every diagram starts from."""
    attributes = {
        "fontname": FONT,
        "fontsize": str(FONT_SIZE),
        "fontcolor": INK,
        "bgcolor": "white",
        "pad": "0.3",
    }
    attributes.update(extra)
    return attributes


def node_attributes(**extra: str) -> dict[str, str]:
    attributes = {"fontname": FONT, "fontsize": str(FONT_SIZE), "fontcolor": INK, "color": INK}
    attributes.update(extra)
    return attributes


def edge_attributes(**extra: str) -> dict[str, str]:
    attributes = {"fontname": FONT, "fontsize": str(SMALL_FONT_SIZE), "fontcolor": INK, "color": INK}
    attributes.update(extra)
    return attributes


# --- HTML-like labels ---------------------------------------------------------------
# Graphviz labels written as <...> may use a small HTML subset (<B>, <FONT>,
# <BR/>, <TABLE>). These helpers keep the escaping in one place.


def escape(text: str) -> str:
    """Text made safe inside an HTML-like label."""
    return html.escape(text, quote=True)


def html_label(body: str) -> str:
    """Wrap an HTML-like body so the graphviz package passes it through unquoted."""
    return f"<{body}>"


def font(text: str, *, size: int | None = None, colour: str | None = None, face: str | None = None) -> str:
    """`text` (already escaped) in a <FONT> element."""
    attributes = []
    if colour:
        attributes.append(f'COLOR="{colour}"')
    if face:
        attributes.append(f'FACE="{face}"')
    if size:
        attributes.append(f'POINT-SIZE="{size}"')
    return f"<FONT {' '.join(attributes)}>{text}</FONT>" if attributes else text


def hex_text(text: str, *, colour: str | None = None) -> str:
    """Hex digits (already shortened) in the small monospace font, escaped."""
    return font(escape(text), size=SMALL_FONT_SIZE, colour=colour, face=MONO_FONT)


def wrap(text: str, width: int) -> list[str]:
    """Split `text` into lines of at most about `width` characters, at spaces."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines or [""]


# --- output ------------------------------------------------------------------------
# Every diagram module offers the same outputs: DOT source, SVG text to inline
# in a page, and files whose format follows their suffix.

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}


def svg_text(graph: graphviz.Digraph) -> str:
    """Render with the system's `dot` to SVG, without the XML prolog and DOCTYPE.

    What is left starts at ``<svg`` and can be pasted into an HTML page."""
    svg: str = graph.pipe(format="svg", encoding="utf-8")
    return svg[svg.index("<svg") :]


def write_graph(graph: graphviz.Digraph, path: str | os.PathLike[str]) -> Path:
    """Write `graph` to `path` as .svg, .png, .pdf or .dot (.gv), by suffix. Returns the path."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"unsupported format {suffix!r}: use one of {', '.join(sorted(FORMATS))}")
    if FORMATS[suffix] == "dot":
        target.write_text(graph.source, encoding="utf-8")
    elif FORMATS[suffix] == "svg":
        target.write_text(svg_text(graph), encoding="utf-8")
    else:
        target.write_bytes(graph.pipe(format=FORMATS[suffix]))
    return target
