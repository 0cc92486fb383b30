"""The walkthrough: a recorded trace told as a numbered, step-by-step story.

`teachtls demo` runs a handshake and prints this. It is the plain-text
companion of the sequence diagram: where the diagram shows *that* a
ClientHello went from client to server, the walkthrough shows what it
offered, the record it travelled in, what the receiver checked, which states
each side moved through, and every secret of the RFC 8446 §7.1 key schedule
as it was derived:

     1  client → server  ClientHello  (RFC 8446 §4.1.2)
        cipher_suites=[TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256, ...]
        196 bytes in a 201-byte plaintext record
        record sent: handshake, 201 bytes, plaintext
        client: START → WAIT_SH  (send ClientHello)

     2  server ← client  ClientHello  (RFC 8446 §4.1.2)
        record received: handshake, 201 bytes, plaintext
        196 bytes (as sent in step 1), in the 201-byte record above
        ✓ legacy_compression_methods  (RFC 8446 §4.1.2)
        ...
     8  client ← server  ServerHello  (RFC 8446 §4.1.3)
        ...
        x25519 shared secret = 7d2f94741b2b86e9…  (RFC 8446 §7.4)
            = x25519(client's private key 602cad72278e8400…, server_share 74f527d4c5b79d59…)
        derive client_handshake_traffic_secret = 33840a999628916e…  (= server's)
            = Derive-Secret(handshake_secret, "c hs traffic", ClientHello..ServerHello)

How events become steps. The trace is read strictly in order; nothing is
reordered. A new numbered step starts at each *headline* event: a handshake
message sent or received, an alert sent or received, or application data
sent or received. Every other event (checks, secrets, state changes,
records, notes) is a detail line of the step it falls in. One exception
keeps the story natural: a record is read *before* the message inside it is
parsed, so a `RecordReceived` opens a step of its own, and the received
message (alert, data) that follows joins that step instead of starting
another; records no message follows keep a step of their own. Records are
always one line each; a message line also says which record carried it
(found by looking for the message's bytes in the record's plaintext).

In-memory traces hold both roles. A single `Recorder` given to both the
client's and the server's `Config` produces one ordered trace with both
sides, so every message appears twice (sent, then received) and both sides
derive the same secrets. Each side's derivations are shown under that side,
because that *is* the lesson: two parties that never sent a secret arrive at
the same keys. A derivation line notes "(= server's)" when the other side
already derived the same value. A received message whose bytes were already
shown being sent points back to that step instead of repeating its summary.

Hex values are shortened to their first 8 bytes followed by "…". With
`show_secrets=False` every field the trace marks as secret (metadata
`{"secret": True}` in `teachtls.trace.events`: secrets, keys, IVs, shared
secrets, verify_data, application data) is printed as "(redacted)", and any
occurrence of such a value inside a message summary is scrubbed as well.
A trace that was already written redacted (`teachtls.trace.jsonl`) has empty
secret fields, which also print as "(redacted)".

Every event type in `teachtls.trace.events.EVENT_TYPES` has a renderer in
`RENDERERS`, a dictionary keyed by the *exact* event class. Lookup is by
`type(event)`, never `isinstance`: sent and received events share base
classes (`RecordEvent`, `MessageEvent`, `AlertEvent`, ...), and a renderer
registered for a base must never silently swallow a new subclass. An
unknown class (a trace from a newer schema) falls back to a generic
one-line rendering rather than crashing.

This module only reads traces: it imports the event classes and the wire
enums, never a connection or the handshake code (STYLE.md, "Renderers only
read").
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from teachtls.render.common import peer_of, short_hex
from teachtls.trace.events import (
    AlertEvent,
    AlertReceived,
    AlertSent,
    ApplicationDataEvent,
    ApplicationDataReceived,
    ApplicationDataSent,
    BinderComputed,
    BinderVerified,
    CertificateChecked,
    CheckPerformed,
    ChoiceMade,
    FinishedComputed,
    FinishedVerified,
    KeyExchangeComputed,
    KeysInstalled,
    MessageEvent,
    MessageReceived,
    MessageSent,
    Note,
    ParametersNegotiated,
    RecordEvent,
    RecordReceived,
    RecordSent,
    SecretDerived,
    SignatureCreated,
    SignatureVerified,
    StateChanged,
    TraceEvent,
    TranscriptUpdated,
)
from teachtls.wire.enums import ContentType, HandshakeType

__all__ = ["RENDERERS", "render_walkthrough", "summarize_trace"]

WIDTH = 100
"""The terminal width the walkthrough is laid out for."""

SHORT_BYTES = 8
"""Hex values are shown as their first this-many bytes and "…"."""

NUMBER_WIDTH = 2  # " 1  client → server ...": the step number, right-aligned
DETAIL_INDENT = NUMBER_WIDTH + 2  # detail lines start under the role word of the header
CONTINUATION = 4  # extra indent of a wrapped line

REDACTED = "(redacted)"

# RFC 8446 §4.6: messages sent after the handshake, not part of it.
POST_HANDSHAKE_TYPES = frozenset({HandshakeType.new_session_ticket, HandshakeType.key_update})

# ANSI SGR codes for `color=True`: each line gets one style as a whole, so
# colouring can never disturb the wrapping.
ANSI = {
    "client": "1;36",  # bold cyan
    "server": "1;35",  # bold magenta
    "ok": "32",  # green
    "fail": "1;31",  # bold red
    "warn": "1;33",  # bold yellow
    "dim": "2",
    "bold": "1",
}


# --------------------------------------------------------------------------
# Small formatting helpers
# --------------------------------------------------------------------------


def _content_type_name(value: int | None) -> str:
    if value is None:
        return "?"
    try:
        return ContentType(value).name
    except ValueError:
        return f"content type {value}"


def _record_content(record: RecordEvent) -> int:
    """The real content type: the inner one for a protected record."""
    return record.content_type if record.inner_content_type is None else record.inner_content_type


def _protection(record: RecordEvent) -> str:
    if record.protection == "plaintext":
        return "plaintext"
    if record.keys:
        return f"encrypted with {record.keys} keys"
    return f"encrypted ({record.protection} keys)"


_ESCAPES = {ord("\r"): "\\r", ord("\n"): "\\n", ord("\t"): "\\t", ord('"'): '\\"', ord("\\"): "\\\\"}


def _preview(data: bytes, limit: int = 40) -> str:
    """A short preview of application data: `"GET / HTTP/1.1\\r\\n…"` for
    text, shortened hex for binary data."""
    printable = sum(1 for byte in data if 32 <= byte < 127 or byte in b"\r\n\t")
    if data and printable < 0.75 * len(data):
        return f"hex {short_hex(data)}"
    text = ""
    for byte in data:
        character = _ESCAPES.get(byte, chr(byte) if 32 <= byte < 127 else f"\\x{byte:02x}")
        if len(text) + len(character) > limit:
            return f'"{text}"…'
        text += character
    return f'"{text}"'


def _count_handshake_messages(plaintext: bytes, *, dtls: bool = False) -> int:
    """How many handshake messages a record's plaintext holds: each starts
    with msg_type (1 byte) and a uint24 length (RFC 8446 §4). A message cut
    by the record's end (fragmentation) counts as one. A DTLS fragment has a
    12-byte header ending in its uint24 fragment_length (RFC 6347 §4.2.2)."""
    position, count = 0, 0
    header, length_at = (12, 9) if dtls else (4, 1)
    while position + header <= len(plaintext):
        position += header + int.from_bytes(plaintext[position + length_at : position + length_at + 3], "big")
        count += 1
    return count


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


_LONG_HEX = re.compile(rf"\b[0-9a-f]{{{2 * SHORT_BYTES + 2},}}\b")


def _shorten_hex_runs(text: str) -> str:
    """Shorten any long hex string inside free text (message summaries)."""
    return _LONG_HEX.sub(lambda match: match.group(0)[: 2 * SHORT_BYTES] + "…", text)


def _signed_content(content: bytes) -> tuple[str, bytes]:
    """Split CertificateVerify content (RFC 8446 §4.4.3) into its context
    string and transcript hash: 64 × 0x20 ‖ context ‖ 0x00 ‖ Transcript-Hash."""
    if content[:64] == b" " * 64 and b"\x00" in content[64:]:
        end = content.index(b"\x00", 64)
        return content[64:end].decode("ascii", "replace"), content[end + 1 :]
    return "", b""


def _secret_values(events: Sequence[TraceEvent]) -> set[bytes]:
    """Every value (of at least SHORT_BYTES bytes) in a field marked secret."""
    values: set[bytes] = set()
    for event in events:
        for field in attrs.fields(type(event)):
            value = getattr(event, field.name)
            if field.metadata.get("secret") and isinstance(value, bytes) and len(value) >= SHORT_BYTES:
                values.add(value)
    return values


# --------------------------------------------------------------------------
# Lines and steps
# --------------------------------------------------------------------------


@attrs.frozen
class Line:
    """One logical line before wrapping: text, indent and a whole-line style."""

    text: str
    indent: int = DETAIL_INDENT
    style: str = ""


@attrs.define
class Step:
    """A numbered step: one headline event and the details that follow it."""

    number: int | None  # None for the preamble (events before the first step)
    role: str
    header: Line | None = None
    headline: TraceEvent | None = None
    lines: list[Line] = attrs.Factory(list)
    kinds: list[type[TraceEvent]] = attrs.Factory(list)  # the classes of its events, in order


class Walk:
    """Rendering state: options, the steps so far and cross-references.

    Renderers (one function per event class, see `RENDERERS`) receive the
    walk and the event and call `add` / `headline`; they never see the
    output format."""

    def __init__(self, events: Sequence[TraceEvent], *, show_secrets: bool, width: int = WIDTH) -> None:
        self.events = events
        self.show_secrets = show_secrets
        self.width = width
        self.steps: list[Step] = [Step(number=None, role="")]
        self.index = 0  # index of the event being rendered
        self.record_of = _match_records(events)  # message index -> record index
        self.messages_per_record = Counter(self.record_of.values())
        self.records_shown: set[int] = set()  # records whose own line is out
        self.first_message_in: dict[int, int] = {}  # record index -> index of its first message
        self.sent_in_step: dict[tuple[str, bytes], int] = {}  # (sender, message bytes) -> step number
        self.derived: dict[tuple[str, str], bytes] = {}  # (role, secret name) -> value
        self.last_transcript: dict[str, tuple[str, bytes]] = {}
        # Values to scrub from free text when secrets are hidden.
        self.secret_values = set() if show_secrets else _secret_values(events)

    # -- steps --------------------------------------------------------------
    @property
    def step(self) -> Step:
        return self.steps[-1]

    def new_step(self, role: str) -> Step:
        number = sum(1 for step in self.steps if step.number is not None) + 1
        self.steps.append(Step(number=number, role=role))
        return self.step

    def headline(self, event: TraceEvent, text: str, style: str = "") -> None:
        """Give the current step its header line."""
        self.step.header = Line(text, indent=0, style=style or event.role)
        self.step.headline = event

    def add(self, event: TraceEvent, text: str, style: str = "", extra_indent: int = 0) -> None:
        """A detail line; lines by the other role than the step's are tagged."""
        if self.step.role and event.role != self.step.role:
            text = f"[{event.role}] {text}"
        self.step.lines.append(Line(text, indent=DETAIL_INDENT + extra_indent, style=style))

    # -- values -------------------------------------------------------------
    def secret(self, value: bytes) -> str:
        """A secret value as shortened hex, or "(redacted)"."""
        if not self.show_secrets or not value:
            return REDACTED
        return short_hex(value)


