"""DTLS 1.3 (RFC 9147): the TLS 1.3 handshake over `DatagramConnection`.

"DTLS 1.3 reuses the TLS 1.3 handshake messages and flows" (RFC 9147 §5).
The TLS 1.3 handlers of teachtls.handshake (on_server_hello, on_finished,
...) run unchanged; the datagram machinery of teachtls.dtls.connection --
epochs, replay windows, message_seq and reassembly, flights and timers --
is DTLS 1.2's. This module adds what DTLS 1.3 changes:

* **A new record layer** (§4, teachtls.dtls.record13). Protected records
  carry the short *unified header*: three fixed bits, the epoch's two low
  bits, 8 or 16 bits of sequence number and a length. The sequence number
  bits are encrypted (§4.2.3, teachtls.crypto.record_number) with a per-
  epoch `sn_key`; the receiver decrypts them, then reconstructs the full
  epoch and sequence number (§4.2.2). Protection is TLS 1.3's AEAD with the
  unified header as additional data and the nonce built from the 64-bit
  sequence number (§4). The replay window is checked *after* deprotection
  (§4.5.1: "otherwise, the record discard might itself serve as a timing
  channel for the record number").
* **Epochs by purpose** (§6.1): 0 for ClientHello, ServerHello and
  HelloRetryRequest (plaintext), 1 for 0-RTT (not implemented here), 2 for
  the handshake traffic keys, 3 for application_traffic_secret_0, 3 + N
  after N KeyUpdates.
* **Key separation**: every HKDF-Expand-Label uses the prefix "dtls13"
  instead of "tls13 " (§5.9), so DTLS 1.3 and TLS 1.3 keys never coincide.
* **No ChangeCipherSpec, no middlebox compatibility mode, no EndOfEarlyData**
  (§5, §5.6). ServerHello and ClientHello say legacy_version {254, 253}
  and list DTLS 1.3 as 0xFEFC in supported_versions (§5.3, §5.4); the
  ClientHello has an empty `legacy_cookie`; the server does not echo
  legacy_session_id.
* **The transcript uses the TLS form** of each message, without message_seq
  and fragment fields (§5.2) -- unlike DTLS 1.2.
* **The cookie moves into HelloRetryRequest** (§5.1, teachtls.dtls.cookie13):
  the server answers a ClientHello without a cookie statelessly.
* **ACKs** (§7, teachtls.dtls.ack): content type 26 lists the records
  received. A flight that nothing else answers -- the client's last flight,
  NewSessionTicket, KeyUpdate -- is retransmitted until ACKed; any flight
  leaves acknowledged pieces out of its retransmissions; a receiver ACKs
  early when it sees a gap.
* **KeyUpdate waits for its ACK** (§8): "implementations MUST NOT send
  records with the new keys or send a new KeyUpdate until the previous
  KeyUpdate has been acknowledged".

Which messages may travel in which epoch is checked for every fragment (a
ServerHello only in epoch 0, EncryptedExtensions..Finished only under
handshake keys, NewSessionTicket and KeyUpdate only under application
keys): a plaintext record cannot smuggle in a message that must be
protected.

A DTLS 1.3 connection speaks only DTLS 1.3: a client that could fall back
to DTLS 1.2 would need the other record layer mid-handshake. The UDP server
(teachtls.net.udp) picks the version per client from its ClientHello.
Left out: 0-RTT (epoch 1), Connection IDs (RFC 9146, §9), post-handshake
client authentication, and the 1.5 x RTT timer adjustment of §5.8.2 (the
timer doubles and resets as in DTLS 1.2).
"""

from __future__ import annotations

import attrs

from teachtls.config import Config
from teachtls.crypto import record_number
from teachtls.crypto.aead import CIPHER_SUITES, Aead, AeadError, CipherSuiteParams, per_record_nonce
from teachtls.dtls import framing, record, record13
from teachtls.dtls.ack import Piece, RecordNumber, SentPieces, build_ack, most_record_numbers, parse_ack
from teachtls.dtls.connection import MAX_DEFERRED_RECORDS, DatagramConnection, DTLSSettings, Epoch
from teachtls.dtls.cookie13 import (
    CookieContents,
    hello_retry_request,
    make_cookie,
    message_hash,
    open_cookie,
    returned_cookie,
)
from teachtls.dtls.flights import FlightEntry
from teachtls.dtls.messages import DTLS1_2, DTLSClientHello, dtls_message_classes, dtls_version_of, to_dtls_form
from teachtls.dtls.replay import ReplayWindow
from teachtls.dtls.states import DTLS_TABLES, MACHINES_13
from teachtls.handshake import alerts
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.server13 import ServerConnection
from teachtls.handshake.states import State
from teachtls.handshake.transcript import Transcript
from teachtls.keyschedule import tls13 as keyschedule
from teachtls.trace import events as trace
from teachtls.trace.observer import Observer
from teachtls.wire.codec import DecodeError, build_struct
from teachtls.wire.enums import (
    ContentType,
    ExtensionType,
    HandshakeType,
    KeyUpdateRequest,
    NamedGroup,
    ProtocolVersion,
    name_of,
    to_enum,
)
from teachtls.wire.extensions import OfferedPsks, make_extension
from teachtls.wire.messages import (
    ClientHello,
    Finished,
    HandshakeMessage,
    KeyUpdate,
    NewSessionTicket,
    ServerHello,
    build_handshake,
    message_name,
    parse_handshake,
)

# RFC 9147 §6.1: "This version of DTLS assigns dedicated epoch values".
EPOCH_EARLY = 1
EPOCH_HANDSHAKE = 2
EPOCH_APPLICATION = 3  # application_traffic_secret_0; + N after N KeyUpdates
FIRST_EPOCH_OF = {"early": EPOCH_EARLY, "handshake": EPOCH_HANDSHAKE, "application": EPOCH_APPLICATION}

LABEL_SN = b"sn"  # RFC 9147 §4.2.3: [sender]_sn_key = HKDF-Expand-Label(Secret, "sn", "", key_length)

# RFC 9147 §4.5.3: "For AEAD_AES_128_GCM, AEAD_AES_256_GCM, and
# AEAD_CHACHA20_POLY1305, the limit on the number of records that fail
# authentication is 2^36."
FORGERY_LIMIT = 2**36

# Which protection a handshake message must arrive under (RFC 9147 §6.1).
PLAINTEXT_MESSAGES = frozenset({HandshakeType.client_hello, HandshakeType.server_hello})
POST_HANDSHAKE_MESSAGES = frozenset({HandshakeType.new_session_ticket, HandshakeType.key_update})

