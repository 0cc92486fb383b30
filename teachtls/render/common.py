"""What every renderer needs: loading a trace, and seeing it as one conversation.

Renderers only read traces (RFC-named events from `teachtls.trace.events`);
they never import the protocol code. A trace may come from:

* an in-memory pair (`teachtls demo`, the RFC 8448 scenarios): both roles
  are traced, so every record and message appears twice -- once as sent by
  one side, once as received by the other;
* one side of a live connection (`teachtls connect --trace`): each record and
  message appears once, as sent or as received.

`conversation(events)` hides that difference: it yields each record and each
handshake message exactly once, with its direction, taking the sender's view
when the sender is in the trace (its event has the plaintext before
encryption) and the receiver's otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import attrs

from teachtls.trace import events as trace
from teachtls.trace.jsonl import load_jsonl

TraceLike = Sequence[trace.TraceEvent] | str | os.PathLike[str]

ROLES = ("client", "server")


def load(source: TraceLike) -> list[trace.TraceEvent]:
    """A list of events from a list, or from a JSON Lines file path."""
    if isinstance(source, str | os.PathLike):
        return load_jsonl(source)
    return list(source)


def roles_in(events: Iterable[trace.TraceEvent]) -> set[str]:
    return {event.role for event in events}


def peer_of(role: str) -> str:
    return "server" if role == "client" else "client"


@attrs.frozen
class Step:
    """One thing that crossed the wire, seen once: who sent it to whom."""

    sender: str
    receiver: str
    event: trace.TraceEvent  # a RecordEvent or MessageEvent


def conversation(events: Sequence[trace.TraceEvent]) -> list[Step]:
    """Records and handshake messages, each once, in trace order."""
    both = roles_in(events) >= set(ROLES)
    steps = []
    for event in events:
        if isinstance(event, trace.RecordSent | trace.MessageSent):
            steps.append(Step(event.role, peer_of(event.role), event))
        elif isinstance(event, trace.RecordReceived | trace.MessageReceived) and not both:
            steps.append(Step(peer_of(event.role), event.role, event))
    return steps


def short_hex(value: bytes, length: int = 8) -> str:
    """`1f2e3d4c…` -- the first `length` bytes, for labels."""
    if len(value) <= length:
        return value.hex()
    return value[:length].hex() + "…"


def protection_of(event: trace.RecordEvent) -> str:
    """ "plaintext", "handshake", "application" or "early" (KeyUpdate generations fold in)."""
    return event.protection


def failures(events: Sequence[trace.TraceEvent]) -> list[trace.TraceEvent]:
    """Failed checks, failed verifications and fatal alerts, in order."""
    found: list[trace.TraceEvent] = []
    for event in events:
        if (
            (isinstance(event, trace.CheckPerformed) and not event.passed)
            or (
                isinstance(event, trace.CertificateChecked | trace.SignatureVerified | trace.FinishedVerified)
                and (not event.ok)
            )
            or (isinstance(event, trace.AlertEvent) and event.description != "close_notify")
        ):
            found.append(event)
    return found
