"""The sans-I/O datagram connection: DTLS's record layer and handshake transport.

DTLS is "TLS over datagrams": the handshake messages, the key schedule and
the record protection of TLS, carried by a transport that may lose,
duplicate and reorder what it carries (RFC 6347 §3). `DatagramConnection`
is what changes underneath the TLS handshake code for that; it is mixed in
front of a TLS connection class, so every handler of
teachtls.handshake (on_server_hello, on_finished_12, ...) runs unchanged:

    DTLSClientConnection = DTLS12Connection + DatagramConnection + ClientConnection

Used like the TLS connections, with datagrams instead of a byte stream:

    client = DTLSClientConnection(config)
    client.start_handshake()
    for datagram in client.datagrams_to_send():      # each at most client.mtu bytes
        udp.sendto(datagram, server)
    events = client.receive_datagram(udp.recv())      # one datagram at a time
    ...
    if now >= client.next_timeout():                  # nothing arrived in time
        client.handle_timeout()                       # -> a retransmission

What it does, layer by layer:

* **Records** (RFC 6347 §4.1, teachtls.dtls.record). A datagram is cut
  into DTLSPlaintext records; none may span datagrams, several may share
  one. Each record names its *epoch* -- which keys protect it -- and its
  explicit 48-bit *sequence number*. Every epoch has its own keys, its own
  write counter and its own replay window (teachtls.dtls.replay).
* **Invalid records are dropped, not fatal** (RFC 6347 §4.1.2.7): "In
  general, invalid records SHOULD be silently discarded, thus preserving the
  association". A record that is truncated, of an unknown epoch, replayed,
  or fails authentication is traced (RecordReceived plus a Note saying why)
  and forgotten; the handshake goes on. Only the handshake *messages* keep
  TLS's rules: a complete message that breaks one still ends the
  connection with an alert.
* **Handshake framing** (RFC 6347 §4.2.2-§4.2.3, teachtls.dtls.framing).
  Each message gets a message_seq; a message larger than the datagram is
  fragmented; received fragments are reassembled, and messages are handed
  to the TLS handshake code strictly in message_seq order.
* **Flights and retransmission** (RFC 6347 §4.2.4, teachtls.dtls.flights).
  Outgoing handshake messages (and ChangeCipherSpec) are collected into the
  current flight, each with its epoch. A flight is sent, and sent again
  when the retransmit timer expires or when the peer's previous flight
  arrives again. The timer runs on the injected clock; the caller asks
  `next_timeout()` when to call `handle_timeout()`, so a test can lose a
  datagram and jump ahead one second, exactly.
* **The MTU** (RFC 6347 §4.1.1.1). Datagrams never exceed `mtu` bytes: it
  sets the fragment size of handshake messages, and application data that
  would not fit raises the non-fatal `PacketTooLarge` (GnuTLS's
  GNUTLS_E_LARGE_PACKET), telling the caller to send less or raise the MTU.

What stays version-specific is behind a few hooks, so that DTLS 1.3 (RFC
9147) can reuse all of the above: how a record is protected and opened
(`protect_record`, `unprotect_record`, `record_expansion`), what a
ChangeCipherSpec record means (`on_change_cipher_spec_record`), which form
of a message goes into the transcript (`transcript_form`), and which
message classes exist (`dtls_classes`). DTLS 1.3 (teachtls.dtls.dtls13)
overrides them, and `process_record` for its unified header and ACK
content type, and numbers its epochs by purpose through `install_epoch`.

Deliberately left out: renegotiation over DTLS, PMTU discovery (the MTU is
configured, as in GnuTLS), Connection IDs (RFC 9146), SCTP and DCCP.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from teachtls.config import Config
from teachtls.connection import MESSAGE_RFC, ApplicationData, Connection, Event, summarize
from teachtls.crypto.record12 import RecordProtectionError
from teachtls.dtls import framing, record
from teachtls.dtls.flights import Flight, FlightEntry, RetransmitTimer
from teachtls.dtls.messages import DTLS1_2, dtls_message_classes, summarize_dtls, to_dtls_form, to_tls_form
from teachtls.dtls.replay import DEFAULT_WINDOW_SIZE, ReplayWindow
from teachtls.handshake import alerts
from teachtls.handshake.states import State
from teachtls.trace import events as trace
from teachtls.wire.codec import DecodeError as WireDecodeError
from teachtls.wire.codec import build_struct
from teachtls.wire.enums import ContentType, HandshakeType, to_enum
from teachtls.wire.messages import HandshakeMessage, UnknownHandshakeType, message_name, parse_handshake

DEFAULT_MTU = 1200
"""Bytes per datagram unless `set_mtu` says otherwise: GnuTLS's default,
safely below IPv6's minimum link MTU of 1280 after the IP and UDP headers."""

MINIMUM_MTU = 64
"""Less leaves no room for a protected record carrying one handshake byte."""

