"""The non-fatal conditions of a TLS session: "again", "interrupted", "warning alert", re-handshakes.

A blocking session has a simple contract: a call returns when its work is
done, or raises when the session is lost. A *non-blocking* socket breaks
that contract on purpose. `sock.recv()` may have nothing to give yet and
`sock.send()` may take only part of the bytes, or none; a signal may cut a
system call short (EINTR). None of this is an error of TLS: the session is
fine, it just cannot finish *now*.

GnuTLS reports these situations as negative return codes that are not fatal,
and asks the caller to call the same function again later. The manual page
of gnutls_handshake lists them: GNUTLS_E_AGAIN and GNUTLS_E_INTERRUPTED
"interrupt the handshake procedure due to the transport layer being
interrupted", GNUTLS_E_WARNING_ALERT_RECEIVED reports "a warning alert that
was sent by the peer"; "on these non-fatal errors call this function again,
until it returns 0; cf. gnutls_record_get_direction() and
gnutls_error_is_fatal()". teachtls uses exceptions for the same three:

==================================  ==========================================
GnuTLS                              teachtls (`teachtls.net.nonblocking`)
==================================  ==========================================
GNUTLS_E_AGAIN                      `WouldBlock` (also spelled `Again`), with
                                    `direction` "read" or "write"
GNUTLS_E_INTERRUPTED                `Interrupted` (EINTR), with `direction`
GNUTLS_E_WARNING_ALERT_RECEIVED     `WarningAlert`, with `level` and
                                    `description`
GNUTLS_E_LARGE_PACKET (DTLS)        `PacketTooLarge` (teachtls.dtls): a datagram
                                    over the MTU; lower it, call again
GNUTLS_E_GOT_APPLICATION_DATA       `ApplicationDataPending` (TLS 1.2), with
                                    `size`: read it with recv(), call again
GNUTLS_E_REHANDSHAKE                `RehandshakeRequested` (TLS 1.2 client, with
                                    `Config.report_hello_request`)
gnutls_record_get_direction()       `session.direction` ("read" / "write")
gnutls_error_is_fatal()             `is_fatal(error)`
==================================  ==========================================

All of them subclass `TLSError`, so a caller that only wants "did it work?"
can catch that one class, and `is_fatal` tells the two kinds apart.

The last two belong to the TLS 1.2 re-handshake (RFC 5746), where a whole
new handshake runs inside a connection that keeps carrying data. The peer
does not stop sending just because we want to renegotiate: its records
already on the way arrive in the middle of the new handshake. GnuTLS will
not drop them, and will not hide them either: gnutls_handshake() returns
GNUTLS_E_GOT_APPLICATION_DATA, the application reads them with
gnutls_record_recv(), then calls gnutls_handshake() again. teachtls does
the same with `ApplicationDataPending`.

Why "call again" can work at all: the session (teachtls/net/session.py)
never loses a byte. Bytes the socket refused stay in the session's unsent
buffer; bytes that arrived are already inside the sans-I/O connection, which
buffers partial records itself; events not yet looked at wait in a queue.
So the next call starts exactly where the last one stopped.

`wait_for` and `retry` are what an application does between two calls:
wait (with `select`/`poll`, here `selectors`) until the socket can move in
the direction the session asked for, then call again.

A note on EINTR in Python: since PEP 475 (Python 3.5) the socket module
retries a system call interrupted by a signal by itself, unless the signal
handler raises. So a real socket almost never raises `InterruptedError`;
`Interrupted` exists for transports that do (and for the tests, which use
one), and to keep the GnuTLS model complete.

Not for production: see the README.
"""

from __future__ import annotations

import selectors
import time
from collections.abc import Callable
from typing import Literal, Protocol, TypeVar

from teachtls.dtls.connection import PacketTooLarge
from teachtls.handshake.alerts import TLSError
from teachtls.wire.enums import AlertDescription, AlertLevel

Direction = Literal["read", "write"]
"""Which way a session was trying to move bytes when it had to stop."""

T = TypeVar("T")


class WouldBlock(TLSError):
    """GNUTLS_E_AGAIN: the socket cannot move bytes now; call the same method again.

    `direction` says what the session was waiting for: "read" (wait until
    the socket is readable) or "write" (until it is writable), as
    gnutls_record_get_direction() does. Not fatal: nothing was lost."""

    def __init__(self, direction: Direction) -> None:
        self.direction: Direction = direction
        super().__init__(f"the socket would block while trying to {direction}: call again when it is ready")


Again = WouldBlock
"""The GnuTLS name (GNUTLS_E_AGAIN) for `WouldBlock`."""


class Interrupted(TLSError):
    """GNUTLS_E_INTERRUPTED: a system call was interrupted (EINTR); call again.

    Not fatal: nothing was lost."""

    def __init__(self, direction: Direction) -> None:
        self.direction: Direction = direction
        super().__init__(f"interrupted (EINTR) while trying to {direction}: call again")


