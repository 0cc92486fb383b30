"""Bytes on the wire: which field of which message sits in which byte of which record.

A trace records two things separately. Records (`RecordSent` /
`RecordReceived`) carry the bytes that crossed the wire, and for protected
records the decrypted content. Handshake messages (`MessageSent` /
`MessageReceived`) carry their own bytes and `fields`: leaf `FieldSpan`s that
tile each message exactly. This module puts the two together, so that a page
can annotate every byte of every record.

The record layer does not respect message boundaries (RFC 8446 §5.1):
"Handshake messages MAY be coalesced into a single TLSPlaintext record or
fragmented across several records". What it does keep is order. Per
direction, the handshake byte stream is the concatenation of the content of
every handshake record, in order, and the handshake messages follow one
another in that stream with no gaps. So each message is placed by its offset
in the stream, and each record by its own; where they overlap, that part of
the message lies in that record. When the record's decrypted content is in
the trace, the overlap is checked byte for byte against the message.

For every record the result is:

* `wire`: annotated ranges covering every byte of the record exactly once --
  the 5-byte header (RFC 8446 §5.1), then either the plaintext fragment's
  content or, for a protected record, the ciphertext and the AEAD tag
  (RFC 8446 §5.2);
* `inner` (protected records only): annotated ranges covering every byte of
  the decrypted TLSInnerPlaintext exactly once -- the content, the real
  content type byte and the padding zeros (RFC 8446 §5.2, §5.4);
* `fragments`: which messages (or parts of messages) the content holds, with
  offsets relative to the record's content.

Content is annotated by its type: handshake messages by their fields (a field
cut by a record boundary appears in both records, marked `partial`), alerts
as level and description (RFC 8446 §6), change_cipher_spec as its one byte
(RFC 8446 §D.4), application data as one opaque range.

Offsets are relative to the record (`wire`), to the TLSInnerPlaintext
(`inner`), or to the record's content (`fragments`; the content starts at
offset 5 of a plaintext record and at offset 0 of the TLSInnerPlaintext).

If a trace was redacted, protected records have lost their decrypted content;
handshake content is then rebuilt from the messages (which a redacted trace
keeps), and anything else is left unannotated (`inner` is empty). Records
that failed to decrypt have no inner content either.

Renderers only read traces: nothing here imports connection or handshake code.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

import attrs

from teachtls.render.common import Step, conversation
from teachtls.trace import events as trace
from teachtls.wire.codec import FieldSpan
from teachtls.wire.enums import AlertDescription, AlertLevel, ContentType, name_of, to_enum
from teachtls.wire.record import HEADER_LENGTH, record_spans

HANDSHAKE = int(ContentType.handshake)
ALERT = int(ContentType.alert)
CHANGE_CIPHER_SPEC = int(ContentType.change_cipher_spec)
APPLICATION_DATA = int(ContentType.application_data)


@attrs.frozen(kw_only=True)
class Annotation:
    """A byte range `[start, end)` and what it is.

    `kind` is one of "header", "handshake", "unparsed", "alert",
    "change_cipher_spec", "application_data", "ciphertext", "tag",
    "content_type", "padding" or "opaque"."""

    start: int
    end: int
    path: str  # "ClientHello.random", "TLSCiphertext.encrypted_record.tag", ...
    value: str
    kind: str
    message: int | None = None  # index of the message (anchor "msg-{i}") for handshake fields
    extension: str = ""  # the enclosing extension's type name, for fields inside one
    partial: bool = False  # a field cut by a record boundary

    @property
    def length(self) -> int:
        return self.end - self.start


@attrs.frozen(kw_only=True)
class Fragment:
    """The part of message `message` that a record's content holds."""

    message: int  # index among the conversation's messages: anchor "msg-{i}"
    name: str
    start: int  # offsets in the record's content
    end: int
    message_offset: int  # where `start` falls inside the message
    message_length: int

    @property
    def first(self) -> bool:
        return self.message_offset == 0

    @property
    def last(self) -> bool:
        return self.message_offset + self.end - self.start == self.message_length


