"""DTLS 1.2 (RFC 6347): the TLS 1.2 handshake over `DatagramConnection`.

"DTLS 1.2 ... is intentionally very similar to TLS [and presented] as a
series of deltas from TLS 1.2" (RFC 6347 §4). The TLS 1.2 handshake code of
teachtls.handshake runs unchanged; this module adds the deltas that are
not about datagram transport (those are in teachtls.dtls.connection):

* **Record protection** (RFC 6347 §4.1.2). The TLS 1.2 ciphers, with one
  change: the 64-bit sequence number they authenticate is epoch ||
  sequence_number, "the 64-bit value formed by concatenating the epoch and
  the sequence number in the order they appear on the wire", and the
  version is the wire version {254, 253}. ChaCha20-Poly1305 builds its
  nonce from the same 64 bits (RFC 7905 §2); AES-GCM sends them as
  nonce_explicit. teachtls.crypto.record12 is reused as it is.
* **ChangeCipherSpec starts a new epoch** (RFC 6347 §4.1): after ours, our
  records carry epoch 1; after the peer's, we accept epoch 1. The CCS is
  "part of the same flight as the associated Finished message for the
  purposes of timeout and retransmission" (§4.2.5), so it is queued in the
  flight like a handshake message. Because datagrams reorder, a CCS may
  arrive before the handshake messages that precede it; it is then held
  until the state machine expects it ("the expected set of handshake
  messages logically preceding the ChangeCipherSpec is predictable").
* **The cookie exchange** (RFC 6347 §4.2.1, teachtls.dtls.cookie): the
  server answers a ClientHello without a valid cookie with a
  HelloVerifyRequest and keeps nothing; the client sends its ClientHello
  again with the cookie. "If HelloVerifyRequest is used, the initial
  ClientHello and HelloVerifyRequest are not included in the calculation of
  the handshake_messages ... and verify_data".
* **The handshake hash covers DTLS's header fields** (RFC 6347 §4.2.6):
  message_seq included, "as if each handshake message had been sent as a
  single fragment".
* **Versions**: 0xFEFD in records and hellos, translated to TLS 1.2 for the
  handshake code (teachtls.dtls.messages).

A DTLS 1.2 connection speaks only DTLS 1.2: `Config.versions` is replaced
by (TLS 1.2,), the version DTLS 1.2 is a delta of. Renegotiation is off;
middlebox compatibility (a TLS 1.3 idea) and ClientHello padding too --
every byte counts against the MTU.
"""

from __future__ import annotations

from typing import Any

import attrs

from teachtls.config import Config
from teachtls.dtls import cookie as cookies
from teachtls.dtls import framing, record
from teachtls.dtls.connection import DatagramConnection, DTLSSettings, Epoch
from teachtls.dtls.flights import FlightEntry
from teachtls.dtls.messages import DTLS1_0, DTLSClientHello, HelloVerifyRequest, dtls_version_of, to_dtls_form
from teachtls.dtls.states import DTLS_TABLES, MACHINES
from teachtls.handshake import alerts
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.common12 import Handshake12
from teachtls.handshake.server13 import ServerConnection
from teachtls.handshake.states import RecordMessage, State
from teachtls.handshake.transcript import Transcript
from teachtls.trace import events as trace
from teachtls.wire.enums import ContentType, ProtocolVersion, name_of
from teachtls.wire.messages import ClientHello, HandshakeMessage, parse_handshake

# RFC 6347 §4.2.1 lets a client answer several HelloVerifyRequests; a bound
# keeps a peer from keeping it busy for ever.
MAX_HELLO_VERIFY_REQUESTS = 4


def dtls12_config(config: Config) -> Config:
    """`config` as a DTLS 1.2 connection uses it (see the module essay)."""
    return attrs.evolve(
        config,
        versions=(ProtocolVersion.TLS1_2,),
        middlebox_compatibility=False,
        pad_client_hello=False,
        allow_renegotiation=False,
    )


