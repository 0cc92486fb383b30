"""Annotated pages: every byte of a traced connection, explained.

"The Illustrated TLS 1.3 Connection" (https://tls13.xargs.org) walks through
one frozen connection byte by byte. This module does the same for *any*
trace: a page that opens with the sequence diagram and then follows the
conversation in order --

* each record as a hexdump, every field highlighted and listed beside it
  with its decoded value, an explanation for a student and the RFC section
  (`teachtls.render.catalogue`); protected records show the ciphertext, the
  traffic key and IV that protect it, the per-record nonce, and the decrypted
  TLSInnerPlaintext annotated in the same way (`teachtls.render.layout`);
* between the records, what each side computed at that moment: the (EC)DHE
  shared secret, every secret of the RFC 8446 §7.1 key schedule with its
  inputs, traffic keys, signatures, Finished values, certificate checks, the
  RFC's MUSTs it checked, state changes, alerts -- a failure in red.

Three formats carry the same content:

* `render_html`: one self-contained file (inline CSS, a few lines of inline
  script so that clicking a field highlights its bytes; no network access,
  no external fonts or scripts);
* `render_markdown` and `render_rst`: for a course's own site (MyST,
  Sphinx), hexdumps in code blocks followed by a table of fields per record.

`write_page(events, path)` picks the format from the file suffix.

Reading the trace. `teachtls.render.common.conversation` gives each record
and message once. Everything else is shown in trace order, grouped by the side
that did it. An in-memory trace holds both sides, so both derive the same
secrets: the second derivation is shown in one line ("same value as the
server's") -- that both sides arrive at the same keys without ever sending
them is the point. `TranscriptUpdated` events are not shown on their own:
each transcript hash appears where it is used (Derive-Secret, signatures,
Finished).

Secrets are shown in full -- this is a teaching tool -- unless the trace was
written redacted (`teachtls.trace.jsonl`), in which case its secret fields are
empty and shown as "(redacted)".

Renderers only read traces: nothing here imports connection or handshake code.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import attrs

from teachtls.render import catalogue
from teachtls.render.catalogue import Explanation
from teachtls.render.common import TraceLike, failures, load, peer_of
from teachtls.render.layout import Annotation, Layout, RecordLayout, layout, record_nonce
from teachtls.trace import events as trace
from teachtls.wire.enums import ContentType, name_of, to_enum
from teachtls.wire.record import HEADER_LENGTH

REDACTED = "(redacted)"
NOT_FOR_PRODUCTION = (
    "teachtls is a teaching implementation: it shows every secret on purpose and has not been "
    "reviewed for production use. Do not protect real data with it."
)
ROW = 16  # bytes per hexdump row
LONG_VALUE = 96  # characters of a field value shown in tables before it is cut


# =============================================================================
# The page's content, independent of the output format
# =============================================================================


@attrs.frozen(kw_only=True)
class Item:
    """One computation or check shown between records."""

    anchor: str  # "ev-12": the event's index in the trace
    role: str
    title: str
    status: str = ""  # "ok", "fail", "warn", "same" or ""
    formula: str = ""
    rows: tuple[tuple[str, str], ...] = ()  # (label, value in monospace)
    detail: str = ""
    explanation: Explanation | None = None
    compact: bool = False  # shown on one line
    link: str = ""  # where the title points ("#msg-3")


@attrs.frozen(kw_only=True)
class Computation:
    """Consecutive items of one side."""

    role: str
    items: tuple[Item, ...]


@attrs.frozen(kw_only=True)
class Orphan:
    """A handshake message the trace never saw in a record (the connection stopped first)."""

    message: int


Block = RecordLayout | Computation | Orphan


@attrs.frozen(kw_only=True)
class Page:
    title: str
    summary: tuple[tuple[str, str], ...]
    failures: tuple[Item, ...]
    warnings: tuple[Item, ...]
    redacted: bool
    layout: Layout
    blocks: tuple[Block, ...]
    diagram: str  # inline SVG, or "" when the diagram could not be drawn
    diagram_problem: str = ""


def _hex(value: bytes) -> str:
    return value.hex() if value else REDACTED


def _is_redacted(events: Sequence[trace.TraceEvent]) -> bool:
    for event in events:
        if isinstance(event, trace.SecretDerived | trace.KeyExchangeComputed | trace.KeysInstalled):
            value = (
                event.value
                if isinstance(event, trace.SecretDerived)
                else (event.shared_secret if isinstance(event, trace.KeyExchangeComputed) else event.key)
            )
            if not value:
                return True
    return False


def _signed_content(content: bytes) -> str:
    """RFC 8446 §4.4.3: 64 spaces ‖ context string ‖ 0x00 ‖ transcript hash."""
    if len(content) > 64 and content[:64] == b" " * 64 and b"\x00" in content[64:]:
        context, _, transcript_hash = content[64:].partition(b"\x00")
        return f'64 × 0x20 ‖ "{context.decode("ascii", "replace")}" ‖ 0x00 ‖ {transcript_hash.hex()}'
    return _hex(content)


def _preview(data: bytes) -> str:
    if not data:
        return REDACTED
    if all(32 <= b < 127 for b in data[:64]):
        text = data[:64].decode("ascii")
        return repr(text) + (f" … ({len(data)} bytes)" if len(data) > 64 else "")
    return data[:32].hex() + (f"… ({len(data)} bytes)" if len(data) > 32 else "")


class _Items:
    """Turns non-wire events into `Item`s, remembering what each side already showed."""

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, bytes, bytes], str] = {}  # (name, value, hash) -> role
        self.keys: dict[tuple[str, bytes], str] = {}
        self.shared: dict[bytes, str] = {}

    def item(self, index: int, event: trace.TraceEvent) -> Item | None:
        anchor = f"ev-{index}"
        role = event.role
        if isinstance(event, trace.SecretDerived):
            return self._secret(anchor, event)
        if isinstance(event, trace.KeysInstalled):
            return self._keys(anchor, event)
        if isinstance(event, trace.KeyExchangeComputed):
            same = self.shared.get(event.shared_secret) if event.shared_secret else None
            if same is None and event.shared_secret:
                self.shared[event.shared_secret] = role
            return Item(
                anchor=anchor,
                role=role,
                title=f"computes the {event.group} shared secret"
                + (f" — the same as the {same}'s" if same and same != role else ""),
                status="same" if same and same != role else "",
                formula=f"shared_secret = {event.group}({role}'s private key, {peer_of(role)}'s key share)",
                rows=(
                    ("client key share", event.client_share.hex()),
                    ("server key share", event.server_share.hex()),
                    (f"{role}'s private key", _hex(event.private_key)),
                    ("shared secret", _hex(event.shared_secret)),
                ),
                explanation=catalogue.explain_step("KeyExchangeComputed"),
            )
        if isinstance(event, trace.SignatureCreated):
            return Item(
                anchor=anchor,
                role=role,
                title="signs the transcript for CertificateVerify",
                formula=f"signature = Sign({event.scheme}, private key, content)",
                rows=(("content", _signed_content(event.content)), ("signature", event.signature.hex())),
                explanation=catalogue.explain_step("SignatureCreated"),
            )
        if isinstance(event, trace.SignatureVerified):
            return Item(
                anchor=anchor,
                role=role,
                title=f"checks the {peer_of(role)}'s CertificateVerify signature: "
                + ("valid" if event.ok else "INVALID"),
                status="ok" if event.ok else "fail",
                formula=f"Verify({event.scheme}, certificate's public key, content, signature)",
                rows=(("content", _signed_content(event.content)), ("signature", event.signature.hex())),
                explanation=catalogue.explain_step("SignatureVerified"),
            )
        if isinstance(event, trace.FinishedComputed):
            return Item(
                anchor=anchor,
                role=role,
                title=f"computes the {event.sender} Finished",
                formula="verify_data = HMAC(finished_key, transcript hash)",
                rows=(
                    ("finished_key", _hex(event.finished_key)),
                    ("transcript hash", event.transcript_hash.hex()),
                    ("verify_data", _hex(event.verify_data)),
                ),
                explanation=catalogue.explain_step("FinishedComputed"),
            )
        if isinstance(event, trace.FinishedVerified):
            return Item(
                anchor=anchor,
                role=role,
                title=f"checks the {event.sender}'s Finished: " + ("it matches" if event.ok else "MISMATCH"),
                status="ok" if event.ok else "fail",
                formula="expected = HMAC(finished_key, transcript hash); compare with the received verify_data",
                rows=(
                    ("finished_key", _hex(event.finished_key)),
                    ("transcript hash", event.transcript_hash.hex()),
                    ("expected verify_data", _hex(event.verify_data)),
                    ("received verify_data", _hex(event.received)),
                ),
                explanation=catalogue.explain_step("FinishedVerified"),
            )
        if isinstance(event, trace.CertificateChecked):
            rows = [("subject", event.subject), ("expected name", event.server_name or "(none)")]
            rows += [("checked" if n == 0 else "", f"✓ {step}") for n, step in enumerate(event.checked)]
            explanation = catalogue.explain_step("CertificateChecked")
            return Item(
                anchor=anchor,
                role=role,
                title=f"checks the {peer_of(role)}'s certificate ({event.subject}): "
                + ("accepted" if event.ok else "REJECTED"),
                status="ok" if event.ok else "fail",
                rows=tuple(rows),
                detail=event.reason,
                explanation=explanation and attrs.evolve(explanation, rfc=event.rfc or explanation.rfc),
            )
        if isinstance(event, trace.CheckPerformed):
            explanation = catalogue.explain_check(event.check)
            title = explanation.title if explanation else event.check.replace("_", " ")
            return Item(
                anchor=anchor,
                role=role,
                title=f"{title} ({event.check})",
                status="ok" if event.passed else "fail",
                detail="" if event.passed else event.detail,
                explanation=explanation or Explanation(title=event.check, text="", rfc=event.rfc),
                compact=event.passed,
            )
        if isinstance(event, trace.ParametersNegotiated):
            rows = [("version", event.version), ("cipher suite", event.cipher_suite)]
            for label, value in (
                ("group", event.group),
                ("signature scheme", event.signature_scheme),
                ("ALPN", event.alpn),
                ("server name", event.server_name),
            ):
                if value:
                    rows.append((label, value))
            if event.hello_retry:
                rows.append(("HelloRetryRequest", "yes"))
            return Item(
                anchor=anchor,
                role=role,
                title="handshake complete: parameters agreed",
                status="ok",
                rows=tuple(rows),
                explanation=Explanation(title="Negotiated parameters", text="", rfc=event.rfc),
            )
        if isinstance(event, trace.StateChanged):
            return Item(
                anchor=anchor,
                role=role,
                title=f"state {event.old_state} → {event.new_state}",
                detail=event.trigger,
                explanation=Explanation(title="State machine", text="", rfc=event.rfc),
                compact=True,
            )
        if isinstance(event, trace.AlertEvent):
            verb = "sends" if isinstance(event, trace.AlertSent) else "receives"
            closure = event.description == "close_notify"
            return Item(
                anchor=anchor,
                role=role,
                title=f"{verb} the alert {event.level} {event.description}",
                status="" if closure else "fail",
                detail=event.reason,
                explanation=catalogue.explain_alert(event.description),
            )
        if isinstance(event, trace.ApplicationDataEvent):
            verb = "sends" if isinstance(event, trace.ApplicationDataSent) else "receives"
            return Item(
                anchor=anchor,
                role=role,
                title=f"{verb} application data",
                rows=(("data", _preview(event.data)),),
                explanation=catalogue.FIELDS["ApplicationData"],
            )
        if isinstance(event, trace.ChoiceMade):
            return Item(
                anchor=anchor,
                role=role,
                title=f"chooses {event.subject.replace('_', ' ')}: {event.choice}",
                detail=event.reason,
                explanation=Explanation(title="Negotiation", text="", rfc=event.rfc or "RFC 8446 §4.1.1"),
                compact=True,
            )
        if isinstance(event, trace.BinderComputed | trace.BinderVerified):
            verified = isinstance(event, trace.BinderVerified)
            ok = event.ok if isinstance(event, trace.BinderVerified) else True
            rows = [
                ("PSK identity", str(event.identity_index)),
                ("Transcript-Hash(Truncated(ClientHello))", event.transcript_hash.hex()),
                ("binder_key", event.binder_key.hex() or "(redacted)"),
                ("binder" + (" expected" if verified else ""), event.binder.hex() or "(redacted)"),
            ]
            if isinstance(event, trace.BinderVerified):
                rows.append(("binder received", event.received.hex() or "(redacted)"))
            return Item(
                anchor=anchor,
                role=role,
                title=("verifies" if verified else "computes") + " the PSK binder"
                + ("" if ok else ": MISMATCH"),
                status="ok" if ok else "fail",
                rows=tuple(rows),
                explanation=Explanation(
                    title="PSK binder",
                    text="An HMAC over the ClientHello (cut before the binders) with a key derived from the "
                    "PSK: it proves the client holds the PSK and ties the PSK to this very ClientHello.",
                    rfc=event.rfc,
                ),
            )
        if isinstance(event, trace.Note):
            return Item(
                anchor=anchor,
                role=role,
                title="note",
                status="warn" if event.level == "warning" else "",
                detail=event.text,
                explanation=Explanation(title="Note", text="", rfc=event.rfc),
            )
        if isinstance(event, trace.TranscriptUpdated | trace.RecordEvent | trace.MessageEvent):
            return None
        return Item(anchor=anchor, role=role, title=type(event).__name__, detail=str(event))

    def _secret(self, anchor: str, event: trace.SecretDerived) -> Item:
        explanation = catalogue.explain_secret(event.name) or catalogue.explain_step(event.operation)
        key = (event.name, event.value, event.transcript_hash)
        first = self.secrets.setdefault(key, event.role)
        if first != event.role:
            return Item(
                anchor=anchor,
                role=event.role,
                title=f"derives {event.name} — the same value as the {first}'s",
                status="same",
                explanation=explanation,
                compact=True,
            )
        extra = ", ".join(event.inputs)
        if event.operation == "HKDF-Extract":
            ikm = extra.removeprefix("IKM=") if extra else "?"
            formula = f"{event.name} = HKDF-Extract(salt = {event.parent}, IKM = {ikm})"
        elif event.operation == "Derive-Secret":
            messages = extra.removeprefix("Messages=") if extra else event.transcript_through
            formula = f'{event.name} = Derive-Secret({event.parent}, "{event.label}", {messages})'
        else:
            context = extra or '""'
            formula = f'{event.name} = {event.operation}({event.parent}, "{event.label}", {context}, Hash.length)'
        rows = []
        if event.transcript_hash:
            through = f"ClientHello..{event.transcript_through}" if event.transcript_through else "empty"
            rows.append((f"Transcript-Hash({through})", event.transcript_hash.hex()))
        rows.append((event.name, _hex(event.value)))
        return Item(
            anchor=anchor,
            role=event.role,
            title=f"derives {event.name}",
            formula=formula,
            rows=tuple(rows),
            explanation=explanation,
        )

    def _keys(self, anchor: str, event: trace.KeysInstalled) -> Item:
        writer = event.role if event.direction == "write" else peer_of(event.role)
        what = "sending" if event.direction == "write" else "receiving"
        first = self.keys.setdefault((event.secret_name, event.key), event.role)
        if first != event.role:
            return Item(
                anchor=anchor,
                role=event.role,
                title=f"installs {event.protection} keys for {what} — the {first}'s keys, from {event.secret_name}",
                status="same",
                explanation=catalogue.explain_step("KeysInstalled"),
                compact=True,
            )
        return Item(
            anchor=anchor,
            role=event.role,
            title=f"installs {event.protection} keys for {what}",
            formula=(
                f'{writer}_write_key, {writer}_write_iv = HKDF-Expand-Label({event.secret_name}, "key" / "iv", "", …)'
            ),
            rows=(
                ("cipher suite", event.cipher_suite),
                (f"{writer}_write_key", _hex(event.key)),
                (f"{writer}_write_iv", _hex(event.iv)),
            ),
            explanation=catalogue.explain_step("KeysInstalled"),
        )


def _received_number(event: trace.MessageReceived, page_layout: Layout, received: set[int]) -> int | None:
    """Which of the conversation's messages a receiver's MessageReceived is (first unclaimed match)."""
    for number, step in enumerate(page_layout.messages):
        sent = step.event
        unclaimed = number not in received and step.receiver == event.role
        if unclaimed and isinstance(sent, trace.MessageEvent) and sent.raw == event.raw:
            received.add(number)
            return number
    return None


def _message_item(index: int, event: trace.TraceEvent, number: int, page_layout: Layout) -> Item:
    """A handshake message, at the moment its side built or parsed it; its bytes are shown with its records."""
    assert isinstance(event, trace.MessageEvent)
    records = ", ".join(str(r) for r in page_layout.message_records[number])
    plural = "s" if len(page_layout.message_records[number]) > 1 else ""
    if isinstance(event, trace.MessageSent):
        title = f"builds {event.name} (sent in record{plural} {records})"
    else:
        title = f"parses {event.name} (from record{plural} {records})"
    return Item(
        anchor=f"ev-{index}",
        role=event.role,
        title=title,
        link=f"#msg-{number}",
        explanation=Explanation(title=event.name, text="", rfc=event.rfc),
        compact=True,
    )


def _title(events: Sequence[trace.TraceEvent]) -> str:
    for event in events:
        if isinstance(event, trace.ParametersNegotiated):
            parts = [event.cipher_suite, event.group, event.signature_scheme]
            return f"{event.version} connection: " + ", ".join(p for p in parts if p)
    fatal = [e for e in events if isinstance(e, trace.AlertEvent) and e.description != "close_notify"]
    if fatal:
        return f"TLS handshake that failed: {fatal[0].description}"
    return "TLS connection"


def _summary(events: Sequence[trace.TraceEvent], page_layout: Layout) -> tuple[tuple[str, str], ...]:
    rows: list[tuple[str, str]] = []
    negotiated = next((e for e in events if isinstance(e, trace.ParametersNegotiated)), None)
    if negotiated is not None:
        rows += [("version", negotiated.version), ("cipher suite", negotiated.cipher_suite)]
        if negotiated.group:
            rows.append(("key exchange group", negotiated.group))
        if negotiated.signature_scheme:
            rows.append(("signature scheme", negotiated.signature_scheme))
        if negotiated.server_name:
            rows.append(("server name", negotiated.server_name))
        if negotiated.alpn:
            rows.append(("ALPN", negotiated.alpn))
        if negotiated.hello_retry:
            rows.append(("HelloRetryRequest", "yes"))
    roles = sorted({e.role for e in events})
    rows.append(("traced sides", " and ".join(roles) if roles else "none"))
    wire_bytes = sum(len(r.record.raw) for r in page_layout.records)
    rows.append(("on the wire", f"{len(page_layout.records)} records, {wire_bytes} bytes"))
    rows.append(("handshake messages", str(len(page_layout.messages))))
    return tuple(rows)


def _diagram(events: Sequence[trace.TraceEvent]) -> tuple[str, str]:
    """The sequence diagram as inline SVG (no namespace URLs: HTML5 does not need them)."""
    try:
        from teachtls.render.sequence import sequence_svg  # drawn by Graphviz; imported only when needed
    except ImportError as error:  # pragma: no cover - the module ships with teachtls
        return "", f"the sequence diagram module is not available ({error})"
    try:
        svg = sequence_svg(events, detail="messages")
    except (RuntimeError, OSError) as error:  # the Graphviz `dot` program is missing
        return "", f"the sequence diagram could not be drawn ({error})"
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.DOTALL)
    return svg.strip(), ""


def build_page(events: TraceLike, *, title: str | None = None, diagram: bool = True) -> Page:
    """Everything a page shows, in order; the renderers below only format it."""
    events = load(events)
    page_layout = layout(events)
    record_of = {id(r.record): r for r in page_layout.records}
    placed = {i for i, where in enumerate(page_layout.message_records) if where}
    message_number = {id(step.event): i for i, step in enumerate(page_layout.messages)}
    items = _Items()
    received: set[int] = set()
    blocks: list[Block] = []
    pending: list[Item] = []
    pending_role = ""

    def flush() -> None:
        nonlocal pending
        if pending:
            blocks.append(Computation(role=pending_role, items=tuple(pending)))
            pending = []

    shown_failures: list[Item] = []
    failed = {id(e) for e in failures(events)}
    warnings: list[Item] = []
    for index, event in enumerate(events):
        item: Item | None
        if id(event) in record_of:
            flush()
            blocks.append(record_of[id(event)])
            continue
        if id(event) in message_number and message_number[id(event)] not in placed:
            flush()
            blocks.append(Orphan(message=message_number[id(event)]))
            continue
        if id(event) in message_number:
            item = _message_item(index, event, message_number[id(event)], page_layout)
        elif isinstance(event, trace.MessageReceived):  # the sender's MessageSent is the conversation's step
            number = _received_number(event, page_layout, received)
            item = None if number is None else _message_item(index, event, number, page_layout)
        else:
            item = items.item(index, event)
        if item is None:
            continue
        if id(event) in failed:
            shown_failures.append(item)
        if item.status == "warn":
            warnings.append(item)
        if event.role != pending_role:
            flush()
            pending_role = event.role
        pending.append(item)
    flush()
    svg, problem = _diagram(events) if diagram else ("", "")
    return Page(
        title=title or _title(events),
        summary=_summary(events, page_layout),
        failures=tuple(shown_failures),
        warnings=tuple(warnings),
        redacted=_is_redacted(events),
        layout=page_layout,
        blocks=tuple(blocks),
        diagram=svg,
        diagram_problem=problem,
    )


# --- describing records and fields (shared by all formats) ----------------------------------------


def explain(annotation: Annotation) -> Explanation:
    """The catalogue's explanation of an annotated range (never None: unknown paths get a stub)."""
    if annotation.path.endswith(".extension_type"):
        extension = catalogue.explain_extension(annotation.value)
        return attrs.evolve(extension, title=f"Extension type: {extension.title}")
    found = catalogue.explain_field(annotation.path, extension=annotation.extension)
    if found is None:
        return Explanation(title=annotation.path.rsplit(".", 1)[-1], text="", rfc="", key=annotation.path)
    return found