@attrs.frozen(kw_only=True)
class RecordLayout:
    """One record of the conversation (anchor "rec-{index}"), byte by byte."""

    index: int
    step: Step
    protected: bool
    content_type: int | None  # the real one (inner for protected records); None if not decrypted
    content: bytes | None  # the fragment, or the decrypted content; None if unknown
    inner_plaintext: bytes | None  # protected: content + type byte + zeros
    tag_length: int
    keys: trace.KeysInstalled | None
    wire: tuple[Annotation, ...]
    inner: tuple[Annotation, ...]
    fragments: tuple[Fragment, ...]
    problems: tuple[str, ...] = ()

    @property
    def record(self) -> trace.RecordEvent:
        assert isinstance(self.step.event, trace.RecordEvent)
        return self.step.event

    @property
    def sender(self) -> str:
        return self.step.sender

    @property
    def receiver(self) -> str:
        return self.step.receiver

    @property
    def content_offset(self) -> int:
        """Where the content starts: in the record (plaintext) or the TLSInnerPlaintext."""
        return 0 if self.protected else HEADER_LENGTH

    @property
    def decryption_failed(self) -> bool:
        return self.protected and self.record.inner_content_type is None

    @property
    def redacted(self) -> bool:
        return self.protected and not self.decryption_failed and self.inner_plaintext is None


@attrs.frozen(kw_only=True)
class Layout:
    """The whole conversation: records, messages, and where each message went."""

    records: tuple[RecordLayout, ...]
    messages: tuple[Step, ...]  # index i: anchor "msg-{i}"
    message_records: tuple[tuple[int, ...], ...]  # for each message, the records that carry it
    problems: tuple[str, ...] = ()

    def message(self, index: int) -> trace.MessageEvent:
        event = self.messages[index].event
        assert isinstance(event, trace.MessageEvent)
        return event


def tiles(annotations: Sequence[Annotation], length: int) -> bool:
    """Do the ranges cover `[0, length)` exactly once, in order?"""
    position = 0
    for annotation in annotations:
        if annotation.start != position or annotation.end <= annotation.start:
            return False
        position = annotation.end
    return position == length


def tag_length_of(cipher_suite: str) -> int:
    """The AEAD tag length of a TLS 1.3 cipher suite (RFC 8446 §B.4)."""
    return 8 if cipher_suite.endswith("CCM_8_SHA256") else 16


def find_keys(events: Sequence[trace.TraceEvent], step: Step) -> trace.KeysInstalled | None:
    """The KeysInstalled whose keys protected this record: the sender's write keys, else the receiver's read keys.

    A record that failed to decrypt does not name its keys; it was tried with
    the receiver's read keys installed last before it, for its protection."""
    record = step.event
    assert isinstance(record, trace.RecordEvent)
    sides = ((step.sender, "write"), (step.receiver, "read"))
    if not record.keys:
        before = events[: next(i for i, e in enumerate(events) if e is record)]
        installed = [
            e
            for e in before
            if isinstance(e, trace.KeysInstalled)
            and (e.role, e.direction) in sides
            and e.protection == record.protection
        ]
        return installed[-1] if installed else None
    candidates = [e for e in events if isinstance(e, trace.KeysInstalled) and e.secret_name == record.keys]
    for role, direction in sides:
        for keys in candidates:
            if keys.role == role and keys.direction == direction:
                return keys
    return candidates[0] if candidates else None


def record_nonce(record: trace.RecordEvent, keys: trace.KeysInstalled | None) -> bytes:
    """The per-record nonce (RFC 8446 §5.3): from the trace, or write_iv XOR the padded sequence number."""
    if record.nonce or keys is None or not keys.iv:
        return record.nonce
    sequence = record.sequence_number.to_bytes(len(keys.iv), "big")
    return bytes(a ^ b for a, b in zip(keys.iv, sequence, strict=True))


# --- placing messages in records --------------------------------------------------------


@attrs.frozen
class _Slot:
    """A record's content length and, if known, its bytes."""

    record: int
    length: int | None
    content: bytes | None


def _extension_names(fields: Sequence[FieldSpan]) -> dict[str, str]:
    """`"ClientHello.extensions[3]"` -> `"key_share"`, from each extension_type field."""
    suffix = ".extension_type"
    return {f.path[: -len(suffix)]: f.value for f in fields if f.path.endswith(suffix)}