# DatagramConnection cites RFC 6347 for the rules DTLS 1.2 and 1.3 share; in a
# DTLS 1.3 trace the same rule is cited from RFC 9147.
RFC9147_FOR = {
    "RFC 6347 §3.2": "RFC 9147 §3",
    "RFC 6347 §4.1": "RFC 9147 §4",
    "RFC 6347 §4.1.1": "RFC 9147 §4.3",
    "RFC 6347 §4.1.2.6": "RFC 9147 §4.5.1",
    "RFC 6347 §4.1.2.7": "RFC 9147 §4.5.2",
    "RFC 6347 §4.2": "RFC 9147 §5",
    "RFC 6347 §4.2.1": "RFC 9147 §5.1",
    "RFC 6347 §4.2.2": "RFC 9147 §5.2",
    "RFC 6347 §4.2.3": "RFC 9147 §5.5",
    "RFC 6347 §4.2.4": "RFC 9147 §5.8",
    "RFC 6347 §4.2.4.1": "RFC 9147 §5.8.2",
    "RFC 6347 §4.2.6": "RFC 9147 §5.2",
}


def cite_rfc9147(observer: Observer) -> Observer:
    """`observer`, with RFC 6347 clauses replaced by their RFC 9147 counterparts.

    Only for events: the connection flushes `config.observer` itself."""

    def observe(event: trace.TraceEvent) -> None:
        rfc = RFC9147_FOR.get(event.rfc)
        observer(attrs.evolve(event, rfc=rfc) if rfc else event)

    return observe


def dtls13_config(config: Config) -> Config:
    """`config` as a DTLS 1.3 connection uses it (see the module essay)."""
    return attrs.evolve(
        config,
        versions=(ProtocolVersion.TLS1_3,),
        cipher_suites=tuple(suite for suite in config.cipher_suites if suite in CIPHER_SUITES),
        middlebox_compatibility=False,  # RFC 9147 §5: not used in DTLS
        pad_client_hello=False,  # every byte counts against the MTU
        allow_renegotiation=False,
        max_early_data_size=0,  # no 0-RTT (epoch 1) in teachtls's DTLS 1.3
    )


@attrs.define
class RecordProtection13:
    """One direction of one epoch: the AEAD key and IV, and the sn_key (RFC 9147 §4.2.3)."""

    params: CipherSuiteParams
    secret_name: str
    aead: Aead
    iv: bytes
    sn_key: bytes
    last_nonce: bytes = b""
    failed: int = 0  # records that failed authentication with this key (RFC 9147 §4.5.3)


class DeprotectionError(Exception):
    """A record that does not open: too short for a mask, or failing AEAD authentication (RFC 9147 §4.5.2)."""

    def __init__(self, reason: str, rfc: str) -> None:
        super().__init__(reason)
        self.rfc = rfc


@attrs.frozen
class OpenedRecord:
    """What `open_record` found inside a DTLSCiphertext."""

    sequence_number: int  # reconstructed, 64 bits
    content_type: int  # the last non-zero byte of DTLSInnerPlaintext; 0 if there is none
    payload: bytes
    padding_length: int


def seal_record(
    protection: RecordProtection13, epoch: int, sequence_number: int, content_type: int, payload: bytes
) -> bytes:
    """A whole DTLSCiphertext record: unified header, record number encryption, AEAD (RFC 9147 §4, §4.2.3).

    DTLSInnerPlaintext = payload || content_type    (no padding)
    additional data    = the unified header, sequence number in the clear
    nonce              = iv XOR the 64-bit sequence number (RFC 8446 §5.3)
    then the header's sequence number bytes are XORed with the mask"""
    inner = payload + bytes([content_type])
    tag_length = protection.params.tag_length
    if len(inner) + tag_length < record_number.SAMPLE_LENGTH:
        # RFC 9147 §4.2.3: "Senders MUST pad short plaintexts out ... in order to make
        # a suitable-length ciphertext" (never needed with a 16-byte tag).
        inner += bytes(record_number.SAMPLE_LENGTH - len(inner) - tag_length)
    header = record13.build_unified_header(epoch, sequence_number, len(inner) + tag_length)
    nonce = per_record_nonce(protection.iv, sequence_number)
    encrypted_record = protection.aead.seal(nonce, inner, header)
    mask = record_number.record_number_mask(protection.params, protection.sn_key, encrypted_record)
    protection.last_nonce = nonce
    return header[:1] + record_number.apply_mask(header[1:3], mask) + header[3:] + encrypted_record


def open_record(
    protection: RecordProtection13, ciphertext: record13.DTLSCiphertextRecord, expected: int
) -> OpenedRecord:
    """Decrypt the record number, reconstruct it near `expected` (one past the highest seen),
    and open the record (RFC 9147 §4.2.2, §4.2.3, §4). Raises `DeprotectionError`."""
    encrypted_record = ciphertext.fragment
    try:
        mask = record_number.record_number_mask(protection.params, protection.sn_key, encrypted_record)
    except record_number.RecordNumberError as error:
        # "Receivers MUST reject shorter records as if they had failed deprotection"
        raise DeprotectionError(str(error), "RFC 9147 §4.2.3") from None
    sequence_bytes = record_number.apply_mask(ciphertext.encrypted_sequence_number, mask)
    sequence_number = record13.reconstruct_sequence_number(
        expected, int.from_bytes(sequence_bytes, "big"), 8 * ciphertext.sequence_length
    )
    nonce = per_record_nonce(protection.iv, sequence_number)
    try:
        inner = protection.aead.open(nonce, encrypted_record, ciphertext.header_with(sequence_bytes))
    except AeadError:
        raise DeprotectionError(
            f"failed authentication (as sequence number {sequence_number}, if the header is genuine)",
            "RFC 9147 §4.5.2",
        ) from None
    protection.last_nonce = nonce
    # RFC 8446 §5.4: the content type is the last non-zero byte
    unpadded = inner.rstrip(b"\x00")
    if not unpadded:
        return OpenedRecord(sequence_number, 0, b"", len(inner))
    return OpenedRecord(sequence_number, unpadded[-1], unpadded[:-1], len(inner) - len(unpadded))