def field_name(annotation: Annotation) -> str:
    """The path without its message name: `extensions[4].extension_type`."""
    path = annotation.path
    if annotation.kind in ("handshake", "unparsed") and "." in path and annotation.path != "Handshake.unparsed":
        path = path.split(".", 1)[1]
    return path + (" (part)" if annotation.partial else "")


def field_value(annotation: Annotation) -> str:
    """The decoded value, with ASCII shown for opaque text fields and long values cut."""
    value = annotation.value
    if re.fullmatch(r"(?:[0-9a-f]{2}){3,}", value):
        data = bytes.fromhex(value)
        if all(32 <= b < 127 for b in data):
            value = f'{value} ("{data.decode("ascii")}")'
    if len(value) > LONG_VALUE:
        value = value[: LONG_VALUE - 32] + f"… ({annotation.length} bytes)"
    return value


def record_title(record: RecordLayout) -> str:
    event = record.record
    kind = name_of(to_enum(ContentType, record.content_type)) if record.content_type is not None else "encrypted"
    protection = "plaintext" if not record.protected else f"protected with {event.protection} keys"
    return (
        f"Record {record.index} · {record.sender} → {record.receiver} · {kind} · {protection} · {len(event.raw)} bytes"
    )


def message_heading(page_layout: Layout, record: RecordLayout, message: int) -> str:
    """`ClientHello (196 bytes)`, or where the rest of a split message lies."""
    event = page_layout.message(message)
    fragment = next(f for f in record.fragments if f.message == message)
    where = page_layout.message_records[message]
    text = f"{event.name} ({len(event.raw)} bytes)"
    if not (fragment.first and fragment.last):
        others = ", ".join(str(r) for r in where if r != record.index)
        text += f" — bytes {fragment.message_offset}..{fragment.message_offset + fragment.end - fragment.start}"
        text += f" of it here, the rest in record {others}"
    return text