def _match_records(events: Sequence[TraceEvent]) -> dict[int, int]:
    """Which record carried each handshake message (event indices).

    A connection traces a message when it builds or parses it, and a record
    when it writes or reads it. So a sent message went into the next
    handshake record its role writes (several messages may share it), and a
    received one came out of the last handshake record its role read."""

    def is_handshake_record(record: TraceEvent, role: str, record_class: type[RecordEvent]) -> bool:
        return (
            type(record) is record_class
            and record.role == role
            and isinstance(record, RecordEvent)
            and _record_content(record) == ContentType.handshake
        )

    matches: dict[int, int] = {}
    for index, event in enumerate(events):
        if type(event) is MessageSent:
            candidates: Iterable[int] = range(index + 1, len(events))
            record_class: type[RecordEvent] = RecordSent
        elif type(event) is MessageReceived:
            candidates = range(index - 1, -1, -1)
            record_class = RecordReceived
        else:
            continue
        for candidate in candidates:
            if is_handshake_record(events[candidate], event.role, record_class):
                matches[index] = candidate
                break
    return matches


# --------------------------------------------------------------------------
# Renderers, one per event class
# --------------------------------------------------------------------------


def _message_record_line(walk: Walk, event: MessageEvent, back_reference: str = "") -> str:
    """'196 bytes in a 201-byte plaintext record', or a pointer to a record
    already described ('463 bytes, in the same 625-byte record as
    EncryptedExtensions')."""
    size = f"{len(event.raw)} bytes{back_reference}"
    record_index = walk.record_of.get(walk.index)
    if record_index is None:
        return size
    record = walk.events[record_index]
    assert isinstance(record, RecordEvent)
    first = walk.first_message_in.setdefault(record_index, walk.index)
    if first != walk.index:
        first_name = getattr(walk.events[first], "name", "the message before")
        return f"{size}, in the same {len(record.raw)}-byte record as {first_name}"
    if record_index in walk.records_shown:  # a received record: its line is just above
        return f"{size}, in the {len(record.raw)}-byte record above"
    if record.protection == "plaintext":
        return f"{size} in a {len(record.raw)}-byte plaintext record"
    return f"{size} in a {len(record.raw)}-byte record, {_protection(record)}"


