"""Diagrams for a slide: the RFC 8448 §3 handshake and its key schedule, 16:9.

Shows: `Trace.from_scenario("rfc8448-simple")` (RFC 8448 §3, byte for byte),
drawn with the renderers' Graphviz graphs (teachtls.render.sequence,
teachtls.render.keyschedule). A graph is a `graphviz.Digraph`, so slide
sizing is two graph attributes set before writing:

* size="13.333,7.5" -- the drawing is scaled down to fit a 16:9 slide of
  13.333 x 7.5 inches (PowerPoint's and Keynote's widescreen page);
* dpi="144" -- a PNG of at most 1920 x 1080 pixels, full HD.

The SVG and the PDF stay vectors (sharp at any zoom); a tall sequence
diagram keeps its aspect ratio, so it fills the slide's height, not its width.

Run:  python examples/slide_diagram.py [--out DIR]
Not for production: teachtls is for reading, not for protecting data.
"""

import argparse
from pathlib import Path

import graphviz

from teachtls import Trace
from teachtls.render.keyschedule import keyschedule_graph
from teachtls.render.sequence import sequence_graph
from teachtls.render.style import write_graph

SLIDE_INCHES = "13.333,7.5"  # 16:9
DPI = "144"  # 13.333 in x 144 = 1920 px, 7.5 in x 144 = 1080 px


def for_slide(graph: graphviz.Digraph) -> graphviz.Digraph:
    """`graph`, scaled to fit a 16:9 slide (Graphviz `size`, `dpi`; ratio is kept)."""
    graph.attr(size=SLIDE_INCHES, dpi=DPI)
    return graph


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=Path("."), help="where the pictures go (default: here)")
args = parser.parse_args()
args.out.mkdir(parents=True, exist_ok=True)

trace = Trace.from_scenario("rfc8448-simple")
sequence = for_slide(sequence_graph(trace, detail="keys", title="TLS 1.3 full handshake (RFC 8448 §3)"))
schedule = for_slide(keyschedule_graph(trace, role="client"))
for suffix in ("png", "svg", "pdf"):  # write_graph runs the system's `dot`; the format follows the suffix
    print(f"sequence diagram: {write_graph(sequence, args.out / f'handshake.{suffix}')}")
    print(f"key schedule:     {write_graph(schedule, args.out / f'keyschedule.{suffix}')}")
