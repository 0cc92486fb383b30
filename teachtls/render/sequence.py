"""Sequence diagrams of a traced connection: who sent what to whom, under which keys.

The picture every TLS 1.3 lecture starts from (RFC 8446 §2, Figure 1), drawn
from a real trace instead of by hand. Two lifelines, the client's on the left
and the server's on the right, run from top to bottom; every arrow between
them is something that crossed the wire, in the order the trace recorded it.

Three levels of detail:

* ``"messages"`` -- one arrow per handshake message, labelled with its name and
  the fields that matter (what the client offered, what the server chose),
  plus change_cipher_spec, application data and alerts;
* ``"keys"`` -- the same, with the secrets and traffic keys each side derives
  written in notes beside its lifeline, at the moment it derives them;
* ``"records"`` -- one arrow per record (RFC 8446 §5): outer and inner content
  type, length, protection, and the messages it carries.

Every arrow shows its record protection twice, by colour and by line style
(see `teachtls.render.style`), so the diagram survives a black-and-white
printer: plaintext thin and solid, handshake traffic keys dashed, application
traffic keys bold, early data dotted. Failed checks and non-closure alerts are
red and marked with a ✗, where they happened.

Arrows link to the annotated page (``href="#msg-3"``, ``href="#rec-2"``),
numbered as `teachtls.render.common.conversation` orders messages and records.

How it is laid out. Graphviz has no sequence-diagram mode, so the diagram is
a grid: each *row* is one Graphviz rank (``rank=same``) holding one invisible
point per *column* -- client lifeline, middle, server lifeline. Heavy
invisible edges chain each column's points, so the columns stay straight,
and each lifeline is one edge from the participant's box at the top to its
box at the bottom. An arrow takes two rows: a label row, whose middle cell
is the label, and an arrow row, whose one edge runs from the client's point
to the server's (``dir=back`` when it points left, so that every edge runs
left to right and the columns keep their order). A note takes one row: it
sits in a column of its own beside its lifeline, tied to it by a short
dashed connector.

Renderers only read: this module sees trace events, never a connection.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import attrs
import graphviz

from teachtls.render import common, style
from teachtls.trace import events as trace
from teachtls.wire.enums import AlertDescription, AlertLevel, ContentType

DETAILS = ("messages", "keys", "records")

# AEAD tag length of every TLS 1.3 cipher suite teachtls speaks (RFC 8446 §5.2),
# used to recover a protected record's content length when the trace was
# redacted and has no plaintext.
AEAD_TAG_LENGTH = 16

LONG_LIST = 4  # lists longer than this are cut: "x25519, secp256r1, … (9 in all)"
LABEL_WIDTH = 52  # characters per line in arrow labels
NOTE_WIDTH = 46  # characters per line in failure notes


# --- what to draw: rows ---------------------------------------------------------------


@attrs.frozen
class Arrow:
    """One arrow between the lifelines, with its label above it."""

    sender: str
    title: str  # "ClientHello" (plain text)
    details: tuple[str, ...]  # key fields, one line each (plain text)
    line: style.LineStyle
    failed: bool
    href: str
    tooltip: str


@attrs.define
class NoteRow:
    """A note beside one lifeline: derived secrets, or a failed check."""

    role: str
    entries: list[tuple[str, str]]  # (name, value) pairs; value "" for a text line
    failed: bool
    tooltip: list[str] = attrs.Factory(list)


Row = Arrow | NoteRow


def rows(events: Sequence[trace.TraceEvent], detail: str = "messages") -> list[Row]:
    """What the diagram shows, top to bottom (exposed for tests and other renderers)."""
    if detail not in DETAILS:
        raise ValueError(f"detail must be one of {', '.join(DETAILS)}, not {detail!r}")
    steps = common.conversation(events)
    roles = common.roles_in(events)
    failed = {id(event) for event in common.failures(events)}
    step_of = {id(step.event): step for step in steps}
    message_numbers = _numbers(steps, trace.MessageEvent)
    record_numbers = _numbers(steps, trace.RecordEvent)
    carriers = _carrying_records(steps)
    alert_records = _alert_records(events, steps, roles)
    claimed_records = {id(record) for record in alert_records.values()}
    tls13 = not any(isinstance(e, trace.ParametersNegotiated) and e.version in ("TLS 1.2", "DTLS 1.2") for e in events)

    result: list[Row] = []
    for event in events:
        step = step_of.get(id(event))
        if isinstance(event, trace.MessageEvent) and step is not None and detail != "records":
            record = carriers.get(id(event))
            result.append(_message_arrow(step, message_numbers[id(event)], record))
        elif isinstance(event, trace.RecordEvent) and step is not None:
            number = record_numbers[id(event)]
            if detail == "records":
                result.append(_record_arrow(step, number, _carried_messages(steps, carriers, event)))
            elif id(event) not in claimed_records:
                arrow = _non_handshake_arrow(step, number, tls13)
                if arrow is not None:
                    result.append(arrow)
        elif isinstance(event, trace.AlertEvent) and detail != "records" and _drawn_alert(event, roles):
            record = alert_records.get(id(event))
            alert_number = record_numbers[id(record)] if record is not None else None
            result.append(_alert_arrow(event, record, alert_number, explained=_explained(result, event.role)))
        elif id(event) in failed and not isinstance(event, trace.AlertEvent):
            result.append(_failure_note(event))
        elif detail == "keys" and isinstance(
            event, trace.SecretDerived | trace.KeysInstalled | trace.KeyExchangeComputed
        ):
            _add_key_entry(result, event)
        elif isinstance(event, trace.Note) and event.rfc.startswith(DATAGRAM_NOTES):
            result.append(_datagram_note(event))
    return result


# DTLS over a lossy network (teachtls.dtls): what happened to datagrams is drawn
# beside the lifeline where it happened -- a retransmitted flight (RFC 6347
# §4.2.4), a replayed record rejected (§4.1.2.6), a datagram the test link
# dropped, duplicated or delayed (§3.2); in DTLS 1.3 also the ACKs (RFC 9147 §7).
DATAGRAM_NOTES = (
    "RFC 6347 §4.2.4",
    "RFC 6347 §4.1.2.6",
    "RFC 6347 §3.2",
    "RFC 9147 §5.8",
    "RFC 9147 §4.5.1",
    "RFC 9147 §7",
)


def _datagram_note(event: trace.Note) -> NoteRow:
    text = event.text
    if text.startswith("the link dropped"):
        text = f"{style.FAILURE_MARK} {text}"
    entries = [(line, "") for line in style.wrap(text, NOTE_WIDTH)]
    return NoteRow(event.role, entries, failed=False, tooltip=[f"{event.text} [{event.rfc}]"])


def _numbers(steps: Sequence[common.Step], kind: type[trace.TraceEvent]) -> dict[int, int]:
    """Event id -> its 0-based index among the conversation's steps of `kind`."""
    numbered = [step.event for step in steps if isinstance(step.event, kind)]
    return {id(event): number for number, event in enumerate(numbered)}