def _split_summary(summary: str) -> list[str]:
    """'a=[x, y] b=z' -> ['a=[x, y]', 'b=z']: one line per top-level field."""
    parts: list[str] = []
    depth, start = 0, 0
    for position, character in enumerate(summary):
        depth += {"[": 1, "(": 1, "]": -1, ")": -1}.get(character, 0)
        if character == " " and depth == 0 and re.match(r"[A-Za-z_][\w.]*=", summary[position + 1 :]):
            parts.append(summary[start:position])
            start = position + 1
    parts.append(summary[start:])
    return [part for part in parts if part]


def _summary_lines(walk: Walk, event: MessageEvent) -> None:
    for part in _split_summary(event.summary):
        walk.add(event, _shorten_hex_runs(part))


def render_message_sent(walk: Walk, event: MessageSent) -> None:
    rfc = f"  ({event.rfc})" if event.rfc else ""
    walk.headline(event, f"{event.role} → {peer_of(event.role)}  {event.name}{rfc}")
    _summary_lines(walk, event)
    walk.add(event, _message_record_line(walk, event))
    if walk.step.number is not None:
        walk.sent_in_step.setdefault((event.role, event.raw), walk.step.number)


def render_message_received(walk: Walk, event: MessageReceived) -> None:
    rfc = f"  ({event.rfc})" if event.rfc else ""
    walk.headline(event, f"{event.role} ← {peer_of(event.role)}  {event.name}{rfc}")
    sent_step = walk.sent_in_step.get((peer_of(event.role), event.raw))
    if sent_step is not None:
        # The reader saw this message's fields when it was sent: point back.
        walk.add(event, _message_record_line(walk, event, f" (as sent in step {sent_step})"))
    else:
        _summary_lines(walk, event)
        walk.add(event, _message_record_line(walk, event))