def _enclosing_extension(path: str, names: dict[str, str]) -> str:
    cut = path.rfind("extensions[")
    if cut < 0:
        return ""
    close = path.find("]", cut)
    return names.get(path[: close + 1], "")


def _message_annotations(
    message: trace.MessageEvent, index: int, fragment: Fragment, problems: list[str]
) -> list[Annotation]:
    """The message's fields that fall in `fragment`, in record-content offsets."""
    names = _extension_names(message.fields)
    low, high = fragment.message_offset, fragment.message_offset + fragment.end - fragment.start
    shift = fragment.start - fragment.message_offset
    found: list[Annotation] = []
    position = low
    for field in message.fields:
        start, end = max(field.start, low), min(field.end, high)
        if start >= end:
            continue
        if start > position:  # fields should tile the message; say so if they do not
            found.append(_unparsed(position + shift, start + shift, index))
            problems.append(f"{message.name}: bytes {position}..{start} have no field")
        found.append(
            Annotation(
                start=start + shift,
                end=end + shift,
                path=field.path,
                value=field.value,
                kind="handshake",
                message=index,
                extension=_enclosing_extension(field.path, names),
                partial=(start, end) != (field.start, field.end),
            )
        )
        position = end
    if position < high:
        found.append(_unparsed(position + shift, high + shift, index))
        if message.fields:
            problems.append(f"{message.name}: bytes {position}..{high} have no field")
    return found


def _unparsed(start: int, end: int, index: int | None) -> Annotation:
    return Annotation(
        start=start, end=end, path="Handshake.unparsed", value=f"{end - start} bytes", kind="unparsed", message=index
    )


def _place_handshake_stream(
    slots: list[_Slot], messages: list[tuple[int, trace.MessageEvent]], problems: list[str]
) -> tuple[dict[int, list[Fragment]], dict[int, bytes]]:
    """Fragments per record, and content rebuilt from messages where it was unknown."""
    fragments: dict[int, list[Fragment]] = {}
    rebuilt: dict[int, bytes] = {}
    # each message's place in the stream
    placed: list[tuple[int, int, int, trace.MessageEvent]] = []  # (start, end, index, message)
    offset = 0
    for index, message in messages:
        placed.append((offset, offset + len(message.raw), index, message))
        offset += len(message.raw)
    record_start = 0
    for slot in slots:
        if slot.length is None:  # content length unknown: nothing after it can be placed
            problems.append(f"record {slot.record}: handshake content of unknown length")
            break
        record_end = record_start + slot.length
        pieces = []
        for start, end, index, message in placed:
            low, high = max(start, record_start), min(end, record_end)
            if low >= high:
                continue
            fragment = Fragment(
                message=index,
                name=message.name,
                start=low - record_start,
                end=high - record_start,
                message_offset=low - start,
                message_length=len(message.raw),
            )
            fragments.setdefault(slot.record, []).append(fragment)
            piece = message.raw[low - start : high - start]
            pieces.append(piece)
            if slot.content is not None and slot.content[fragment.start : fragment.end] != piece:
                problems.append(
                    f"record {slot.record}: bytes {fragment.start}..{fragment.end} differ from {message.name}"
                )
        if slot.content is None:
            joined = b"".join(pieces)
            if len(joined) == slot.length:
                rebuilt[slot.record] = joined
        record_start = record_end
    return fragments, rebuilt


# --- annotating content ----------------------------------------------------------------------


def _printable(data: bytes) -> bool:
    return bool(data) and all(chr(b) in string.printable and b not in b"\t\n\r\x0b\x0c" for b in data)


