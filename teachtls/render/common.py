"""What every renderer needs: loading a trace, and seeing it as one conversation.

Renderers only read traces (RFC-named events from `teachtls.trace.events`);
they never import the protocol code. A trace may come from:

* an in-memory pair (`teachtls demo`, the RFC 8448 scenarios): both roles
  are traced, so every record and message appears twice -- once as sent by
  one side, once as received by the other;
* one side of a live connection (`teachtls connect --trace`): each record and
  message appears once, as sent or as received.

`conversation(events)` (from teachtls.trace.conversation, re-exported here)
hides that difference: it yields each record and each handshake message
exactly once, with its direction.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from teachtls.trace import events as trace
from teachtls.trace.conversation import ROLES, Step, conversation, peer_of, roles_in
from teachtls.trace.jsonl import load_jsonl

TraceLike = Sequence[trace.TraceEvent] | str | os.PathLike[str]


def load(source: TraceLike) -> list[trace.TraceEvent]:
    """A list of events from a list, or from a JSON Lines file path."""
    if isinstance(source, str | os.PathLike):
        return load_jsonl(source)
    return list(source)


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


__all__ = [
    "ROLES",
    "Step",
    "TraceLike",
    "conversation",
    "failures",
    "load",
    "peer_of",
    "protection_of",
    "roles_in",
    "short_hex",
]
