"""The sliding anti-replay window (RFC 6347 §4.1.2.6, from IPsec ESP, RFC 4303 §3.4.3).

An attacker on the path can record a DTLS datagram and send it again; UDP
itself may deliver a datagram twice. Over TCP the implicit sequence number
made a replayed TLS record fail its MAC. In DTLS the sequence number is in
the header, so the receiver must remember which numbers it has seen:

    "For each received record, the receiver MUST verify that the record
    contains a sequence number that does not duplicate the sequence number
    of any other record received during the life of this session."

Remembering every number would cost unbounded memory, so the receiver keeps
a *window*: the highest sequence number it has validated (the "right
edge") and, for the `size` numbers just below it, one bit each saying
"seen". Then, for an arriving sequence number:

* to the right of the window (higher than anything seen): new;
* inside the window, bit clear: new (it was merely reordered);
* inside the window, bit set: a duplicate -- discard;
* left of the window: too old to tell -- discard.

"A minimum window size of 32 MUST be supported, but a window size of 64 is
preferred and SHOULD be employed as the default."

The check happens before the MAC is verified, to reject duplicates cheaply;
the window moves only after (RFC 6347 §4.1.2.6: "The receive window is
updated only if the MAC verification succeeds") -- otherwise a forged record
with a huge sequence number would push the window past every genuine one.
Hence two methods, `check` and `mark_received`. Each epoch has its own
window (RFC 9147 §4.5.1), because each epoch numbers its records from 0.
"""

from __future__ import annotations

from typing import Literal

DEFAULT_WINDOW_SIZE = 64

Verdict = Literal["new", "duplicate", "too old"]


class ReplayWindow:
    """One epoch's window of recently received sequence numbers."""

    def __init__(self, size: int = DEFAULT_WINDOW_SIZE) -> None:
        if size < 32:
            raise ValueError("RFC 6347 §4.1.2.6: the window must hold at least 32 sequence numbers")
        self.size = size
        self.right_edge = -1  # the highest sequence number validated so far; -1: none yet
        self.seen = 0  # bit i set: right_edge - i was received (bit 0 is right_edge itself)

    def check(self, sequence_number: int) -> Verdict:
        """Is `sequence_number` new? (Before the MAC check; changes nothing.)"""
        if sequence_number > self.right_edge:
            return "new"
        behind = self.right_edge - sequence_number
        if behind >= self.size:
            return "too old"
        return "duplicate" if self.seen >> behind & 1 else "new"

    def mark_received(self, sequence_number: int) -> None:
        """Record a sequence number whose record authenticated (slides the window)."""
        if sequence_number > self.right_edge:
            shift = sequence_number - self.right_edge
            self.seen = (self.seen << shift | 1) & ((1 << self.size) - 1)
            self.right_edge = sequence_number
        else:
            self.seen |= 1 << (self.right_edge - sequence_number)