def decryption_rows(record: RecordLayout) -> list[tuple[str, str]]:
    """Key, IV, sequence number, nonce and additional data of a protected record."""
    event = record.record
    writer = record.sender
    rows: list[tuple[str, str]] = []
    if record.keys is not None:
        rows.append(("cipher suite", record.keys.cipher_suite))
        rows.append((f"{writer}_write_key (from {record.keys.secret_name})", _hex(record.keys.key)))
        rows.append((f"{writer}_write_iv", _hex(record.keys.iv)))
    else:
        rows.append(("keys", f"from {event.keys or 'an unknown secret'} (not in the trace)"))
    rows.append(("sequence number", str(event.sequence_number)))
    rows.append(("nonce = iv XOR sequence number", _hex(record_nonce(event, record.keys))))
    rows.append(("additional data = record header", event.raw[:HEADER_LENGTH].hex()))
    rows.append(("AEAD tag length", f"{record.tag_length} bytes"))
    return rows


def hexdump_lines(data: bytes) -> list[str]:
    """`0000  16 03 01 00 c4 01 00 00  c0 03 03 cb 34 ec b1 e7`."""
    lines = []
    for offset in range(0, len(data), ROW):
        chunk = data[offset : offset + ROW]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        lines.append(f"{offset:04x}  {left}  {right}".rstrip())
    return lines