def _drawn_alert(event: trace.AlertEvent, roles: set[str]) -> bool:
    """Alerts are drawn from the sender's AlertSent; from AlertReceived only if the sender is untraced."""
    if isinstance(event, trace.AlertSent):
        return True
    return common.peer_of(event.role) not in roles


def _explained(so_far: Sequence[Row], role: str) -> bool:
    """Did a failure note of `role` just say why (so an alert need not repeat it)?"""
    return bool(so_far) and isinstance(so_far[-1], NoteRow) and so_far[-1].failed and so_far[-1].role == role


# --- records and the messages they carry ---------------------------------------------


def _record_type(record: trace.RecordEvent) -> int:
    """The real content type: the inner one for protected records (RFC 8446 §5.2)."""
    return record.inner_content_type if record.inner_content_type is not None else record.content_type


def _content_length(record: trace.RecordEvent) -> int:
    """Length of the content (without header, inner type, padding and AEAD tag)."""
    if record.protection == "plaintext":
        return len(record.raw) - (13 if record.epoch is not None else 5)
    if record.plaintext:
        return len(record.plaintext)
    return len(record.raw) - 5 - AEAD_TAG_LENGTH - 1 - record.padding_length


def _carrying_records(steps: Sequence[common.Step]) -> dict[int, trace.RecordEvent]:
    """Message event id -> the (first) record that carried it.

    Each direction's handshake messages form one byte stream (RFC 8446 §5.1:
    messages may be coalesced into one record or fragmented across several);
    a record carries the messages whose bytes overlap its share of the stream."""
    found: dict[int, trace.RecordEvent] = _carrying_dtls_records(steps)
    for sender in common.ROLES:
        messages = [
            s.event
            for s in steps
            if s.sender == sender and isinstance(s.event, trace.MessageEvent) and id(s.event) not in found
        ]
        records = [
            s.event
            for s in steps
            if s.sender == sender
            and isinstance(s.event, trace.RecordEvent)
            and _record_type(s.event) == ContentType.handshake
        ]
        record_spans = []
        offset = 0
        for record in records:
            length = _content_length(record)
            record_spans.append((offset, offset + length, record))
            offset += length
        offset = 0
        for message in messages:
            start, end = offset, offset + len(message.raw)
            offset = end
            for record_start, record_end, record in record_spans:
                if record_start < end and start < record_end:
                    found[id(message)] = record
                    break
    return found