MAXIMUM_MTU = 2**16 - 1
"""The largest UDP payload the UDP length field can describe (RFC 768)."""

MAX_DEFERRED_RECORDS = 32
"""Records of the next epoch, or application data that came before Finished,
kept until they can be used (RFC 6347 §4.1: implementations "MAY either
buffer or discard such packets")."""

DTLS_MESSAGE_RFC: dict[int, str] = {
    HandshakeType.client_hello: "RFC 6347 §4.2.1",
    HandshakeType.hello_verify_request_RESERVED: "RFC 6347 §4.2.1",
}


class PacketTooLarge(alerts.TLSError):
    """GNUTLS_E_LARGE_PACKET: a datagram would exceed the MTU. Not fatal.

    Raised by `send_application_data` for data that does not fit one record
    within the MTU (nothing was queued: send less at a time, or raise the
    MTU), and by the UDP session when the operating system refuses a
    datagram as too long (EMSGSIZE: the path MTU is smaller than `mtu`;
    lower it with `set_mtu` and call again). The connection is intact."""

    def __init__(self, size: int, mtu: int, detail: str = "") -> None:
        self.size = size
        self.mtu = mtu
        super().__init__(detail or f"a {size}-byte datagram exceeds the MTU of {mtu} bytes")


@attrs.frozen(kw_only=True)
class DTLSSettings:
    """What a DTLS connection needs beyond `Config`: datagram size, timers, cookies.

    `retransmit_timeout_ms` and `total_timeout_ms` are those of
    gnutls_dtls_set_timeouts (defaults 1 s, RFC 6347 §4.2.4.1, and 60 s);
    the total timeout becomes the connection's handshake timeout."""

    mtu: int = attrs.field(
        default=DEFAULT_MTU, validator=[attrs.validators.ge(MINIMUM_MTU), attrs.validators.le(MAXIMUM_MTU)]
    )
    retransmit_timeout_ms: int = attrs.field(default=1000, validator=attrs.validators.gt(0))
    total_timeout_ms: int = attrs.field(default=60_000, validator=attrs.validators.ge(0))
    replay_window: int = DEFAULT_WINDOW_SIZE
    # Server: demand a cookie exchange (RFC 6347 §4.2.1: "The default SHOULD
    # be that the exchange is performed").
    cookie_exchange: bool = True
    # Server: the secret cookies are MACed with; None picks a random one. A
    # server that runs many connections shares one (teachtls.net.udp).
    cookie_secret: bytes | None = None
    # Server: the client's transport address, MACed into the cookie.
    client_address: bytes = b""


@attrs.define
class Epoch:
    """One direction of one epoch: its keys, and its counter or replay window.

    RFC 6347 §4.1: "Sequence numbers are maintained separately for each
    epoch, with each sequence_number initially being 0 for each epoch."
    Epoch 0 has no keys: its records are plaintext."""

    number: int
    protection: str  # "plaintext", "application" (DTLS 1.3 adds "early", "handshake")
    keys: str = ""  # which keys, for traces: "key_block (client_write)"
    protector: Any = None  # the version's record protection; None in epoch 0
    next_sequence_number: int = 0  # writing: the next record's sequence_number
    window: ReplayWindow = attrs.Factory(ReplayWindow)  # reading: sequence numbers seen