# =============================================================================
# HTML
# =============================================================================

CSS = """
:root{--ink:#1a1a1a;--soft:#555;--line:#d9dde3;--client:#0b5cad;--server:#b35900;--fail:#c62828;
--ok:#2e7d32;--mono:"DejaVu Sans Mono",Menlo,Consolas,monospace}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 "DejaVu Sans",Helvetica,Arial,sans-serif;color:var(--ink);background:#f4f5f7}
main{max-width:1440px;margin:0 auto;padding:24px 28px 80px}
h1{font-size:26px;margin:0 0 6px}
h2{font-size:20px;margin:34px 0 12px;border-bottom:2px solid var(--line);padding-bottom:4px}
code,.mono{font-family:var(--mono);font-size:12.5px}
.lede{color:var(--soft);margin:0 0 14px}
.admonition{border-left:4px solid #e0a800;background:#fff8e1;padding:8px 14px;border-radius:4px;margin:10px 0}
.admonition.fail{border-color:var(--fail);background:#fdecea}
.admonition ul{margin:4px 0 0;padding-left:20px}
.summary{display:grid;grid-template-columns:max-content 1fr;gap:2px 18px;background:#fff;
border:1px solid var(--line);border-radius:8px;padding:12px 18px;margin:12px 0;max-width:760px}
.summary dt{color:var(--soft)}.summary dd{margin:0;font-weight:600}
.legend{display:flex;flex-wrap:wrap;gap:8px 18px;font-size:13px;color:var(--soft);margin:10px 0}
.legend span{display:inline-flex;align-items:center;gap:6px}
.legend i{display:inline-block;width:18px;height:16px;border-radius:3px;border:1px solid #0003}
figure.diagram{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px;margin:0;overflow:auto;
text-align:center}
figure.diagram svg{max-width:100%;height:auto}
.lane{margin:14px 0}
.compute{background:#fff;border:1px solid var(--line);border-left:5px solid var(--c);border-radius:8px;
padding:8px 14px;width:66%}
.compute.client{--c:var(--client);margin-right:auto}
.compute.server{--c:var(--server);margin-left:auto}
.who{font-weight:700;color:var(--c);text-transform:uppercase;font-size:12px;letter-spacing:.06em}
.item{padding:5px 0;border-top:1px dashed #e3e5e8}
.item:first-of-type{border-top:0}
.item .t{font-weight:600}
.item.compact{padding:1px 0;border-top:0;font-size:13.5px;color:var(--soft)}
.item.compact .t{font-weight:400}
.item.fail{background:#fdecea;border:1px solid #f3b7b2;border-radius:6px;padding:6px 10px;margin:4px 0}
.item.fail .t{color:var(--fail)}
.item.warn{background:#fff8e1;border-radius:6px;padding:6px 10px;margin:4px 0}
.mark{display:inline-block;width:1.2em;font-weight:700}
.ok .mark{color:var(--ok)}.fail .mark{color:var(--fail)}.same .mark{color:#6a1b9a}.warn .mark{color:#b26a00}
.formula{font-family:var(--mono);font-size:12.5px;color:#333;margin:2px 0 2px 1.2em}
.kv{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:1px 12px;margin:3px 0 3px 1.2em}
.kv dt{color:var(--soft);font-size:13px}.kv dd{margin:0;font-family:var(--mono);font-size:12.5px;
word-break:break-all}
.ex{color:var(--soft);font-size:13px;margin:2px 0 0 1.2em}
.rfc{display:inline-block;font-size:11.5px;font-weight:600;color:#37474f;background:#eceff1;border-radius:10px;
padding:0 7px;margin-left:6px;white-space:nowrap}
.detail{margin:2px 0 0 1.2em;font-size:14px}
section.record{border:1px solid var(--line);border-radius:10px;margin:18px 0;background:var(--tint);
border-top:5px solid var(--edge)}
.p-plaintext{--tint:#fff;--edge:#1a1a1a}
.p-early{--tint:#fff6ef;--edge:#d55e00}
.p-handshake{--tint:#f1f7fc;--edge:#0072b2}
.p-application{--tint:#eff9f5;--edge:#009e73}
.record>header{padding:10px 16px 6px}
.record>header h3{margin:0;font-size:17px}
.num{color:var(--soft);font-weight:600;font-size:14px;margin-right:4px}
.dir{font-weight:700}.dir.client{color:var(--client)}.dir.server{color:var(--server)}
.carries{margin:4px 0 0;color:var(--soft);font-size:13.5px}
.carries a{color:inherit}
.grid{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:14px;padding:6px 16px 16px}
.dumps{position:sticky;top:10px;align-self:start;max-height:calc(100vh - 20px);overflow:auto}
.dumpbox{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 10px;margin-bottom:10px}
.dumpbox h4,.tables h4{margin:0 0 6px;font-size:13px;text-transform:uppercase;letter-spacing:.05em;color:var(--soft)}
.hex{font-family:var(--mono);font-size:12.5px;line-height:1.25}
.hr{white-space:nowrap}
.ho{color:#9aa0a6;display:inline-block;width:3.6em;user-select:none}
.hex b{font-weight:400;display:inline-block;width:2.35ch;text-align:center;margin:0 1px 2px 0;border-radius:3px;
cursor:pointer}
.hex b:nth-of-type(8){margin-right:9px}
.note{font-size:12px;color:var(--soft);max-width:29em;margin:6px 0 0}
.a0{--l:91%}.a1{--l:80%}
.hs,.sw.hs{background:hsl(var(--h),75%,var(--l))}
.h0{--h:212}.h1{--h:28}.h2{--h:140}.h3{--h:275}.h4{--h:340}.h5{--h:185}
.kh{background:hsl(220,12%,var(--l))}
.ku{background:repeating-linear-gradient(45deg,#eee,#eee 3px,#ddd 3px,#ddd 6px)}
.kal{background:hsl(0,75%,var(--l))}
.kc{background:hsl(185,45%,var(--l))}
.kd{background:hsl(95,55%,var(--l))}
.kx{background:#dfe3e8;color:#555}
.kt{background:#5e35b1;color:#fff}
.ky{background:#ffcc80}
.kp{background:#f1f1f1;color:#999}
.ko{background:#e0e0e0}
.hex b.sel,tr.sel td{outline:2px solid #111;outline-offset:-1px;background:#ffe066!important;color:#000}
.hex b.echo{outline:1px dashed #b26a00;outline-offset:-1px;background:#fff3c4!important;color:#000}
table.fields{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);border-radius:8px;
margin-bottom:12px;font-size:13.5px}
.fields th,.fields td{text-align:left;vertical-align:top;padding:4px 8px;border-top:1px solid #eceef1}
.fields thead th{font-size:12px;color:var(--soft);font-weight:600;background:#fafbfc}
.fields tr.fr{cursor:pointer}
.fields tr.fr:hover td{background:#fafafa}
.fields tr.msg th{background:#f6f7f9;font-size:14px;padding:8px}
.fields tr.msg .ex{margin:2px 0 0}
.pos{white-space:nowrap;font-family:var(--mono);font-size:12px;color:var(--soft)}
.fname{width:42%}.fname code{overflow-wrap:anywhere;font-weight:600}
.summ{font-family:var(--mono);font-size:12px;font-weight:400;color:#333;margin:2px 0}
.fields tr.msg .ex{font-weight:400}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;vertical-align:-1px;
border:1px solid #0002}
.val{font-family:var(--mono);font-size:12px;word-break:break-all;color:#0d3c61;margin:1px 0 0 19px}
.fx b{font-weight:600}.fx p{margin:1px 0 0;color:var(--soft);font-size:12.5px}
.problem{color:var(--fail);font-weight:600}
.decrypt{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 12px;margin-bottom:12px}
.decrypt .kv{margin-left:0}
.failed-record{color:var(--fail);font-weight:600}
footer{margin-top:40px;color:var(--soft);font-size:13px}
"""