def _carrying_dtls_records(steps: Sequence[common.Step]) -> dict[int, trace.RecordEvent]:
    """DTLS (RFC 6347 §4.2.2): no byte stream, but every fragment names its
    message by message_seq, so a message's (first) record is found by that."""
    first_record: dict[tuple[str, int], trace.RecordEvent] = {}
    for step in steps:
        record = step.event
        if not (isinstance(record, trace.RecordEvent) and record.epoch is not None):
            continue
        if _record_type(record) != ContentType.handshake:
            continue
        content = record.raw[13:] if record.protection == "plaintext" else record.plaintext
        position = 0
        while position + 12 <= len(content):  # 12-byte DTLS handshake headers
            message_seq = int.from_bytes(content[position + 4 : position + 6], "big")
            first_record.setdefault((step.sender, message_seq), record)
            position += 12 + int.from_bytes(content[position + 9 : position + 12], "big")
    found: dict[int, trace.RecordEvent] = {}
    for step in steps:
        message = step.event
        if isinstance(message, trace.MessageEvent) and len(message.raw) >= 12:
            carrier = first_record.get((step.sender, int.from_bytes(message.raw[4:6], "big")))
            if carrier is not None:
                found[id(message)] = carrier
    return found


def _carried_messages(
    steps: Sequence[common.Step], carriers: dict[int, trace.RecordEvent], record: trace.RecordEvent
) -> list[str]:
    return [
        step.event.name
        for step in steps
        if isinstance(step.event, trace.MessageEvent) and carriers.get(id(step.event)) is record
    ]


def _alert_records(
    events: Sequence[trace.TraceEvent], steps: Sequence[common.Step], roles: set[str]
) -> dict[int, trace.RecordEvent]:
    """Alert event id -> the record that carried it: the sender's next alert record."""
    alert_steps = [
        step.event
        for step in steps
        if isinstance(step.event, trace.RecordEvent) and _record_type(step.event) == ContentType.alert
    ]
    found: dict[int, trace.RecordEvent] = {}
    used: set[int] = set()
    position = {id(event): index for index, event in enumerate(events)}
    for event in events:
        if not (isinstance(event, trace.AlertEvent) and _drawn_alert(event, roles)):
            continue
        sender = event.role if isinstance(event, trace.AlertSent) else common.peer_of(event.role)
        for record in alert_steps:
            if id(record) in used:
                continue
            record_sender = record.role if isinstance(record, trace.RecordSent) else common.peer_of(record.role)
            if record_sender != sender:
                continue
            # AlertSent comes just before its RecordSent; AlertReceived just after its RecordReceived.
            if isinstance(event, trace.AlertSent) and position[id(record)] < position[id(event)]:
                continue
            found[id(event)] = record
            used.add(id(record))
            break
    return found


# --- arrows ------------------------------------------------------------------------------


def _after_key_update(record: trace.RecordEvent | None) -> list[str]:
    """ "keys: client_application_traffic_secret_1" once a KeyUpdate has changed the keys (RFC 8446 §4.6.3)."""
    if record is None or not re.search(r"_[1-9]\d*$", record.keys):
        return []
    return [f"keys: {record.keys}"]


def _message_arrow(step: common.Step, number: int, record: trace.RecordEvent | None) -> Arrow:
    message = step.event
    assert isinstance(message, trace.MessageEvent)
    protection = record.protection if record is not None else "plaintext"
    tooltip = f"{message.name} ({len(message.raw)} bytes, {protection})"
    if message.summary:
        tooltip += f": {message.summary}"
    if message.rfc:
        tooltip += f" [{message.rfc}]"
    return Arrow(
        sender=step.sender,
        title=message.name,
        details=(*message_details(message), *_after_key_update(record)),
        line=style.protection_style(protection),
        failed=False,
        href=f"#msg-{number}",
        tooltip=tooltip,
    )