def _record_line(walk: Walk, event: RecordEvent, verb: str) -> str:
    content_type = _record_content(event)
    content = _content_type_name(content_type)
    # Count from the plaintext itself; a redacted trace has only the matches.
    dtls = event.epoch is not None
    carried = _count_handshake_messages(event.plaintext, dtls=dtls) or walk.messages_per_record[walk.index]
    if content_type == ContentType.handshake and carried > 1:
        content = f"{carried} handshake messages"
    line = f"record {verb}: {content}, {len(event.raw)} bytes"
    if dtls:
        # RFC 6347 §4.1: a DTLS record names its epoch and sequence number.
        line += f", epoch {event.epoch}, seq {event.sequence_number}, {_protection(event)}"
        if content_type == ContentType.change_cipher_spec:
            line += f"  (the sender's next records carry epoch {(event.epoch or 0) + 1})"
        return line
    if event.protection == "plaintext":
        line += ", plaintext"
    else:
        # The sequence number goes into the per-record nonce (RFC 8446 §5.3).
        line += f", seq {event.sequence_number}, {_protection(event)}"
    if event.padding_length:
        line += f", {event.padding_length} bytes of padding"
    if content_type == ContentType.change_cipher_spec:
        # RFC 8446 §5 / Appendix D.4: a dummy change_cipher_spec for middleboxes.
        line += "  (middlebox compatibility, ignored)"
    return line


def _render_record(walk: Walk, event: RecordEvent, verb: str) -> None:
    walk.add(event, _record_line(walk, event, verb), style="dim")
    walk.records_shown.add(walk.index)


def render_record_sent(walk: Walk, event: RecordSent) -> None:
    _render_record(walk, event, "sent")


def render_record_received(walk: Walk, event: RecordReceived) -> None:
    _render_record(walk, event, "received")


def render_transcript_updated(walk: Walk, event: TranscriptUpdated) -> None:
    # A role may hash the same transcript twice (before and after a step);
    # the second line would say nothing new.
    key = (event.through, event.transcript_hash)
    if walk.last_transcript.get(event.role) == key:
        return
    walk.last_transcript[event.role] = key
    messages = "ClientHello" if event.through == "ClientHello" else f"ClientHello..{event.through}"
    walk.add(event, f"Transcript-Hash({messages}) = {short_hex(event.transcript_hash)}  ({event.hash_name})")


def _secret_formula(event: SecretDerived) -> str:
    """The RFC 8446 §7.1 notation for how the secret was computed."""
    inputs = list(event.inputs)
    if event.operation == "HKDF-Extract":
        ikm = ", ".join(inputs) if inputs else "IKM"
        return f"HKDF-Extract(salt={event.parent}, {ikm})"
    if event.operation == "Derive-Secret":
        messages = event.transcript_through
        for item in inputs:
            if item.startswith("Messages="):
                messages = item.removeprefix("Messages=")
        if messages in ("", "(empty)"):
            messages = '""'
        return f'Derive-Secret({event.parent}, "{event.label}", {messages})'
    arguments = [event.parent, f'"{event.label}"', *inputs]
    return f"{event.operation}({', '.join(arguments)})"


def render_secret_derived(walk: Walk, event: SecretDerived) -> None:
    value = walk.secret(event.value)
    other = walk.derived.get((peer_of(event.role), event.name))
    if event.value:
        walk.derived[(event.role, event.name)] = event.value
    agreement, style = "", ""
    if other is not None and event.value:
        if other == event.value:
            agreement = f"  (= {peer_of(event.role)}'s)"
        else:
            agreement, style = f"  (≠ {peer_of(event.role)}'s!)", "fail"
    formula = _secret_formula(event)
    one_line = f"derive {event.name} = {formula} = {value}{agreement}"
    if DETAIL_INDENT + len(one_line) <= walk.width:
        walk.add(event, one_line, style=style)
    else:
        # The ladder stays readable: name and value first, the formula below.
        walk.add(event, f"derive {event.name} = {value}{agreement}", style=style)
        walk.add(event, f"= {formula}", extra_indent=CONTINUATION)


def render_keys_installed(walk: Walk, event: KeysInstalled) -> None:
    walk.add(
        event,
        f"{event.direction} keys ← {event.secret_name}: key={walk.secret(event.key)} iv={walk.secret(event.iv)}",
    )


def render_key_exchange_computed(walk: Walk, event: KeyExchangeComputed) -> None:
    walk.add(event, f"{event.group} shared secret = {walk.secret(event.shared_secret)}  ({event.rfc})")
    peer = peer_of(event.role)
    peer_share = event.server_share if event.role == "client" else event.client_share
    if event.private_key and "mlkem" not in event.group.lower():
        # (EC)DHE: each side combines its own private key with the peer's share.
        walk.add(
            event,
            f"= {event.group}({event.role}'s private key {walk.secret(event.private_key)}, "
            f"{peer}_share {short_hex(peer_share)})",
            extra_indent=CONTINUATION,
        )
    else:
        walk.add(
            event,
            f"from client_share {short_hex(event.client_share)} and server_share {short_hex(event.server_share)}",
            extra_indent=CONTINUATION,
        )


def _signed_description(content: bytes) -> str:
    """RFC 8446 §4.4.3: what a CertificateVerify signature covers."""
    context, transcript_hash = _signed_content(content)
    if not context:
        return f"over {len(content)} bytes"
    return f'over 64×0x20 ‖ "{context}" ‖ 0x00 ‖ {short_hex(transcript_hash)}'