SCRIPT = """
document.addEventListener('click', function (e) {
  var t = e.target.closest('[data-f]');
  if (!t) return;
  var r = t.getAttribute('data-r'), f = t.getAttribute('data-f');
  document.querySelectorAll('.sel,.echo').forEach(function (x) { x.classList.remove('sel', 'echo'); });
  document.querySelectorAll('[data-r="' + r + '"][data-f="' + f + '"]').forEach(function (x) {
    x.classList.add('sel');
    var o = x.getAttribute('data-o');  /* decrypted byte: the ciphertext byte at the same offset */
    if (o !== null) document.querySelectorAll('b[data-r="' + r + '"][data-c="' + o + '"]')
      .forEach(function (c) { c.classList.add('echo'); });
  });
  var other = t.tagName === 'B' ? 'tr' : 'b';  /* bring the other view of the field into sight */
  var target = document.querySelector(other + '[data-r="' + r + '"][data-f="' + f + '"]');
  if (target) target.scrollIntoView({block: 'nearest', behavior: 'smooth'});
});
"""

_KIND_CLASS = {
    "header": "kh",
    "unparsed": "ku",
    "alert": "kal",
    "change_cipher_spec": "kc",
    "application_data": "kd",
    "ciphertext": "kx",
    "tag": "kt",
    "content_type": "ky",
    "padding": "kp",
    "opaque": "ko",
}


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _rich(text: str) -> str:
    """Catalogue text: `code` in backticks becomes <code>."""
    parts = text.split("`")
    return "".join(f"<code>{_e(p)}</code>" if i % 2 else _e(p) for i, p in enumerate(parts))


def _colour(annotation: Annotation, number: int) -> str:
    alternate = f"a{number % 2}"
    if annotation.kind == "handshake":
        return f"hs h{(annotation.message or 0) % 6} {alternate}"
    return f"{_KIND_CLASS.get(annotation.kind, 'ko')} {alternate}"


def _rfc(text: str) -> str:
    return f'<span class="rfc">{_e(text)}</span>' if text else ""


def _html_hexdump(
    data: bytes, annotations: Sequence[Annotation], record: str, part: str, *, ciphertext_offset: int | None = None
) -> str:
    """Byte cells tagged with their record (`data-r`) and field (`data-f`)."""
    cells: list[str] = []
    for number, annotation in enumerate(annotations):
        colour = _colour(annotation, number)
        for offset in range(annotation.start, annotation.end):
            extra = f' data-o="{offset}"' if part == "i" else ""
            if ciphertext_offset is not None and annotation.kind == "ciphertext":
                extra = f' data-c="{offset - ciphertext_offset}"'
            cells.append(f'<b data-r="{record}" data-f="{part}{number}" class="{colour}"{extra}>{data[offset]:02x}</b>')
    rows = []
    for start in range(0, len(cells), ROW):
        rows.append(f'<div class="hr"><span class="ho">{start:04x}</span>{"".join(cells[start : start + ROW])}</div>')
    return f'<div class="hex">{"".join(rows)}</div>'