def _non_handshake_arrow(step: common.Step, number: int, tls13: bool = True) -> Arrow | None:
    """change_cipher_spec and application data records, drawn in the messages view."""
    record = step.event
    assert isinstance(record, trace.RecordEvent)
    kind = _record_type(record)
    if kind == ContentType.change_cipher_spec:
        title = "ChangeCipherSpec"
        details: tuple[str, ...] = (
            ("middlebox compatibility (RFC 8446 §D.4)",)
            if tls13
            else ("next records: new keys (RFC 5246 §7.1)",)
        )
    elif kind == ContentType.application_data:
        title = "Application Data"
        details = (f"{_content_length(record)} bytes", *_after_key_update(record))
    else:
        return None
    return Arrow(
        sender=step.sender,
        title=title,
        details=details,
        line=style.protection_style(record.protection),
        failed=False,
        href=f"#rec-{number}",
        tooltip=_record_tooltip(record),
    )


def _alert_arrow(
    alert: trace.AlertEvent, record: trace.RecordEvent | None, number: int | None, *, explained: bool
) -> Arrow:
    sender = alert.role if isinstance(alert, trace.AlertSent) else common.peer_of(alert.role)
    failed = alert.description != "close_notify"
    protection = record.protection if record is not None else "plaintext"
    details: list[str] = [f"level: {alert.level}", *_after_key_update(record)]
    if failed and alert.reason and not explained:
        details += style.wrap(alert.reason, LABEL_WIDTH)
    line = style.protection_style(protection)
    if failed:
        line = attrs.evolve(line, colour=style.FAILURE, penwidth=max(line.penwidth, style.FAILURE_LINE.penwidth))
    title = f"{style.FAILURE_MARK} Alert: {alert.description}" if failed else f"Alert: {alert.description}"
    return Arrow(
        sender=sender,
        title=title,
        details=tuple(details),
        line=line,
        failed=failed,
        href=f"#rec-{number}" if number is not None else "",
        tooltip=f"{alert.level} alert {alert.description}: {alert.reason or '(no reason given)'} [{alert.rfc}]",
    )


def _record_arrow(step: common.Step, number: int, carried: list[str]) -> Arrow:
    record = step.event
    assert isinstance(record, trace.RecordEvent)
    kind = _record_type(record)
    protected = record.protection != "plaintext"
    title = f"{'TLSCiphertext' if protected else 'TLSPlaintext'}, {len(record.raw)} bytes"
    details = style.wrap("carries " + ", ".join(carried), LABEL_WIDTH) if carried else []
    protection = style.protection_style(record.protection)
    failed = False
    if kind == ContentType.alert:
        alert = _alert_in(record)
        details.append(f"alert: {alert}")
        failed = "close_notify" not in alert
    if protected:
        details.append(f"opaque_type {_content_type_name(record.content_type)} → type {_content_type_name(kind)}")
        details.append(f"{record.keys or protection.meaning}, sequence number {record.sequence_number}")
    else:
        details.append(f"type {_content_type_name(kind)}, no protection")
    line = protection
    if failed:
        line = attrs.evolve(line, colour=style.FAILURE, penwidth=max(line.penwidth, style.FAILURE_LINE.penwidth))
        title = f"{style.FAILURE_MARK} {title}"
    return Arrow(
        sender=step.sender,
        title=title,
        details=tuple(details),
        line=line,
        failed=failed,
        href=f"#rec-{number}",
        tooltip=_record_tooltip(record),
    )


def _content_type_name(value: int) -> str:
    """ "handshake (22)": the RFC's name and the number a hexdump shows."""
    try:
        return f"{ContentType(value).name} ({value})"
    except ValueError:
        return str(value)


def _alert_in(record: trace.RecordEvent) -> str:
    """ "fatal unknown_ca", read from the record's content (RFC 8446 §6)."""
    content = record.raw[5:] if record.protection == "plaintext" else record.plaintext
    if len(content) < 2:
        return "(content not in the trace)"
    try:
        level = AlertLevel(content[0]).name
    except ValueError:
        level = str(content[0])
    try:
        description = AlertDescription(content[1]).name
    except ValueError:
        description = str(content[1])
    return f"{level} {description}"


def _record_tooltip(record: trace.RecordEvent) -> str:
    text = f"record #{record.sequence_number}: {_content_type_name(_record_type(record))}, {len(record.raw)} bytes"
    text += f", {record.protection}"
    if record.keys:
        text += f" ({record.keys})"
    return text


# --- key fields of each message ------------------------------------------------------------