def render_signature_created(walk: Walk, event: SignatureCreated) -> None:
    walk.add(event, f"sign with {event.scheme} = {short_hex(event.signature)}  ({event.rfc})")
    walk.add(event, _signed_description(event.content), extra_indent=CONTINUATION)


def render_signature_verified(walk: Walk, event: SignatureVerified) -> None:
    if event.ok:
        walk.add(event, f"✓ {event.scheme} signature {short_hex(event.signature)} verified  ({event.rfc})", "ok")
    else:
        walk.add(
            event, f"✗ {event.scheme} signature {short_hex(event.signature)} does NOT verify  ({event.rfc})", "fail"
        )
    walk.add(event, _signed_description(event.content), extra_indent=CONTINUATION)


def _hmac(walk: Walk, finished_key: bytes, transcript_hash: bytes) -> str:
    return f"= HMAC(finished_key {walk.secret(finished_key)}, Transcript-Hash {short_hex(transcript_hash)})"


def render_finished_computed(walk: Walk, event: FinishedComputed) -> None:
    walk.add(event, f"compute {event.sender} Finished verify_data = {walk.secret(event.verify_data)}  ({event.rfc})")
    walk.add(event, _hmac(walk, event.finished_key, event.transcript_hash), extra_indent=CONTINUATION)


def render_finished_verified(walk: Walk, event: FinishedVerified) -> None:
    if event.ok:
        walk.add(
            event,
            f"✓ {event.sender} Finished verified: verify_data = {walk.secret(event.verify_data)}  ({event.rfc})",
            "ok",
        )
    else:
        walk.add(
            event,
            f"✗ {event.sender} Finished does NOT verify: received {walk.secret(event.received)}, "
            f"expected {walk.secret(event.verify_data)}  ({event.rfc})",
            "fail",
        )
    walk.add(event, _hmac(walk, event.finished_key, event.transcript_hash), extra_indent=CONTINUATION)


def _binder_formula(walk: Walk, binder_key: bytes, transcript_hash: bytes) -> str:
    return (
        f"= HMAC(finished_key(binder_key {walk.secret(binder_key)}), "
        f"Transcript-Hash(Truncated(ClientHello)) {short_hex(transcript_hash)})"
    )


def render_binder_computed(walk: Walk, event: BinderComputed) -> None:
    walk.add(event, f"PSK binder [{event.identity_index}] = {walk.secret(event.binder)}  ({event.rfc})")
    walk.add(event, _binder_formula(walk, event.binder_key, event.transcript_hash), extra_indent=CONTINUATION)


def render_binder_verified(walk: Walk, event: BinderVerified) -> None:
    if event.ok:
        text = f"✓ PSK binder [{event.identity_index}] verified = {walk.secret(event.binder)}  ({event.rfc})"
        walk.add(event, text, "ok")
    else:
        text = (
            f"✗ PSK binder [{event.identity_index}] does NOT verify: received {walk.secret(event.received)}, "
            f"expected {walk.secret(event.binder)}  ({event.rfc})"
        )
        walk.add(event, text, "fail")
    walk.add(event, _binder_formula(walk, event.binder_key, event.transcript_hash), extra_indent=CONTINUATION)


def render_choice_made(walk: Walk, event: ChoiceMade) -> None:
    reason = f"; {event.reason}" if event.reason else ""
    rfc = f"  ({event.rfc})" if event.rfc else ""
    walk.add(event, f"decide {event.subject}: {event.choice}{reason}{rfc}")


def render_certificate_checked(walk: Walk, event: CertificateChecked) -> None:
    name = f" for server name {event.server_name!r}" if event.server_name else ""
    walk.add(event, f"certificate {event.subject or '(no subject)'} checked{name}  ({event.rfc})")
    for item in event.checked:
        walk.add(event, f"✓ {item}", style="ok", extra_indent=2)
    if event.ok:
        if event.reason:
            walk.add(event, f"✓ {event.reason}", style="ok", extra_indent=2)
    else:
        walk.add(event, f"✗ {event.reason or 'certificate verification failed'}", style="fail", extra_indent=2)


def render_check_performed(walk: Walk, event: CheckPerformed) -> None:
    rfc = f"  ({event.rfc})" if event.rfc else ""
    if event.passed:
        # `detail` states what would have been wrong; a passed check needs only its name.
        walk.add(event, f"✓ {event.check}{rfc}", style="ok")
    else:
        detail = f": {event.detail}" if event.detail else ""
        walk.add(event, f"✗ {event.check} FAILED{detail}{rfc}", style="fail")


def _negotiated_text(event: ParametersNegotiated) -> str:
    parts = [event.version, event.cipher_suite, event.group, event.signature_scheme]
    text = ", ".join(part for part in parts if part)
    if event.hello_retry:
        text += " (after a HelloRetryRequest)"
    if event.alpn:
        text += f"; ALPN {event.alpn}"
    if event.server_name:
        text += f"; server_name={event.server_name}"
    return text


def render_parameters_negotiated(walk: Walk, event: ParametersNegotiated) -> None:
    walk.add(event, f"negotiated: {_negotiated_text(event)}", style="bold")


def render_state_changed(walk: Walk, event: StateChanged) -> None:
    trigger = f"  ({event.trigger})" if event.trigger else ""
    if event.old_state == event.new_state:
        walk.add(event, f"{event.role}: stays {event.new_state}{trigger}")
    else:
        walk.add(event, f"{event.role}: {event.old_state} → {event.new_state}{trigger}")