def _html_field_rows(
    page: Page, record: RecordLayout, annotations: Sequence[Annotation], part: str, shown: set[str]
) -> str:
    rows: list[str] = []
    current: int | None = None
    for number, annotation in enumerate(annotations):
        if annotation.message is not None and annotation.message != current:
            current = annotation.message
            event = page.layout.message(current)
            fragment = next(f for f in record.fragments if f.message == current)
            anchor = f' id="msg-{current}"' if fragment.first else ""
            about = catalogue.explain_message(event.name)
            text = f"<p class=ex>{_rich(about.text)}</p>" if about and event.name not in shown else ""
            shown.add(event.name)
            summary = f'<div class="summ">{_e(event.summary)}</div>' if event.summary else ""
            rows.append(
                f'<tr class="msg"{anchor}><th colspan="3"><span class="sw hs h{current % 6} a1"></span>'
                f"{_e(message_heading(page.layout, record, current))}{_rfc(about.rfc if about else event.rfc)}"
                f"{summary}{text}</th></tr>"
            )
        elif annotation.message is None:
            current = None
        about = explain(annotation)
        text = f"<p>{_rich(about.text)}</p>" if about.text and about.text not in shown else ""
        shown.add(about.text)
        rows.append(
            f'<tr class="fr" data-r="{record.index}" data-f="{part}{number}">'
            f'<td class="pos">{annotation.start}<br>{annotation.length} B</td>'
            f'<td class="fname"><span class="sw {_colour(annotation, number)}"></span>'
            f"<code>{_e(field_name(annotation)).replace('.', '.<wbr>')}</code>"
            f'<div class="val">{_e(field_value(annotation))}</div></td>'
            f'<td class="fx"><b>{_e(about.title)}</b>{_rfc(about.rfc)}{text}</td></tr>'
        )
    head = "<thead><tr><th>Offset</th><th>Field and value</th><th>Meaning</th></tr></thead>"
    return f'<table class="fields">{head}<tbody>{"".join(rows)}</tbody></table>'


def _html_kv(rows: Iterable[tuple[str, str]]) -> str:
    return '<dl class="kv">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows) + "</dl>"


def _html_record(page: Page, record: RecordLayout) -> str:
    event = record.record
    protection = event.protection.split()[0] if event.protection else "plaintext"
    names = []
    for i in dict.fromkeys(f.message for f in record.fragments):
        names.append(f'<a href="#msg-{i}">{_e(page.layout.message(i).name)}</a>')
    carries = ""
    if names:
        carries = f'<p class="carries">Carries {", ".join(names)}.</p>'
    elif record.content_type is not None and record.content_type != 22:
        carries = f'<p class="carries">Carries {_e(name_of(to_enum(ContentType, record.content_type)))}.</p>'
    shown: set[str] = set()
    ciphertext_offset = HEADER_LENGTH if record.protected else None
    wire_dump = _html_hexdump(event.raw, record.wire, str(record.index), "w", ciphertext_offset=ciphertext_offset)
    wire_box = f'<div class="dumpbox"><h4>On the wire</h4>{wire_dump}</div>'
    dumps = [wire_box]
    tables = [f"<h4>Record fields</h4>{_html_field_rows(page, record, record.wire, 'w', shown)}"]
    if record.protected:
        tables.insert(
            0,
            f'<div class="decrypt"><h4>Decryption</h4>{_html_kv(decryption_rows(record))}'
            f'<p class="ex">{_rich(catalogue.STEPS["nonce"].text)}{_rfc("RFC 8446 §5.3")}</p></div>',
        )
        if record.inner_plaintext is not None:
            dumps.append(
                '<div class="dumpbox"><h4>Decrypted: TLSInnerPlaintext</h4>'
                f"{_html_hexdump(record.inner_plaintext, record.inner, str(record.index), 'i')}"
                '<p class="note">Click a decrypted field: the dashed bytes above are its ciphertext. The AEAD '
                "encrypts byte for byte, so each ciphertext byte is the plaintext byte XOR a keystream byte.</p>"
                "</div>"
            )
            tables.append(f"<h4>Decrypted fields</h4>{_html_field_rows(page, record, record.inner, 'i', shown)}")
        elif record.decryption_failed:
            tables.append(
                '<p class="failed-record">✗ This record could not be decrypted: its AEAD tag did not '
                "verify (bad_record_mac).</p>"
            )
        else:
            tables.append(f"<p>Decrypted content: {REDACTED}.</p>")
    problems = "".join(f'<p class="problem">⚠ {_e(p)}</p>' for p in record.problems)
    direction = f'<span class="dir {record.sender}">{_e(record.sender)} → {_e(record.receiver)}</span>'
    what = _e(record_title(record).split(" · ", 2)[2])  # "handshake · plaintext · 201 bytes"
    return (
        f'<section class="record p-{_e(protection)}" id="rec-{record.index}">'
        f'<header><h3><span class="num">Record {record.index}</span> {direction} · {what}{_rfc(event.rfc)}</h3>'
        f"{carries}{problems}</header>"
        f'<div class="grid"><div class="dumps">{"".join(dumps)}</div><div class="tables">{"".join(tables)}</div></div>'
        "</section>"
    )


def _html_orphan(page: Page, orphan: Orphan) -> str:
    step = page.layout.messages[orphan.message]
    event = page.layout.message(orphan.message)
    annotations = [
        Annotation(start=f.start, end=f.end, path=f.path, value=f.value, kind="handshake", message=orphan.message)
        for f in event.fields
    ]
    record_id = f"m{orphan.message}"
    rows = []
    for number, annotation in enumerate(annotations):
        about = explain(annotation)
        rows.append(
            f'<tr class="fr" data-r="{record_id}" data-f="m{number}"><td class="pos">{annotation.start}</td>'
            f'<td class="fname"><code>{_e(field_name(annotation))}</code></td>'
            f'<td class="val">{_e(field_value(annotation))}</td><td class="fx"><b>{_e(about.title)}</b>'
            f"{_rfc(about.rfc)}</td></tr>"
        )
    return (
        f'<section class="record p-plaintext" id="msg-{orphan.message}"><header><h3>'
        f'<span class="dir {step.sender}">{_e(step.sender)} → {_e(step.receiver)}</span> · {_e(event.name)} '
        f"(never sent in a record: the connection ended first)</h3></header>"
        f'<div class="grid"><div class="dumps"><div class="dumpbox">'
        f"{_html_hexdump(event.raw, annotations, record_id, 'm')}</div></div>"
        f'<div class="tables"><table class="fields"><tbody>{"".join(rows)}</tbody></table></div></div></section>'
    )


def _marks(item: Item) -> str:
    if item.link:
        return "✉"
    return {"ok": "✓", "fail": "✗", "same": "=", "warn": "⚠"}.get(item.status, "•")


def _html_item(item: Item) -> str:
    classes = " ".join(c for c in ("item", item.status, "compact" if item.compact else "") if c)
    explanation = item.explanation
    rfc = _rfc(explanation.rfc) if explanation else ""
    title = f'<a href="{_e(item.link)}">{_e(item.title)}</a>' if item.link else _e(item.title)
    parts = [
        f'<div class="{classes}" id="{item.anchor}"><span class="mark">{_marks(item)}</span>'
        f'<span class="t">{title}</span>{rfc}'
    ]
    if item.compact:
        if item.detail:
            parts.append(f" <span class=ex>({_e(item.detail)})</span>")
        parts.append("</div>")
        return "".join(parts)
    if item.detail:
        parts.append(f'<div class="detail">{_e(item.detail)}</div>')
    if item.formula:
        parts.append(f'<div class="formula">{_e(item.formula)}</div>')
    if item.rows:
        parts.append(_html_kv(item.rows))
    if explanation and explanation.text:
        parts.append(f'<p class="ex">{_rich(explanation.text)}</p>')
    parts.append("</div>")
    return "".join(parts)


