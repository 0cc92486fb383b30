"""Observers: where trace events go.

An observer is any `Callable[[TraceEvent], None]`. A connection always has one
-- `ignore` by default, so the protocol code calls it unconditionally and
never guards with `if observer is not None` (h2's `DummyLogger` does the same).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from teachtls.trace.events import TraceEvent

Observer = Callable[[TraceEvent], None]


def ignore(event: TraceEvent) -> None:
    """The default observer: tracing off."""


class Recorder:
    """Keeps every event in memory, in order: `recorder.events`."""

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []

    def __call__(self, event: TraceEvent) -> None:
        self.events.append(event)

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def of_type(self, event_type: type[TraceEvent]) -> list[TraceEvent]:
        return [event for event in self.events if isinstance(event, event_type)]


def fan_out(*observers: Observer) -> Observer:
    """One observer that forwards each event to several."""

    def forward(event: TraceEvent) -> None:
        for observer in observers:
            observer(event)

    return forward