def _render_alert(walk: Walk, event: AlertEvent, arrow: str) -> None:
    fatal = event.level == "fatal"
    walk.headline(
        event,
        f"{event.role} {arrow} {peer_of(event.role)}  alert: {event.level} {event.description}  ({event.rfc})",
        style="fail" if fatal else event.role,
    )
    if event.reason:
        walk.add(event, f"reason: {event.reason}", style="fail" if fatal else "")


def render_alert_sent(walk: Walk, event: AlertSent) -> None:
    _render_alert(walk, event, "→")


def render_alert_received(walk: Walk, event: AlertReceived) -> None:
    _render_alert(walk, event, "←")


def _application_data(walk: Walk, event: ApplicationDataEvent) -> str:
    if not walk.show_secrets:
        return f"{_plural(len(event.data), 'byte')} {REDACTED}" if event.data else REDACTED
    return f"{_plural(len(event.data), 'byte')} {_preview(event.data)}"


def render_application_data_sent(walk: Walk, event: ApplicationDataSent) -> None:
    walk.headline(event, f"{event.role} → {peer_of(event.role)}  application data: {_application_data(walk, event)}")


def render_application_data_received(walk: Walk, event: ApplicationDataReceived) -> None:
    walk.headline(event, f"{event.role} ← {peer_of(event.role)}  application data: {_application_data(walk, event)}")


def render_note(walk: Walk, event: Note) -> None:
    rfc = f"  ({event.rfc})" if event.rfc else ""
    if event.level == "warning":
        walk.add(event, f"⚠ WARNING: {event.text}{rfc}", style="warn")
    else:
        walk.add(event, f"note: {event.text}{rfc}")


def render_unknown(walk: Walk, event: TraceEvent) -> None:
    """Fallback for an event class this module does not know (newer schema)."""
    fields = ", ".join(
        f"{field.name}={getattr(event, field.name)!r}"
        for field in attrs.fields(type(event))
        if field.name not in ("role", "rfc") and not field.metadata.get("secret")
    )
    walk.add(event, f"{type(event).__name__}: {fields}")


Renderer = Callable[[Walk, Any], None]

RENDERERS: dict[type[TraceEvent], Renderer] = {
    RecordSent: render_record_sent,
    RecordReceived: render_record_received,
    MessageSent: render_message_sent,
    MessageReceived: render_message_received,
    TranscriptUpdated: render_transcript_updated,
    SecretDerived: render_secret_derived,
    KeysInstalled: render_keys_installed,
    KeyExchangeComputed: render_key_exchange_computed,
    SignatureCreated: render_signature_created,
    SignatureVerified: render_signature_verified,
    FinishedComputed: render_finished_computed,
    FinishedVerified: render_finished_verified,
    BinderComputed: render_binder_computed,
    BinderVerified: render_binder_verified,
    ChoiceMade: render_choice_made,
    CertificateChecked: render_certificate_checked,
    CheckPerformed: render_check_performed,
    ParametersNegotiated: render_parameters_negotiated,
    StateChanged: render_state_changed,
    AlertSent: render_alert_sent,
    AlertReceived: render_alert_received,
    ApplicationDataSent: render_application_data_sent,
    ApplicationDataReceived: render_application_data_received,
    Note: render_note,
}
"""The renderer of each event class, looked up by exact `type(event)`."""

HEADLINES = frozenset(
    {MessageSent, MessageReceived, AlertSent, AlertReceived, ApplicationDataSent, ApplicationDataReceived}
)
"""Event classes that open a numbered step."""

RECEIVED_HEADLINES = frozenset({MessageReceived, AlertReceived, ApplicationDataReceived})


# --------------------------------------------------------------------------
# Stepping through a trace
# --------------------------------------------------------------------------


def _only_records_of(step: Step, role: str) -> bool:
    """A step opened by RecordReceived events of `role` and nothing else yet."""
    return (
        step.number is not None
        and step.headline is None
        and step.role == role
        and all(kind is RecordReceived for kind in step.kinds)
    )


def _walk(events: Sequence[TraceEvent], *, show_secrets: bool, width: int) -> Walk:
    walk = Walk(events, show_secrets=show_secrets, width=width)
    for index, event in enumerate(events):
        walk.index = index
        kind = type(event)
        if kind in HEADLINES:
            # A received message joins the step its record opened.
            if not (kind in RECEIVED_HEADLINES and _only_records_of(walk.step, event.role)):
                walk.new_step(event.role)
        elif kind is RecordReceived and not _only_records_of(walk.step, event.role):
            walk.new_step(event.role)
        walk.step.kinds.append(kind)
        RENDERERS.get(kind, render_unknown)(walk, event)
    # A step opened by records that no message joined gets a plain header.
    for step in walk.steps:
        if step.number is not None and step.header is None:
            records = _plural(step.kinds.count(RecordReceived), "record")
            step.header = Line(f"{step.role} ← {peer_of(step.role)}  {records}", 0, step.role)
    return walk


def _wrap(line: Line, width: int) -> list[str]:
    prefix = " " * line.indent
    return textwrap.wrap(
        line.text,
        width=max(width, line.indent + 20),
        initial_indent=prefix,
        subsequent_indent=prefix + " " * CONTINUATION,
        break_long_words=True,  # only a token longer than a whole line is cut
        break_on_hyphens=False,
    ) or [prefix]