def _html_computation(block: Computation) -> str:
    items = "".join(_html_item(item) for item in block.items)
    role = _e(block.role)
    return f'<div class="lane"><div class="compute {role}"><div class="who">{role}</div>{items}</div></div>'


def _html_legend() -> str:
    entries = [
        ("#1a1a1a", "#fff", "plaintext record"),
        ("#d55e00", "#fff6ef", "early traffic keys (0-RTT)"),
        ("#0072b2", "#f1f7fc", "handshake traffic keys"),
        ("#009e73", "#eff9f5", "application traffic keys"),
    ]
    spans = [
        f'<span><i style="background:{bg};border-top:4px solid {edge}"></i>{_e(text)}</span>'
        for edge, bg, text in entries
    ]
    for css, text in (
        ("kh a0", "record header"),
        ("hs h0 a0", "handshake message fields (alternating shades)"),
        ("kx a0", "ciphertext"),
        ("kt a0", "AEAD tag"),
        ("ky a0", "inner content type"),
        ("kal a0", "alert"),
        ("kd a0", "application data"),
    ):
        spans.append(f'<span><i class="{css}"></i>{_e(text)}</span>')
    return f'<div class="legend">{"".join(spans)}</div>'


def render_html(events: TraceLike, *, title: str | None = None) -> str:
    """One self-contained HTML page: inline CSS and script, no external resources."""
    page = build_page(events, title=title)
    body: list[str] = [f"<h1>{_e(page.title)}</h1>"]
    body.append(
        '<p class="lede">Every byte of this connection, as traced by teachtls. Click a field — in a hexdump or '
        "in a table — to highlight its bytes.</p>"
    )
    body.append(f'<div class="admonition"><b>Not for production.</b> {_e(NOT_FOR_PRODUCTION)}</div>')
    if page.redacted:
        body.append(
            '<div class="admonition"><b>Redacted trace.</b> Secrets, keys and decrypted data were removed '
            f"when the trace was written; they are shown as {REDACTED}.</div>"
        )
    if page.failures:
        links = "".join(
            f'<li><a href="#{item.anchor}">{_e(item.role)}: {_e(item.title)}</a>'
            + (f" — {_e(item.detail)}" if item.detail else "")
            + "</li>"
            for item in page.failures
        )
        body.append(f'<div class="admonition fail"><b>✗ This connection failed.</b><ul>{links}</ul></div>')
    for item in page.warnings:
        body.append(f'<div class="admonition"><b>⚠ {_e(item.role)}:</b> {_e(item.detail)}</div>')
    body.append(
        '<dl class="summary">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in page.summary) + "</dl>"
    )
    body.append("<h2>The conversation at a glance</h2>")
    if page.diagram:
        body.append(f'<figure class="diagram">{page.diagram}</figure>')
    else:
        body.append(f'<p class="problem">⚠ {_e(page.diagram_problem)}</p>')
    body.append("<h2>Byte by byte</h2>")
    body.append(_html_legend())
    for problem in page.layout.problems:
        body.append(f'<p class="problem">⚠ {_e(problem)}</p>')
    for block in page.blocks:
        if isinstance(block, RecordLayout):
            body.append(_html_record(page, block))
        elif isinstance(block, Computation):
            body.append(_html_computation(block))
        else:
            body.append(_html_orphan(page, block))
    body.append(
        "<footer>Generated by teachtls from a recorded trace. Field explanations: teachtls.render.catalogue; "
        "byte layout: teachtls.render.layout.</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(page.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + f"\n</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


# =============================================================================
# Markdown and reStructuredText
# =============================================================================


@attrs.frozen
class _Text:
    """How a text format writes the few constructs the pages use."""

    heading: Callable[[str, int], str]
    anchor: Callable[[str], str]
    code: Callable[[str], str]  # inline code
    text: Callable[[str], str]  # plain text, escaped; `backticks` become code
    block: Callable[[list[str]], str]  # a preformatted block
    table: Callable[[list[str], list[list[str]]], str]
    admonition: Callable[[str, str], str]
    raw_html: Callable[[str], str]
    bullet: Callable[[str], str]


def _md_escape(text: str) -> str:
    """Escape what CommonMark would read as markup; underscores inside words are left alone."""
    text = re.sub(r"([\\*\[\]<>|`])", r"\\\1", text)
    return re.sub(r"(?<!\w)_|_(?!\w)", r"\\_", text)


def _md_code(text: str) -> str:
    if not text:
        return "—"
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}".replace("|", "\\|")


def _md_rich(text: str) -> str:
    parts = text.split("`")
    return "".join(_md_code(p) if i % 2 else _md_escape(p) for i, p in enumerate(parts))


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("\n", " ") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


MARKDOWN = _Text(
    heading=lambda text, level: f"{'#' * level} {text}\n",
    anchor=lambda name: f'<a id="{name}"></a>\n',
    code=_md_code,
    text=_md_rich,
    block=lambda lines: "```text\n" + "\n".join(lines) + "\n```\n",
    table=_md_table,
    admonition=lambda title, text: f"> **{title}** {text}\n",
    raw_html=lambda markup: "\n".join(line for line in markup.splitlines() if line.strip()) + "\n",
    bullet=lambda text: f"- {text}",
)

_RST_UNDERLINE = {1: "=", 2: "-", 3: "~", 4: "^"}


def _rst_escape(text: str) -> str:
    """Escape inline markup; an underscore is markup only at the end of a word (a reference: `name_`)."""
    text = re.sub(r"([\\*`|])", r"\\\1", text)
    return re.sub(r"_(?!\w)", r"\\_", text)


def _rst_code(text: str) -> str:
    if not text:
        return "—"
    if "``" in text or text != text.strip():
        return _rst_escape(text)
    return f"``{text}``"


def _rst_rich(text: str) -> str:
    parts = text.split("`")
    return "".join(_rst_code(p) if i % 2 else _rst_escape(p) for i, p in enumerate(parts))


def _rst_heading(text: str, level: int) -> str:
    line = _RST_UNDERLINE[level] * (len(text) + 2)
    if level == 1:
        return f"{line}\n{text}\n{line}\n"
    return f"{text}\n{line}\n"


def _rst_table(header: list[str], rows: list[list[str]]) -> str:
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        for i, cell in enumerate(row):
            cell = " ".join(cell.split()) or "—"
            lines.append(("   * - " if i == 0 else "     - ") + cell)
    return "\n".join(lines) + "\n"


def _rst_block(lines: list[str]) -> str:
    return "::\n\n" + "\n".join("   " + line for line in lines) + "\n"


RST = _Text(
    heading=_rst_heading,
    anchor=lambda name: f".. _{name}:\n",
    code=_rst_code,
    text=_rst_rich,
    block=_rst_block,
    table=_rst_table,
    admonition=lambda title, text: f".. admonition:: {title}\n\n   {text}\n",
    raw_html=lambda markup: (
        ".. raw:: html\n\n" + "\n".join("   " + line for line in markup.splitlines() if line.strip()) + "\n"
    ),
    bullet=lambda text: f"* {text}",
)


def _text_explanation(fmt: _Text, about: Explanation, shown: set[str]) -> str:
    text = fmt.text(about.title)
    if about.text and about.text not in shown:
        text += ": " + fmt.text(about.text)
    shown.add(about.text)
    return text