class DTLS12Connection(DatagramConnection, Handshake12):
    """What DTLS 1.2 changes in TLS 1.2, shared by client and server."""

    def __init__(self, config: Config, dtls: DTLSSettings | None = None) -> None:
        super().__init__(dtls12_config(config), dtls)
        self._pending_change_cipher_spec = False
        # From the first message on, the DTLS 1.2 table (the TLS one was a placeholder).
        self.machine = MACHINES[self.role]
        self.table = DTLS_TABLES[self.machine]

    # --- record protection (RFC 6347 §4.1.2) -------------------------------------------

    def protect_record(self, epoch: Epoch, content_type: int, payload: bytes, sequence_number: int) -> bytes:
        if epoch.protector is None:
            return super().protect_record(epoch, content_type, payload, sequence_number)
        # RFC 6347 §4.1.2.1: the MAC (or AEAD) input uses epoch || sequence_number
        # and "the on-the-wire version, i.e., {254, 253} for DTLS 1.2".
        fragment = epoch.protector.seal(
            record.record_number(epoch.number, sequence_number), content_type, self.record_version, payload
        )
        return record.build_record(content_type, self.record_version, epoch.number, sequence_number, fragment)

    def unprotect_record(self, epoch: Epoch, dtls_record: record.DTLSRecord) -> tuple[int, bytes]:
        if epoch.protector is None:
            return super().unprotect_record(epoch, dtls_record)
        plaintext: bytes = epoch.protector.open(
            dtls_record.record_number, dtls_record.content_type, dtls_record.version, dtls_record.fragment
        )
        return dtls_record.content_type, plaintext

    def record_nonce(self, epoch: Epoch) -> bytes:
        details = epoch.protector.last_record if epoch.protector is not None else None
        return (details.nonce or details.record_iv) if details is not None else b""

    def record_expansion(self, epoch: Epoch) -> int:
        if epoch.protector is None:
            return 0
        params = epoch.protector.params
        if params.cipher_type == "aead":
            return int(params.record_iv_length + params.tag_length)
        # CBC: the IV, the MAC and at most one block of padding (RFC 5246 §6.2.3.2).
        return int(params.record_iv_length + params.mac_length + params.block_length)

    # --- ChangeCipherSpec and epochs (RFC 6347 §4.1, §4.2.5) -------------------------------

    def enter_tls12(self, suite: int) -> None:
        super().enter_tls12(suite)
        self.machine = MACHINES[self.role]
        self.table = DTLS_TABLES[self.machine]
        self.state_machine_rfc = "RFC 6347 §4.2"

    def install_keys_12(self, direction: str) -> None:
        """Keys from the key block, as in TLS 1.2 -- and a new epoch for them."""
        super().install_keys_12(direction)
        state: Any = self._write if direction == "write" else self._read  # a RecordProtection12State
        self.install_epoch(direction, "application", state.secret_name, state.protector)

    def send_change_cipher_spec_12(self) -> None:
        """ChangeCipherSpec joins the flight in the old epoch; then our epoch moves on."""
        self.add_to_flight(
            FlightEntry(
                content_type=ContentType.change_cipher_spec,
                payload=b"\x01",
                epoch=self.write_epoch,
                name="ChangeCipherSpec",
            )
        )
        self.install_keys_12("write")

    def on_change_cipher_spec_record(self, dtls_record: record.DTLSRecord, payload: bytes) -> None:
        if dtls_record.epoch < self.read_epoch:
            self.observe(
                trace.Note(
                    role=self.role,
                    text=f"ChangeCipherSpec again (epoch {dtls_record.epoch}, already left): "
                    "part of a retransmitted flight, ignored",
                    rfc="RFC 6347 §4.2.5",
                )
            )
            return
        if payload != b"\x01":
            self._discard(dtls_record, f"ChangeCipherSpec with contents {payload.hex() or '(empty)'}", "RFC 5246 §7.1")
            return
        if self.state is State.WAIT_CCS:
            self.run_transition(RecordMessage.change_cipher_spec, "ChangeCipherSpec", None, b"")
            return
        self._pending_change_cipher_spec = True
        self.observe(
            trace.Note(
                role=self.role,
                text=f"ChangeCipherSpec arrived in state {self.state.value}, before the messages that precede it "
                "(reordered or lost): held until they are in",
                rfc="RFC 6347 §4.2.5",
            )
        )

    def after_message(self) -> None:
        if self._pending_change_cipher_spec and self.state is State.WAIT_CCS and not self.closed:
            self._pending_change_cipher_spec = False
            self.run_transition(RecordMessage.change_cipher_spec, "ChangeCipherSpec", None, b"")
        super().after_message()

    # --- the handshake hash (RFC 6347 §4.2.6) ------------------------------------------------

    def sent_to_transcript(self, raw: bytes, name: str) -> None:
        """Our message into the transcript and the CertificateVerify input (RFC 5246 §7.4.8)."""
        super().sent_to_transcript(raw, name)
        self.handshake_messages.append(raw)

    def negotiated_version_name(self) -> str:
        return "DTLS 1.2"

    def choose(self, subject: str, choice: str, reason: str) -> None:
        """The TLS code chooses the TLS version DTLS is a delta of; say which DTLS it is."""
        if subject == "version" and choice in ProtocolVersion.__members__:
            choice = name_of(dtls_version_of(ProtocolVersion[choice]))
        super().choose(subject, choice, reason)