class DTLS13Connection(DatagramConnection):
    """What DTLS 1.3 changes in TLS 1.3 and in the datagram machinery, for client and server."""

    label_prefix = keyschedule.DTLS13_LABEL_PREFIX
    record_version = DTLS1_2  # RFC 9147 §4: legacy_record_version {254, 253}
    record_rfc = "RFC 9147 §4"

    def __init__(self, config: Config, dtls: DTLSSettings | None = None) -> None:
        super().__init__(dtls13_config(config), dtls)
        self.machine = MACHINES_13[self.role]
        self.table = DTLS_TABLES[self.machine]
        self.state_machine_rfc = "RFC 9147 §5"
        if self.tracing:
            self.observe = cite_rfc9147(self.observe)
        # ACKs we send (RFC 9147 §7.1): the peer's handshake records of its current flight
        self.ack_list: list[RecordNumber] = []
        self.ack_deadline: float | None = None  # the delayed ACK after part of a flight
        self._ack_reason = ""  # set: send an ACK once this datagram is processed
        # ACKs we receive (RFC 9147 §7.2): which record carried which piece
        self.sent_pieces = SentPieces()
        self._ack_retransmitted_at: float | None = None
        # KeyUpdate (RFC 9147 §8): (message_seq, body length) of ours while unacknowledged
        self._key_update: tuple[int, int] | None = None

    # ================================================================
    # versions, messages, transcript (RFC 9147 §5.2-§5.6)
    # ================================================================

    def negotiated_version_name(self) -> str:
        return "DTLS 1.3"

    def choose(self, subject: str, choice: str, reason: str) -> None:
        """The TLS code chooses TLS 1.3; say which DTLS it is."""
        if subject == "version" and choice in ProtocolVersion.__members__:
            choice = name_of(dtls_version_of(ProtocolVersion[choice]))
        super().choose(subject, choice, reason)

    def transcript_form(self, message: bytes) -> bytes:
        """RFC 9147 §5.2: "the message transcript is computed over the original
        TLS 1.3-style Handshake messages without the message_seq,
        fragment_offset, and fragment_length values"."""
        return framing.tls_message(message)

    def dtls_classes(self) -> dict[int, type[HandshakeMessage]]:
        classes = dtls_message_classes(self.message_classes)
        # RFC 9147 §5.2: "DTLS 1.3 ... deprecates the HelloVerifyRequest message";
        # §5.6: "the EndOfEarlyData message is omitted both from the wire and the handshake transcript".
        classes.pop(HandshakeType.hello_verify_request_RESERVED, None)
        classes.pop(HandshakeType.end_of_early_data, None)
        return classes

    def send_change_cipher_spec(self) -> None:
        """RFC 9147 §5: "endpoints MUST NOT send ChangeCipherSpec messages"."""

    # ================================================================
    # record protection (RFC 9147 §4, §4.2.3)
    # ================================================================

    def install_keys(self, direction: str, secret_name: str, protection: str) -> None:
        """TLS 1.3's keys from a traffic secret ("dtls13" labels), the sn_key, and their epoch (§6.1)."""
        super().install_keys(direction, secret_name, protection)
        state = self._write if direction == "write" else self._read
        assert state is not None and self.params is not None
        sender = secret_name.split("_", 1)[0]
        sn_key = keyschedule.hkdf_expand_label(
            self.hash_alg, self.secrets[secret_name], LABEL_SN, b"", self.params.key_length, self.label_prefix
        )
        self.observe(
            trace.SecretDerived(
                role=self.role,
                name=f"{sender}_sn_key",
                operation="HKDF-Expand-Label",
                label=LABEL_SN.decode(),
                parent=secret_name,
                inputs=("key_length",),
                value=sn_key,
                rfc="RFC 9147 §4.2.3",
            )
        )
        generation = self.write_generation if direction == "write" else self.read_generation
        number = FIRST_EPOCH_OF[protection] + (generation if protection == "application" else 0)
        protector = RecordProtection13(state.params, secret_name, state.aead, state.iv, sn_key)
        self.install_epoch(direction, protection, secret_name, protector, number=number)

    def record_header_length(self, epoch: Epoch) -> int:
        return record.HEADER_LENGTH if epoch.protector is None else record13.header_length()

    def record_expansion(self, epoch: Epoch) -> int:
        if epoch.protector is None:
            return 0
        return 1 + int(epoch.protector.params.tag_length)  # the inner content type, the AEAD tag

    def record_nonce(self, epoch: Epoch) -> bytes:
        return epoch.protector.last_nonce if epoch.protector is not None else b""

    def protect_record(self, epoch: Epoch, content_type: int, payload: bytes, sequence_number: int) -> bytes:
        """A DTLSPlaintext record in epoch 0; else a DTLSCiphertext with a unified header (RFC 9147 §4)."""
        if epoch.protector is None:
            return super().protect_record(epoch, content_type, payload, sequence_number)
        return seal_record(epoch.protector, epoch.number, sequence_number, content_type, payload)

    def _write_record_in(self, epoch: Epoch, content_type: int, payload: bytes) -> None:
        self.write_record_13(epoch, content_type, payload)

    def write_record_13(self, epoch: Epoch, content_type: int, payload: bytes) -> RecordNumber:
        """Protect and queue one record in `epoch`; return its record number (for ACK bookkeeping)."""
        sequence_number = epoch.next_sequence_number
        if sequence_number > record13.MAX_SEQUENCE_NUMBER:
            # RFC 9147 §4.2.1: "Implementations MUST either abandon an association
            # or rekey prior to allowing the sequence number to wrap."
            raise alerts.TLSError(f"epoch {epoch.number} has used all 2^48 sequence numbers")
        raw = self.protect_record(epoch, content_type, payload, sequence_number)
        epoch.next_sequence_number += 1
        self._trace_dtls_record(trace.RecordSent, raw, epoch, sequence_number, payload, content_type=content_type)
        self._outgoing.append(raw)
        return RecordNumber(epoch=epoch.number, sequence_number=sequence_number)

    # ================================================================
    # incoming records (RFC 9147 §4.1, §4.2.2, §4.5)
    # ================================================================

    def split_records(self, datagram: bytes) -> record.SplitDatagram:
        return record13.split_datagram(datagram)

    def process_record(self, dtls_record: record.DTLSRecord) -> None:
        """One record: demultiplex by its first byte (RFC 9147 §4.1), open, route."""
        if isinstance(dtls_record, record13.DTLSCiphertextRecord):
            self._process_ciphertext(dtls_record)
        else:
            self._process_plaintext(dtls_record)

    def _process_plaintext(self, dtls_record: record.DTLSRecord) -> None:
        if dtls_record.content_type not in record13.PLAINTEXT_CONTENT_TYPES:
            # RFC 9147 §4.1: "Otherwise, the record MUST be rejected as if it had failed deprotection"
            self._discard(
                dtls_record,
                f"first byte {dtls_record.content_type} is neither alert, handshake, ack nor a unified header",
                "RFC 9147 §4.1",
            )
            return
        if dtls_record.epoch != 0:
            self._discard(dtls_record, f"a DTLSPlaintext record in epoch {dtls_record.epoch}, not 0", "RFC 9147 §4")
            return
        if len(dtls_record.fragment) > record.MAX_PLAINTEXT:
            self._discard(dtls_record, "a plaintext fragment longer than 2^14 bytes", "RFC 8446 §5.1")
            return
        if self.state is State.CONNECTED and dtls_record.content_type != ContentType.handshake:
            # Unprotected alerts and ACKs are for before the keys exist; afterwards
            # anyone could forge them. (Handshake records are still read: a
            # retransmitted ServerHello tells us the peer is retransmitting.)
            self._discard(dtls_record, "an unprotected record after the handshake", "RFC 9147 §4.5.2")
            return
        epoch = self.read_epochs[0]
        verdict = epoch.window.check(dtls_record.sequence_number)
        if verdict != "new":
            self._discard_replayed(dtls_record, dtls_record.sequence_number, verdict)
            return
        epoch.window.mark_received(dtls_record.sequence_number)
        content_type = dtls_record.content_type
        self._trace_dtls_record(
            trace.RecordReceived,
            dtls_record.raw,
            epoch,
            dtls_record.sequence_number,
            dtls_record.fragment,
            content_type=content_type,
        )
        self._current_record = dtls_record
        self.route_record(dtls_record, epoch, content_type, dtls_record.fragment)

    def _process_ciphertext(self, ciphertext: record13.DTLSCiphertextRecord) -> None:
        """Find the epoch, decrypt the record number, open, check for replay (RFC 9147 §4.2.2, §4.2.3, §4.5)."""
        epoch = self._epoch_for(ciphertext)
        if epoch is None:
            self._defer_or_discard(ciphertext)
            return
        protection: RecordProtection13 = epoch.protector
        try:
            opened = open_record(protection, ciphertext, epoch.window.right_edge + 1)
        except DeprotectionError as error:
            protection.failed += 1
            self._discard(ciphertext, f"{error} ({epoch.keys} keys, epoch {epoch.number})", error.rfc)
            if protection.failed > FORGERY_LIMIT:
                raise alerts.TLSError(f"more than 2^36 forged records under the epoch {epoch.number} keys") from None
            return
        sequence_number = opened.sequence_number
        resolved = ciphertext.resolved(epoch.number, sequence_number)
        # RFC 9147 §4.5.1: the replay check "SHOULD happen after deprotecting the record"
        verdict = epoch.window.check(sequence_number)
        if verdict != "new":
            self._discard_replayed(resolved, sequence_number, verdict)
            return
        epoch.window.mark_received(sequence_number)
        self._trace_dtls_record(
            trace.RecordReceived,
            ciphertext.raw,
            epoch,
            sequence_number,
            opened.payload,
            content_type=opened.content_type,
            padding_length=opened.padding_length,
        )
        if not opened.content_type:
            raise alerts.UnexpectedMessage(
                "DTLSInnerPlaintext contains no non-zero byte (no content type)", rfc="RFC 8446 §5.4"
            )
        content_type, payload = opened.content_type, opened.payload
        self._forget_old_application_epochs(epoch.number)
        self._current_record = resolved
        self.route_record(resolved, epoch, content_type, payload)

    def _epoch_for(self, ciphertext: record13.DTLSCiphertextRecord) -> Epoch | None:
        """The epoch whose keys open this record, from the header's two epoch bits (RFC 9147 §4.2.2).

        "If the epoch bits match those of the current epoch" -- the current
        one; else "the most recent past epoch which has matching bits"."""
        if ciphertext.is_resolved:  # kept for later with a predicted epoch
            return self.read_epochs.get(ciphertext.epoch)
        bits = ciphertext.epoch_bits
        for number in sorted(self.read_epochs, reverse=True):
            if number != 0 and number <= self.read_epoch and number & record13.EPOCH_MASK == bits:
                return self.read_epochs[number]
        return None

    def _future_epoch(self, bits: int) -> int | None:
        """The epoch a record from the near future must belong to, if any (RFC 9147 §4.2.1).

        Before the handshake keys: 2 (the server's flight overtook its
        ServerHello) or 3 (its application data, too). Later: the next epoch."""
        if self.read_epoch < EPOCH_HANDSHAKE:
            candidates = [EPOCH_HANDSHAKE, EPOCH_APPLICATION]
        else:
            candidates = [self.read_epoch + 1]
        return next((n for n in candidates if n & record13.EPOCH_MASK == bits), None)

    def _defer_or_discard(self, dtls_record: record.DTLSRecord) -> None:
        """A record whose keys we do not have (yet): RFC 9147 §4.2.1, "Implementations MAY either buffer
        or discard such records"; §6.1: otherwise handle it "as a record which fails deprotection"."""
        assert isinstance(dtls_record, record13.DTLSCiphertextRecord)
        future = self._future_epoch(dtls_record.epoch_bits)
        if future is not None and len(self._deferred) < MAX_DEFERRED_RECORDS:
            self._deferred.append(attrs.evolve(dtls_record, epoch=future, is_resolved=True))
            self.observe(
                trace.Note(
                    role=self.role,
                    text=f"a record of epoch {future} arrived before its keys (reordered, or an earlier "
                    "datagram was lost): kept until they are installed",
                    rfc="RFC 9147 §4.2.1",
                )
            )
            if self.state is not State.CONNECTED:
                # RFC 9147 §7.1: "Because it cannot decrypt the EncryptedExtensions, it
                # cannot safely acknowledge it ... Having the client send an empty ACK
                # shortcuts this process."
                self.request_ack("records arrived that cannot be decrypted yet: something before them was lost")
            return
        self._discard(
            dtls_record,
            f"no keys for epoch bits {dtls_record.epoch_bits:02b} (current read epoch {self.read_epoch})",
            "RFC 9147 §6.1",
        )

    def _discard(self, dtls_record: record.DTLSRecord, reason: str, rfc: str) -> None:
        """Trace an invalid record and drop it (RFC 9147 §4.5.2: "invalid records SHOULD be silently
        discarded, thus preserving the association")."""
        if not isinstance(dtls_record, record13.DTLSCiphertextRecord) or dtls_record.is_resolved:
            super()._discard(dtls_record, reason, rfc)
            return
        if self.tracing:
            # Not opened: its epoch and sequence number are known only by their low (encrypted) bits.
            self.observe(
                trace.RecordReceived(
                    role=self.role,
                    content_type=dtls_record.content_type,
                    raw=dtls_record.raw,
                    protection="unopened",
                    sequence_number=dtls_record.sequence_number,
                    rfc="RFC 9147 §4",
                )
            )
        self.observe(trace.Note(role=self.role, level="warning", text=f"record discarded: {reason}", rfc=rfc))

    def _discard_replayed(self, dtls_record: record.DTLSRecord, sequence_number: int, verdict: str) -> None:
        where = "was received already" if verdict == "duplicate" else "is older than the replay window"
        self._discard(
            dtls_record,
            f"replayed: sequence number {sequence_number} of epoch {dtls_record.epoch} {where}",
            "RFC 9147 §4.5.1",
        )

    def _forget_old_application_epochs(self, number: int) -> None:
        """RFC 9147 §8: "receivers MUST retain the pre-update keying material until receipt and
        successful decryption of a message using the new keys". One older epoch is kept for reordering."""
        for old in [n for n in self.read_epochs if EPOCH_APPLICATION <= n < number - 1]:
            del self.read_epochs[old]

    def route_record(self, dtls_record: record.DTLSRecord, epoch: Epoch, content_type: int, payload: bytes) -> None:
        if content_type == record13.ACK:
            self._on_ack(dtls_record, payload)
        elif content_type == ContentType.change_cipher_spec:
            self._discard(dtls_record, "ChangeCipherSpec does not exist in DTLS 1.3", "RFC 9147 §5")
        else:
            super().route_record(dtls_record, epoch, content_type, payload)

    def _on_application_record(self, dtls_record: record.DTLSRecord, epoch: Epoch, payload: bytes) -> None:
        if epoch.protection != "application":
            self._discard(
                dtls_record, "application data must be protected with application traffic keys", "RFC 9147 §6.1"
            )
            return
        if self.state is not State.CONNECTED:
            # RFC 9147 §5.8.1: "Implementations MUST either discard or buffer all
            # application data records for epoch 3 and above until they have
            # received the Finished message from the peer."
            self.keep_until_finished(payload, "the peer's Finished", "RFC 9147 §5.8.1")
            return
        self._deliver_application_data(payload)

    # ================================================================
    # handshake fragments: epochs and the ACK list (RFC 9147 §6.1, §7.1)
    # ================================================================

    def _on_fragment(self, fragment: framing.HandshakeFragment) -> framing.Outcome:
        current = self._current_record
        assert current is not None
        if fragment.msg_type not in self.dtls_classes():
            # Not a DTLS 1.3 message at all (a DTLS 1.2 server's HelloVerifyRequest, say):
            # reassembled, it ends the handshake with unexpected_message, as in TLS.
            return super()._on_fragment(fragment)
        protection = self.read_epochs[current.epoch].protection
        expected = (
            "plaintext"
            if fragment.msg_type in PLAINTEXT_MESSAGES
            else "application"
            if fragment.msg_type in POST_HANDSHAKE_MESSAGES
            else "handshake"
        )
        if protection != expected:
            # A plaintext record must not carry, say, a KeyUpdate: anyone can forge it.
            self._discard(
                current,
                f"a {name_of(to_enum(HandshakeType, fragment.msg_type))} fragment under {protection} protection "
                f"(it belongs under {expected} protection)",
                "RFC 9147 §6.1",
            )
            return "conflicting"
        next_expected = self.reassembler.next_receive_seq
        outcome = super()._on_fragment(fragment)
        number = RecordNumber(epoch=current.epoch, sequence_number=current.sequence_number)
        if outcome == "new":
            # "processed or buffered": this record may be acknowledged
            if number not in self.ack_list:
                self.ack_list.append(number)
            if next_expected is not None and fragment.message_seq > next_expected:
                # RFC 9147 §7.1: an ACK "When they receive a message or fragment which is out of order"
                self.request_ack(f"message_seq {fragment.message_seq} arrived before {next_expected}")
        elif outcome == "old" and self.state is State.CONNECTED:
            self._on_old_message_after_handshake(fragment, number)
        return outcome

    def _on_old_message_after_handshake(self, fragment: framing.HandshakeFragment, number: RecordNumber) -> None:
        """A copy of a message already processed, after the handshake (RFC 9147 §5.8.1, §7.1)."""
        if self.role == "client" and fragment.msg_type not in POST_HANDSHAKE_MESSAGES:
            # The server's flight again: our final flight was lost, and goes out again
            # (DatagramConnection notices the server's retransmission).
            return
        # "the server MUST respond to retransmission of the client's final flight with
        # a retransmit of its ACK"; for post-handshake messages, ACKs cover "records
        # containing messages which are discarded because a previous copy has been received".
        self._peer_retransmitted = False
        if number not in self.ack_list:
            self.ack_list.append(number)
        self.request_ack("a message processed before arrived again: our ACK was lost")

    # ================================================================
    # sending ACKs (RFC 9147 §7.1)
    # ================================================================

    def request_ack(self, reason: str) -> None:
        """Send an ACK once the current datagram has been processed (one per datagram at most)."""
        if not self._ack_reason:
            self._ack_reason = reason

    def _process_incoming(self) -> None:
        """One datagram: its records, then the ACK it calls for, if any."""
        super()._process_incoming()
        if self.closed:
            return
        if self._ack_reason:
            reason, self._ack_reason = self._ack_reason, ""
            self.send_ack(reason)
        elif self.ack_list and self.state is not State.CONNECTED and self.ack_deadline is None:
            # RFC 9147 §7.1: "One approach is to set a timer for 1/4 the current
            # retransmit timer value when the first record in the flight is
            # received and then send an ACK when that timer expires."
            self.ack_deadline = self.config.clock() + self.timer.current / 4

    def send_ack(self, reason: str) -> None:
        """An ACK of the records in the ACK list, in the highest write epoch (RFC 9147 §7)."""
        epoch = self.write_epochs[self.write_epoch]
        room = self.mtu - self.record_header_length(epoch) - self.record_expansion(epoch)
        # "ACK records MUST be sent with an epoch which is equal to or higher than the
        # record which is being acknowledged"; newest first when they do not all fit.
        numbers = sorted(n for n in self.ack_list if n.epoch <= epoch.number)[-most_record_numbers(room) :]
        listed = ", ".join(str(n) for n in numbers) or "none"
        self.observe(
            trace.Note(
                role=self.role,
                text=f"sending ACK in epoch {epoch.number} for records (epoch/seq) {listed}: {reason}",
                rfc="RFC 9147 §7.1",
            )
        )
        self.write_record_13(epoch, record13.ACK, build_ack(numbers))
        self.ack_deadline = None
        if self.state is State.CONNECTED:
            # After the handshake, "ACKs SHOULD be sent once for each received and processed handshake record".
            self.ack_list = [n for n in self.ack_list if n not in numbers]

    # ================================================================
    # receiving ACKs (RFC 9147 §7.2)
    # ================================================================

    def _on_ack(self, dtls_record: record.DTLSRecord, payload: bytes) -> None:
        try:
            ack = parse_ack(payload)
        except DecodeError as error:
            self._discard(dtls_record, f"malformed ACK: {error}", "RFC 9147 §7")
            return
        # RFC 9147 §7: an ACK's epoch is at least that of the records it acknowledges;
        # an unprotected ACK cannot acknowledge protected records.
        usable = [n for n in ack.record_numbers if n.epoch <= dtls_record.epoch]
        listed = ", ".join(str(n) for n in ack.record_numbers) or "none"
        ignored = len(ack.record_numbers) - len(usable)
        newly = self.sent_pieces.acknowledge(usable)
        flight = self.flight
        what = (
            f"acknowledges {self._describe_pieces(newly)}"
            if newly
            else "acknowledges nothing new"
            if ack.record_numbers
            else "is empty: the peer is missing something"
        )
        self.observe(
            trace.Note(
                role=self.role,
                text=f"ACK received for records (epoch/seq) {listed}: {what}"
                + (f"; {ignored} record numbers above the ACK's own epoch ignored" if ignored else ""),
                rfc="RFC 9147 §7.2",
            )
        )
        self._check_key_update_acknowledged()
        if flight is None or flight is not self.flight or not flight.sent:
            return
        if self._flight_acknowledged():
            self._on_flight_acknowledged()
            return
        # RFC 9147 §7.2: "Upon receipt of an ACK that leaves it with only some messages
        # from a flight having been acknowledged, an implementation SHOULD retransmit
        # the unacknowledged messages or fragments." At most one such retransmission
        # per quarter timer, so that a burst of ACKs does not become a burst of copies.
        now = self.config.clock()
        last = self._ack_retransmitted_at
        if last is None or now - last >= self.timer.initial / 4:
            self._ack_retransmitted_at = now
            self._retransmit("the ACK leaves part of it unacknowledged")

    def _describe_pieces(self, pieces: list[Piece]) -> str:
        names = {framing.message_seq_of(e.payload): e.name for e in (self.flight.entries if self.flight else [])}
        described = []
        for piece in pieces:
            name = names.get(piece.message_seq, f"message_seq {piece.message_seq}")
            length = self._message_length(piece.message_seq)
            whole = piece.start == 0 and piece.end == length
            described.append(name if whole else f"{name} bytes {piece.start}..{piece.end}")
        return ", ".join(described)

    def _message_length(self, message_seq: int) -> int:
        for entry in self.flight.entries if self.flight else []:
            if framing.message_seq_of(entry.payload) == message_seq:
                return len(entry.payload) - framing.HANDSHAKE_HEADER_LENGTH
        return -1

    def _flight_acknowledged(self) -> bool:
        flight = self.flight
        if flight is None:
            return True
        return all(
            self.sent_pieces.is_acknowledged(
                framing.message_seq_of(entry.payload), len(entry.payload) - framing.HANDSHAKE_HEADER_LENGTH
            )
            for entry in flight.entries[: flight.sent]
        )

    def _on_flight_acknowledged(self) -> None:
        """RFC 9147 §7.2: "Once all the messages in a flight have been acknowledged,
        the implementation MUST cancel all retransmissions of that flight." """
        flight = self.flight
        assert flight is not None
        self.timer.stop()
        if flight.transmissions <= 1:
            self.timer.reset_value()
        finished = self.state is State.CONNECTED
        self.observe(
            trace.Note(
                role=self.role,
                text=f"flight {flight.number} ({flight.names}) is acknowledged in full: no more retransmissions"
                + (" (FINISHED)" if finished else ""),
                rfc="RFC 9147 §5.8.1",
            )
        )
        if finished:
            self._end_flight()

    def _end_flight(self) -> None:
        flight = self.flight
        if flight is not None:
            self.sent_pieces.forget({framing.message_seq_of(entry.payload) for entry in flight.entries})
        self.flight = None
        self.timer.stop()

    # ================================================================
    # flights and retransmission, with ACKs (RFC 9147 §5.8)
    # ================================================================

    def _peer_flight_begins(self) -> None:
        """During the handshake, the peer's next flight answers ours (RFC 9147 §7.2: "the receipt of
        any record responding to a given flight MUST be taken as an implicit acknowledgement").
        After it, a post-handshake message answers nothing (§7.1's note on crossing KeyUpdates)."""
        if self.state is not State.CONNECTED:
            super()._peer_flight_begins()

    def add_to_flight(self, entry: FlightEntry) -> None:
        if self.state is State.CONNECTED and self.flight is not None:
            if not self._flight_acknowledged():
                # RFC 9147 §5.8.4: post-handshake messages each need their ACK; teachtls
                # retransmits all unacknowledged ones together, under one timer.
                self.flight.entries.append(entry)
                return
            self._end_flight()
        previous = self.flight
        super().add_to_flight(entry)
        if self.flight is not previous:
            if previous is not None:
                self.sent_pieces.forget({framing.message_seq_of(e.payload) for e in previous.entries})
            if self.state is not State.CONNECTED:
                # Our next handshake flight answers the peer's: that one needs no ACK
                # any more (RFC 9147 §7.1). Post-handshake messages answer nothing.
                self.ack_list.clear()
                self.ack_deadline = None
                self._ack_reason = ""

    def flush(self) -> None:
        """Send the flight's new entries and arm the timer; stop it when nothing waits for an answer."""
        flight = self.flight
        if flight is not None and flight.sent < len(flight.entries):
            for entry in flight.entries[flight.sent :]:
                self._transmit(entry)
            flight.sent = len(flight.entries)
            flight.transmissions = max(flight.transmissions, 1)
            self.timer.start(self.config.clock())
        if self.state is State.CLOSED:
            self.timer.stop()
        elif self.state is State.CONNECTED and not self._flight_open:
            # Our last handshake flight was answered by the peer's last one (implicit ACK).
            self._end_flight()

    def _transmit(self, entry: FlightEntry, ranges: list[tuple[int, int]] | None = None) -> None:
        """Write `ranges` of the message (all of it by default) as records of its epoch, fragmenting
        to the MTU, and note which record carried which piece (RFC 9147 §7.2)."""
        epoch = self.write_epochs[entry.epoch]
        message = entry.payload
        body = message[framing.HANDSHAKE_HEADER_LENGTH :]
        message_seq = framing.message_seq_of(message)
        room = max(
            self.mtu
            - self.record_header_length(epoch)
            - self.record_expansion(epoch)
            - framing.HANDSHAKE_HEADER_LENGTH,
            1,
        )
        for start, end in ranges if ranges is not None else [(0, len(body))]:
            offsets = range(start, end, room) if end > start else range(start, start + 1)
            for offset in offsets:
                piece_end = min(offset + room, end)
                fragment = framing.build_fragment(message[0], len(body), message_seq, offset, body[offset:piece_end])
                number = self.write_record_13(epoch, ContentType.handshake, fragment)
                self.sent_pieces.sent(number, Piece(message_seq, offset, piece_end))

    def _retransmit(self, reason: str) -> None:
        """Send again what of the flight is not acknowledged (RFC 9147 §5.8.1), and re-arm the timer."""
        flight = self.flight
        if flight is None or not flight.sent:
            self.timer.stop()
            return
        pending = []
        for entry in flight.entries[: flight.sent]:
            length = len(entry.payload) - framing.HANDSHAKE_HEADER_LENGTH
            missing = self.sent_pieces.missing(framing.message_seq_of(entry.payload), length)
            if missing:
                whole = missing == [(0, length)] or length == 0
                label = entry.name if whole else f"{entry.name} bytes " + ", ".join(f"{a}..{b}" for a, b in missing)
                pending.append((entry, missing, label))
        if not pending:
            self.timer.stop()
            return
        flight.transmissions += 1
        left_out = len(flight.entries[: flight.sent]) - len(pending)
        self.observe(
            trace.Note(
                role=self.role,
                text=f"retransmitting flight {flight.number} ({', '.join(label for _, _, label in pending)}): "
                f"{reason}"
                + (f"; {left_out} acknowledged message(s) left out" if left_out else "")
                + f"; next timeout in {self.timer.current:g} s",
                rfc="RFC 9147 §5.8.1",
            )
        )
        for entry, missing, _ in pending:
            self._transmit(entry, missing)
        self.timer.start(self.config.clock())

    # ================================================================
    # time (RFC 9147 §5.8, §7.1)
    # ================================================================

    def next_timeout(self) -> float | None:
        deadline = super().next_timeout()
        if self.closed or self.ack_deadline is None:
            return deadline
        return self.ack_deadline if deadline is None else min(deadline, self.ack_deadline)

    def handle_timeout(self) -> None:
        """Retransmit on the retransmit timer; send the delayed ACK on its own."""
        if self.closed:
            return
        if self.ack_deadline is not None and self.config.clock() >= self.ack_deadline:
            self.send_ack("part of a flight arrived, and the rest did not follow")
        super().handle_timeout()

    def _close(self) -> None:
        super()._close()
        self.ack_deadline = None

    # ================================================================
    # KeyUpdate (RFC 9147 §8)
    # ================================================================

    def key_update(self, request_peer: bool = True) -> None:
        """Send a KeyUpdate; switch to the next write keys once it is acknowledged (RFC 9147 §8).

        Raises `TLSError` before the handshake, or while an earlier KeyUpdate
        waits for its ACK ("implementations MUST NOT ... send a new KeyUpdate
        until the previous KeyUpdate has been acknowledged")."""
        if self.state is not State.CONNECTED:
            raise alerts.TLSError("KeyUpdate is only possible after the handshake")
        if self._key_update is not None:
            raise alerts.TLSError("the previous KeyUpdate has not been acknowledged yet (RFC 9147 §8)")
        request = KeyUpdateRequest.update_requested if request_peer else KeyUpdateRequest.update_not_requested
        self._send_key_update(request)

    def _send_key_update(self, request: KeyUpdateRequest) -> None:
        raw = self.send_handshake(KeyUpdate(request_update=request), transcript=False)
        self._key_update = (framing.message_seq_of(raw), len(raw) - framing.HANDSHAKE_HEADER_LENGTH)
        self.observe(
            trace.Note(
                role=self.role,
                text=f"KeyUpdate sent in epoch {self.write_epoch}: our records keep that epoch until the "
                "peer acknowledges it",
                rfc="RFC 9147 §8",
            )
        )

    def _check_key_update_acknowledged(self) -> None:
        if self._key_update is None or not self.sent_pieces.is_acknowledged(*self._key_update):
            return
        self._key_update = None
        self.observe(
            trace.Note(
                role=self.role,
                text=f"our KeyUpdate is acknowledged: write epoch {self.write_epoch + 1} begins",
                rfc="RFC 9147 §8",
            )
        )
        self.update_traffic_secret("write")

    def on_key_update(self, message: KeyUpdate, raw: bytes) -> State:
        """RFC 9147 §8: the peer's next records use its next epoch; ACK the KeyUpdate.

        With update_requested we send our own KeyUpdate -- unless one of ours
        is still unacknowledged, which updates our keys anyway ("SHOULD
        instead ignore the "update_requested" flag")."""
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
        self.request_ack("a KeyUpdate must be acknowledged")
        if message.request_update == KeyUpdateRequest.update_requested:
            if self._key_update is None:
                self._send_key_update(KeyUpdateRequest.update_not_requested)
            else:
                self.observe(
                    trace.Note(
                        role=self.role,
                        text="update_requested ignored: our own KeyUpdate is still waiting for its ACK",
                        rfc="RFC 9147 §8",
                    )
                )
        return State.CONNECTED