def _text_field_table(
    fmt: _Text, page: Page, record: RecordLayout | None, annotations: Sequence[Annotation], shown: set[str]
) -> str:
    rows: list[list[str]] = []
    current: int | None = None
    for annotation in annotations:
        if record is not None and annotation.message is not None and annotation.message != current:
            current = annotation.message
            heading = message_heading(page.layout, record, current)
            rows.append(["", "", f"**{fmt.text(heading)}**", "", "", ""])
        about = explain(annotation)
        rows.append(
            [
                str(annotation.start),
                str(annotation.length),
                fmt.code(field_name(annotation)),
                fmt.code(field_value(annotation)),
                _text_explanation(fmt, about, shown),
                fmt.text(about.rfc),
            ]
        )
    return fmt.table(["Offset", "Length", "Field", "Value", "Explanation", "RFC"], rows)


def _text_kv(fmt: _Text, rows: Iterable[tuple[str, str]]) -> str:
    return "\n".join(fmt.bullet(f"{fmt.text(k)}: {fmt.code(v)}") for k, v in rows) + "\n"


def _text_record(fmt: _Text, page: Page, record: RecordLayout) -> str:
    event = record.record
    out = [fmt.anchor(f"rec-{record.index}"), fmt.heading(record_title(record), 3)]
    messages = list(dict.fromkeys(f.message for f in record.fragments))
    if messages:
        names = ", ".join(page.layout.message(i).name for i in messages)
        out.append(f"Carries {fmt.text(names)}.\n")
    for problem in record.problems:
        out.append(f"**Problem:** {fmt.text(problem)}\n")
    shown: set[str] = set()
    for i in messages:
        fragment = next(f for f in record.fragments if f.message == i)
        if fragment.first:
            message = page.layout.message(i)
            about = catalogue.explain_message(message.name)
            out.append(fmt.anchor(f"msg-{i}"))
            line = f"**{fmt.text(message.name)}** ({fmt.text(about.rfc if about else message.rfc)})"
            if about:
                line += " — " + fmt.text(about.text)
            if message.summary:
                line += " " + fmt.code(message.summary)
            out.append(line + "\n")
    out.append("On the wire:\n")
    out.append(fmt.block(hexdump_lines(event.raw)))
    out.append(_text_field_table(fmt, page, record, record.wire, shown))
    if record.protected:
        out.append("Decryption:\n")
        out.append(_text_kv(fmt, decryption_rows(record)))
        if record.inner_plaintext is not None:
            out.append("Decrypted TLSInnerPlaintext:\n")
            out.append(fmt.block(hexdump_lines(record.inner_plaintext)))
            out.append(_text_field_table(fmt, page, record, record.inner, shown))
        elif record.decryption_failed:
            out.append("**✗ This record could not be decrypted: its AEAD tag did not verify (bad_record_mac).**\n")
        else:
            out.append(f"Decrypted content: {REDACTED}.\n")
    return "\n".join(out)


def _text_item(fmt: _Text, item: Item) -> str:
    mark = _marks(item)
    rfc = f" ({fmt.text(item.explanation.rfc)})" if item.explanation and item.explanation.rfc else ""
    title = fmt.text(item.title)
    line = f"{mark} **{title}**{rfc}" if item.status == "fail" or not item.compact else f"{mark} {title}{rfc}"
    if item.detail:
        line += f" — {fmt.text(item.detail)}"
    lines = [fmt.bullet(line)]
    if not item.compact:
        if item.formula:
            lines.append("  " + fmt.bullet(fmt.code(item.formula)))
        for label, value in item.rows:
            lines.append("  " + fmt.bullet(f"{fmt.text(label)}: {fmt.code(value)}"))
        if item.explanation and item.explanation.text:
            lines.append("  " + fmt.bullet(fmt.text(item.explanation.text)))
    if len(lines) > 1:
        lines.insert(1, "")  # a nested list needs a blank line before it (reStructuredText)
    return "\n".join(lines)


def _text_computation(fmt: _Text, block: Computation, number: int) -> str:
    out = [fmt.heading(f"Step {number}: the {block.role}", 3)]
    out.append("\n\n".join(_text_item(fmt, item) for item in block.items) + "\n")
    return "\n".join(out)


def _text_orphan(fmt: _Text, page: Page, orphan: Orphan) -> str:
    event = page.layout.message(orphan.message)
    annotations = [
        Annotation(start=f.start, end=f.end, path=f.path, value=f.value, kind="handshake", message=orphan.message)
        for f in event.fields
    ]
    return "\n".join(
        [
            fmt.anchor(f"msg-{orphan.message}"),
            fmt.heading(f"{event.name} (never sent in a record: the connection ended first)", 3),
            fmt.block(hexdump_lines(event.raw)),
            _text_field_table(fmt, page, None, annotations, set()),
        ]
    )


def _render_text(fmt: _Text, events: TraceLike, title: str | None) -> str:
    page = build_page(events, title=title)
    out = [fmt.heading(page.title, 1)]
    out.append(fmt.admonition("Not for production.", fmt.text(NOT_FOR_PRODUCTION)))
    if page.redacted:
        out.append(
            fmt.admonition(
                "Redacted trace.",
                fmt.text(f"Secrets, keys and decrypted data were removed when the trace was written: {REDACTED}."),
            )
        )
    if page.failures:
        out.append("**✗ This connection failed:**\n")
        out.append(
            "\n".join(
                fmt.bullet(
                    f"{fmt.text(item.role)}: {fmt.text(item.title)}"
                    + (f" — {fmt.text(item.detail)}" if item.detail else "")
                )
                for item in page.failures
            )
            + "\n"
        )
    for item in page.warnings:
        out.append(fmt.admonition("Warning.", fmt.text(f"{item.role}: {item.detail}")))
    out.append(_text_kv(fmt, page.summary))
    out.append(fmt.heading("The conversation at a glance", 2))
    if page.diagram:
        out.append(fmt.raw_html(f'<div class="teachtls-sequence">{page.diagram}</div>'))
    else:
        out.append(fmt.text(page.diagram_problem) + "\n")
    out.append(fmt.heading("Byte by byte", 2))
    for problem in page.layout.problems:
        out.append(f"**Problem:** {fmt.text(problem)}\n")
    step = 0
    for block in page.blocks:
        if isinstance(block, RecordLayout):
            out.append(_text_record(fmt, page, block))
        elif isinstance(block, Computation):
            step += 1
            out.append(_text_computation(fmt, block, step))
        else:
            out.append(_text_orphan(fmt, page, block))
    return "\n".join(out)


def render_markdown(events: TraceLike, *, title: str | None = None) -> str:
    """The page as Markdown (CommonMark with GitHub tables; MyST renders it)."""
    return _render_text(MARKDOWN, events, title)


def render_rst(events: TraceLike, *, title: str | None = None) -> str:
    """The page as reStructuredText (plain docutils, so Sphinx renders it too)."""
    return _render_text(RST, events, title)


RENDERERS: dict[str, Callable[..., str]] = {
    ".html": render_html,
    ".htm": render_html,
    ".md": render_markdown,
    ".markdown": render_markdown,
    ".rst": render_rst,
}


def write_page(events: TraceLike, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Write the page to `path`; the format follows the suffix (.html, .md, .rst)."""
    target = Path(path)
    renderer = RENDERERS.get(target.suffix.lower())
    if renderer is None:
        raise ValueError(f"unsupported page format {target.suffix!r}: use .html, .md or .rst")
    target.write_text(renderer(events, title=title), encoding="utf-8")
    return target
