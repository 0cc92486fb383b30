"""Flights and the retransmission timer (RFC 6347 §4.2.4, §4.2.4.1).

A lost TCP segment is resent by TCP. A lost datagram is simply gone, so the
DTLS handshake brings its own reliability. Its unit is the *flight*: the
messages one side sends before it waits for the other (RFC 6347 Figure 1):

    Client                                          Server
    ClientHello             -------->                           Flight 1
                            <-------    HelloVerifyRequest      Flight 2
    ClientHello             -------->                           Flight 3
                                           ServerHello ... ServerHelloDone
                            <--------                           Flight 4
    [Certificate] ClientKeyExchange [CertificateVerify]
    [ChangeCipherSpec] Finished  -------->                      Flight 5
                            <--------  [ChangeCipherSpec] Finished  Flight 6

"Although each flight of messages may consist of a number of messages, they
should be viewed as monolithic for the purpose of timeout and
retransmission." A side that has sent a flight and waits (the WAITING
state of RFC 6347 Figure 3) leaves that state in one of three ways:

1. its retransmit timer expires: it sends the whole flight again, doubles
   the timer, and waits again;
2. it receives a retransmission of the peer's previous flight -- "the likely
   result of timer expiry on the peer", so part of its own flight was lost:
   it sends the flight again;
3. it receives the peer's next flight: the timer stops, and it prepares its
   own next flight (or, if that was the last flight, it is FINISHED).

The side that sends the *last* flight cannot know whether it arrived, so
"when in the FINISHED state, the node that transmits the last flight ...
MUST respond to a retransmit of the peer's last flight with a retransmit of
the last flight" -- which is why a `Flight` is kept after it was sent.

Timer values (RFC 6347 §4.2.4.1): "an initial timer value of 1 second ...
and double the value at each retransmission, up to no less than the RFC
6298 maximum of 60 seconds." GnuTLS makes the initial value settable
(gnutls_dtls_set_timeouts), as does `RetransmitTimer(initial=...)`.

The timer reads no clock: callers pass `now` (the connection's injected
clock), so a test can lose a datagram and jump 1 s ahead in one line.
"""

from __future__ import annotations

import attrs

DEFAULT_RETRANSMIT_TIMEOUT = 1.0  # seconds, RFC 6347 §4.2.4.1
MAXIMUM_RETRANSMIT_TIMEOUT = 60.0  # seconds, RFC 6298 §2.5 via RFC 6347 §4.2.4.1


@attrs.frozen(kw_only=True)
class FlightEntry:
    """One item of a flight, with the epoch it must be (re)sent in.

    RFC 9147 §4.2.1: "Implementations MUST send retransmissions of lost
    messages using the same epoch and keying material as the original
    transmission." A handshake entry holds a whole message (12-byte DTLS
    header, fragment_offset 0), fragmented afresh at each transmission, so
    a retransmission after a lowered MTU uses smaller fragments (RFC 6347
    §4.1.1.1)."""

    content_type: int  # ContentType.handshake or ContentType.change_cipher_spec
    payload: bytes
    epoch: int
    name: str  # "ClientHello", "ChangeCipherSpec", ...


@attrs.define
class Flight:
    """The messages of one flight, numbered as in RFC 6347 Figure 1."""

    number: int
    entries: list[FlightEntry] = attrs.Factory(list)
    sent: int = 0  # how many entries have been transmitted at least once
    transmissions: int = 0  # how often the whole flight went out (1 = never retransmitted)

    @property
    def names(self) -> str:
        return ", ".join(entry.name for entry in self.entries)


@attrs.define
class RetransmitTimer:
    """When to resend the current flight; doubles after each expiry (RFC 6347 §4.2.4.1)."""

    initial: float = DEFAULT_RETRANSMIT_TIMEOUT
    maximum: float = MAXIMUM_RETRANSMIT_TIMEOUT
    current: float = attrs.field(default=attrs.Factory(lambda self: self.initial, takes_self=True))
    deadline: float | None = None  # on the injected clock; None: not running

    def start(self, now: float) -> None:
        """(Re)arm the timer with its current value."""
        self.deadline = now + self.current

    def stop(self) -> None:
        self.deadline = None

    def expired(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    def back_off(self) -> None:
        """Double the timer value, up to the maximum."""
        self.current = min(self.current * 2, self.maximum)

    def reset_value(self) -> None:
        """Back to the initial value, after a flight that needed no retransmission.

        RFC 6347 §4.2.4.1: "Implementations SHOULD retain the current timer
        value until a transmission without loss occurs, at which time the
        value may be reset to the initial value." """
        self.current = self.initial