def _content_annotations(
    content_type: int,
    content: bytes | None,
    length: int,
    fragments: Sequence[Fragment],
    layout_messages: Sequence[Step],
    problems: list[str],
) -> list[Annotation]:
    """Annotations covering `[0, length)` of a record's content."""
    if length == 0:
        return []
    found: list[Annotation] = []
    if content_type == HANDSHAKE:
        for fragment in fragments:
            message = layout_messages[fragment.message].event
            assert isinstance(message, trace.MessageEvent)
            found += _message_annotations(message, fragment.message, fragment, problems)
        return _fill_gaps(found, length)
    if content is None:
        return [Annotation(start=0, end=length, path="TLSInnerPlaintext.content", value="(redacted)", kind="opaque")]
    if content_type == ALERT:
        for start in range(0, length, 2):
            level = name_of(to_enum(AlertLevel, content[start]))
            found.append(Annotation(start=start, end=start + 1, path="Alert.level", value=level, kind="alert"))
            if start + 1 < length:
                description = name_of(to_enum(AlertDescription, content[start + 1]))
                found.append(
                    Annotation(
                        start=start + 1, end=start + 2, path="Alert.description", value=description, kind="alert"
                    )
                )
        return found
    if content_type == CHANGE_CIPHER_SPEC:
        return [
            Annotation(start=i, end=i + 1, path="ChangeCipherSpec.type", value=f"0x{b:02x}", kind="change_cipher_spec")
            for i, b in enumerate(content)
        ]
    if content_type == APPLICATION_DATA:
        shown = repr(content[:48].decode("ascii")) if _printable(content[:48]) else f"{length} bytes"
        if _printable(content[:48]) and length > 48:
            shown += f" … ({length} bytes)"
        return [Annotation(start=0, end=length, path="ApplicationData", value=shown, kind="application_data")]
    return [Annotation(start=0, end=length, path="TLSPlaintext.fragment", value=f"{length} bytes", kind="opaque")]


def _fill_gaps(annotations: Sequence[Annotation], length: int) -> list[Annotation]:
    """Handshake bytes no message accounts for become "unparsed" ranges."""
    filled: list[Annotation] = []
    position = 0
    for annotation in annotations:
        if annotation.start > position:
            filled.append(_unparsed(position, annotation.start, None))
        filled.append(annotation)
        position = annotation.end
    if position < length:
        filled.append(_unparsed(position, length, None))
    return filled


def _shift(annotations: Sequence[Annotation], by: int) -> list[Annotation]:
    return [attrs.evolve(a, start=a.start + by, end=a.end + by) for a in annotations]


# --- the whole conversation ---------------------------------------------------------------


@attrs.frozen
class _Record:
    """What is known about one record before messages are placed."""

    index: int
    step: Step
    protected: bool
    content_type: int | None
    content_length: int | None
    content: bytes | None
    tag_length: int
    keys: trace.KeysInstalled | None


def _examine(events: Sequence[trace.TraceEvent], index: int, step: Step) -> _Record:
    record = step.event
    assert isinstance(record, trace.RecordEvent)
    body_length = len(record.raw) - HEADER_LENGTH
    if record.protection == "plaintext":
        return _Record(index, step, False, record.content_type, body_length, record.raw[HEADER_LENGTH:], 0, None)
    keys = find_keys(events, step)
    tag_length = tag_length_of(keys.cipher_suite) if keys else 16
    if record.inner_content_type is None:  # not decrypted (authentication failed)
        return _Record(index, step, True, None, None, None, tag_length, keys)
    content_length = body_length - tag_length - 1 - record.padding_length
    content = record.plaintext if len(record.plaintext) == content_length and record.plaintext else None
    if content_length == 0:
        content = b""
    return _Record(index, step, True, int(record.inner_content_type), content_length, content, tag_length, keys)


def layout(events: Sequence[trace.TraceEvent]) -> Layout:
    """Every record of the conversation, annotated byte by byte (see module docstring)."""
    steps = conversation(events)
    record_steps = [s for s in steps if isinstance(s.event, trace.RecordEvent)]
    message_steps = [s for s in steps if isinstance(s.event, trace.MessageEvent)]
    problems: list[str] = []
    examined = [_examine(events, j, step) for j, step in enumerate(record_steps)]

    # place each direction's messages in its handshake stream
    fragments: dict[int, list[Fragment]] = {}
    rebuilt: dict[int, bytes] = {}
    for sender in ("client", "server"):
        slots = [
            _Slot(r.index, r.content_length, r.content)
            for r in examined
            if r.step.sender == sender and r.content_type == HANDSHAKE
        ]
        messages = [
            (i, s.event)
            for i, s in enumerate(message_steps)
            if s.sender == sender and isinstance(s.event, trace.MessageEvent)
        ]
        placed, found = _place_handshake_stream(slots, messages, problems)
        fragments.update(placed)
        rebuilt.update(found)

    records = [_annotate(r, fragments.get(r.index, []), rebuilt.get(r.index), message_steps) for r in examined]
    message_records: list[list[int]] = [[] for _ in message_steps]
    for record in records:
        for fragment in record.fragments:
            message_records[fragment.message].append(record.index)
        problems += record.problems
    for i, where in enumerate(message_records):
        if not where:
            problems.append(f"message {i} ({message_steps[i].event.name}) is in no record")  # type: ignore[attr-defined]
    return Layout(
        records=tuple(records),
        messages=tuple(message_steps),
        message_records=tuple(tuple(w) for w in message_records),
        problems=tuple(problems),
    )


