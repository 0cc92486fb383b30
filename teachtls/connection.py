"""The sans-I/O connection: bytes in, events and bytes out (RFC 8446 §5, §6).

`Connection` is the machinery both roles share; `ClientConnection`
(teachtls/handshake/client13.py) and `ServerConnection`
(teachtls/handshake/server13.py) add the handshake handlers of their table.
Used like h11 or h2:

    client = ClientConnection(config)
    client.start_handshake()
    transport.send(client.data_to_send())
    for event in client.receive_data(transport.recv()):
        ...                      # HandshakeCompleted, ApplicationData, ...

A connection owns no socket, thread or clock. What it does:

* **Record layer** (RFC 8446 §5). Incoming bytes are cut into records; each
  record is checked (type, length limits), decrypted when read keys are
  installed (AEAD with a per-record nonce, §5.3), its padding stripped
  (§5.4) and routed by content type. Outgoing handshake messages are queued
  and flushed into as few records as fit -- several messages may share one
  record, one message may span several -- and protected with the current
  write keys.
* **Handshake dispatch** (RFC 8446 Appendix A). Handshake messages are
  reassembled across records, parsed, and looked up in the role's state
  table; no entry means `unexpected_message`.
* **Key schedule bookkeeping** (RFC 8446 §7). Secrets are computed by the
  pure functions of `teachtls.keyschedule.tls13`, stored under their RFC
  names in `self.secrets`, and traced.
* **Alerts** (RFC 8446 §6). A `LocalAlert` raised anywhere below is caught in
  one place, the alert record is queued for the peer, traced, and the
  connection is closed before the exception reaches the caller.

Everything notable is reported to `config.observer` as a trace event. When
nobody listens (the observer is `ignore`), the hot paths do not build their
events at all: the record layer, the message spans, application data, and
the bookkeeping helpers below that every handshake calls dozens of times
(`derive`, `extract`, `install_keys`, `transcript_hash`, `set_state`,
`check`). Each guards its one event with `if self.tracing:`; making those
events for nobody cost about 5% of an untraced handshake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import attrs
from cryptography import x509

from teachtls.config import Config
from teachtls.crypto.aead import CIPHER_SUITES, Aead, AeadError, CipherSuiteParams, per_record_nonce
from teachtls.crypto.hashes import HashAlg
from teachtls.crypto.record12 import MAX_CIPHERTEXT_LENGTH as MAX_CIPHERTEXT_12
from teachtls.crypto.record12 import RecordProtectionError
from teachtls.handshake import alerts
from teachtls.handshake.states import TABLES, RecordMessage, State, Trigger
from teachtls.handshake.transcript import Transcript
from teachtls.keyschedule import tls13 as keyschedule
from teachtls.trace import events as trace
from teachtls.trace.observer import flush_of, ignore
from teachtls.wire import messages as m
from teachtls.wire import record as wire_record
from teachtls.wire.codec import DecodeError as WireDecodeError
from teachtls.wire.enums import (
    AlertDescription,
    AlertLevel,
    CipherSuite,
    ContentType,
    HandshakeType,
    KeyUpdateRequest,
    ProtocolVersion,
    name_of,
    to_enum,
)
from teachtls.wire.extensions import ALLOWED_CONTEXTS, Extension
from teachtls.wire.messages import (
    MESSAGE_CLASSES,
    HandshakeMessage,
    KeyUpdate,
    UnknownHandshakeType,
    build_handshake,
    message_name,
    parse_handshake,
)

# A bound on one handshake message, so a peer cannot make us buffer without
# limit (RFC 8446 does not fix one; a certificate chain is the largest message).
MAX_HANDSHAKE_MESSAGE = 2**18


# --- events returned to the application ----------------------------------------


@attrs.frozen(kw_only=True)
class HandshakeCompleted:
    """The handshake finished: what was negotiated."""

    version: str
    cipher_suite: str
    group: str
    signature_scheme: str
    alpn_protocol: bytes | None
    server_name: str | None
    peer_certificates: tuple[x509.Certificate, ...]
    hello_retry: bool
    resumed: bool = False  # a PSK from an earlier session was accepted
    early_data_accepted: bool = False


@attrs.frozen
class ApplicationData:
    data: bytes
    early: bool = False  # 0-RTT data, received before the handshake finished (RFC 8446 §2.3)


@attrs.frozen
class CloseNotifyReceived:
    """The peer will send no more data (RFC 8446 §6.1)."""


@attrs.frozen(kw_only=True)
class WarningAlertReceived:
    """A non-fatal alert (in TLS 1.3 only user_canceled may be one)."""

    description: int


@attrs.frozen(kw_only=True)
class SessionTicketReceived:
    """A NewSessionTicket arrived (RFC 8446 §4.6.1)."""

    ticket_lifetime: int
    ticket: bytes


@attrs.frozen(kw_only=True)
class KeyUpdated:
    """Traffic keys were updated (RFC 8446 §4.6.3)."""

    direction: str  # "read" or "write"
    generation: int


@attrs.frozen
class HelloRequestReceived:
    """A TLS 1.2 server asks for a re-handshake (RFC 5246 §7.4.1.1), left to the
    application because `Config.report_hello_request` is set. Nothing was
    answered yet: `renegotiate()` accepts, and ignoring it is allowed ("This
    message MAY be ignored by the client if it does not wish to renegotiate")."""


Event = (
    HandshakeCompleted
    | ApplicationData
    | CloseNotifyReceived
    | WarningAlertReceived
    | SessionTicketReceived
    | KeyUpdated
    | HelloRequestReceived
)


# --- one direction of record protection -------------------------------------------


@attrs.define
class RecordProtection:
    """The AEAD state of one direction: keys from one traffic secret (§5.2, §5.3)."""

    protection: str  # "handshake", "application", "early"
    secret_name: str
    params: CipherSuiteParams
    key: bytes
    iv: bytes
    aead: Aead
    sequence_number: int = 0


# --- the connection -------------------------------------------------------------


class Connection:
    """Record layer, dispatch, key bookkeeping and alerts shared by both roles."""

    role: ClassVar[str] = ""
    machine: str = ""  # "client13", "server12", ...: which table is running
    state_machine_rfc = "RFC 8446 §A"
    # HKDF-Expand-Label's prefix: "tls13 " (RFC 8446 §7.1); DTLS 1.3 uses "dtls13" (RFC 9147 §5.9).
    label_prefix: ClassVar[bytes] = keyschedule.LABEL_PREFIX

    def __init__(self, config: Config) -> None:
        self.config = config
        self.observe = config.observer
        self.flush_observer = flush_of(config.observer)  # writes what a buffering observer kept
        self.tracing = config.observer is not ignore
        self.state = State.START
        self.table = TABLES[self.machine]
        self.transcript = Transcript()
        self.secrets: dict[str, bytes] = {}
        self.events: list[Event] = []

        # negotiated parameters
        self.cipher_suite: CipherSuite | None = None
        self.params: CipherSuiteParams | None = None
        self.group: int | None = None
        self.signature_scheme: int | None = None
        self.alpn_protocol: bytes | None = None
        self.server_name: str | None = None
        self.peer_certificates: tuple[x509.Certificate, ...] = ()
        self.peer_staple: bytes | None = None  # OCSP response stapled to the peer's leaf
        self.hello_retry = False
        self.version: int | None = None  # ProtocolVersion once negotiated
        self.message_classes: Mapping[int, type[HandshakeMessage]] = MESSAGE_CLASSES
        self.resumed = False
        self.early_data_accepted = False
        self.max_early_data = 0  # how much 0-RTT data we accept (server)
        self.early_data_received = 0
        self.early_data_skip_budget = 0  # rejected 0-RTT bytes we may still skip

        # record layer
        self._incoming = bytearray()
        self._outgoing: list[bytes] = []
        self._handshake_in = b""
        self._handshake_out: list[bytes] = []
        self._read: RecordProtection | None = None
        self._write: RecordProtection | None = None
        self._change_cipher_spec_allowed = False  # RFC 8446 §5 window
        self.peer_record_size_limit: int | None = None  # RFC 8449, peer's value
        self.own_record_size_limit: int | None = None  # RFC 8449, enforced on receipt
        self.read_generation = 0
        self.write_generation = 0
        self.handshake_started_at: float | None = None  # injected clock, seconds
        self.key_update_times: list[float] = []
        self.closed = False  # nothing more can happen on this connection
        self.write_closed = False  # we sent close_notify (or a fatal alert)
        self.peer_closed = False  # the peer sent close_notify

    # ================================================================
    # public API
    # ================================================================

    @property
    def handshake_complete(self) -> bool:
        return self.state is State.CONNECTED

    def data_to_send(self) -> bytes:
        """Bytes to write to the transport (and forget)."""
        self.flush()
        data = b"".join(self._outgoing)
        self._outgoing = []
        # The sans-I/O boundary: the application gets control back and may
        # wait for the network, so a buffering observer writes its events now.
        self.flush_observer()
        return data

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the transport; return what happened.

        The events include those of our own actions since the previous call
        (e.g. `KeyUpdated` for a `key_update()`).

        Raises a `LocalAlert` subclass when the peer broke a rule (the alert
        to send is then in `data_to_send()` and the connection is closed), or
        `RemoteAlert` when the peer sent a fatal alert. Events produced before
        the error are kept on the exception as `.events`."""
        try:
            return self._receive(data)
        finally:
            # The sans-I/O boundary, also when raising: the application gets
            # control back, so a buffering observer writes its events now.
            self.flush_observer()

    def _receive(self, data: bytes) -> list[Event]:
        if self.closed:
            raise alerts.ConnectionClosed("the connection is closed")
        if self.handshake_started_at is None:
            self.handshake_started_at = self.config.clock()
        self.check_timeout()
        self._incoming += data
        # self.events may already hold events of our own actions since the last
        # call (KeyUpdated after key_update()): they are returned now too.
        try:
            self._process_incoming()
        except alerts.LocalAlert as alert:
            self._fail(alert)
            alert.events = self.events  # type: ignore[attr-defined]
            raise
        except alerts.RemoteAlert as alert:
            self._close()
            alert.events = self.events  # type: ignore[attr-defined]
            raise
        except alerts.TLSError:
            raise
        except Exception as error:
            # A bug of ours must still end the connection the way the RFC
            # says: with an internal_error alert (RFC 8446 §6.2), never silence.
            internal = alerts.InternalError(f"{type(error).__name__}: {error}", rfc="RFC 8446 §6.2")
            self._fail(internal)
            raise internal from error
        self.flush()
        events, self.events = self.events, []
        return events

    def handshake_time_left(self) -> float | None:
        """Seconds until the handshake timeout, or None when no limit applies."""
        timeout = self.config.handshake_timeout_ms
        if not timeout or self.handshake_started_at is None or self.state in (State.CONNECTED, State.CLOSED):
            return None
        return self.handshake_started_at + timeout / 1000 - self.config.clock()

    def check_timeout(self) -> None:
        """Raise `HandshakeTimeout` (and close) if the handshake took too long.

        The I/O layer calls this whenever it wakes up; `receive_data` calls it
        too. The clock is the injected one, so tests control time exactly."""
        left = self.handshake_time_left()
        if left is None or left > 0:
            return
        self._handshake_out = []
        self._outgoing = []
        self.observe(
            trace.Note(
                role=self.role,
                level="warning",
                text=f"handshake timeout: not finished within {self.config.handshake_timeout_ms} ms "
                f"(state {self.state.value}); closing without sending anything more",
            )
        )
        self._close()
        self.flush_observer()  # the I/O layer calls this directly: a boundary too
        raise alerts.HandshakeTimeout(f"the handshake did not finish within {self.config.handshake_timeout_ms} ms")

    def send_application_data(self, data: bytes) -> None:
        """Queue application data (RFC 8446 §5.1: fragmented into records)."""
        if self.write_closed:
            raise alerts.ConnectionClosed("the connection is closed for writing")
        if self.state is not State.CONNECTED:
            raise alerts.TLSError("application data before the handshake completed")
        if self.tracing:  # the bulk-data path: skip building an event nobody reads
            self.observe(trace.ApplicationDataSent(role=self.role, data=data))
        self.write_fragmented(ContentType.application_data, data)

    def close(self) -> None:
        """Send close_notify (RFC 8446 §6.1) and stop writing.

        This closes our write side only: the peer's remaining data and its own
        close_notify can still be received ("half-close")."""
        if self.write_closed:
            return
        self._send_alert(AlertLevel.warning, AlertDescription.close_notify, "closing the connection")
        self.write_closed = True
        if self.peer_closed:
            self._close()

    def key_update(self, request_peer: bool = True) -> None:
        """Send a KeyUpdate and switch to the next write keys (RFC 8446 §4.6.3).

        With `request_peer`, ask the peer to update its keys too."""
        if self.state is not State.CONNECTED:
            raise alerts.TLSError("KeyUpdate is only possible after the handshake")
        request = KeyUpdateRequest.update_requested if request_peer else KeyUpdateRequest.update_not_requested
        self.send_handshake(KeyUpdate(request_update=request), transcript=False)
        self.flush()
        self.update_traffic_secret("write")

    # ================================================================
    # incoming records (RFC 8446 §5)
    # ================================================================

    def _process_incoming(self) -> None:
        while len(self._incoming) >= wire_record.HEADER_LENGTH and not self.closed:
            content_type, _version, length = wire_record.parse_header(bytes(self._incoming[:5]))
            if content_type not in (20, 21, 22, 23):
                # RFC 8446 §5: "If a TLS implementation receives an unexpected
                # record type, it MUST terminate the connection with an
                # 'unexpected_message' alert."
                raise alerts.UnexpectedMessage(f"unknown record content type {content_type}", rfc="RFC 8446 §5")
            if length > wire_record.MAX_CIPHERTEXT and self.version != ProtocolVersion.TLS1_2:
                raise alerts.RecordOverflow(f"record length {length} exceeds 2^14 + 256", rfc="RFC 8446 §5.2")
            if length > MAX_CIPHERTEXT_12:
                # RFC 5246 §6.2.3: a TLS 1.2 TLSCiphertext "MUST NOT exceed 2^14 + 2048"
                # (CBC padding may reach 255 bytes, beyond TLS 1.3's 2^14 + 256).
                raise alerts.RecordOverflow(f"record length {length} exceeds 2^14 + 2048", rfc="RFC 5246 §6.2.3")
            if len(self._incoming) < wire_record.HEADER_LENGTH + length:
                return
            # bytes(memoryview(...)[:n]) copies once; bytes(bytearray[:n]) would copy twice.
            raw = bytes(memoryview(self._incoming)[: wire_record.HEADER_LENGTH + length])
            del self._incoming[: wire_record.HEADER_LENGTH + length]
            self._process_record(raw)

    def _process_record(self, raw: bytes) -> None:
        content_type = raw[0]

        if self.version == ProtocolVersion.TLS1_2:
            self._process_record_12(raw)
            return

        if content_type == ContentType.change_cipher_spec:
            self._on_change_cipher_spec(raw, raw[wire_record.HEADER_LENGTH :])
            return

        if self._read is None or self._plaintext_alert_allowed(content_type):
            fragment = raw[wire_record.HEADER_LENGTH :]
            self._trace_record_received(raw, content_type, "plaintext", 0)
            if content_type == ContentType.application_data and self.early_data_skip_budget:
                self._skip_early_data_record(raw)  # 0-RTT data after our HelloRetryRequest
                return
            if content_type == ContentType.application_data:
                raise alerts.UnexpectedMessage(
                    "application_data record before any keys were established", rfc="RFC 8446 §5"
                )
            if len(fragment) > wire_record.MAX_PLAINTEXT:
                raise alerts.RecordOverflow(
                    f"TLSPlaintext fragment of {len(fragment)} bytes exceeds 2^14", rfc="RFC 8446 §5.1"
                )
            self._route(content_type, fragment)
            return

        if content_type != ContentType.application_data:
            # RFC 8446 §5: once keys are in use every record is a TLSCiphertext
            # with opaque_type application_data (change_cipher_spec excepted).
            raise alerts.UnexpectedMessage(
                f"unprotected {name_of(to_enum(ContentType, content_type))} record after keys were established",
                rfc="RFC 8446 §5.1",
            )
        unprotected = self._unprotect(raw)
        if unprotected is not None:
            self._route(unprotected[0], unprotected[1])

    def _process_record_12(self, raw: bytes) -> None:
        """TLS 1.2 records (RFC 5246 §6.2): the real content type is in the
        header, and after ChangeCipherSpec *every* record is protected --
        a ChangeCipherSpec of a re-handshake included."""
        content_type, fragment = raw[0], raw[wire_record.HEADER_LENGTH :]
        protection = self._read
        if protection is None:
            self._trace_record_received(raw, content_type, "plaintext", 0)
            if content_type == ContentType.application_data:
                raise alerts.UnexpectedMessage("application_data record before ChangeCipherSpec", rfc="RFC 5246 §7.4.9")
            if len(fragment) > wire_record.MAX_PLAINTEXT:
                raise alerts.RecordOverflow(
                    f"TLSPlaintext fragment of {len(fragment)} bytes exceeds 2^14", rfc="RFC 5246 §6.2.1"
                )
        else:
            fragment = self._unprotect_12(raw)
        if content_type == ContentType.change_cipher_spec:
            if fragment != b"\x01":
                raise alerts.UnexpectedMessage(
                    f"ChangeCipherSpec with contents {fragment.hex() or '(empty)'}, not 01", rfc="RFC 5246 §7.1"
                )
            self.run_transition(RecordMessage.change_cipher_spec, "ChangeCipherSpec", None, b"")
            return
        self._route(content_type, fragment)

    def _unprotect_12(self, raw: bytes) -> bytes:
        protection = self._read
        assert protection is not None
        sequence_number = protection.sequence_number
        try:
            version = int.from_bytes(raw[1:3], "big")
            plaintext: bytes = protection.protector.open(  # type: ignore[attr-defined]
                sequence_number, raw[0], version, raw[5:]
            )
        except RecordProtectionError as error:
            self._trace_record_received(raw, raw[0], protection.protection, sequence_number)
            alert = alerts.RecordOverflow if error.kind == "record_overflow" else alerts.BadRecordMac
            raise alert(f"record {sequence_number}: {error.reason}", rfc=error.rfc) from None
        protection.sequence_number += 1
        if self.tracing:
            details = protection.protector.last_record  # type: ignore[attr-defined]
            self.observe(
                trace.RecordReceived(
                    role=self.role,
                    content_type=raw[0],
                    raw=raw,
                    protection=protection.protection,
                    sequence_number=sequence_number,
                    inner_content_type=raw[0],
                    plaintext=plaintext,
                    nonce=(details.nonce or details.record_iv) if details is not None else b"",
                    keys=protection.secret_name,
                    rfc="RFC 5246 §6.2.3",
                )
            )
        return plaintext

    def skip_early_data(self, budget: int) -> None:
        """Ignore the peer's 0-RTT records (rejected early data), up to `budget` bytes.

        RFC 8446 §4.2.10: the server "skips past early data by attempting to
        deprotect received records using the handshake traffic key, and
        discarding records which fail deprotection (up to the configured
        max_early_data_size)"."""
        self.early_data_skip_budget = budget

    def _skip_early_data_record(self, raw: bytes) -> None:
        self._trace_record_received(raw, raw[0], "skipped 0-RTT", 0)
        self.early_data_skip_budget -= len(raw) - wire_record.HEADER_LENGTH
        if self.early_data_skip_budget < 0:
            raise alerts.UnexpectedMessage("more rejected 0-RTT data than max_early_data_size", rfc="RFC 8446 §4.2.10")

    def _unprotect(self, raw: bytes) -> tuple[int, bytes, int] | None:
        """Decrypt one TLSCiphertext (RFC 8446 §5.2) and strip its padding (§5.4)."""
        protection = self._read
        assert protection is not None
        # a memoryview: the AEAD reads the encrypted_record in place, without a copy
        header, encrypted_record = raw[:5], memoryview(raw)[5:]
        nonce = per_record_nonce(protection.iv, protection.sequence_number)
        try:
            inner = protection.aead.open(nonce, encrypted_record, header)
        except AeadError:
            if self.early_data_skip_budget and protection.protection == "handshake":
                self._skip_early_data_record(raw)
                return None
            self._trace_record_received(raw, raw[0], protection.protection, protection.sequence_number)
            raise alerts.BadRecordMac(
                f"record {protection.sequence_number} failed AEAD authentication with {protection.secret_name} keys",
                rfc="RFC 8446 §5.2",
            ) from None
        sequence_number = protection.sequence_number
        protection.sequence_number += 1
        self.early_data_skip_budget = 0
        if len(inner) > wire_record.MAX_INNER_PLAINTEXT:
            raise alerts.RecordOverflow(
                f"TLSInnerPlaintext of {len(inner)} bytes exceeds 2^14 + 1", rfc="RFC 8446 §5.2"
            )
        if self.own_record_size_limit is not None and len(inner) > self.own_record_size_limit:
            raise alerts.RecordOverflow(
                f"TLSInnerPlaintext of {len(inner)} bytes exceeds our record_size_limit {self.own_record_size_limit}",
                rfc="RFC 8449 §4",
            )
        # RFC 8446 §5.4: the content type is the last non-zero byte.
        unpadded = inner.rstrip(b"\x00")
        padding_length = len(inner) - len(unpadded)
        if not unpadded:
            self._trace_record_received(raw, raw[0], protection.protection, sequence_number)
            raise alerts.UnexpectedMessage(
                "TLSInnerPlaintext contains no non-zero byte (no content type)", rfc="RFC 8446 §5.4"
            )
        inner_type, plaintext = unpadded[-1], unpadded[:-1]
        if self.tracing:
            self.observe(
                trace.RecordReceived(
                    role=self.role,
                    content_type=raw[0],
                    raw=raw,
                    protection=protection.protection,
                    sequence_number=sequence_number,
                    inner_content_type=inner_type,
                    plaintext=plaintext,
                    padding_length=padding_length,
                    nonce=nonce,
                    keys=protection.secret_name,
                )
            )
        if not plaintext and inner_type in (ContentType.handshake, ContentType.alert):
            # RFC 8446 §5.4: "Implementations MUST NOT send Handshake and Alert records that
            # have a zero-length TLSInnerPlaintext.content; if such a message is received, the
            # receiving implementation MUST terminate the connection with an 'unexpected_message' alert."
            raise alerts.UnexpectedMessage(
                f"zero-length {name_of(to_enum(ContentType, inner_type))} TLSInnerPlaintext.content",
                rfc="RFC 8446 §5.4",
            )
        return inner_type, plaintext, padding_length

    def _route(self, content_type: int, fragment: bytes) -> None:
        self._check_not_interleaved(content_type)
        if content_type == ContentType.handshake:
            if not fragment:
                # RFC 8446 §5.1: "Implementations MUST NOT send zero-length
                # fragments of Handshake types, even if those fragments contain padding."
                raise alerts.UnexpectedMessage("zero-length handshake fragment", rfc="RFC 8446 §5.1")
            self._on_handshake_bytes(fragment)
        elif content_type == ContentType.alert:
            self._on_alert(fragment)
        elif content_type == ContentType.application_data:
            self._on_application_data(fragment)
        else:
            # RFC 8446 §5: a protected change_cipher_spec, or an unknown inner type.
            raise alerts.UnexpectedMessage(f"inner content type {content_type} is not allowed here", rfc="RFC 8446 §5")

    def _plaintext_alert_allowed(self, content_type: int) -> bool:
        """A plaintext alert may still arrive after we installed the peer's
        handshake keys, until the first record protected with them: a client
        that rejects our ServerHello has no keys to encrypt its alert with.
        (OpenSSL's ENC_READ_STATE_ALLOW_PLAIN_ALERTS is the same window.)"""
        return (
            content_type == ContentType.alert
            and self._read is not None
            and self._read.protection == "handshake"
            and self._read.sequence_number == 0
        )

    def _check_not_interleaved(self, content_type: int) -> None:
        """RFC 8446 §5.1: "Handshake messages MUST NOT be interleaved with other
        record types. That is, if a handshake message is split over two or more
        records, there MUST NOT be any other records between them." """
        if content_type != ContentType.handshake and self._handshake_in:
            raise alerts.UnexpectedMessage(
                f"{name_of(to_enum(ContentType, content_type))} record interleaved with the fragments "
                "of a handshake message",
                rfc="RFC 8446 §5.1",
            )

    def _on_change_cipher_spec(self, raw: bytes, fragment: bytes) -> None:
        """RFC 8446 §5: the middlebox-compatibility record, dropped when valid.

        "An implementation may receive an unencrypted record of type
        change_cipher_spec consisting of the single byte value 0x01 at any
        time after the first ClientHello message has been sent or received
        and before the peer's Finished message has been received and MUST
        simply drop it without further processing. ... An implementation
        which receives any other change_cipher_spec value or which receives
        a protected change_cipher_spec record MUST abort the handshake with
        an 'unexpected_message' alert." """
        self._trace_record_received(raw, raw[0], "plaintext", 0)
        if len(fragment) > wire_record.MAX_PLAINTEXT:
            # RFC 8446 §5.1: change_cipher_spec is a TLSPlaintext too, so its 2^14 limit applies.
            raise alerts.RecordOverflow(
                f"TLSPlaintext fragment of {len(fragment)} bytes exceeds 2^14", rfc="RFC 8446 §5.1"
            )
        self._check_not_interleaved(ContentType.change_cipher_spec)
        if fragment != b"\x01":
            raise alerts.UnexpectedMessage(
                f"change_cipher_spec record with contents {fragment.hex() or '(empty)'}, not 01",
                rfc="RFC 8446 §5",
            )
        if not self._change_cipher_spec_allowed:
            raise alerts.UnexpectedMessage("change_cipher_spec outside the handshake", rfc="RFC 8446 §5")

    def _on_application_data(self, data: bytes) -> None:
        assert self._read is not None
        if self._read.protection not in ("application", "early"):
            raise alerts.UnexpectedMessage("application data protected with handshake keys", rfc="RFC 8446 §2")
        early = self._read.protection == "early"
        if early:
            self.early_data_received += len(data)
            if self.early_data_received > self.max_early_data:
                # RFC 8446 §4.2.10: more than max_early_data_size "SHOULD" end
                # the connection with an "unexpected_message" alert.
                raise alerts.UnexpectedMessage(
                    f"{self.early_data_received} bytes of 0-RTT data exceed max_early_data_size {self.max_early_data}",
                    rfc="RFC 8446 §4.2.10",
                )
        if self.tracing:  # the bulk-data path, as in send_application_data
            self.observe(trace.ApplicationDataReceived(role=self.role, data=data))
        self.events.append(ApplicationData(data, early=early))

    def _on_alert(self, fragment: bytes) -> None:
        """RFC 8446 §6: an alert is two bytes, level and description."""
        if len(fragment) != 2:
            raise alerts.DecodeError(f"alert of {len(fragment)} bytes, not 2", rfc="RFC 8446 §6")
        level, description = fragment[0], fragment[1]
        described = to_enum(AlertDescription, description)
        self.observe(
            trace.AlertReceived(
                role=self.role,
                level=name_of(to_enum(AlertLevel, level)),
                description=name_of(described),
            )
        )
        if description == AlertDescription.close_notify:
            # RFC 8446 §6.1: "any data received after a closure alert has
            # been received MUST be ignored."
            self.peer_closed = True
            self.events.append(CloseNotifyReceived())
            self._incoming.clear()
            if self.write_closed:
                self._close()
            return
        if level == AlertLevel.warning and (
            description == AlertDescription.user_canceled or self.version == ProtocolVersion.TLS1_2
        ):
            # TLS 1.3 knows one warning, user_canceled; TLS 1.2 lets any alert be a
            # warning (RFC 5246 §7.2), e.g. no_renegotiation. Neither ends the connection.
            self.events.append(WarningAlertReceived(description=description))
            if description == AlertDescription.no_renegotiation_RESERVED:
                self.renegotiation_declined()
            return
        # RFC 8446 §6: every other alert is an error alert, whatever its level.
        raise alerts.RemoteAlert(described, to_enum(AlertLevel, level))

    # ================================================================
    # handshake messages
    # ================================================================

    def _on_handshake_bytes(self, fragment: bytes) -> None:
        """Reassemble handshake messages across records (RFC 8446 §5.1)."""
        self._handshake_in += fragment
        while len(self._handshake_in) >= 4 and not self.closed:
            length = int.from_bytes(self._handshake_in[1:4], "big")
            if length > MAX_HANDSHAKE_MESSAGE:
                raise alerts.IllegalParameter(
                    f"handshake message of {length} bytes exceeds teachtls's limit of {MAX_HANDSHAKE_MESSAGE}",
                    rfc="RFC 8446 §4",
                )
            if len(self._handshake_in) < 4 + length:
                return
            raw = self._handshake_in[: 4 + length]
            self._handshake_in = self._handshake_in[4 + length :]
            self._dispatch(raw)

    def _dispatch(self, raw: bytes) -> None:
        try:
            message, spans = parse_handshake(raw, record=self.tracing, classes=self.message_classes)
        except UnknownHandshakeType as error:
            raise alerts.UnexpectedMessage(
                f"handshake message type {error.msg_type} is not a TLS 1.3 message", rfc="RFC 8446 §4"
            ) from None
        except WireDecodeError as error:
            raise alerts.DecodeError(str(error), rfc="RFC 8446 §6.2") from None
        name = message_name(message)
        if self.tracing:
            self.observe(
                trace.MessageReceived(
                    role=self.role,
                    name=name,
                    msg_type=raw[0],
                    raw=raw,
                    fields=tuple(spans),
                    summary=summarize(message),
                    rfc=MESSAGE_RFC.get(raw[0], "RFC 8446 §4"),
                )
            )
        if self.ignores(message):
            return
        self.run_transition(HandshakeType(raw[0]), name, message, raw)

    def ignores(self, message: HandshakeMessage) -> bool:
        """Messages the RFC says to drop silently in the current state (none in TLS 1.3)."""
        return False

    def run_transition(self, trigger: Trigger, name: str, message: object, raw: bytes) -> None:
        """Look (state, trigger) up in the table, run its handler, move on."""
        table, old_state = self.table, self.state
        transition = table.get((old_state, trigger))
        if transition is None:
            raise alerts.UnexpectedMessage(
                f"{name} is not expected in state {old_state.value} ({self.machine})", rfc=self.state_machine_rfc
            )
        new_state = getattr(self, transition.handler)(message, raw)
        # A ServerHello or ClientHello that selects TLS 1.2 moves the
        # connection into the TLS 1.2 machine; its table then says where to go.
        allowed = transition.targets if self.table is table else self.table[(old_state, trigger)].targets
        assert new_state in allowed, (transition, new_state)
        self.set_state(new_state, name)
        self.advance()

    def advance(self) -> None:
        """Run transitions caused by sending (the server's flight); see states.py."""

    def renegotiation_declined(self) -> None:
        """The peer answered our re-handshake with a no_renegotiation warning (TLS 1.2 client)."""

    def set_state(self, new_state: State, trigger: str) -> None:
        if self.tracing:
            self.observe(
                trace.StateChanged(
                    role=self.role,
                    machine=self.machine,
                    old_state=self.state.value,
                    new_state=new_state.value,
                    trigger=trigger,
                )
            )
        self.state = new_state

    def send_handshake(self, message: HandshakeMessage, *, transcript: bool = True) -> bytes:
        """Queue a handshake message for the next flush; add it to the transcript."""
        raw = build_handshake(message)
        name = message_name(message)
        if transcript:
            self.transcript.add(raw, name)
        if self.tracing:
            _, spans = parse_handshake(raw, classes=self.message_classes)
            self.observe(
                trace.MessageSent(
                    role=self.role,
                    name=name,
                    msg_type=raw[0],
                    raw=raw,
                    fields=tuple(spans),
                    summary=summarize(message),
                    rfc=MESSAGE_RFC.get(raw[0], "RFC 8446 §4"),
                )
            )
        self._handshake_out.append(raw)
        return raw

    def received(self, raw: bytes, name: str) -> None:
        """Add a received handshake message to the transcript."""
        self.transcript.add(raw, name)

    # ================================================================
    # outgoing records
    # ================================================================

    def flush(self) -> None:
        """Pack queued handshake messages into records (coalesced, RFC 8446 §5.1)."""
        if self._handshake_out:
            data = b"".join(self._handshake_out)
            self._handshake_out = []
            self.write_fragmented(ContentType.handshake, data)

    def _fragment_limit(self) -> int:
        limit = self.config.max_fragment_length
        if self.peer_record_size_limit is not None and self._write is not None:
            # RFC 8449 §4: in TLS 1.3 the limit counts the content type byte.
            limit = min(limit, self.peer_record_size_limit - 1)
        return max(1, min(limit, wire_record.MAX_PLAINTEXT))

    def write_fragmented(self, content_type: int, data: bytes) -> None:
        limit = self._fragment_limit()
        for start in range(0, len(data), limit):
            self.write_record(content_type, data[start : start + limit])

    def write_record(self, content_type: int, payload: bytes) -> None:
        """Write one record, protected with the current write keys if any."""
        protection = self._write
        if protection is None or (
            content_type == ContentType.change_cipher_spec and self.version != ProtocolVersion.TLS1_2
        ):
            # RFC 8446 §5.1: legacy_record_version is 0x0301 for an initial
            # ClientHello, 0x0303 otherwise.
            version = ProtocolVersion.TLS1_0 if self.legacy_record_version_0301() else ProtocolVersion.TLS1_2
            raw = wire_record.build_header(content_type, len(payload), version) + payload
            if self.tracing:
                self.observe(
                    trace.RecordSent(
                        role=self.role,
                        content_type=content_type,
                        raw=raw,
                        protection="plaintext",
                        sequence_number=0,
                        plaintext=payload,
                    )
                )
            self._outgoing.append(raw)
            return
        if self.version == ProtocolVersion.TLS1_2:
            self._write_record_12(content_type, payload)
            return
        inner = payload + bytes([content_type])
        header = wire_record.build_header(ContentType.application_data, len(inner) + protection.params.tag_length)
        nonce = per_record_nonce(protection.iv, protection.sequence_number)
        raw = header + protection.aead.seal(nonce, inner, header)
        if self.tracing:
            self.observe(
                trace.RecordSent(
                    role=self.role,
                    content_type=ContentType.application_data,
                    raw=raw,
                    protection=protection.protection,
                    sequence_number=protection.sequence_number,
                    inner_content_type=content_type,
                    plaintext=payload,
                    nonce=nonce,
                    keys=protection.secret_name,
                )
            )
        protection.sequence_number += 1
        self._outgoing.append(raw)

    def _write_record_12(self, content_type: int, payload: bytes) -> None:
        """RFC 5246 §6.2.3: protect with the TLS 1.2 suite; the type stays visible."""
        protection = self._write
        assert protection is not None
        sequence_number = protection.sequence_number
        fragment: bytes = protection.protector.seal(  # type: ignore[attr-defined]
            sequence_number, content_type, ProtocolVersion.TLS1_2, payload
        )
        raw = wire_record.build_header(content_type, len(fragment)) + fragment
        protection.sequence_number += 1
        if self.tracing:
            details = protection.protector.last_record  # type: ignore[attr-defined]
            self.observe(
                trace.RecordSent(
                    role=self.role,
                    content_type=content_type,
                    raw=raw,
                    protection=protection.protection,
                    sequence_number=sequence_number,
                    inner_content_type=content_type,
                    plaintext=payload,
                    nonce=(details.nonce or details.record_iv) if details is not None else b"",
                    keys=protection.secret_name,
                    rfc="RFC 5246 §6.2.3",
                )
            )
        self._outgoing.append(raw)

    def legacy_record_version_0301(self) -> bool:
        return False

    def send_change_cipher_spec(self) -> None:
        """RFC 8446 §D.4: the dummy change_cipher_spec of middlebox compatibility mode."""
        self.flush()
        self.write_record(ContentType.change_cipher_spec, b"\x01")

    def _send_alert(self, level: AlertLevel, description: AlertDescription, reason: str) -> None:
        self.flush()
        self.observe(trace.AlertSent(role=self.role, level=level.name, description=description.name, reason=reason))
        self.write_record(ContentType.alert, bytes([level, description]))

    def _fail(self, alert: alerts.LocalAlert) -> None:
        """Send the fatal alert for `alert`, trace it, close (RFC 8446 §6.2)."""
        if self.closed:
            return
        self._handshake_out = []
        if self.write_closed:  # close_notify already sent: nothing more may follow
            self._close()
            return
        self.observe(
            trace.AlertSent(
                role=self.role,
                level="fatal",
                description=alert.description.name,
                reason=alert.reason,
                rfc=alert.rfc or "RFC 8446 §6.2",
            )
        )
        self.write_record(ContentType.alert, bytes([AlertLevel.fatal, alert.description]))
        self._close()

    def _close(self) -> None:
        self.set_state(State.CLOSED, "close")
        self.closed = True
        self.write_closed = True

    # ================================================================
    # key schedule bookkeeping (RFC 8446 §7)
    # ================================================================

    @property
    def hash_alg(self) -> HashAlg:
        """The negotiated suite's hash (TLS 1.2: its PRF hash, fixed in the transcript)."""
        if self.params is not None:
            return self.params.hash_alg
        assert self.transcript.hash_alg is not None
        return self.transcript.hash_alg

    def choose_cipher_suite(self, suite: CipherSuite) -> None:
        self.cipher_suite = suite
        self.params = CIPHER_SUITES[suite]
        self.transcript.start(self.params.hash_alg)

    def transcript_hash(self) -> bytes:
        """Transcript-Hash of the messages so far, traced (RFC 8446 §4.4.1)."""
        value = self.transcript.digest()
        if self.tracing:
            self.observe(
                trace.TranscriptUpdated(
                    role=self.role,
                    through=self.transcript.last_message,
                    transcript_hash=value,
                    hash_name=self.hash_alg.name,
                )
            )
        return value

    def extract(self, name: str, salt_name: str, salt: bytes, ikm_name: str, ikm: bytes) -> bytes:
        """HKDF-Extract(salt, IKM), stored and traced as `name`."""
        value = keyschedule.hkdf_extract(self.hash_alg, salt, ikm)
        self.secrets[name] = value
        if self.tracing:
            self.observe(
                trace.SecretDerived(
                    role=self.role,
                    name=name,
                    operation="HKDF-Extract",
                    label="",
                    parent=salt_name,
                    inputs=(f"IKM={ikm_name}",),
                    value=value,
                )
            )
        return value

    def derive(
        self,
        name: str,
        label: bytes,
        parent: str,
        *,
        empty_transcript: bool = False,
        transcript_hash: bytes | None = None,
        through: str = "",
    ) -> bytes:
        """Derive-Secret(parent, label, Messages), stored and traced as `name`.

        Messages are the transcript so far, none (`empty_transcript`), or a
        hash computed by the caller (`transcript_hash`, through `through`)."""
        if empty_transcript:
            transcript_hash, through = keyschedule.empty_hash(self.hash_alg), ""
        elif transcript_hash is None:
            transcript_hash, through = self.transcript.digest(), self.transcript.last_message
        value = keyschedule.derive_secret(
            self.hash_alg, self.secrets[parent], label, transcript_hash, self.label_prefix
        )
        self.secrets[name] = value
        if self.tracing:
            self.observe(
                trace.SecretDerived(
                    role=self.role,
                    name=name,
                    operation="Derive-Secret",
                    label=label.decode(),
                    parent=parent,
                    inputs=("Messages=" + (f"ClientHello..{through}" if through else "(empty)"),),
                    transcript_through=through,
                    transcript_hash=transcript_hash,
                    value=value,
                )
            )
        return value

    def install_keys(self, direction: str, secret_name: str, protection: str) -> None:
        """Derive [sender]_write_key/iv from a traffic secret and use them (§7.3)."""
        assert self.params is not None
        if direction == "read" and self._handshake_in:
            # RFC 8446 §5.1: "Handshake messages MUST NOT span key changes."
            raise alerts.UnexpectedMessage(
                "handshake message data precedes a key change in the same record", rfc="RFC 8446 §5.1"
            )
        key, iv = keyschedule.traffic_keys(self.params, self.secrets[secret_name], self.label_prefix)
        if self.tracing:
            self.observe(
                trace.KeysInstalled(
                    role=self.role,
                    direction=direction,
                    protection=protection,
                    secret_name=secret_name,
                    cipher_suite=self.params.suite.name,
                    key=key,
                    iv=iv,
                )
            )
        state = RecordProtection(protection, secret_name, self.params, key, iv, Aead(self.params, key))
        if direction == "read":
            self._read = state
        else:
            self.flush()
            self._write = state

    def clear_write_protection(self) -> None:
        """Back to unprotected records (only after a rejected 0-RTT attempt)."""
        self.flush()
        self._write = None

    def update_traffic_secret(self, direction: str) -> None:
        """application_traffic_secret_N+1 = HKDF-Expand-Label(..._N, "traffic upd", "", Hash.length)."""
        sender = self.role if direction == "write" else ("server" if self.role == "client" else "client")
        generation = self.write_generation if direction == "write" else self.read_generation
        old = f"{sender}_application_traffic_secret_{generation}"
        new = f"{sender}_application_traffic_secret_{generation + 1}"
        value = keyschedule.next_traffic_secret(self.hash_alg, self.secrets[old], self.label_prefix)
        self.secrets[new] = value
        self.observe(
            trace.SecretDerived(
                role=self.role,
                name=new,
                operation="HKDF-Expand-Label",
                label=keyschedule.LABEL_TRAFFIC_UPDATE.decode(),
                parent=old,
                value=value,
                rfc="RFC 8446 §7.2",
            )
        )
        if direction == "write":
            self.write_generation += 1
        else:
            self.read_generation += 1
        self.install_keys(direction, new, "application")
        self.events.append(KeyUpdated(direction=direction, generation=generation + 1))

    def on_key_update(self, message: KeyUpdate, raw: bytes) -> State:
        """RFC 8446 §4.6.3: the peer moved to its next traffic secret."""
        if message.request_update not in (0, 1):
            raise alerts.IllegalParameter(
                f"KeyUpdate.request_update is {int(message.request_update)}, not 0 or 1", rfc="RFC 8446 §4.6.3"
            )
        now = self.config.clock()
        self.key_update_times = [t for t in self.key_update_times if now - t < 1.0] + [now]
        if len(self.key_update_times) > self.config.key_update_limit:
            raise alerts.KeyUpdateFlood(
                f"more than {self.config.key_update_limit} KeyUpdates within one second", rfc="RFC 8446 §4.6.3"
            )
        self.update_traffic_secret("read")
        if message.request_update == KeyUpdateRequest.update_requested:
            self.send_handshake(KeyUpdate(request_update=KeyUpdateRequest.update_not_requested), transcript=False)
            self.flush()
            self.update_traffic_secret("write")
        return State.CONNECTED

    # ================================================================
    # helpers for handlers
    # ================================================================

    def check(self, condition: bool, check: str, alert: type[alerts.LocalAlert], reason: str, rfc: str) -> None:
        """Trace a MUST of the RFC; raise `alert` if it does not hold."""
        if self.tracing:
            self.observe(
                trace.CheckPerformed(
                    role=self.role, check=check, passed=condition, detail="" if condition else reason, rfc=rfc
                )
            )
        if not condition:
            raise alert(reason, rfc=rfc)

    def check_extensions(
        self,
        extensions: tuple[Extension, ...],
        context: str,
        message: str,
        *,
        solicited: set[int] | None = None,
    ) -> None:
        """The RFC 8446 §4.2 rules every extension block obeys.

        * no two extensions of the same type;
        * a recognized extension must be allowed in this message (illegal_parameter);
        * in responses, only extensions the client offered (unsupported_extension)."""
        seen: set[int] = set()
        for extension in extensions:
            extension_type = int(extension.extension_type)
            if extension_type in seen:
                raise alerts.IllegalParameter(
                    f"{message} contains two {name_of(extension.extension_type)} extensions",
                    rfc="RFC 8446 §4.2",
                )
            seen.add(extension_type)
            allowed = ALLOWED_CONTEXTS.get(extension_type)
            if solicited is not None and extension_type not in solicited:
                if allowed is not None and context not in allowed:
                    raise alerts.IllegalParameter(
                        f"extension {name_of(extension.extension_type)} is not allowed in {message}",
                        rfc="RFC 8446 §4.2",
                    )
                raise alerts.UnsupportedExtension(
                    f"{message} contains {name_of(extension.extension_type)}, which was not offered",
                    rfc="RFC 8446 §4.2",
                )
            if allowed is not None and context not in allowed:
                raise alerts.IllegalParameter(
                    f"extension {name_of(extension.extension_type)} is not allowed in {message}",
                    rfc="RFC 8446 §4.2",
                )

    def choose(self, subject: str, choice: str, reason: str) -> None:
        """Trace a negotiation decision and why it was taken."""
        if self.tracing:
            self.observe(trace.ChoiceMade(role=self.role, subject=subject, choice=choice, reason=reason))

    # Where the RFC describes what is negotiated (DTLS overrides it).
    negotiation_rfc = "RFC 8446 §4.1.1"

    def negotiated_version_name(self) -> str:
        return "TLS 1.2" if self.version == ProtocolVersion.TLS1_2 else "TLS 1.3"

    def negotiated(self) -> HandshakeCompleted:
        assert self.cipher_suite is not None
        completed = HandshakeCompleted(
            version=self.negotiated_version_name(),
            cipher_suite=self.cipher_suite.name,
            group=name_of(self.group) if self.group is not None else "",
            signature_scheme=name_of(self.signature_scheme) if self.signature_scheme is not None else "",
            alpn_protocol=self.alpn_protocol,
            server_name=self.server_name,
            peer_certificates=self.peer_certificates,
            hello_retry=self.hello_retry,
            resumed=self.resumed,
            early_data_accepted=self.early_data_accepted,
        )
        if self.tracing:
            self.observe(
                trace.ParametersNegotiated(
                    role=self.role,
                    version=completed.version,
                    cipher_suite=completed.cipher_suite,
                    group=completed.group,
                    signature_scheme=completed.signature_scheme,
                    alpn=(self.alpn_protocol or b"").decode("ascii", "replace"),
                    server_name=self.server_name or "",
                    hello_retry=self.hello_retry,
                    rfc=self.negotiation_rfc,
                )
            )
        return completed

    def allow_change_cipher_spec(self, allowed: bool) -> None:
        self._change_cipher_spec_allowed = allowed

    def _trace_record_received(self, raw: bytes, content_type: int, protection: str, sequence_number: int) -> None:
        if self.tracing:
            self.observe(
                trace.RecordReceived(
                    role=self.role,
                    content_type=content_type,
                    raw=raw,
                    protection=protection,
                    sequence_number=sequence_number,
                    plaintext=raw[5:] if protection == "plaintext" else b"",
                )
            )


# --- message summaries and sections, for traces --------------------------------------

MESSAGE_RFC: dict[int, str] = {
    HandshakeType.client_hello: "RFC 8446 §4.1.2",
    HandshakeType.server_hello: "RFC 8446 §4.1.3",
    HandshakeType.encrypted_extensions: "RFC 8446 §4.3.1",
    HandshakeType.certificate_request: "RFC 8446 §4.3.2",
    HandshakeType.certificate: "RFC 8446 §4.4.2",
    HandshakeType.certificate_verify: "RFC 8446 §4.4.3",
    HandshakeType.finished: "RFC 8446 §4.4.4",
    HandshakeType.new_session_ticket: "RFC 8446 §4.6.1",
    HandshakeType.end_of_early_data: "RFC 8446 §4.5",
    HandshakeType.key_update: "RFC 8446 §4.6.3",
    HandshakeType.hello_request_RESERVED: "RFC 5246 §7.4.1.1",
    HandshakeType.server_key_exchange_RESERVED: "RFC 5246 §7.4.3",
    HandshakeType.server_hello_done_RESERVED: "RFC 5246 §7.4.5",
    HandshakeType.client_key_exchange_RESERVED: "RFC 5246 §7.4.7",
    HandshakeType.certificate_status: "RFC 6066 §8",
}


def _names(values: tuple[int, ...]) -> str:
    """`TLS_AES_128_GCM_SHA256, 0x0a0a`: code points by name, for a summary."""
    return ", ".join(map(name_of, values))


def _extension_names(extensions: tuple[Extension, ...]) -> str:
    return _names(tuple(extension.extension_type for extension in extensions))


def summarize(message: HandshakeMessage) -> str:
    """One line of the fields a reader looks at first."""
    if isinstance(message, m.ClientHello):
        return f"cipher_suites=[{_names(message.cipher_suites)}] extensions=[{_extension_names(message.extensions)}]"
    if isinstance(message, m.ServerHello):
        return f"cipher_suite={name_of(message.cipher_suite)} extensions=[{_extension_names(message.extensions)}]"
    if isinstance(message, m.EncryptedExtensions | m.CertificateRequest):
        return f"extensions=[{_extension_names(message.extensions)}]"
    if isinstance(message, m.Certificate):
        return f"{len(message.certificate_list)} certificate(s)"
    if isinstance(message, m.CertificateVerify):
        return f"algorithm={name_of(message.algorithm)}"
    if isinstance(message, m.Finished):
        return f"verify_data={message.verify_data.hex()}"
    if isinstance(message, m.NewSessionTicket):
        return f"ticket_lifetime={message.ticket_lifetime}s ticket={len(message.ticket)} bytes"
    if isinstance(message, m.KeyUpdate):
        return f"request_update={name_of(message.request_update)}"
    return ""
