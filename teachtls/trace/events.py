"""Trace events: one frozen, typed record per teachable step of a connection.

Everything teachtls shows -- the step-by-step walkthrough of `teachtls demo`,
sequence diagrams, annotated byte pages, key logs -- is rendered from a list
of these events. A connection emits them through an injected observer
(`teachtls.trace.observer`), so the protocol code never knows whether anyone
is watching, and the renderers never touch a live connection.

Rules every event keeps:

* It is an `attrs` frozen, keyword-only class, named noun + past participle
  (`SecretDerived`, `RecordReceived`). The classes keep their fields in a
  `__dict__` (`slots=False`): a traced handshake makes about a hundred
  events, and attrs builds a frozen dict-backed instance some 30% faster than
  a frozen slotted one (which must set each field through
  `object.__setattr__`). That `__dict__` holds exactly the fields, in
  declaration order -- no cached properties -- and the JSON Lines writer
  reads it as the event's object.
* It says which side emitted it (`role`: "client" or "server") and which RFC
  section explains it (`rfc`).
* Field types are limited to `str`, `int`, `bool`, `bytes`, `None`, tuples of
  `str` and tuples of `FieldSpan`, so that every event round-trips through
  JSON Lines (`teachtls.trace.jsonl`) without custom code per event.
* Secret material is traced in full -- this is a teaching tool -- but such
  fields carry `metadata={"secret": True}` so a trace meant for publication
  can be redacted, and `repr=False` so they do not flood logs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from teachtls.wire.codec import FieldSpan

SCHEMA_VERSION = 1


def secret(**kwargs: Any) -> Any:
    """An event field holding key material: hidden from repr, redactable."""
    return attrs.field(repr=False, metadata={"secret": True}, **kwargs)


@attrs.frozen(kw_only=True, slots=False)
class TraceEvent:
    """Base class. `role` is "client" or "server"."""

    role: str
    rfc: str = ""

    kind: ClassVar[str] = "event"


# --- records (RFC 8446 §5) ---------------------------------------------------


@attrs.frozen(kw_only=True, slots=False)
class RecordEvent(TraceEvent):
    """Base of `RecordSent` and `RecordReceived` (not emitted itself).

    `raw` is the whole record as sent (5-byte header included). For protected
    records `content_type` is the outer type (application_data), while
    `inner_content_type` and `plaintext` show what was encrypted; `nonce` is
    the per-record nonce and `keys` names the traffic secret whose keys were
    used ("server_handshake_traffic_secret", ...).

    DTLS records (RFC 6347 §4.1) use the same events: `raw` then starts
    with the 13-byte DTLSPlaintext header, whose epoch the `epoch` property
    reads, and `sequence_number` is the header's explicit 48-bit one."""

    content_type: int
    raw: bytes
    protection: str  # "plaintext", "early", "handshake", "application"
    sequence_number: int
    inner_content_type: int | None = None
    plaintext: bytes = secret(default=b"")
    padding_length: int = 0
    nonce: bytes = secret(default=b"")
    keys: str = ""
    rfc: str = "RFC 8446 §5"
    kind: ClassVar[str] = "record"

    @property
    def epoch(self) -> int | None:
        """The DTLS epoch in the record's header; None for a TLS record.

        A DTLS 1.0/1.2 header has version 0xFExx where TLS has 0x03xx (RFC
        6347 §4.1); a DTLS 1.3 unified header (first bits 001) carries only
        the epoch's low two bits (RFC 9147 §4), which is what is returned."""
        raw = self.raw
        if len(raw) >= 13 and raw[1] == 0xFE:
            return int.from_bytes(raw[3:5], "big")
        if raw and raw[0] >> 5 == 0b001:
            return raw[0] & 0b11
        return None


@attrs.frozen(kw_only=True, slots=False)
class RecordSent(RecordEvent):
    """A TLSPlaintext or TLSCiphertext record written to the wire."""


@attrs.frozen(kw_only=True, slots=False)
class RecordReceived(RecordEvent):
    """A record read from the wire."""


# --- handshake messages (RFC 8446 §4) -------------------------------------------


@attrs.frozen(kw_only=True, slots=False)
class MessageEvent(TraceEvent):
    """Base of `MessageSent` and `MessageReceived` (not emitted itself).

    `raw` is the whole handshake message, its 4-byte header included;
    `fields` are the leaf fields with their byte spans inside `raw`, in order;
    they cover `raw` exactly. `summary` is one line of the key fields."""

    name: str  # "ClientHello"
    msg_type: int
    raw: bytes
    fields: tuple[FieldSpan, ...] = ()
    summary: str = ""
    kind: ClassVar[str] = "message"