def _annotate(
    record: _Record, fragments: list[Fragment], rebuilt: bytes | None, message_steps: Sequence[Step]
) -> RecordLayout:
    event = record.step.event
    assert isinstance(event, trace.RecordEvent)
    problems: list[str] = []
    header = [
        Annotation(start=s.start, end=s.end, path=s.path, value=s.value, kind="header")
        for s in record_spans(event.raw, protected=record.protected)[:3]
    ]
    body_length = len(event.raw) - HEADER_LENGTH
    content = record.content if record.content is not None else rebuilt
    inner_plaintext: bytes | None = None
    inner: list[Annotation] = []
    if not record.protected:
        assert record.content_type is not None
        body = _content_annotations(record.content_type, content, body_length, fragments, message_steps, problems)
        wire = header + _shift(body, HEADER_LENGTH)
    else:
        inner_length = body_length - record.tag_length
        if inner_length < 0:
            problems.append(f"record {record.index}: shorter than its AEAD tag")
            wire = [
                *header,
                Annotation(
                    start=5,
                    end=len(event.raw),
                    path="TLSCiphertext.encrypted_record",
                    value=f"{body_length} bytes",
                    kind="ciphertext",
                ),
            ]
        else:
            wire = [
                *header,
                Annotation(
                    start=HEADER_LENGTH,
                    end=HEADER_LENGTH + inner_length,
                    path="TLSCiphertext.encrypted_record.ciphertext",
                    value=f"{inner_length} bytes",
                    kind="ciphertext",
                ),
                Annotation(
                    start=HEADER_LENGTH + inner_length,
                    end=len(event.raw),
                    path="TLSCiphertext.encrypted_record.tag",
                    value=event.raw[HEADER_LENGTH + inner_length :].hex(),
                    kind="tag",
                ),
            ]
        if record.content_type is not None and record.content_length is not None and content is not None:
            length = record.content_length
            inner_plaintext = content + bytes([record.content_type]) + bytes(event.padding_length)
            inner = _content_annotations(record.content_type, content, length, fragments, message_steps, problems)
            inner.append(
                Annotation(
                    start=length,
                    end=length + 1,
                    path="TLSInnerPlaintext.type",
                    value=name_of(to_enum(ContentType, record.content_type)),
                    kind="content_type",
                )
            )
            if event.padding_length:
                inner.append(
                    Annotation(
                        start=length + 1,
                        end=length + 1 + event.padding_length,
                        path="TLSInnerPlaintext.zeros",
                        value=f"{event.padding_length} zero bytes",
                        kind="padding",
                    )
                )
            if len(inner_plaintext) != inner_length:
                problems.append(f"record {record.index}: inner plaintext length does not match the ciphertext")
    for ranges, length, what in ((wire, len(event.raw), "record"), (inner, len(inner_plaintext or b""), "inner")):
        if ranges and not tiles(ranges, length):
            problems.append(f"record {record.index}: {what} annotations do not tile its bytes")
    return RecordLayout(
        index=record.index,
        step=record.step,
        protected=record.protected,
        content_type=record.content_type,
        content=content,
        inner_plaintext=inner_plaintext,
        tag_length=record.tag_length,
        keys=record.keys,
        wire=tuple(wire),
        inner=tuple(inner),
        fragments=tuple(fragments),
        problems=tuple(problems),
    )