def _paint(text: str, style: str, color: bool) -> str:
    if not color or style not in ANSI or not text.strip():
        return text
    return f"\x1b[{ANSI[style]}m{text}\x1b[0m"


def render_walkthrough(
    events: Sequence[TraceEvent],
    *,
    color: bool = False,
    show_secrets: bool = True,
    width: int = WIDTH,
) -> str:
    """The step-by-step narrative of a trace, as printed by `teachtls demo`.

    `events` is a recorded trace (a `Recorder`'s events or a loaded JSON
    Lines file), with one role or both. `color=True` adds ANSI colours
    (client, server, checks, failures, warnings). `show_secrets=False`
    prints "(redacted)" for every secret value. Lines are wrapped to
    `width` columns. The text ends with the `summarize_trace` summary.

    Returns the walkthrough as one string ending in a newline; never raises
    on a failed or truncated handshake -- those are shown, not refused."""
    walk = _walk(events, show_secrets=show_secrets, width=width)
    summary = summarize_trace(events)

    roles = " and ".join(summary["roles"]) or "no one"
    # DTLS records carry an epoch (RFC 6347 §4.1); TLS records do not.
    protocol = "DTLS" if any(isinstance(event, RecordEvent) and event.epoch is not None for event in events) else "TLS"
    output: list[tuple[str, str]] = [
        (f"{protocol} walkthrough: {len(events)} trace events recorded by {roles}", "bold"),
        (
            "→ sent  ← received  ✓ check passed  ✗ check failed  hex shortened to 8 bytes…"
            + ("" if show_secrets else "  secret values redacted"),
            "dim",
        ),
    ]
    for step in walk.steps:
        if step.number is None and not step.lines:
            continue
        output.append(("", ""))
        if step.header is not None:
            header = attrs.evolve(step.header, text=f"{step.number:>{NUMBER_WIDTH}}  {step.header.text}")
            output.extend((text, header.style) for text in _wrap(header, width))
        for line in step.lines:
            output.extend((text, line.style) for text in _wrap(line, width))

    output.append(("", ""))
    ending = Line(summary["summary"], indent=0, style="fail" if summary["failed"] else "bold")
    output.extend((text, ending.style) for text in _wrap(ending, width))
    for warning in summary["warnings"]:
        output.extend((text, "warn") for text in _wrap(Line(f"⚠ WARNING: {warning}", indent=0), width))

    return "\n".join(_paint(_scrub(text, walk.secret_values), style, color) for text, style in output) + "\n"


def _scrub(text: str, secret_values: set[bytes]) -> str:
    """Remove any secret value that slipped into free text (a summary)."""
    for value in secret_values:
        prefix = value[:SHORT_BYTES].hex()
        if prefix in text:
            text = re.sub(re.escape(prefix) + r"[0-9a-f]*…?", REDACTED, text)
    return text


# --------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------


def _role_counts() -> dict[str, int]:
    return {
        "messages_sent": 0,
        "messages_received": 0,
        "records_sent": 0,
        "records_received": 0,
        "bytes_sent": 0,
        "bytes_received": 0,
        "secrets_derived": 0,
        "checks_passed": 0,
        "checks_failed": 0,
        "application_bytes_sent": 0,
        "application_bytes_received": 0,
    }


