"""`Trace`: a recorded conversation as one object, for notebooks and scripts.

A trace is just a list of `TraceEvent`s, and every renderer takes such a
list. `Trace` adds nothing to the events; it gathers what one does with
them in one place, so that a notebook cell can be

    >>> from teachtls import Trace
    >>> trace = Trace.from_scenario("rfc8448-simple")
    >>> trace                      # Jupyter draws the sequence diagram
    >>> trace.diagram(detail="keys")
    >>> trace.save("simple.jsonl", redact=True)

A `Trace` is built from a list of events (a `Recorder`'s), from a JSON Lines
file (`teachtls.trace.jsonl`), or from a named deterministic scenario
(`teachtls.scenarios.named`). It is an immutable sequence: `len(trace)`,
`trace[0]`, iteration and slicing (a slice is a `Trace` too) work as on a
tuple.

Jupyter shows an object through its `_repr_*_` methods: `_repr_svg_` gives the
sequence diagram, `_repr_html_` the annotated page (every byte explained)
inside an <iframe>. The page is a whole HTML document with its own
stylesheet and script; the iframe keeps them from restyling the notebook
around it, and the click-to-highlight script working on its own page.

Layering: `trace/` sits below `render/`, so the renderers are imported inside
the methods that use them, never at module level. Drawing needs the Graphviz
`dot` program; without it the diagram methods raise
`graphviz.ExecutableNotFound`.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, overload

from teachtls.trace.events import TraceEvent
from teachtls.trace.jsonl import dump_jsonl, load_jsonl_with_header

Source = Iterable[TraceEvent] | str | os.PathLike[str]
"""What a `Trace` is made from: events, or the path of a JSON Lines trace."""

PAGE_FORMATS = {"html": "html", "markdown": "markdown", "md": "markdown", "rst": "rst"}
IFRAME_HEIGHT = "640px"  # the annotated page scrolls inside a box this high


class Trace(Sequence[TraceEvent]):
    """An immutable list of trace events, with ways to draw, explain and save it.

    `metadata` is what a JSON Lines header carries besides the format's own
    keys (the header of a loaded file; `{"scenario": name}` for a scenario);
    `save` writes it back."""

    def __init__(self, source: Source = (), *, metadata: Mapping[str, Any] | None = None) -> None:
        header: dict[str, Any] = {}
        if isinstance(source, str | os.PathLike):
            header, events = load_jsonl_with_header(source)
            source = events
        self._events: tuple[TraceEvent, ...] = tuple(source)
        for event in self._events:
            if not isinstance(event, TraceEvent):
                raise TypeError(f"a Trace holds TraceEvents, not {type(event).__name__}")
        # The file's own keys ("schema", "version", "redacted") are the format's, not metadata.
        self.metadata: dict[str, Any] = {k: v for k, v in header.items() if k not in ("schema", "version", "redacted")}
        self.metadata.update(metadata or {})
        self.redacted: bool = bool(header.get("redacted", False))

    # --- making one -----------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Trace:
        """Read a JSON Lines trace (raises `TraceFormatError` for a malformed one, `OSError`)."""
        return cls(path)

    @classmethod
    def from_scenario(cls, name: str) -> Trace:
        """The trace of a named deterministic scenario, e.g. "rfc8448-simple".

        Raises `KeyError` for an unknown name (the message lists the known ones)."""
        from teachtls.scenarios.named import run_scenario  # scenarios run connections: a layer above

        return cls(run_scenario(name), metadata={"scenario": name})

    # --- the sequence ---------------------------------------------------------------

    @property
    def events(self) -> list[TraceEvent]:
        """The events, as a new list (changing it does not change the trace)."""
        return list(self._events)

    def __len__(self) -> int:
        return len(self._events)

    @overload
    def __getitem__(self, index: int) -> TraceEvent: ...

    @overload
    def __getitem__(self, index: slice) -> Trace: ...

    def __getitem__(self, index: int | slice) -> TraceEvent | Trace:
        if isinstance(index, slice):
            return Trace(self._events[index], metadata=self.metadata)
        return self._events[index]

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self._events)

    def __eq__(self, other: object) -> bool:
        """Equal to another `Trace` with the same events (metadata aside)."""
        if isinstance(other, Trace):
            return self._events == other._events
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._events)

    def __repr__(self) -> str:
        roles = sorted({event.role for event in self._events})
        name = self.metadata.get("scenario")
        about = f" {name!r}" if name else ""
        return f"<Trace{about}: {len(self)} events, {' and '.join(roles) or 'no roles'}>"

    # --- saving ---------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], *, redact: bool = False) -> Path:
        """Write the trace as JSON Lines; `redact=True` blanks every secret (see `jsonl`).

        A trace loaded from a redacted file stays marked redacted. Returns the
        path. Raises `OSError` if it cannot be written."""
        dump_jsonl(self._events, path, redact=redact or self.redacted, metadata=self.metadata)
        return Path(path)

    # --- drawing and explaining ---------------------------------------------------------

    def diagram(self, detail: str = "messages", *, title: str | None = None) -> str:
        """The sequence diagram as SVG text; `detail` is "messages", "keys" or "records"."""
        from teachtls.render.sequence import sequence_svg

        return sequence_svg(self._events, detail=detail, title=title)

    def keyschedule(self, role: str = "client") -> str:
        """The RFC 8446 §7.1 key schedule `role` computed, as SVG text."""
        from teachtls.render.keyschedule import keyschedule_svg

        return keyschedule_svg(self._events, role)

    def statechart(self, role: str = "client") -> str:
        """`role`'s state machine (RFC 8446 Appendix A) with this trace's path, as SVG text."""
        from teachtls.render.statechart import statechart_svg

        return statechart_svg(role, self._events)

    def page(self, format: str = "html", *, title: str | None = None) -> str:
        """The annotated page, every byte explained: "html" (a whole document), "markdown"/"md" or "rst"."""
        from teachtls.render import pages

        if format not in PAGE_FORMATS:
            raise ValueError(f"format must be one of {', '.join(PAGE_FORMATS)}, not {format!r}")
        render = {"html": pages.render_html, "markdown": pages.render_markdown, "rst": pages.render_rst}
        return render[PAGE_FORMATS[format]](self._events, title=title)

    def walkthrough(self, *, show_secrets: bool = True) -> str:
        """The step-by-step narrative `teachtls demo` prints (plain text, no colours)."""
        from teachtls.render.walkthrough import render_walkthrough

        return render_walkthrough(self._events, show_secrets=show_secrets)

    # --- Jupyter ----------------------------------------------------------------------

    def _repr_svg_(self) -> str:
        return self.diagram()

    def _repr_html_(self) -> str:
        document = self.page("html")
        return (
            f'<iframe title="teachtls: every byte of this trace, explained" srcdoc="{html.escape(document)}" '
            f'style="width:100%;height:{IFRAME_HEIGHT};border:1px solid #d9dde3;border-radius:8px" '
            'sandbox="allow-scripts"></iframe>'
        )


__all__ = ["Trace", "Source"]