@attrs.frozen(kw_only=True, slots=False)
class MessageSent(MessageEvent):
    """A handshake message built and queued for the peer."""


@attrs.frozen(kw_only=True, slots=False)
class MessageReceived(MessageEvent):
    """A handshake message parsed from the peer's bytes."""


# --- the key schedule (RFC 8446 §7) -------------------------------------------


@attrs.frozen(kw_only=True, slots=False)
class TranscriptUpdated(TraceEvent):
    """Transcript-Hash(messages so far), RFC 8446 §4.4.1."""

    through: str  # the last message included, e.g. "ServerHello"
    transcript_hash: bytes
    hash_name: str
    rfc: str = "RFC 8446 §4.4.1"


@attrs.frozen(kw_only=True, slots=False)
class SecretDerived(TraceEvent):
    """One step of the RFC 8446 §7.1 key schedule.

    `operation` is "HKDF-Extract", "Derive-Secret" or "HKDF-Expand-Label";
    `parent` names the input secret (the salt for an extract), `inputs`
    names the other inputs ("IKM=shared_secret", "Messages=ClientHello..ServerHello")."""

    name: str  # "client_handshake_traffic_secret"
    operation: str
    label: str  # "c hs traffic" ("" for HKDF-Extract)
    parent: str
    inputs: tuple[str, ...] = ()
    transcript_through: str = ""
    transcript_hash: bytes = b""
    value: bytes = secret()
    rfc: str = "RFC 8446 §7.1"


@attrs.frozen(kw_only=True, slots=False)
class KeysInstalled(TraceEvent):
    """Traffic keys derived from a traffic secret and put to use (RFC 8446 §7.3).

    `direction` is "read" or "write"; `protection` is "early", "handshake" or
    "application" (with a generation number after KeyUpdate)."""

    direction: str
    protection: str
    secret_name: str
    cipher_suite: str
    key: bytes = secret()
    iv: bytes = secret()
    rfc: str = "RFC 8446 §7.3"


@attrs.frozen(kw_only=True, slots=False)
class KeyExchangeComputed(TraceEvent):
    """(EC)DHE or hybrid KEM shared secret, RFC 8446 §7.4."""

    group: str
    client_share: bytes
    server_share: bytes
    private_key: bytes = secret(default=b"")
    shared_secret: bytes = secret()
    rfc: str = "RFC 8446 §7.4"


# --- authentication (RFC 8446 §4.4) --------------------------------------------


@attrs.frozen(kw_only=True, slots=False)
class SignatureCreated(TraceEvent):
    """A CertificateVerify signature made over `content` (RFC 8446 §4.4.3)."""

    scheme: str
    content: bytes
    signature: bytes
    rfc: str = "RFC 8446 §4.4.3"


@attrs.frozen(kw_only=True, slots=False)
class SignatureVerified(TraceEvent):
    """The peer's CertificateVerify signature checked against its certificate."""

    scheme: str
    content: bytes
    signature: bytes
    ok: bool
    rfc: str = "RFC 8446 §4.4.3"


@attrs.frozen(kw_only=True, slots=False)
class FinishedComputed(TraceEvent):
    """verify_data = HMAC(finished_key, Transcript-Hash(...)), RFC 8446 §4.4.4."""

    sender: str  # whose Finished: "client" or "server"
    transcript_hash: bytes
    finished_key: bytes = secret()
    verify_data: bytes = secret()
    rfc: str = "RFC 8446 §4.4.4"


@attrs.frozen(kw_only=True, slots=False)
class FinishedVerified(TraceEvent):
    """The peer's Finished compared (in constant time) with the expected value."""

    sender: str  # whose Finished was checked
    transcript_hash: bytes
    ok: bool
    finished_key: bytes = secret()
    verify_data: bytes = secret()  # the expected value
    received: bytes = secret(default=b"")
    rfc: str = "RFC 8446 §4.4.4"


@attrs.frozen(kw_only=True, slots=False)
class BinderComputed(TraceEvent):
    """A PSK binder: HMAC(finished_key(binder_key), Transcript-Hash(Truncated(ClientHello))),
    RFC 8446 §4.2.11.2. It proves the client knows the PSK and binds it to this handshake."""

    identity_index: int
    transcript_hash: bytes
    binder_key: bytes = secret()
    binder: bytes = secret()
    rfc: str = "RFC 8446 §4.2.11.2"