class WarningAlert(TLSError):
    """GNUTLS_E_WARNING_ALERT_RECEIVED: the peer sent a non-fatal alert.

    Inspect `level` and `description`, then call the same method again to
    continue. RFC 8446 §6: in TLS 1.3 all alerts except close_notify and
    user_canceled are fatal whatever level they claim, so the only warning
    a TLS 1.3 peer can send this way is user_canceled (§6.1: "This alert
    notifies the recipient that the sender is canceling the handshake for
    some reason unrelated to a protocol failure"). The handshake may go on
    regardless; it is the application's decision, as GnuTLS leaves it."""

    def __init__(self, description: AlertDescription | int, level: AlertLevel = AlertLevel.warning) -> None:
        self.level = level
        self.description = description
        name = description.name if isinstance(description, AlertDescription) else f"unknown ({description})"
        super().__init__(f"the peer sent a warning alert: {name}")


class ApplicationDataPending(TLSError):
    """GNUTLS_E_GOT_APPLICATION_DATA: application data arrived during a re-handshake.

    Raised by `handshake()` while it drives a TLS 1.2 re-handshake and
    application data is waiting: the peer's records that were already on
    their way (RFC 5246 lets them arrive between the messages of the new
    handshake). The data is queued, not lost: read it with `recv()` (one
    piece per call, none of them waits for the network), then call
    `handshake()` again, which continues exactly where it stopped. It raises
    this again as long as data is waiting. `size` is how many bytes wait
    (what gnutls_record_check_pending() would say). Not fatal."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(
            f"{size} byte(s) of application data arrived during the re-handshake: "
            "read them with recv(), then call handshake() again"
        )


class RehandshakeRequested(TLSError):
    """GNUTLS_E_REHANDSHAKE: the server asked for a new handshake (a TLS 1.2 HelloRequest).

    Raised by a client's `recv()` when `Config.report_hello_request` leaves the
    decision to the application (by default the connection answers at once).
    Nothing has been answered yet. Either call `handshake()` to renegotiate,
    or simply call `recv()` again: RFC 5246 §7.4.1.1, "This message MAY be
    ignored by the client if it does not wish to renegotiate a session". Not
    fatal."""

    def __init__(self) -> None:
        super().__init__("the server asks for a re-handshake (HelloRequest): call handshake() to accept")


NON_FATAL: tuple[type[BaseException], ...] = (
    WouldBlock,  # GNUTLS_E_AGAIN
    Interrupted,  # GNUTLS_E_INTERRUPTED
    WarningAlert,  # GNUTLS_E_WARNING_ALERT_RECEIVED
    # A blocking socket with a timeout (`sock.settimeout(s)`) that waited in
    # vain. GnuTLS sees the same situation as EAGAIN from a socket with
    # SO_RCVTIMEO, i.e. GNUTLS_E_AGAIN: the session is intact, call again.
    # (The *handshake* timeout, `HandshakeTimeout`, is GNUTLS_E_TIMEDOUT: fatal.)
    TimeoutError,
    # GNUTLS_E_LARGE_PACKET (DTLS): a datagram over the MTU; lower it, call again.
    PacketTooLarge,
    ApplicationDataPending,  # GNUTLS_E_GOT_APPLICATION_DATA: recv(), then handshake() again
    RehandshakeRequested,  # GNUTLS_E_REHANDSHAKE: handshake() to accept, or recv() to ignore
)
"""Errors after which the session is intact and the call may be repeated."""


def is_fatal(error: BaseException) -> bool:
    """gnutls_error_is_fatal(): must the session be abandoned after `error`?

    False for the conditions in `NON_FATAL` (call the same method again);
    True for everything else: alerts sent or received, `HandshakeTimeout`,
    the peer hanging up, any other exception. Meant for errors raised by a
    session's methods (handshake, send, recv, close). As the GnuTLS manual
    warns, a non-fatal condition -- a warning alert -- may still be fatal
    *for your application*."""
    return not isinstance(error, NON_FATAL)


# --- waiting between two calls ---------------------------------------------------------


class Selectable(Protocol):
    """Anything `selectors` can watch: a socket, or an object with a file descriptor."""

    def fileno(self) -> int: ...


def wait_for(sock: Selectable, direction: Direction, timeout: float | None = None) -> bool:
    """Wait until `sock` is ready to `direction` ("read" or "write"); False on timeout.

    This is the select()/poll() the GnuTLS manual suggests between a
    GNUTLS_E_AGAIN and the next call."""
    events = selectors.EVENT_READ if direction == "read" else selectors.EVENT_WRITE
    with selectors.DefaultSelector() as selector:
        selector.register(sock, events)
        return bool(selector.select(timeout))


def retry(operation: Callable[[], T], sock: Selectable, timeout: float | None = None) -> T:
    """Call `operation()` until it stops raising `WouldBlock` / `Interrupted`.

    Between calls, wait for the socket in the direction the condition names.
    `timeout` bounds the whole wait (TimeoutError after it); a `WarningAlert`,
    the re-handshake conditions and fatal errors are left to the caller.

        completed = retry(session.handshake, sock, timeout=10)
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            return operation()
        except Interrupted:
            continue  # EINTR: simply call again (PEP 475 does the same for sockets)
        except WouldBlock as again:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not wait_for(sock, again.direction, left):
                raise TimeoutError(f"the socket did not become ready to {again.direction} in time") from again