def summarize_trace(events: Sequence[TraceEvent]) -> dict[str, Any]:
    """Counts and outcome of a trace, and the one-paragraph summary line.

    Returns a dict with:

    * "events": number of events; "roles": the roles present, in order seen;
    * "per_role": for each role, messages / records / bytes sent and
      received, secrets derived, checks passed and failed, application bytes;
    * "handshake_messages", "post_handshake_messages": distinct messages on
      the wire (a message seen sent and received counts once), split by
      whether they belong to the handshake (RFC 8446 §4.6 lists the
      post-handshake ones);
    * "records", "bytes": distinct records on the wire and their total size;
    * "secrets_derived": SecretDerived events, all roles together;
    * "checks_passed", "checks_failed", "failed_checks": CheckPerformed
      events plus certificate verification (each item of
      CertificateChecked.checked passes; a failed verification fails once);
    * "negotiated": the first ParametersNegotiated as a dict ({} if none);
    * "alerts": every alert sent or received; "warnings": warning Notes;
    * "completed", "failed": whether a side reached CONNECTED, and whether
      a fatal alert or a failed check occurred;
    * "summary": the closing line of the walkthrough."""
    roles: list[str] = []
    per_role: dict[str, dict[str, int]] = {}
    # What crossed the wire, each once: keyed by sender, so that a message or
    # record seen sent and received (an in-memory trace) counts once, while
    # identical bytes from the two sides (their change_cipher_spec) count twice.
    messages: set[tuple[str, int, bytes]] = set()
    records: dict[tuple[str, bytes], int] = {}
    failed_checks: list[str] = []
    alerts: list[dict[str, str]] = []
    warnings: list[str] = []
    negotiated: dict[str, Any] = {}
    completed = False

    for event in events:
        if event.role not in per_role:
            roles.append(event.role)
            per_role[event.role] = _role_counts()
        counts = per_role[event.role]
        kind = type(event)
        if isinstance(event, MessageEvent):
            direction = "received" if kind is MessageReceived else "sent"
            sender = peer_of(event.role) if direction == "received" else event.role
            counts[f"messages_{direction}"] += 1
            messages.add((sender, event.msg_type, event.raw))
        elif isinstance(event, RecordEvent):
            direction = "received" if kind is RecordReceived else "sent"
            sender = peer_of(event.role) if direction == "received" else event.role
            counts[f"records_{direction}"] += 1
            counts[f"bytes_{direction}"] += len(event.raw)
            records[(sender, event.raw)] = len(event.raw)
        elif kind is SecretDerived:
            counts["secrets_derived"] += 1
        elif isinstance(event, CheckPerformed):
            counts["checks_passed" if event.passed else "checks_failed"] += 1
            if not event.passed:
                failed_checks.append(f"{event.role}: {event.check}")
        elif isinstance(event, CertificateChecked):
            counts["checks_passed"] += len(event.checked)
            if not event.ok:
                counts["checks_failed"] += 1
                failed_checks.append(f"{event.role}: certificate {event.subject}")
        elif isinstance(event, AlertEvent):
            direction = "received" if kind is AlertReceived else "sent"
            alerts.append(
                {
                    "role": event.role,
                    "direction": direction,
                    "level": event.level,
                    "description": event.description,
                    "reason": event.reason,
                }
            )
        elif isinstance(event, ApplicationDataEvent):
            direction = "received" if kind is ApplicationDataReceived else "sent"
            counts[f"application_bytes_{direction}"] += len(event.data)
        elif isinstance(event, Note) and event.level == "warning":
            warnings.append(f"{event.role}: {event.text}")
        elif isinstance(event, ParametersNegotiated):
            completed = True
            if not negotiated:
                negotiated = attrs.asdict(event)
                negotiated.pop("role")
                negotiated.pop("rfc")
        elif isinstance(event, StateChanged) and event.new_state == "CONNECTED":
            completed = True

    post_handshake = sum(1 for _, msg_type, _ in messages if msg_type in POST_HANDSHAKE_TYPES)
    summary: dict[str, Any] = {
        "events": len(events),
        "roles": tuple(roles),
        "per_role": per_role,
        "handshake_messages": len(messages) - post_handshake,
        "post_handshake_messages": post_handshake,
        "records": len(records),
        "bytes": sum(records.values()),
        "secrets_derived": sum(counts["secrets_derived"] for counts in per_role.values()),
        "checks_passed": sum(counts["checks_passed"] for counts in per_role.values()),
        "checks_failed": sum(counts["checks_failed"] for counts in per_role.values()),
        "failed_checks": failed_checks,
        "negotiated": negotiated,
        "alerts": alerts,
        "warnings": warnings,
        "completed": completed,
        "failed": bool(failed_checks) or any(alert["level"] == "fatal" for alert in alerts),
    }
    summary["summary"] = _summary_line(summary)
    return summary


def _summary_line(summary: dict[str, Any]) -> str:
    """'Handshake complete: TLS 1.3, TLS_AES_128_GCM_SHA256, ...; 7 handshake messages, ...'."""
    secrets = f"{_plural(summary['secrets_derived'], 'secret')} derived"
    by_role = {role: counts["secrets_derived"] for role, counts in summary["per_role"].items()}
    if len(by_role) > 1 and len(set(by_role.values())) == 1:
        secrets += f" ({next(iter(by_role.values()))} by each side)"
    elif len(by_role) > 1:
        secrets += " (" + ", ".join(f"{role} {count}" for role, count in by_role.items()) + ")"
    counts = (
        f"{_plural(summary['handshake_messages'], 'handshake message')}, {secrets}, "
        f"{_plural(summary['checks_passed'], 'check')} passed"
    )
    if summary["checks_failed"]:
        counts += f", {summary['checks_failed']} failed"
    if summary["post_handshake_messages"]:
        counts += f"; {_plural(summary['post_handshake_messages'], 'post-handshake message')}"
    counts += f"; {_plural(summary['records'], 'record')}, {_plural(summary['bytes'], 'byte')} on the wire"

    fatal = [alert for alert in summary["alerts"] if alert["level"] == "fatal"]
    # The side that detected the problem sent the alert; prefer its account.
    fatal.sort(key=lambda alert: alert["direction"] != "sent")
    if fatal:
        alert = fatal[0]
        verb = "sent" if alert["direction"] == "sent" else "received"
        cause = f"the {alert['role']} {verb} a fatal {alert['description']} alert"
        if alert["reason"]:
            cause += f" ({alert['reason']})"
    elif summary["failed_checks"]:
        cause = "check failed: " + ", ".join(summary["failed_checks"])
    else:
        cause = ""

    negotiated = summary["negotiated"]
    parameters = ", ".join(
        str(negotiated.get(name))
        for name in ("version", "cipher_suite", "group", "signature_scheme")
        if negotiated.get(name)
    )
    if negotiated.get("hello_retry"):
        parameters += " (after a HelloRetryRequest)"

    if summary["completed"] and cause:
        return f"Handshake complete: {parameters}; then the connection failed: {cause}; {counts}."
    if summary["completed"]:
        closed = any(alert["description"] == "close_notify" for alert in summary["alerts"])
        ending = "; closed with close_notify" if closed else ""
        return f"Handshake complete: {parameters}; {counts}{ending}."
    if cause:
        return f"Handshake FAILED: {cause}; {counts}."
    return f"Handshake incomplete: the trace ends before either side finished; {counts}."
