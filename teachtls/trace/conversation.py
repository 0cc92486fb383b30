"""A trace seen as one conversation: each record and message once, with its direction.

A trace may come from an in-memory pair (`teachtls demo`, the RFC 8448
scenarios), where both roles are traced and every record and message
appears twice -- sent by one side, received by the other -- or from one side
of a live connection, where each appears once, as sent or as received.
`conversation(events)` hides that difference: it yields each record and each
handshake message exactly once, taking the sender's view when the sender is
in the trace (its event has the plaintext before encryption) and the
receiver's otherwise. Renderers and the pcapng exporter build on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from teachtls.trace import events as trace

ROLES = ("client", "server")


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