def _values(message: trace.MessageEvent, pattern: str) -> list[str]:
    """Values of the fields whose path ends with `pattern` (a regular expression)."""
    compiled = re.compile(pattern + r"$")
    return [field.value for field in message.fields if compiled.search(field.path)]


def _listing(values: Sequence[str]) -> str:
    if len(values) <= LONG_LIST:
        return ", ".join(values)
    return ", ".join(values[:LONG_LIST]) + f", … ({len(values)} in all)"


def _extension_types(message: trace.MessageEvent) -> list[str]:
    return _values(message, r"extensions\[\d+\]\.extension_type")


def message_details(message: trace.MessageEvent) -> list[str]:
    """The few fields a reader needs to follow the handshake, one line each."""
    lines: list[str] = []

    def add(name: str, values: Sequence[str]) -> None:
        if values:
            lines.extend(style.wrap(f"{name}: {_listing(values)}", LABEL_WIDTH))

    name = message.name
    if name == "ClientHello":
        add("cipher_suites", _values(message, r"\.cipher_suites\[\d+\]"))
        add("supported_groups", _values(message, r"named_group_list\[\d+\]"))
        add("key_share", _values(message, r"client_shares\[\d+\]\.group"))
        add("server_name", [_text(value) for value in _values(message, r"host_name")])
        extensions = _extension_types(message)
        add("also", [e for e in ("cookie", "pre_shared_key", "early_data") if e in extensions])
    elif name in ("ServerHello", "HelloRetryRequest"):
        add("cipher_suite", _values(message, r"\.cipher_suite"))
        add("key_share", _values(message, r"server_share\.group"))
        add("selected_group", _values(message, r"selected_group"))
        add("selected_version", _values(message, r"selected_version"))
        if "cookie" in _extension_types(message):
            lines.append("cookie")
    elif name in ("EncryptedExtensions", "CertificateRequest"):
        add("extensions", _extension_types(message) or ["(none)"])
    elif name == "Certificate":
        # TLS 1.3: certificate_list[i].cert_data; TLS 1.2: certificate_list[i] itself.
        certificates = _values(message, r"certificate_list\[\d+\](\.cert_data)?")
        subjects = [_subject(value) for value in certificates]
        if subjects:
            add("subject", subjects[:1])
            if len(subjects) > 1:
                lines.append(f"+ {len(subjects) - 1} more certificate(s) in the chain")
        else:
            lines.append("empty: no certificate")
    elif name == "CertificateVerify":
        add("algorithm", _values(message, r"\.algorithm"))
    elif name == "ServerKeyExchange":
        add("curve", _values(message, r"\.namedcurve"))
        add("signed with", _values(message, r"\.algorithm"))
    elif name == "ClientKeyExchange":
        lines.append("ECDH public key" if _values(message, r"ecdh_Yc") else "encrypted pre-master secret")
    elif name == "NewSessionTicket" and _values(message, r"ticket_lifetime_hint"):
        add("ticket_lifetime_hint", _values(message, r"ticket_lifetime_hint"))
    elif name == "Finished":
        add("verify_data", [_short(value) for value in _values(message, r"verify_data")])
    elif message.summary:
        lines.extend(style.wrap(message.summary, LABEL_WIDTH))
    return lines


def _text(hex_value: str) -> str:
    try:
        return bytes.fromhex(hex_value).decode("ascii")
    except ValueError:
        return hex_value


def _short(hex_value: str) -> str:
    try:
        return common.short_hex(bytes.fromhex(hex_value))
    except ValueError:
        return hex_value


def _subject(hex_value: str) -> str:
    """A certificate's subject (RFC 4514 string), read from its DER bytes."""
    # cryptography is imported here only, and only to *read* a traced certificate.
    from cryptography import x509

    try:
        return x509.load_der_x509_certificate(bytes.fromhex(hex_value)).subject.rfc4514_string() or "(empty subject)"
    except ValueError:
        return "(unparsable certificate)"


# --- notes --------------------------------------------------------------------------------


