"""Observers: where trace events go.

An observer is any `Callable[[TraceEvent], None]`. A connection always has one
-- `ignore` by default, so the protocol code calls it unconditionally and
never guards with `if observer is not None` (h2's `DummyLogger` does the same).

Buffering. A handshake makes about a hundred events, so an observer that
writes somewhere slow -- a file, one system call per write -- may keep them
and write them in one go. Such an observer also has a `flush()` method that
writes whatever it kept. The connection calls it every time it hands control
back to the application at its sans-I/O boundary: when `receive_data()` and
`data_to_send()` return or raise (and, for DTLS, `datagrams_to_send()` and
`handle_timeout()`). Whatever the application does -- start a handshake,
send, close -- it then calls `data_to_send()` to get the bytes, so every
event has been written before it next waits for the network. `JsonlWriter`
is such an observer; `Recorder` and plain functions need no `flush()`.

An observer that passes events on to others (`fan_out`, `ConnectionRecorder`
in net/server.py) forwards `flush()` to them. `flush_of(observer)` is the
observer's `flush`, or a function that does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from teachtls.trace.events import TraceEvent

Observer = Callable[[TraceEvent], None]


def ignore(event: TraceEvent) -> None:
    """The default observer: tracing off."""


def nothing_to_flush() -> None:
    """The `flush()` of an observer that keeps nothing back."""


def flush_of(observer: Observer) -> Callable[[], None]:
    """`observer.flush` if it buffers, else a function that does nothing."""
    flush: Callable[[], None] = getattr(observer, "flush", nothing_to_flush)
    return flush


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


class FanOut:
    """One observer that forwards each event to several, and `flush()` to those that buffer."""

    def __init__(self, *observers: Observer) -> None:
        self.observers = observers
        self.flushes = tuple(map(flush_of, observers))

    def __call__(self, event: TraceEvent) -> None:
        for observer in self.observers:
            observer(event)

    def flush(self) -> None:
        for flush in self.flushes:
            flush()


def fan_out(*observers: Observer) -> FanOut:
    """One observer that forwards each event to several (see `FanOut`)."""
    return FanOut(*observers)