class DTLSClientConnection(DTLS12Connection, ClientConnection):
    """A sans-I/O DTLS 1.2 client.

    client = DTLSClientConnection(config)
    client.start_handshake()
    datagrams = client.datagrams_to_send()
    """

    machine: str = "client12"  # until __init__ switches to MACHINES["client"]

    def __init__(self, config: Config, dtls: DTLSSettings | None = None) -> None:
        super().__init__(config, dtls)
        self.cookie = b""  # from the server's HelloVerifyRequest
        self.hello_verify_requests = 0

    def wire_form(self, message: HandshakeMessage) -> HandshakeMessage:
        return to_dtls_form(message, cookie=self.cookie)

    def on_hello_verify_request(self, message: HelloVerifyRequest, raw: bytes) -> State:
        """RFC 6347 §4.2.1: "The client MUST retransmit the ClientHello with the cookie added."

        Same version, random, session_id, cipher_suites and compression
        methods as the first ClientHello; a new message_seq. The first
        ClientHello and this HelloVerifyRequest leave the transcript."""
        self.hello_verify_requests += 1
        if self.hello_verify_requests > MAX_HELLO_VERIFY_REQUESTS:
            raise alerts.HandshakeFailure(
                f"more than {MAX_HELLO_VERIFY_REQUESTS} HelloVerifyRequests in one handshake", rfc="RFC 6347 §4.2.1"
            )
        self.cookie = message.cookie
        self.observe(
            trace.Note(
                role=self.role,
                text="the server asks for proof that we receive datagrams at our address before it does any work: "
                "the same ClientHello again, with its cookie (denial-of-service defence)",
                rfc="RFC 6347 §4.2.1",
            )
        )
        # RFC 6347 §4.2.6: "the initial ClientHello and HelloVerifyRequest MUST NOT
        # be included in the CertificateVerify or Finished MAC computations."
        self.transcript = Transcript()
        self.handshake_messages = []
        self.send_handshake(self.build_client_hello())
        return State.WAIT_SH


class DTLSServerConnection(DTLS12Connection, ServerConnection):
    """A sans-I/O DTLS 1.2 server: one association, with one client address.

        server = DTLSServerConnection(config, DTLSSettings(client_address=b"192.0.2.1:5684"))
        events = server.receive_datagram(datagram)

    With `DTLSSettings.cookie_exchange` (the default) it answers the first
    ClientHello with a HelloVerifyRequest (RFC 6347 §4.2.1)."""

    machine: str = "server12"  # until __init__ switches to MACHINES["server"]

    def __init__(self, config: Config, dtls: DTLSSettings | None = None) -> None:
        super().__init__(config, dtls)
        self.cookie_secret = self.dtls.cookie_secret or self.config.random(32)

    def on_client_hello(self, message: ClientHello, raw: bytes) -> State:
        """The cookie check comes first, before any other work (RFC 6347 §4.2.1)."""
        if self.state is not State.START:
            return super().on_client_hello(message, raw)
        hello = self.received_message
        assert isinstance(hello, DTLSClientHello)
        message_seq = framing.message_seq_of(raw)
        # A client's message_seq counts its ClientHellos: each cookie round trip is two flights.
        self.flight_counter = 2 * message_seq + 1
        # RFC 6347 §4.2.1: "the server MUST use the record sequence number in the
        # ClientHello as the record sequence number in its initial ServerHello"
        # (and in a HelloVerifyRequest), so that no sequence number repeats.
        if self._current_record is not None:
            epoch0 = self.write_epochs[0]
            epoch0.next_sequence_number = max(epoch0.next_sequence_number, self._current_record.sequence_number)
        if self.dtls.cookie_exchange:
            if not cookies.cookie_is_valid(self.cookie_secret, self.dtls.client_address, hello):
                self.send_hello_verify_request(hello, message_seq)
                return State.START
            self.check(True, "cookie", alerts.HandshakeFailure, "", "RFC 6347 §4.2.1")
        # "Subsequent ServerHellos ... MUST increment normally": our message_seq
        # continues from the ClientHello's (RFC 6347 §4.2.2's example).
        self.next_send_seq = message_seq
        return super().on_client_hello(message, raw)

    def send_hello_verify_request(self, hello: DTLSClientHello, message_seq: int) -> None:
        """Answer statelessly: a cookie, no transcript, no flight, no timer."""
        reason = "the ClientHello has no cookie" if not hello.cookie else "its cookie does not verify"
        self.observe(
            trace.ChoiceMade(
                role=self.role,
                subject="cookie",
                choice="HelloVerifyRequest",
                reason=f"{reason}: before spending any work or sending a large flight, make the client prove "
                "it receives datagrams at its source address (denial-of-service defence); keep no state",
                rfc="RFC 6347 §4.2.1",
            )
        )
        cookie = cookies.make_cookie(self.cookie_secret, self.dtls.client_address, hello)
        raw = cookies.hello_verify_request(cookie, message_seq)
        if self.tracing:
            _, spans = parse_handshake(framing.tls_message(raw), classes=self.dtls_classes())
            self.observe(
                trace.MessageSent(
                    role=self.role,
                    name="HelloVerifyRequest",
                    msg_type=raw[0],
                    raw=raw,
                    fields=tuple(framing.message_spans(raw, spans)),
                    summary=f"server_version=DTLS1_0 cookie={cookie.hex()}",
                    rfc="RFC 6347 §4.2.1",
                )
            )
        epoch0 = self.write_epochs[0]
        sequence_number = epoch0.next_sequence_number
        hello_verify = record.build_record(ContentType.handshake, DTLS1_0, 0, sequence_number, raw)
        epoch0.next_sequence_number += 1
        self._trace_dtls_record(trace.RecordSent, hello_verify, epoch0, sequence_number, raw)
        self._outgoing.append(hello_verify)
        # Nothing of this ClientHello is kept: the next one may have any message_seq,
        # and no handshake has begun (so no total timeout runs either).
        self.reassembler.reset(None)
        self.handshake_started_at = None
        self.flight_counter += 1
        self._flight_open = True