def _failure_note(event: trace.TraceEvent) -> NoteRow:
    if isinstance(event, trace.CheckPerformed):
        headline, reason = f"check failed: {event.check}", event.detail
    elif isinstance(event, trace.CertificateChecked):
        headline, reason = f"certificate rejected: {event.subject}", event.reason
    elif isinstance(event, trace.SignatureVerified):
        headline, reason = "CertificateVerify signature invalid", f"{event.scheme} signature does not verify"
    elif isinstance(event, trace.FinishedVerified):
        headline, reason = f"{event.sender} Finished invalid", "verify_data does not match the transcript"
    else:
        headline, reason = type(event).__name__, ""
    entries = [(f"{style.FAILURE_MARK} {headline}", "")]
    entries += [(line, "") for line in style.wrap(reason, NOTE_WIDTH)] if reason else []
    if event.rfc:
        entries.append((event.rfc, ""))
    return NoteRow(event.role, entries, failed=True, tooltip=[f"{headline}: {reason} [{event.rfc}]"])


def _add_key_entry(result: list[Row], event: trace.TraceEvent) -> None:
    """Add a derived secret or installed keys to the role's current note (or start one)."""
    if isinstance(event, trace.SecretDerived):
        entry = (event.name, common.short_hex(event.value, 4))
        tooltip = f"{event.name} = {event.value.hex()}"
    elif isinstance(event, trace.KeysInstalled):
        entry = (f"{event.direction} keys ← {event.protection}", f"key {common.short_hex(event.key, 4)}")
        tooltip = f"{event.direction} key = {event.key.hex()}, iv = {event.iv.hex()} (from {event.secret_name})"
    elif isinstance(event, trace.KeyExchangeComputed):
        entry = (f"{event.group} shared secret", common.short_hex(event.shared_secret, 4))
        tooltip = f"(EC)DHE {event.group} shared_secret = {event.shared_secret.hex()}"
    else:
        return
    last = result[-1] if result else None
    if isinstance(last, NoteRow) and last.role == event.role and not last.failed:
        last.entries.append(entry)
        last.tooltip.append(tooltip)
    else:
        result.append(NoteRow(event.role, [entry], failed=False, tooltip=[tooltip]))


# --- drawing ------------------------------------------------------------------------------


def _title_label(events: Sequence[trace.TraceEvent], title: str | None) -> str:
    """The title: `title` if given, else the negotiated parameters and, in red, a fatal alert."""
    if title is not None:
        return style.html_label("<BR/>".join(style.escape(line) for line in title.splitlines()))
    negotiated = next((e for e in events if isinstance(e, trace.ParametersNegotiated)), None)
    fatal = next((e for e in events if isinstance(e, trace.AlertEvent) and e.level == "fatal"), None)
    text = f"{negotiated.version if negotiated is not None else 'TLS 1.3'} handshake"
    if negotiated is not None:
        # (The signature schemes are on the CertificateVerify arrows, each with its signer.)
        text += ": " + ", ".join(part for part in (negotiated.cipher_suite, negotiated.group) if part)
        if negotiated.hello_retry:
            text += " (after HelloRetryRequest)"
    label = style.escape(text)
    if fatal is not None:
        sender = fatal.role if isinstance(fatal, trace.AlertSent) else common.peer_of(fatal.role)
        failure = f"{style.FAILURE_MARK} failed: the {sender} sent a fatal {fatal.description} alert"
        label += "<BR/>" + style.font(style.escape(failure), colour=style.FAILURE)
    return style.html_label(label)


# An invisible grid point, and edges that run to its centre instead of
# stopping at its (zero-size) border: lifelines and arrows join without gaps.
POINT = {"shape": "point", "style": "invis", "width": "0", "height": "0", "label": ""}
UNCLIPPED = {"headclip": "false", "tailclip": "false"}


class _Grid:
    """Rows of column points, chained vertically (see the module docstring)."""

    def __init__(self, graph: graphviz.Digraph, columns: Sequence[str]) -> None:
        self.graph = graph
        self.columns = list(columns)
        # Note columns are not chained: a note sits next to its lifeline,
        # pulled there by its connector, however wide the other notes are.
        self.chained = [column for column in self.columns if not column.endswith("_notes")]
        self.count = 0

    def row(self, cells: dict[str, dict[str, str]] | None = None) -> int:
        """Add a row; `cells` gives node attributes for the non-point cells. Returns its number."""
        cells = cells or {}
        number = self.count
        self.count += 1
        with self.graph.subgraph(name=f"row{number}") as rank:
            rank.attr(rank="same")
            for column in self.columns:
                if column in cells:
                    rank.node(self.name(number, column), **cells[column])
                elif column in self.chained:
                    rank.node(self.name(number, column), **POINT)
        if number > 0:
            for column in self.chained:
                self.graph.edge(self.name(number - 1, column), self.name(number, column), weight="1000", style="invis")
        return number

    @staticmethod
    def name(number: int, column: str) -> str:
        return f"r{number}_{column}"

    def keep_order(self, number: int) -> None:
        """Invisible left-to-right edges, so the lifeline columns keep their order in this row."""
        for left, right in zip(self.chained, self.chained[1:], strict=False):
            self.graph.edge(self.name(number, left), self.name(number, right), style="invis")