@attrs.frozen(kw_only=True, slots=False)
class BinderVerified(TraceEvent):
    """The server recomputed the client's binder and compared it in constant time."""

    identity_index: int
    transcript_hash: bytes
    ok: bool
    binder_key: bytes = secret()
    binder: bytes = secret()  # the expected value
    received: bytes = secret(default=b"")
    rfc: str = "RFC 8446 §4.2.11.2"


@attrs.frozen(kw_only=True, slots=False)
class ChoiceMade(TraceEvent):
    """A negotiation decision and why: which cipher suite, group, PSK, whether
    0-RTT data is accepted, whether a HelloRetryRequest is needed."""

    subject: str  # "cipher_suite", "group", "psk", "early_data", "signature_scheme", "alpn"
    choice: str
    reason: str = ""


@attrs.frozen(kw_only=True, slots=False)
class CertificateChecked(TraceEvent):
    """The peer's certificate chain checked against the trust store."""

    subject: str
    server_name: str
    checked: tuple[str, ...]
    ok: bool
    reason: str = ""
    rfc: str = "RFC 8446 §4.4.2.4"


# --- negotiation, checks, state ----------------------------------------------------


@attrs.frozen(kw_only=True, slots=False)
class CheckPerformed(TraceEvent):
    """A MUST of the RFC that was checked, and its outcome."""

    check: str  # "legacy_session_id_echo"
    passed: bool
    detail: str = ""


@attrs.frozen(kw_only=True, slots=False)
class ParametersNegotiated(TraceEvent):
    """What the two sides agreed on (RFC 8446 §4.1.1)."""

    version: str
    cipher_suite: str
    group: str = ""
    signature_scheme: str = ""
    alpn: str = ""
    server_name: str = ""
    hello_retry: bool = False
    rfc: str = "RFC 8446 §4.1.1"


@attrs.frozen(kw_only=True, slots=False)
class StateChanged(TraceEvent):
    """A transition of the handshake state machine (RFC 8446 Appendix A)."""

    machine: str  # "client13", "server13"
    old_state: str
    new_state: str
    trigger: str  # the message or action that caused it
    rfc: str = "RFC 8446 §A"


# --- alerts and data (RFC 8446 §6, §5) --------------------------------------------


@attrs.frozen(kw_only=True, slots=False)
class AlertEvent(TraceEvent):
    """Base of `AlertSent` and `AlertReceived` (not emitted itself)."""

    level: str  # "warning" or "fatal"
    description: str  # "close_notify", "decrypt_error", ...
    reason: str = ""  # for alerts we send: the check that failed
    rfc: str = "RFC 8446 §6"


@attrs.frozen(kw_only=True, slots=False)
class AlertSent(AlertEvent):
    """An alert we sent: a closure (close_notify) or a fatal error."""


@attrs.frozen(kw_only=True, slots=False)
class AlertReceived(AlertEvent):
    """An alert the peer sent."""


@attrs.frozen(kw_only=True, slots=False)
class ApplicationDataEvent(TraceEvent):
    """Base of `ApplicationDataSent` and `ApplicationDataReceived`."""

    data: bytes = secret()
    rfc: str = "RFC 8446 §5.2"


@attrs.frozen(kw_only=True, slots=False)
class ApplicationDataSent(ApplicationDataEvent):
    """Application data handed to the connection for sending."""


@attrs.frozen(kw_only=True, slots=False)
class ApplicationDataReceived(ApplicationDataEvent):
    """Application data decrypted from the peer's records."""


@attrs.frozen(kw_only=True, slots=False)
class Note(TraceEvent):
    """Free text for a reader: a warning (verification disabled) or a remark."""

    text: str
    level: str = "info"  # "info" or "warning"


EVENT_TYPES: dict[str, type[TraceEvent]] = {
    cls.__name__: cls
    for cls in (
        RecordSent,
        RecordReceived,
        MessageSent,
        MessageReceived,
        TranscriptUpdated,
        SecretDerived,
        KeysInstalled,
        KeyExchangeComputed,
        SignatureCreated,
        SignatureVerified,
        FinishedComputed,
        FinishedVerified,
        BinderComputed,
        BinderVerified,
        ChoiceMade,
        CertificateChecked,
        CheckPerformed,
        ParametersNegotiated,
        StateChanged,
        AlertSent,
        AlertReceived,
        ApplicationDataSent,
        ApplicationDataReceived,
        Note,
    )
}
