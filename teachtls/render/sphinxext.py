"""A Sphinx extension: TLS handshakes drawn and explained while the docs build.

Add it to a project's ``conf.py``::

    extensions = ["teachtls.sphinxext"]

and a page can show a handshake without anyone committing a picture::

    .. teachtls-diagram:: rfc8448-simple
       :detail: keys

    .. teachtls-keyschedule:: rfc8448-hrr
       :role: server

    .. teachtls-statechart:: client
       :scenario: bad-certificate

    .. teachtls-bytes:: rfc8448-simple

    .. teachtls-walkthrough:: rfc8448-resumed-0rtt

The argument names a deterministic scenario (`teachtls.scenarios.named`:
rfc8448-simple, rfc8448-resumed-0rtt, rfc8448-hrr, rfc8448-client-auth,
rfc8448-compat, bad-certificate). Instead of a name, ``:trace: FILE`` reads
a JSON Lines trace, relative to the page's own file (or to the source
directory if it starts with "/"), as ``.. include::`` does; the page is
rebuilt when the file changes.

=========================  ==========================================  ===========================================
directive                  options                                     shows
=========================  ==========================================  ===========================================
``teachtls-diagram``       ``:trace:``, ``:detail:`` messages|keys|     the sequence diagram (`render.sequence`)
                           records, ``:title:``
``teachtls-keyschedule``   ``:trace:``, ``:role:`` client|server        the key schedule (`render.keyschedule`)
``teachtls-statechart``    argument client|server; ``:scenario:`` or    the state machine, with the path a trace
                           ``:trace:`` (optional)                       took (`render.statechart`)
``teachtls-bytes``         ``:trace:``, ``:title:``                     the annotated page: every byte explained
                                                                        (`render.pages`)
``teachtls-walkthrough``   ``:trace:``, ``:hide-secrets:``              the narrative `teachtls demo` prints
=========================  ==========================================  ===========================================

How the pictures get into the page. Diagrams are inline SVG in raw HTML
nodes: no image files to copy, nothing for the builder to find, and the
diagrams' tooltips and links keep working. The annotated page is embedded
the same way: its body, its stylesheet confined to a ``<div
class="teachtls-page">`` (every selector prefixed, so it cannot restyle the
theme around it) and its click-to-highlight script.

Builders that do not write HTML (text, LaTeX, man, ...) skip raw HTML, so
each directive also emits a plain-text version inside an ``only`` node that
only those builders keep: the diagram as a list of arrows, the key schedule
as a list of derivations, the state machine as a list of transitions, the
bytes as hexdumps with their fields. A page therefore builds without a
warning (``sphinx-build -W``) with every builder.

A directive's mistakes -- an unknown scenario, a missing or malformed trace
file, Graphviz's ``dot`` not installed -- are reported as errors at the
directive's line, which ``-W`` turns into a failed build.

Layering. This is the one module of `teachtls.render` that runs anything:
a scenario name is run in memory by `teachtls.scenarios.named` (imported
only when a page names one). Everything else here only reads traces.

Known limitation: two ``teachtls-bytes`` on one page share the page's
element ids and highlight each other's fields, since the annotated page was
written to be alone in its document. Put each on its own page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

# docutils ships no type information (types-docutils is not a dependency);
# "unused-ignore" keeps mypy quiet where those stubs happen to be installed.
from docutils import nodes  # type: ignore[import-untyped, unused-ignore]
from docutils.parsers.rst import directives  # type: ignore[import-untyped, unused-ignore]
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from teachtls import __version__
from teachtls.render import pages
from teachtls.render.common import ROLES
from teachtls.render.keyschedule import keyschedule_svg
from teachtls.render.layout import Annotation, layout
from teachtls.render.pages import decryption_rows, field_value, hexdump_lines, record_title
from teachtls.render.sequence import DETAILS, Arrow, rows, sequence_svg
from teachtls.render.statechart import MACHINES, statechart_svg, table_edges
from teachtls.render.walkthrough import render_walkthrough
from teachtls.trace.events import SecretDerived, StateChanged, TraceEvent
from teachtls.trace.jsonl import TraceFormatError, load_jsonl

SCOPE = "teachtls-page"  # the class of the <div> an embedded page lives in

# The embedded page's frame, in place of the standalone page's <body> and <main>
# rules; and, since a documentation theme's text column is about half as wide
# as the standalone page, each record's hexdump goes above its field tables
# rather than beside them.
PAGE_FRAME_CSS = (
    f".{SCOPE}{{padding:16px 20px;border-radius:8px;margin:1em 0;overflow-x:auto}}"
    f".{SCOPE} .grid{{grid-template-columns:minmax(0,1fr)}}"
    f".{SCOPE} .dumps{{position:static;max-height:none}}"
)


# --- embedding HTML ---------------------------------------------------------------------


def scoped_css(css: str, scope: str = f".{SCOPE}") -> str:
    """`css` with every rule confined to the elements inside `scope`.

    `:root` and `body` (the page's own variables and base font) become the
    scope itself; `main` (the standalone page's width) is dropped. Only flat
    rules are understood: an at-rule (``@media``) raises `ValueError` rather
    than leaking out unscoped."""
    if "@" in css:
        raise ValueError("cannot scope a stylesheet with at-rules")
    rules: list[str] = []
    for selector_list, declarations in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        selectors: list[str] = []
        for selector in (s.strip() for s in selector_list.split(",")):
            if selector in (":root", "body"):
                selectors.append(scope)
            elif selector != "main":
                selectors.append(f"{scope} {selector}")
        if selectors:
            rules.append(f"{','.join(selectors)}{{{declarations}}}")
    return "\n".join(rules)


def page_fragment(events: Sequence[TraceEvent], *, title: str | None = None) -> str:
    """The annotated page (`render_html`) as a fragment to embed in another HTML page."""
    document = pages.render_html(events, title=title)
    body = re.search(r"<main>\n?(.*?)\n?</main>", document, flags=re.DOTALL)
    if body is None:
        raise ValueError("render_html's page has no <main> element to embed")
    return (
        f'<div class="{SCOPE}"><style>{scoped_css(pages.CSS)}\n{PAGE_FRAME_CSS}</style>\n'
        f"{body.group(1)}\n<script>{pages.SCRIPT}</script></div>"
    )


# Diagrams shrink to the text's width, as in the annotated page; their labels
# are links (to the page's sections), which themes like to underline.
FIGURE_CSS = (
    ".teachtls-figure{margin:1em 0;text-align:center}.teachtls-figure svg{max-width:100%;height:auto}"
    ".teachtls-figure a{text-decoration:none;border:0}"
)


def svg_figure(svg: str, kind: str) -> str:
    """Inline SVG in a <div> of its own, with the few style rules it needs."""
    return f'<div class="teachtls-figure teachtls-{kind}"><style>{FIGURE_CSS}</style>{svg}</div>'


# --- plain-text versions, for builders that skip raw HTML ---------------------------------


def sequence_text(events: Sequence[TraceEvent], detail: str = "messages") -> str:
    """The sequence diagram's rows as lines: ``client ──▶ server  ClientHello``."""
    lines: list[str] = []
    for row in rows(events, detail):
        if isinstance(row, Arrow):
            arrow = "client ──▶ server" if row.sender == "client" else "client ◀── server"
            lines.append(f"{arrow}  {row.title}{'  ✗' if row.failed else ''}")
            lines += [f"{'':19}{detail_line}" for detail_line in row.details]
        else:
            for name, value in row.entries:
                lines.append(f"  [{row.role}] {name}{' = ' + value if value else ''}{'  ✗' if row.failed else ''}")
    return "\n".join(lines)


def keyschedule_text(events: Sequence[TraceEvent], role: str = "client") -> str:
    """Every secret `role` derived, as ``name = Operation(inputs)`` lines."""
    lines = []
    for event in events:
        if isinstance(event, SecretDerived) and event.role == role:
            inputs = [event.parent] + ([f'"{event.label}"'] if event.label else []) + list(event.inputs)
            lines.append(f"{event.name} = {event.operation}({', '.join(i for i in inputs if i)})")
    return "\n".join(lines) or f"(the trace holds no secret derived by the {role})"


def statechart_text(role: str, events: Sequence[TraceEvent] | None = None) -> str:
    """The transitions a trace made in `role`'s machine, or, without one, every transition."""
    if events is None:
        return "\n".join(
            f"{edge.source} --{' '.join(edge.label.split())}--> {edge.target}" for edge in table_edges(role)
        )
    steps = [e for e in events if isinstance(e, StateChanged) and e.role == role and e.machine == MACHINES[role]]
    return "\n".join(
        f"{number}. {step.old_state} --{step.trigger}--> {step.new_state}" for number, step in enumerate(steps, 1)
    )


def bytes_text(events: Sequence[TraceEvent]) -> str:
    """Each record as a hexdump, then its fields: offsets, RFC name and value."""

    def fields(annotations: Sequence[Annotation]) -> list[str]:
        return [f"  {a.start:04x}-{a.end:04x}  {a.path} = {field_value(a)}" for a in annotations]

    lines: list[str] = []
    for record in layout(events).records:
        lines += [record_title(record), *hexdump_lines(record.record.raw), *fields(record.wire)]
        if record.protected:
            lines += [f"  {name}: {value}" for name, value in decryption_rows(record)]
            if record.inner_plaintext is not None:
                lines.append("  decrypted TLSInnerPlaintext:")
                lines += [f"  {line}" for line in hexdump_lines(record.inner_plaintext)]
                lines += fields(record.inner)
        lines.append("")
    return "\n".join(lines).strip()


# --- the directives -------------------------------------------------------------------------


def choice(*values: str) -> Callable[[str], str]:
    """An option that must be one of `values`."""

    def convert(text: str) -> str:
        chosen: str = directives.choice(text, values)
        return chosen

    return convert


class TraceDirective(SphinxDirective):
    """What every teachtls directive shares: finding its trace, reporting its errors."""

    optional_arguments = 1
    has_content = False
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {"trace": directives.unchanged_required}

    def scenario_name(self) -> str | None:
        return self.arguments[0] if self.arguments else None

    def events(self, *, required: bool = True) -> list[TraceEvent] | None:
        """The scenario's or the :trace: file's events (None if neither is given and not `required`)."""
        name, path = self.scenario_name(), self.options.get("trace")
        if name is not None and path is not None:
            raise self.error(f"{self.name}: give a scenario name or a :trace: file, not both")
        if path is not None:
            return self.load_trace(path)
        if name is None:
            if required:
                raise self.error(f"{self.name}: give a scenario name or a :trace: file")
            return None
        from teachtls.scenarios.named import run_scenario  # runs connections: imported only when needed

        try:
            return run_scenario(name)
        except KeyError as error:
            raise self.error(f"{self.name}: {error.args[0]}") from None

    def load_trace(self, path: str) -> list[TraceEvent]:
        _, absolute = self.env.relfn2path(path)
        self.env.note_dependency(absolute)  # rebuild the page when the trace changes
        try:
            return load_jsonl(absolute)
        except OSError as error:
            raise self.error(f"{self.name}: cannot read the trace {path}: {error.strerror or error}") from None
        except TraceFormatError as error:
            raise self.error(f"{self.name}: {path} is not a teachtls trace: {error}") from None

    def render(self, draw: Callable[[], str]) -> str:
        """Call a renderer; a missing Graphviz or a bad trace becomes this directive's error."""
        try:
            return draw()
        except (RuntimeError, OSError, ValueError) as error:  # graphviz.ExecutableNotFound is a RuntimeError
            raise self.error(f"{self.name}: {error}") from None

    def embedded(self, html: str, text: str) -> list[nodes.Node]:
        """Raw HTML for HTML builders, a literal block for all the others."""
        raw = nodes.raw("", html, format="html")
        fallback = addnodes.only(expr="not format_html")
        block = nodes.literal_block(text, text, language="text")
        fallback += block
        for node in (raw, fallback, block):
            self.set_source_info(node)
        return [raw, fallback]


class DiagramDirective(TraceDirective):
    """``.. teachtls-diagram:: NAME`` -- the sequence diagram."""

    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        **TraceDirective.option_spec,
        "detail": choice(*DETAILS),
        "title": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        events = self.events()
        assert events is not None
        detail = self.options.get("detail", "messages")
        title = self.options.get("title")
        svg = self.render(lambda: sequence_svg(events, detail=detail, title=title))
        text = self.render(lambda: sequence_text(events, detail))
        return self.embedded(svg_figure(svg, "sequence"), text)


class KeyScheduleDirective(TraceDirective):
    """``.. teachtls-keyschedule:: NAME`` -- one side's key schedule."""

    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {**TraceDirective.option_spec, "role": choice(*ROLES)}

    def run(self) -> list[nodes.Node]:
        events = self.events()
        assert events is not None
        role = self.options.get("role", "client")
        svg = self.render(lambda: keyschedule_svg(events, role))
        return self.embedded(svg_figure(svg, "keyschedule"), keyschedule_text(events, role))


class StatechartDirective(TraceDirective):
    """``.. teachtls-statechart:: client`` -- a state machine, and the path a trace took."""

    required_arguments = 1
    optional_arguments = 0
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        **TraceDirective.option_spec,
        "scenario": directives.unchanged_required,
    }

    def scenario_name(self) -> str | None:
        name: str | None = self.options.get("scenario")
        return name

    def run(self) -> list[nodes.Node]:
        role = self.arguments[0]
        if role not in ROLES:
            raise self.error(f"{self.name}: the argument is client or server, not {role!r}")
        events = self.events(required=False)
        svg = self.render(lambda: statechart_svg(role, events))
        return self.embedded(svg_figure(svg, "statechart"), statechart_text(role, events))


class BytesDirective(TraceDirective):
    """``.. teachtls-bytes:: NAME`` -- the annotated page: every byte explained."""

    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        **TraceDirective.option_spec,
        "title": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        events = self.events()
        assert events is not None
        title = self.options.get("title")
        html = self.render(lambda: page_fragment(events, title=title))
        return self.embedded(html, self.render(lambda: bytes_text(events)))


class WalkthroughDirective(TraceDirective):
    """``.. teachtls-walkthrough:: NAME`` -- the step-by-step narrative, as a literal block."""

    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        **TraceDirective.option_spec,
        "hide-secrets": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        events = self.events()
        assert events is not None
        show_secrets = "hide-secrets" not in self.options
        text = self.render(lambda: render_walkthrough(events, show_secrets=show_secrets))
        block = nodes.literal_block(text, text, language="text")
        self.set_source_info(block)
        return [block]


DIRECTIVES: dict[str, type[TraceDirective]] = {
    "teachtls-diagram": DiagramDirective,
    "teachtls-keyschedule": KeyScheduleDirective,
    "teachtls-statechart": StatechartDirective,
    "teachtls-bytes": BytesDirective,
    "teachtls-walkthrough": WalkthroughDirective,
}


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives (Sphinx calls this for ``extensions = ["teachtls.sphinxext"]``)."""
    for name, directive in DIRECTIVES.items():
        app.add_directive(name, directive)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}


__all__ = [
    "DIRECTIVES",
    "page_fragment",
    "scoped_css",
    "svg_figure",
    "sequence_text",
    "keyschedule_text",
    "statechart_text",
    "bytes_text",
    "setup",
]