def sequence_graph(events: common.TraceLike, *, detail: str = "messages", title: str | None = None) -> graphviz.Digraph:
    """The sequence diagram of a trace, as a `graphviz.Digraph`.

    `events` is a list of trace events or the path of a JSON Lines trace;
    `detail` is "messages", "keys" or "records"; `title` defaults to the
    negotiated parameters (and the fatal alert, if the handshake failed)."""
    loaded = common.load(events)
    drawn = rows(loaded, detail)
    roles = common.roles_in(loaded)
    graph = graphviz.Digraph(name="sequence")
    graph.attr(
        **style.graph_attributes(
            rankdir="TB",
            splines="false",
            nodesep="0.12",
            ranksep="0.12",
            newrank="true",
            label=_title_label(loaded, title),
            labelloc="t",
            fontsize=str(style.TITLE_FONT_SIZE),
        )
    )
    graph.attr("node", **style.node_attributes())
    graph.attr("edge", **style.edge_attributes(arrowsize="0.8"))

    columns = ["client", "middle", "server"]
    if any(isinstance(row, NoteRow) and row.role == "client" for row in drawn):
        columns.insert(0, "client_notes")
    if any(isinstance(row, NoteRow) and row.role == "server" for row in drawn):
        columns.append("server_notes")
    grid = _Grid(graph, columns)

    first = _participants(grid, roles)
    last = first + 1 + sum(2 if isinstance(row, Arrow) else 1 for row in drawn)
    for role in common.ROLES:
        # Each lifeline is one straight edge from box to box, drawn first so
        # that arrows and notes lie on top of it.
        graph.edge(
            grid.name(first, role),
            grid.name(last, role),
            color=style.LIFELINE,
            penwidth="1.5",
            arrowhead="none",
            constraint="false",
        )
    for row in drawn:
        if isinstance(row, Arrow):
            _draw_arrow(grid, row)
        else:
            _draw_note(grid, row)
    foot = _participants(grid, roles)
    assert foot == last, "the lifelines must end at the participants' boxes at the bottom"
    _legend(graph, grid.name(last, "middle"), drawn)
    return graph


def _participants(grid: _Grid, roles: set[str]) -> int:
    cells = {}
    for role in common.ROLES:
        text = role.capitalize()
        label = style.html_label(f"<B>{text}</B>")
        if role not in roles and roles:
            label = style.html_label(
                f"<B>{text}</B><BR/>{style.font('(not traced)', size=style.SMALL_FONT_SIZE, colour=style.SOFT_INK)}"
            )
        cells[role] = {
            "shape": "box",
            "style": "rounded,filled",
            "fillcolor": style.PARTICIPANT_FILL,
            "color": style.LIFELINE,
            "label": label,
            "width": "1.1",
            "height": "0.4",
        }
    number = grid.row(cells)
    grid.keep_order(number)
    return number


def _arrow_label(arrow: Arrow) -> str:
    colour = style.FAILURE if arrow.failed else style.INK
    lines = [f"<B>{style.font(style.escape(arrow.title), colour=colour)}</B>"]
    detail_colour = style.FAILURE if arrow.failed else style.SOFT_INK
    lines += [
        style.font(style.escape(line), size=style.SMALL_FONT_SIZE, colour=detail_colour) for line in arrow.details
    ]
    return style.html_label("<BR/>".join(lines))


def _draw_arrow(grid: _Grid, arrow: Arrow) -> None:
    link = {"href": arrow.href, "tooltip": arrow.tooltip} if arrow.href else {"tooltip": arrow.tooltip}
    label_row = grid.row(
        {"middle": {"shape": "plaintext", "label": _arrow_label(arrow), "margin": "0.04,0.02", **link}}
    )
    grid.keep_order(label_row)
    number = grid.row()
    line = {**arrow.line.edge_attributes(), **link, **UNCLIPPED}
    # One edge from lifeline to lifeline (two would leave a gap where they meet).
    direction = "forward" if arrow.sender == "client" else "back"
    grid.graph.edge(grid.name(number, "client"), grid.name(number, "server"), **line, dir=direction)
    grid.keep_order(number)