class DTLS13ClientConnection(DTLS13Connection, ClientConnection):
    """A sans-I/O DTLS 1.3 client.

    client = DTLS13ClientConnection(config)
    client.start_handshake()
    datagrams = client.datagrams_to_send()
    """

    machine: str = "client13"  # until __init__ switches to MACHINES_13["client"]

    def wire_form(self, message: HandshakeMessage) -> HandshakeMessage:
        """RFC 9147 §5.3: "A DTLS 1.3-only client MUST set the legacy_cookie field to zero length."""
        return to_dtls_form(message, cookie=b"")

    def start_handshake(self, early_data: bytes | None = None) -> None:
        """Queue the ClientHello (collect it with `datagrams_to_send()`). No 0-RTT over DTLS 1.3 here."""
        if early_data:
            raise alerts.TLSError("teachtls does not send 0-RTT data over DTLS 1.3 (epoch 1)")
        super().start_handshake()

    def fill_in_binder(self, hello: ClientHello) -> ClientHello:
        """RFC 8446 §4.2.11.2, over the ClientHello as DTLS 1.3 sends it (legacy_cookie, DTLS versions):
        the binder covers the transcript's form of the message (RFC 9147 §5.2)."""
        raw = build_handshake(self.wire_form(hello))
        offered = hello.extensions[-1].extension_data
        assert isinstance(offered, OfferedPsks)
        binders_length = 2 + sum(1 + len(binder) for binder in offered.binders)
        transcript_hash = self.transcript.digest_with(raw[:-binders_length], self.hash_alg)
        binder_key, binder = self.psk_binder(transcript_hash)
        self.observe(
            trace.BinderComputed(
                role=self.role,
                identity_index=0,
                transcript_hash=transcript_hash,
                binder_key=binder_key,
                binder=binder,
            )
        )
        filled = OfferedPsks(identities=offered.identities, binders=(binder,))
        return attrs.evolve(
            hello, extensions=(*hello.extensions[:-1], make_extension(ExtensionType.pre_shared_key, filled))
        )

    def on_new_session_ticket(self, message: NewSessionTicket, raw: bytes) -> State:
        """RFC 9147 §5.7: a NewSessionTicket "must be acknowledged with an ACK message"."""
        state = super().on_new_session_ticket(message, raw)
        self.request_ack("a NewSessionTicket must be acknowledged")
        return state