class DatagramConnection(Connection):
    """Records over datagrams, fragmented handshake messages, flights and timers."""

    record_version: ClassVar[int] = DTLS1_2  # written in every record header
    content_types: ClassVar[frozenset[int]] = record.DTLS12_CONTENT_TYPES  # the others are discarded

    def __init__(self, config: Config, dtls: DTLSSettings | None = None) -> None:
        dtls = dtls or DTLSSettings()
        super().__init__(attrs.evolve(config, handshake_timeout_ms=dtls.total_timeout_ms))
        self.dtls = dtls
        self.mtu = dtls.mtu
        # epochs (RFC 6347 §4.1)
        self.read_epochs: dict[int, Epoch] = {0: Epoch(0, "plaintext", window=ReplayWindow(dtls.replay_window))}
        self.write_epochs: dict[int, Epoch] = {0: Epoch(0, "plaintext")}
        self.read_epoch = 0
        self.write_epoch = 0
        self._deferred: list[record.DTLSRecord] = []  # next-epoch records, kept for later
        self._early_application_data: list[bytes] = []  # arrived before the peer's Finished
        self._current_record: record.DTLSRecord | None = None  # the record being processed
        self.received_message: HandshakeMessage | None = None  # the last message, in its DTLS form
        # handshake framing (RFC 6347 §4.2.2)
        self.next_send_seq = 0  # message_seq of our next handshake message
        self.reassembler = framing.Reassembler(0 if self.role == "client" else None)
        # flights and the timer (RFC 6347 §4.2.4)
        self.flight: Flight | None = None
        self.flight_counter = 0  # the number of the latest flight, either side's (Figure 1)
        self._flight_open = False  # our flight is the latest: the peer has not answered it yet
        self._peer_flight_started = False
        self.timer = RetransmitTimer(initial=dtls.retransmit_timeout_ms / 1000)
        # a copy of this peer message means "the peer retransmitted its flight"
        self._retransmit_trigger_seq: int | None = None
        self._peer_retransmitted = False

    # ================================================================
    # public API: datagrams and time
    # ================================================================

    def datagrams_to_send(self) -> list[bytes]:
        """The datagrams to send now, each at most `mtu` bytes, in order.

        Records are packed into as few datagrams as fit (RFC 6347 §4.1.1:
        "Multiple DTLS records may be placed in a single datagram"); a
        record never spans two."""
        self.flush()
        datagrams: list[bytes] = []
        current = b""
        for raw in self._outgoing:
            if current and len(current) + len(raw) > self.mtu:
                datagrams.append(current)
                current = b""
            current += raw
        if current:
            datagrams.append(current)
        self._outgoing = []
        # The sans-I/O boundary: the application gets control back and may
        # wait for the network, so a buffering observer writes its events now.
        self.flush_observer()
        return datagrams

    def data_to_send(self) -> bytes:
        """All pending datagrams, concatenated (DTLS records frame themselves).

        Meant for stream transports and quick experiments; over UDP use
        `datagrams_to_send()`, which keeps the datagram boundaries."""
        return b"".join(self.datagrams_to_send())

    def receive_datagram(self, datagram: bytes) -> list[Event]:
        """Feed one datagram; return what happened.

        Invalid records in it are traced and discarded (RFC 6347 §4.1.2.7).
        Raises, as `receive_data` does: a `LocalAlert` subclass when a
        handshake message broke a rule (the fatal alert is queued and the
        connection closed), `RemoteAlert` for the peer's fatal alert,
        `HandshakeTimeout` when the total timeout has passed."""
        return self.receive_data(datagram)

    def next_timeout(self) -> float | None:
        """When `handle_timeout()` must be called, on the injected clock; None: never.

        The earlier of the retransmit timer and the end of the total
        handshake timeout. (GnuTLS's gnutls_dtls_get_timeout gives the same
        as milliseconds from now.)"""
        if self.closed:
            return None
        deadlines = [self.timer.deadline] if self.timer.deadline is not None else []
        left = self.handshake_time_left()
        if left is not None:
            deadlines.append(self.config.clock() + left)
        return min(deadlines) if deadlines else None

    def handle_timeout(self) -> None:
        """Act on an expired timer: retransmit the flight (doubling the timer),
        or give up with `HandshakeTimeout` when the total timeout has passed.

        Calling it early does nothing. Retransmitted datagrams are collected
        with `datagrams_to_send()`."""
        if self.closed:
            return
        try:
            self.check_timeout()
            now = self.config.clock()
            if self.timer.expired(now):
                waited = self.timer.current
                self.timer.back_off()
                self._retransmit(f"no answer within {waited:g} s")
        finally:
            # Usually `datagrams_to_send()` follows and writes the events; not
            # after `HandshakeTimeout`, so a buffering observer writes them now.
            self.flush_observer()

    def set_mtu(self, mtu: int) -> None:
        """gnutls_dtls_set_mtu: the largest datagram to send, in bytes (UDP payload)."""
        if not MINIMUM_MTU <= mtu <= MAXIMUM_MTU:
            raise ValueError(f"the MTU must be {MINIMUM_MTU} to {MAXIMUM_MTU} bytes, not {mtu}")
        self.mtu = mtu

    def get_data_mtu(self) -> int:
        """gnutls_dtls_get_data_mtu: the most application data one datagram can carry now."""
        epoch = self.write_epochs[self.write_epoch]
        room = self.mtu - self.record_header_length(epoch) - self.record_expansion(epoch)
        return max(0, min(room, record.MAX_PLAINTEXT))

    def set_timeouts(self, retransmit_ms: int, total_ms: int) -> None:
        """gnutls_dtls_set_timeouts: the first retransmission after `retransmit_ms`,
        and no handshake longer than `total_ms` (0: no limit)."""
        self.timer = RetransmitTimer(initial=retransmit_ms / 1000, deadline=self.timer.deadline)
        self.config = attrs.evolve(self.config, handshake_timeout_ms=total_ms)

    def send_application_data(self, data: bytes) -> None:
        """Queue `data` as one application_data record.

        A datagram is the unit of loss, so data is never split across
        records as TLS would: data that does not fit one datagram raises
        `PacketTooLarge` (nothing is queued)."""
        if self.write_closed:
            raise alerts.ConnectionClosed("the connection is closed for writing")
        if self.state is not State.CONNECTED:
            raise alerts.TLSError("application data before the handshake completed")
        limit = self.get_data_mtu()
        if len(data) > limit:
            raise PacketTooLarge(
                len(data) + self.mtu - limit,
                self.mtu,
                f"{len(data)} bytes of application data do not fit a {self.mtu}-byte datagram "
                f"(at most {limit} per record now): send less at a time, or raise the MTU",
            )
        self.observe(trace.ApplicationDataSent(role=self.role, data=data, rfc="RFC 6347 §4.1"))
        self.write_record(ContentType.application_data, data)

    # ================================================================
    # version-specific hooks (DTLS 1.2 in teachtls.dtls.dtls12)
    # ================================================================

    def protect_record(self, epoch: Epoch, content_type: int, payload: bytes, sequence_number: int) -> bytes:
        """The whole record carrying `payload` in `epoch`. Epoch 0: plaintext."""
        if epoch.protector is not None:
            raise NotImplementedError("record protection is version-specific")
        return record.build_record(content_type, self.record_version, epoch.number, sequence_number, payload)

    def unprotect_record(self, epoch: Epoch, dtls_record: record.DTLSRecord) -> tuple[int, bytes]:
        """(content type, plaintext) of a received record. Raises `RecordProtectionError`."""
        if epoch.protector is not None:
            raise NotImplementedError("record protection is version-specific")
        return dtls_record.content_type, dtls_record.fragment

    def record_nonce(self, epoch: Epoch) -> bytes:
        """The nonce or IV of the last record protected or opened in `epoch`, for traces."""
        return b""

    def record_expansion(self, epoch: Epoch) -> int:
        """At most how many bytes protection adds to a record's payload in `epoch`."""
        return 0

    def record_header_length(self, epoch: Epoch) -> int:
        """Bytes of record header in `epoch`: 13 for DTLSPlaintext (DTLS 1.3's
        unified header is shorter, RFC 9147 §4)."""
        return record.HEADER_LENGTH

    def on_change_cipher_spec_record(self, dtls_record: record.DTLSRecord, payload: bytes) -> None:
        """A change_cipher_spec record (DTLS 1.2). Elsewhere: not a valid record."""
        self._discard(dtls_record, "change_cipher_spec has no meaning in this DTLS version", "RFC 9147 §4.1")

    def transcript_form(self, message: bytes) -> bytes:
        """The bytes of a whole DTLS message that go into the transcript.

        DTLS 1.2 hashes the 12-byte header too (RFC 6347 §4.2.6); DTLS 1.3
        uses the TLS form (RFC 9147 §5.2) and overrides this."""
        return message

    def wire_form(self, message: HandshakeMessage) -> HandshakeMessage:
        """A message built by the TLS handshake code, as this DTLS version sends it."""
        return to_dtls_form(message)

    def dtls_classes(self) -> dict[int, type[HandshakeMessage]]:
        return dtls_message_classes(self.message_classes)

    def negotiated_version_name(self) -> str:
        return "DTLS 1.2"

    # ================================================================
    # incoming datagrams (RFC 6347 §4.1)
    # ================================================================

    def split_records(self, datagram: bytes) -> record.SplitDatagram:
        """Cut a datagram into records (DTLS 1.3 adds its unified header here)."""
        return record.split_datagram(datagram)

    def _process_incoming(self) -> None:
        """`receive_data` hands over one datagram: cut it into records, process each."""
        datagram = bytes(self._incoming)
        self._incoming.clear()
        split = self.split_records(datagram)
        for dtls_record in split.records:
            if self.closed or self.peer_closed:
                # RFC 8446 §6.1 (and RFC 5246 §7.2.1): "any data received after a
                # closure alert has been received MUST be ignored."
                return
            self.process_record(dtls_record)
            self._retry_deferred()
        if split.problem and not self.closed:
            self.observe(
                trace.Note(
                    role=self.role,
                    level="warning",
                    text=f"discarded the last {len(split.leftover)} bytes of a datagram: {split.problem}",
                    rfc="RFC 6347 §4.1.2.7",
                )
            )
        if self._peer_retransmitted and not self.closed:
            self._peer_retransmitted = False
            self._retransmit(f"the {self._peer_name} sent its previous flight again: ours was probably lost")

    def _process_record(self, raw: bytes) -> None:
        """The TLS entry point for one record, for completeness: see `process_record`."""
        for dtls_record in self.split_records(raw).records:
            self.process_record(dtls_record)

    def process_record(self, dtls_record: record.DTLSRecord) -> None:
        """One record: check, pick the epoch, check for replay, open, route."""
        # check the header (RFC 6347 §4.1): a DTLS version, a known content type
        if dtls_record.version >> 8 != 0xFE:
            self._discard(dtls_record, f"version {dtls_record.version:#06x} is not a DTLS version", "RFC 6347 §4.1")
            return
        if dtls_record.content_type not in self.content_types:
            self._discard(dtls_record, f"unknown content type {dtls_record.content_type}", "RFC 6347 §4.1.2.7")
            return
        if len(dtls_record.fragment) > record.MAX_CIPHERTEXT:
            self._discard(dtls_record, "longer than 2^14 + 2048 bytes", "RFC 5246 §6.2.3")
            return
        # pick the epoch
        epoch = self.read_epochs.get(dtls_record.epoch)
        if epoch is None:
            self._defer_or_discard(dtls_record)
            return
        if (
            dtls_record.epoch < self.read_epoch
            and self.state is State.CONNECTED
            and dtls_record.content_type != ContentType.handshake
        ):
            # RFC 6347 §4.1: "implementations SHOULD discard packets from earlier
            # epochs" -- once the handshake is over. (Handshake records are kept:
            # the peer's retransmissions tell us our last flight was lost.)
            self._discard(dtls_record, f"epoch {dtls_record.epoch} ended with the handshake", "RFC 6347 §4.1")
            return
        # check for replay: "This SHOULD be the first check applied to a packet
        # after it has been matched to a session" (RFC 6347 §4.1.2.6).
        verdict = epoch.window.check(dtls_record.sequence_number)
        if verdict != "new":
            self._discard(
                dtls_record,
                f"replayed: sequence number {dtls_record.sequence_number} of epoch {dtls_record.epoch} "
                + ("was received already" if verdict == "duplicate" else "is older than the replay window"),
                "RFC 6347 §4.1.2.6",
            )
            return
        # open: a record that fails authentication is discarded (RFC 6347 §4.1.2.7)
        try:
            content_type, payload = self.unprotect_record(epoch, dtls_record)
        except RecordProtectionError as error:
            self._discard(dtls_record, f"failed authentication ({error.reason})", "RFC 6347 §4.1.2.7")
            return
        # "The receive window is updated only if the MAC verification succeeds."
        epoch.window.mark_received(dtls_record.sequence_number)
        self._trace_dtls_record(trace.RecordReceived, dtls_record.raw, epoch, dtls_record.sequence_number, payload)
        self._current_record = dtls_record
        self.route_record(dtls_record, epoch, content_type, payload)

    def _defer_or_discard(self, dtls_record: record.DTLSRecord) -> None:
        """A record of an epoch we have no keys for (yet)."""
        if dtls_record.epoch == self.read_epoch + 1 and len(self._deferred) < MAX_DEFERRED_RECORDS:
            # RFC 6347 §4.1: records "protected by the newly negotiated context
            # ... received prior to the completion of a handshake ...
            # Implementations MAY either buffer or discard such packets".
            self._deferred.append(dtls_record)
            self.observe(
                trace.Note(
                    role=self.role,
                    text=f"a record of epoch {dtls_record.epoch} arrived before its keys (reordered): "
                    "kept until the ChangeCipherSpec that starts the epoch",
                    rfc="RFC 6347 §4.1",
                )
            )
            return
        self._discard(
            dtls_record, f"epoch {dtls_record.epoch} is not in use (current epoch: {self.read_epoch})", "RFC 6347 §4.1"
        )

    def _retry_deferred(self) -> None:
        """Process kept records whose epoch has begun."""
        ready = [kept for kept in self._deferred if kept.epoch in self.read_epochs]
        for kept in ready:
            self._deferred.remove(kept)
            if not self.closed:
                self.process_record(kept)

    def _discard(self, dtls_record: record.DTLSRecord, reason: str, rfc: str) -> None:
        """Trace an invalid record and drop it: "invalid records SHOULD be silently
        discarded, thus preserving the association" (RFC 6347 §4.1.2.7)."""
        epoch = self.read_epochs.get(dtls_record.epoch)
        protection = epoch.protection if epoch is not None else "plaintext" if dtls_record.epoch == 0 else "unknown"
        if self.tracing:
            self.observe(
                trace.RecordReceived(
                    role=self.role,
                    content_type=dtls_record.content_type,
                    raw=dtls_record.raw,
                    protection=protection,
                    sequence_number=dtls_record.sequence_number,
                    rfc="RFC 6347 §4.1",
                )
            )
        self.observe(trace.Note(role=self.role, level="warning", text=f"record discarded: {reason}", rfc=rfc))

    def route_record(self, dtls_record: record.DTLSRecord, epoch: Epoch, content_type: int, payload: bytes) -> None:
        """Hand an opened record's content to its protocol (DTLS 1.3 adds ACK here)."""
        if content_type == ContentType.handshake:
            self._on_handshake_record(dtls_record, payload)
        elif content_type == ContentType.change_cipher_spec:
            self.on_change_cipher_spec_record(dtls_record, payload)
        elif content_type == ContentType.alert:
            if len(payload) != 2:
                self._discard(dtls_record, f"an alert of {len(payload)} bytes, not 2", "RFC 6347 §4.1.2.7")
                return
            self._on_alert(payload)
        elif content_type == ContentType.application_data:
            self._on_application_record(dtls_record, epoch, payload)
        else:
            self._discard(dtls_record, f"content type {content_type} is not allowed here", "RFC 6347 §4.1.2.7")

    def keep_until_finished(self, payload: bytes, until: str, rfc: str) -> None:
        """Hold application data that overtook the peer's Finished (a few records at most)."""
        if len(self._early_application_data) < MAX_DEFERRED_RECORDS:
            self._early_application_data.append(payload)
            self.observe(
                trace.Note(
                    role=self.role,
                    text=f"application data arrived before {until} (reordered): kept until then",
                    rfc=rfc,
                )
            )

    def _on_application_record(self, dtls_record: record.DTLSRecord, epoch: Epoch, payload: bytes) -> None:
        if epoch.protection == "plaintext" or dtls_record.epoch != self.read_epoch:
            self._discard(dtls_record, "application data must be protected with the current keys", "RFC 6347 §4.1")
            return
        if self.state is not State.CONNECTED:
            # RFC 6347 §4.2.4: "Implementations MUST either discard or buffer all
            # application data packets for the new epoch until they have
            # received the Finished message for that epoch."
            self.keep_until_finished(payload, "the handshake finished", "RFC 6347 §4.2.4")
            return
        if self.flight is not None and self._flight_open and self.timer.deadline is None:
            # We hold our last flight in case it was lost; data protected with
            # the new keys shows the peer got it (RFC 6347 §4.2.4).
            self.flight = None
        self._deliver_application_data(payload)

    def _deliver_application_data(self, data: bytes) -> None:
        self.observe(trace.ApplicationDataReceived(role=self.role, data=data, rfc="RFC 6347 §4.1"))
        self.events.append(ApplicationData(data))

    # ================================================================
    # handshake messages over records (RFC 6347 §4.2.2, §4.2.3)
    # ================================================================

    def _on_handshake_record(self, dtls_record: record.DTLSRecord, payload: bytes) -> None:
        try:
            fragments = framing.parse_fragments(payload)
        except WireDecodeError as error:
            self._discard(dtls_record, f"malformed handshake fragment: {error}", "RFC 6347 §4.1.2.7")
            return
        if not fragments:
            self._discard(dtls_record, "an empty handshake record", "RFC 6347 §4.1.2.7")
            return
        for fragment in fragments:
            self._on_fragment(fragment)
        self._dispatch_ready()

    def _on_fragment(self, fragment: framing.HandshakeFragment) -> framing.Outcome:
        """Hand one fragment to the reassembler and trace what became of it; return that."""
        outcome = self.reassembler.add(fragment)
        name = _type_name(fragment.msg_type)
        where = f"{name} (message_seq {fragment.message_seq})"
        if outcome == "old":
            # RFC 6347 §4.2.2: "If the sequence number is less than
            # next_receive_seq, the message MUST be discarded." A copy of the
            # last message of the peer's previous flight means the peer
            # retransmitted that flight: ours did not (all) arrive.
            if fragment.message_seq == self._retransmit_trigger_seq and fragment.fragment_offset == 0:
                self._peer_retransmitted = True
            self.observe(
                trace.Note(
                    role=self.role,
                    text=f"{where} again: a retransmission of a message already processed, discarded",
                    rfc="RFC 6347 §4.2.2",
                )
            )
        elif outcome != "new":
            self.observe(
                trace.Note(role=self.role, level="warning", text=f"{where} discarded: {outcome}", rfc="RFC 6347 §4.2.2")
            )
        elif not fragment.is_whole_message:
            self.observe(
                trace.Note(
                    role=self.role,
                    text=f"fragment of {where}: bytes {fragment.fragment_offset}..{fragment.end} of {fragment.length}",
                    rfc="RFC 6347 §4.2.3",
                )
            )
        return outcome

    def _dispatch_ready(self) -> None:
        """Hand every complete message that is next in message_seq order to the handshake."""
        while not self.closed:
            message = self.reassembler.pop_message()
            if message is None:
                return
            self._peer_flight_begins()
            self._dispatch(message)
            self.after_message()

    def after_message(self) -> None:
        """Called after each received message is processed (a hook for versions)."""
        if self.state is State.CONNECTED and self._early_application_data:
            held, self._early_application_data = self._early_application_data, []
            for data in held:
                self._deliver_application_data(data)

    def _dispatch(self, raw: bytes) -> None:
        """Parse one whole DTLS message, trace it, run its transition (RFC 6347 §4.2.2)."""
        try:
            message, spans = parse_handshake(framing.tls_message(raw), record=self.tracing, classes=self.dtls_classes())
        except UnknownHandshakeType as error:
            raise alerts.UnexpectedMessage(
                f"handshake message type {error.msg_type} is not a {self.negotiated_version_name()} message",
                rfc="RFC 6347 §4.2.2",
            ) from None
        except WireDecodeError as error:
            raise alerts.DecodeError(str(error), rfc="RFC 5246 §7.2.2") from None
        name = message_name(message)
        if self.tracing:
            self.observe(
                trace.MessageReceived(
                    role=self.role,
                    name=name,
                    msg_type=raw[0],
                    raw=raw,
                    fields=tuple(framing.message_spans(raw, spans)),
                    summary=summarize_dtls(message) or summarize(to_tls_form(message)),
                    rfc=DTLS_MESSAGE_RFC.get(raw[0]) or MESSAGE_RFC.get(raw[0], "RFC 6347 §4.2"),
                )
            )
        self.received_message = message  # the DTLS form, for DTLS-only fields (the cookie)
        self.run_transition(HandshakeType(raw[0]), name, to_tls_form(message), raw)

    def received(self, raw: bytes, name: str) -> None:
        """Add a received message to the transcript, in this version's form."""
        super().received(self.transcript_form(raw), name)

    def send_handshake(self, message: HandshakeMessage, *, transcript: bool = True) -> bytes:
        """Give a message its message_seq, add it to the transcript and the current flight.

        RFC 6347 §4.2.2: "The first message each side transmits in each
        handshake always has message_seq = 0. Whenever each new message is
        generated, the message_seq value is incremented by one." Returns the
        whole message (12-byte header, fragment_offset 0)."""
        wire_message = self.wire_form(message)
        body = build_struct(wire_message)
        raw = framing.build_fragment(int(message.msg_type), len(body), self.next_send_seq, 0, body)
        self.next_send_seq += 1
        name = message_name(message)
        if transcript:
            self.sent_to_transcript(self.transcript_form(raw), name)
        if self.tracing:
            _, spans = parse_handshake(framing.tls_message(raw), classes=self.dtls_classes())
            self.observe(
                trace.MessageSent(
                    role=self.role,
                    name=name,
                    msg_type=raw[0],
                    raw=raw,
                    fields=tuple(framing.message_spans(raw, spans)),
                    summary=summarize_dtls(wire_message) or summarize(message),
                    rfc=DTLS_MESSAGE_RFC.get(raw[0]) or MESSAGE_RFC.get(raw[0], "RFC 6347 §4.2"),
                )
            )
        self.add_to_flight(
            FlightEntry(content_type=ContentType.handshake, payload=raw, epoch=self.write_epoch, name=name)
        )
        self.flush()  # into records at once, so a trace shows each message with its records
        return raw

    def sent_to_transcript(self, raw: bytes, name: str) -> None:
        self.transcript.add(raw, name)

    # ================================================================
    # flights and retransmission (RFC 6347 §4.2.4)
    # ================================================================

    @property
    def _peer_name(self) -> str:
        return "server" if self.role == "client" else "client"

    def _peer_flight_begins(self) -> None:
        """A new message from the peer: it answered our flight (RFC 6347 §4.2.4,
        WAITING -> "Receive next flight"). Our next message starts a new flight."""
        if self._flight_open or not self._peer_flight_started:
            self.flight_counter += 1
        self._flight_open = False
        self._peer_flight_started = True

    def add_to_flight(self, entry: FlightEntry) -> None:
        """Queue `entry`; the first entry after the peer's flight starts a new flight."""
        if self.flight is None or not self._flight_open:
            previous = self.flight
            if previous is not None and previous.transmissions <= 1:
                self.timer.reset_value()
            self.flight_counter += 1
            self.flight = Flight(number=self.flight_counter)
            self._flight_open = True
            self._peer_flight_started = False
            self.timer.stop()
            # A copy of the peer message we are answering will mean our answer was lost.
            last_received = self.reassembler.next_receive_seq
            self._retransmit_trigger_seq = last_received - 1 if last_received else None
        self.flight.entries.append(entry)

    def flush(self) -> None:
        """Send the flight's new entries; then arm the timer -- or, when the
        handshake is complete, stop it (RFC 6347 §4.2.4: FINISHED)."""
        flight = self.flight
        if flight is not None and flight.sent < len(flight.entries):
            for entry in flight.entries[flight.sent :]:
                self._transmit(entry)
            flight.sent = len(flight.entries)
            flight.transmissions = max(flight.transmissions, 1)
            self.timer.start(self.config.clock())
        if self.state in (State.CONNECTED, State.CLOSED):
            self.timer.stop()
            if not self._flight_open:
                self.flight = None  # the peer's last flight answered ours: nothing to hold

    def _transmit(self, entry: FlightEntry) -> None:
        """Write one flight entry as records of its epoch, fragmenting to the MTU."""
        epoch = self.write_epochs[entry.epoch]
        if entry.content_type != ContentType.handshake:
            self._write_record_in(epoch, entry.content_type, entry.payload)
            return
        room = (
            self.mtu - self.record_header_length(epoch) - self.record_expansion(epoch) - framing.HANDSHAKE_HEADER_LENGTH
        )
        for fragment in framing.fragment_message(entry.payload, max(room, 1)):
            self._write_record_in(epoch, ContentType.handshake, fragment)

    def _retransmit(self, reason: str) -> None:
        """Send the whole current flight again (RFC 6347 §4.2.4) and re-arm the timer."""
        flight = self.flight
        if flight is None or not flight.sent:
            self.timer.stop()
            return
        flight.transmissions += 1
        waiting = self.state not in (State.CONNECTED, State.CLOSED)
        after = f"; next timeout in {self.timer.current:g} s" if waiting else ""
        self.observe(
            trace.Note(
                role=self.role,
                text=f"retransmitting flight {flight.number} ({flight.names}): {reason}{after}",
                rfc="RFC 6347 §4.2.4",
            )
        )
        for entry in flight.entries[: flight.sent]:
            self._transmit(entry)
        if waiting:
            self.timer.start(self.config.clock())

    # ================================================================
    # outgoing records (RFC 6347 §4.1)
    # ================================================================

    def write_record(self, content_type: int, payload: bytes) -> None:
        """Write one record in the current write epoch (alerts, application data)."""
        self._write_record_in(self.write_epochs[self.write_epoch], content_type, payload)

    def _write_record_in(self, epoch: Epoch, content_type: int, payload: bytes) -> None:
        sequence_number = epoch.next_sequence_number
        if sequence_number > record.MAX_SEQUENCE_NUMBER:
            # RFC 6347 §4.1: "implementations MUST either abandon an association
            # or rehandshake prior to allowing the sequence number to wrap."
            raise alerts.TLSError(f"epoch {epoch.number} has used all 2^48 sequence numbers")
        raw = self.protect_record(epoch, content_type, payload, sequence_number)
        epoch.next_sequence_number += 1
        self._trace_dtls_record(trace.RecordSent, raw, epoch, sequence_number, payload)
        self._outgoing.append(raw)

    def _trace_dtls_record(
        self,
        kind: type[trace.RecordSent] | type[trace.RecordReceived],
        raw: bytes,
        epoch: Epoch,
        sequence_number: int,
        payload: bytes,
        *,
        content_type: int | None = None,
        padding_length: int = 0,
    ) -> None:
        """Trace one record. `content_type` is a DTLS 1.3 record's inner type
        (RFC 9147 §4); a DTLS 1.2 record has only the one in its header."""
        if not self.tracing:
            return
        protected = epoch.protector is not None
        self.observe(
            kind(
                role=self.role,
                content_type=raw[0],
                raw=raw,
                protection=epoch.protection,
                sequence_number=sequence_number,
                inner_content_type=(raw[0] if content_type is None else content_type) if protected else None,
                plaintext=payload,
                padding_length=padding_length,
                nonce=self.record_nonce(epoch) if protected else b"",
                keys=epoch.keys,
                rfc=self.record_rfc,
            )
        )

    def install_epoch(
        self, direction: str, protection: str, keys: str, protector: object, number: int | None = None
    ) -> Epoch:
        """Begin the next epoch in `direction` ("read" or "write") with these keys.

        RFC 6347 §4.1: "The epoch number is initially zero and is incremented
        each time a ChangeCipherSpec message is sent." The previous epoch is
        kept: our flight may need retransmitting in it, and the peer's
        retransmissions may still arrive in it ("Until the handshake has
        completed, implementations MUST accept packets from the old epoch").
        `number` skips ahead (DTLS 1.3 numbers its epochs by purpose, RFC
        9147 §6.1); by default the epoch goes up by one."""
        if direction == "write":
            self.write_epoch = self.write_epoch + 1 if number is None else number
            epoch = Epoch(self.write_epoch, protection, keys, protector)
            self.write_epochs[epoch.number] = epoch
        else:
            self.read_epoch = self.read_epoch + 1 if number is None else number
            epoch = Epoch(self.read_epoch, protection, keys, protector, window=ReplayWindow(self.dtls.replay_window))
            self.read_epochs[epoch.number] = epoch
        if epoch.number > record.MAX_EPOCH:
            raise alerts.TLSError("RFC 6347 §4.1: the epoch must not wrap; start a new association")
        verb = "records we send" if direction == "write" else "records we accept"
        self.observe(
            trace.Note(
                role=self.role,
                text=f"{direction} epoch {epoch.number} begins: {verb} now carry epoch {epoch.number} "
                f"and are protected with {keys}; sequence numbers start again at 0",
                rfc="RFC 6347 §4.1",
            )
        )
        return epoch

    # ================================================================
    # the rest of the connection
    # ================================================================

    def _close(self) -> None:
        super()._close()
        self.timer.stop()
        self._deferred.clear()

    negotiation_rfc = "RFC 6347 §4.2"
    record_rfc = "RFC 6347 §4.1"  # cited by every record event (DTLS 1.3 overrides it)


def _type_name(msg_type: int) -> str:
    member = to_enum(HandshakeType, msg_type)
    if isinstance(member, HandshakeType):
        return "".join(part.capitalize() for part in member.name.removesuffix("_RESERVED").split("_"))
    return f"handshake type {msg_type}"