def _note_label(note: NoteRow) -> str:
    colour = style.FAILURE if note.failed else style.INK
    cells = []
    for index, (name, value) in enumerate(note.entries):
        name_text = style.escape(name)
        if note.failed and index == 0:
            name_text = f"<B>{name_text}</B>"
        size = style.FONT_SIZE if note.failed and index == 0 else style.SMALL_FONT_SIZE
        left = f'<TD ALIGN="LEFT">{style.font(name_text, size=size, colour=colour)}</TD>'
        right = ""
        if value:
            right = f'<TD ALIGN="LEFT">{style.hex_text(value, colour=style.SOFT_INK)}</TD>'
        elif any(v for _, v in note.entries):
            right = "<TD></TD>"
        cells.append(f"<TR>{left}{right}</TR>")
    table = f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{"".join(cells)}</TABLE>'
    return style.html_label(table)


def _draw_note(grid: _Grid, note: NoteRow) -> None:
    column = f"{note.role}_notes"
    attributes = {
        "shape": "note",
        "style": "filled",
        "fillcolor": style.FAILURE_FILL if note.failed else style.NOTE_FILL,
        "color": style.FAILURE if note.failed else style.LIFELINE,
        "penwidth": "1.6" if note.failed else "1",
        "label": _note_label(note),
        "margin": "0.1,0.05",
        "tooltip": "\n".join(note.tooltip),
    }
    number = grid.row({column: attributes})
    connector = {
        "style": "dashed",
        "color": style.FAILURE if note.failed else style.LIFELINE,
        "arrowhead": "none",
    }
    if note.role == "client":
        grid.graph.edge(grid.name(number, column), grid.name(number, "client"), **connector, headclip="false")
    else:
        grid.graph.edge(grid.name(number, "server"), grid.name(number, column), **connector, tailclip="false")
    grid.keep_order(number)


def _legend(graph: graphviz.Digraph, above: str, drawn: Sequence[Row]) -> None:
    """A key to the line styles used (colour and pattern), below the diagram."""
    used = {arrow.line.meaning for arrow in drawn if isinstance(arrow, Arrow)}
    entries = [line for line in style.PROTECTIONS.values() if line.meaning in used]
    if any(isinstance(row, Arrow | NoteRow) and row.failed for row in drawn):
        entries.append(style.FAILURE_LINE)
    with graph.subgraph(name="cluster_legend") as legend:
        legend.attr(
            label=style.html_label("<B>Legend</B>"),
            labeljust="l",
            style="rounded",
            color=style.MUTED,
            fontsize=str(style.SMALL_FONT_SIZE),
            margin="10",
        )
        previous = above
        for index, line in enumerate(entries):
            start, end, text = f"legend{index}_start", f"legend{index}_end", f"legend{index}_text"
            with legend.subgraph(name=f"legend_row{index}") as rank:
                rank.attr(rank="same")
                rank.node(start, shape="box", style="invis", width="0.8", height="0.1", fixedsize="true", label="")
                rank.node(end, **POINT)
                description = f"{line.meaning}: {line.pattern}"
                rank.node(
                    text,
                    shape="plaintext",
                    height="0.2",
                    margin="0.05,0",
                    label=style.escape(description),
                    fontsize=str(style.SMALL_FONT_SIZE),
                    fontcolor=line.colour if line is style.FAILURE_LINE else style.INK,
                )
            legend.edge(start, end, **line.edge_attributes(), tailclip="false")
            legend.edge(end, text, style="invis")
            if index == 0:
                graph.edge(previous, text, style="invis")
            else:
                graph.edge(previous, start, style="invis", weight="100")
            previous = start


# --- output -------------------------------------------------------------------------------


def sequence_dot(events: common.TraceLike, *, detail: str = "messages", title: str | None = None) -> str:
    """The diagram's DOT source (what the golden tests compare)."""
    source: str = sequence_graph(events, detail=detail, title=title).source
    return source


def sequence_svg(events: common.TraceLike, *, detail: str = "messages", title: str | None = None) -> str:
    """The diagram as SVG text, ready to inline in HTML (no XML prolog or DOCTYPE)."""
    return style.svg_text(sequence_graph(events, detail=detail, title=title))


def render_sequence(
    events: common.TraceLike, path: str | os.PathLike[str], *, detail: str = "messages", title: str | None = None
) -> Path:
    """Write the diagram to `path`; the format follows the suffix (.svg, .png, .pdf, .dot)."""
    return style.write_graph(sequence_graph(events, detail=detail, title=title), path)