class DTLS13ServerConnection(DTLS13Connection, ServerConnection):
    """A sans-I/O DTLS 1.3 server: one association, with one client address.

        server = DTLS13ServerConnection(config, DTLSSettings(client_address=b"192.0.2.1:5684"))
        events = server.receive_datagram(datagram)

    With `DTLSSettings.cookie_exchange` (the default) it answers a
    ClientHello without a cookie with a HelloRetryRequest carrying one, and
    forgets the ClientHello (RFC 9147 §5.1, teachtls.dtls.cookie13)."""

    machine: str = "server13"  # until __init__ switches to MACHINES_13["server"]

    def __init__(self, config: Config, dtls: DTLSSettings | None = None) -> None:
        super().__init__(config, dtls)
        self.cookie_secret = self.dtls.cookie_secret or self.config.random(32)
        self._cookie_needed = False

    def wire_form(self, message: HandshakeMessage) -> HandshakeMessage:
        if isinstance(message, ServerHello):
            # RFC 9147 §5: "DTLS servers MUST NOT echo the "legacy_session_id" value from the client"
            message = attrs.evolve(message, legacy_session_id_echo=b"")
        return to_dtls_form(message)

    def maybe_send_change_cipher_spec(self, hello: ClientHello) -> None:
        """RFC 9147 §5: no compatibility mode, no ChangeCipherSpec."""

    # --- the ClientHello and the cookie (RFC 9147 §5.1, §5.3) ---------------------------------

    def on_client_hello(self, message: ClientHello, raw: bytes) -> State:
        hello = self.received_message
        assert isinstance(hello, DTLSClientHello)
        # RFC 9147 §5.3: "If a DTLS 1.3 ClientHello is received with any other value
        # in this field, the server MUST abort the handshake with an "illegal_parameter" alert."
        self.check(
            hello.cookie == b"",
            "legacy_cookie_empty",
            alerts.IllegalParameter,
            "a DTLS 1.3 ClientHello must have an empty legacy_cookie",
            "RFC 9147 §5.3",
        )
        # Our message_seq and (epoch 0) record sequence numbers follow the client's,
        # so that a server that forgot its HelloRetryRequest repeats neither.
        message_seq = framing.message_seq_of(raw)
        if self._current_record is not None:
            epoch0 = self.write_epochs[0]
            epoch0.next_sequence_number = max(epoch0.next_sequence_number, self._current_record.sequence_number)
        self._cookie_needed = False
        if self.dtls.cookie_exchange:
            cookie = returned_cookie(hello)
            if cookie is None:
                self._cookie_needed = True  # negotiate() answers with a stateless HelloRetryRequest
            else:
                contents = open_cookie(self.cookie_secret, self.dtls.client_address, cookie)
                # RFC 9147 §5.1: "If a server receives a ClientHello with an invalid cookie,
                # it MUST terminate the handshake with an "illegal_parameter" alert."
                self.check(
                    contents is not None,
                    "hello_retry_request_cookie",
                    alerts.IllegalParameter,
                    "the ClientHello's cookie was not made by this server for this client address",
                    "RFC 9147 §5.1",
                )
                assert contents is not None
                self.resume_after_hello_retry_request(contents, cookie)
        self.next_send_seq = message_seq
        state = super().on_client_hello(message, raw)
        # PSK binders hash the ClientHello's TLS form (RFC 9147 §5.2)
        self.client_hello_raw = framing.tls_message(raw)
        return state

    def resume_after_hello_retry_request(self, contents: CookieContents, cookie: bytes) -> None:
        """Rebuild, from the cookie alone, the state our HelloRetryRequest left (RFC 9147 §5.1).

        The transcript becomes message_hash(ClientHello1) || HelloRetryRequest
        (RFC 8446 §4.4.1), the cipher suite and the requested group those of
        the HelloRetryRequest."""
        if contents.cipher_suite not in CIPHER_SUITES:
            raise alerts.IllegalParameter("the cookie names an unknown cipher suite", rfc="RFC 9147 §5.1")
        self.choose_cipher_suite(contents.cipher_suite)  # type: ignore[arg-type]
        self.transcript.add(message_hash(contents.client_hello1_hash), "message_hash")
        retry = hello_retry_request(contents, cookie)
        self.transcript.add(build_handshake(self.wire_form(retry)), "HelloRetryRequest")
        self.hello_retry = True
        self.cookie = cookie
        self.hello_retry_group = contents.selected_group or None
        self.observe(
            trace.Note(
                role=self.role,
                text="the ClientHello returns our cookie: the client receives datagrams at its address. "
                "The transcript is rebuilt from the cookie (message_hash of ClientHello1, HelloRetryRequest)",
                rfc="RFC 9147 §5.1",
            )
        )

    def negotiate(self) -> None:
        if self._cookie_needed:
            self._cookie_needed = False
            self.send_stateless_hello_retry_request()
            return
        super().negotiate()

    def send_stateless_hello_retry_request(self) -> None:
        """A HelloRetryRequest with a cookie; then forget everything (RFC 9147 §5.1).

        Its cipher suite and key_share group are those the full handshake
        will choose (the same rules run again on the second ClientHello)."""
        hello = self.client_hello
        assert hello is not None
        suite = self.select_cipher_suite(hello)
        self.choose_cipher_suite(suite)
        client_hello1_hash = self.transcript.digest()  # only ClientHello1 is in it
        group = 0
        if ExtensionType.key_share in self.client_extensions:
            selected, share = self.select_group()
            group = 0 if share is not None else int(selected)
        contents = CookieContents(cipher_suite=int(suite), selected_group=group, client_hello1_hash=client_hello1_hash)
        cookie = make_cookie(self.cookie_secret, self.dtls.client_address, contents)
        self.observe(
            trace.ChoiceMade(
                role=self.role,
                subject="cookie",
                choice="HelloRetryRequest",
                reason="the ClientHello has no cookie: before spending any work or sending a large flight, make "
                "the client prove it receives datagrams at its source address (denial-of-service defence); "
                "the cookie carries what the handshake needs later, so keep no state"
                + (f"; also ask for a {name_of(NamedGroup(group))} key share" if group else ""),
                rfc="RFC 9147 §5.1",
            )
        )
        retry = hello_retry_request(contents, cookie)
        wire_message = self.wire_form(retry)
        body = build_struct(wire_message)
        raw = framing.build_fragment(HandshakeType.server_hello, len(body), self.next_send_seq, 0, body)
        if self.tracing:
            _, spans = parse_handshake(framing.tls_message(raw), classes=self.dtls_classes())
            self.observe(
                trace.MessageSent(
                    role=self.role,
                    name=message_name(retry),
                    msg_type=raw[0],
                    raw=raw,
                    fields=tuple(framing.message_spans(raw, spans)),
                    summary=f"cipher_suite={name_of(suite)} cookie={len(cookie)} bytes"
                    + (f" key_share={name_of(NamedGroup(group))}" if group else ""),
                    rfc="RFC 9147 §5.1",
                )
            )
        self.write_record_13(self.write_epochs[0], ContentType.handshake, raw)  # no flight, no timer
        self.forget_client_hello()
        self.set_state(State.START, "send HelloRetryRequest (stateless)")

    def forget_client_hello(self) -> None:
        """Keep nothing of a ClientHello answered with a cookie: a stateless server's memory.

        (A UDP server, teachtls.net.udp, does not even keep the connection.)"""
        self.transcript = Transcript()
        self.transcript_before_client_hello = Transcript()
        self.cipher_suite = None
        self.params = None
        self.version = None
        self.selected_version = None
        self.client_hello = None
        self.client_extensions = {}
        self.client_hello_raw = b""
        self.hello_retry_group = None
        self.cookie = None
        self.hello_retry = False
        self.secrets = {}
        self.next_send_seq = 0
        self.reassembler.reset(None)
        self.read_epochs[0].window = ReplayWindow(self.dtls.replay_window)
        self.write_epochs[0].next_sequence_number = 0
        self.handshake_started_at = None
        self.ack_list.clear()
        self.ack_deadline = None
        self.flight = None
        self._flight_open = False
        self.timer.stop()

    # --- the client's final flight (RFC 9147 §5.7) ----------------------------------------

    def on_finished(self, message: Finished, raw: bytes) -> State:
        """The client's Finished ends its last flight, which nothing else answers: ACK it (§5.7 note 1)."""
        final_flight = list(self.ack_list)
        state = super().on_finished(message, raw)
        # (Our NewSessionTickets started a new flight and cleared the list; the
        # final flight's records still need their ACK.)
        self.ack_list = sorted(set(final_flight) | set(self.ack_list))
        self.request_ack("the client's final flight must be acknowledged")
        return state


__all__ = ["DTLS13ClientConnection", "DTLS13Connection", "DTLS13ServerConnection"]
