"""JSON Lines traces: exact round trips, redaction, format errors, streaming.

`SAMPLE_EVENTS` holds at least one instance of every class in EVENT_TYPES,
with every field set to a value different from its default, so a round trip
that dropped or mangled any field would show. `test_samples_cover_every_event_type`
fails when an event type is added without a sample here.
"""

from __future__ import annotations

import io
import json
import re
import typing
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from teachtls.trace import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    AlertReceived,
    AlertSent,
    ApplicationDataReceived,
    ApplicationDataSent,
    BinderComputed,
    BinderVerified,
    CertificateChecked,
    CheckPerformed,
    ChoiceMade,
    FinishedComputed,
    FinishedVerified,
    JsonlWriter,
    KeyExchangeComputed,
    KeysInstalled,
    MessageReceived,
    MessageSent,
    Note,
    ParametersNegotiated,
    RecordReceived,
    RecordSent,
    SecretDerived,
    SignatureCreated,
    SignatureVerified,
    StateChanged,
    TraceEvent,
    TraceFormatError,
    TranscriptUpdated,
    dump_jsonl,
    dumps_jsonl,
    jsonl,
    load_jsonl,
    load_jsonl_with_header,
    loads_jsonl,
    loads_jsonl_with_header,
)
from teachtls.wire.codec import FieldSpan
from teachtls.wire.enums import ContentType


def filler(byte: int, length: int = 32) -> bytes:
    """Recognisable bytes; every secret in the samples uses a distinct `byte`."""
    return bytes([byte]) * length


CLIENT_HELLO_SPANS = (
    FieldSpan(path="ClientHello.legacy_version", start=4, end=6, value="TLS1_2"),
    FieldSpan(path="ClientHello.random", start=6, end=38, value="cb" * 32),
    FieldSpan(path="ClientHello.legacy_session_id.length", start=38, end=39, value="0 bytes"),
)

SAMPLE_EVENTS: list[TraceEvent] = [
    RecordSent(
        role="client",
        content_type=23,
        raw=bytes.fromhex("1703030015") + filler(0x01, 21),
        protection="handshake",
        sequence_number=1,
        inner_content_type=22,
        plaintext=filler(0xA1, 4),
        padding_length=3,
        nonce=filler(0xA2, 12),
        keys="client_handshake_traffic_secret",
        rfc="RFC 8446 §5.2",
    ),
    # inner_content_type=None, the one `X | None` field, at its None value
    RecordReceived(
        role="server",
        content_type=22,
        raw=bytes.fromhex("1603010004") + filler(0x02, 4),
        protection="plaintext",
        sequence_number=0,
    ),
    MessageSent(
        role="client",
        name="ClientHello",
        msg_type=1,
        raw=bytes.fromhex("010000c00303") + filler(0xCB, 32) + b"\x00",
        fields=CLIENT_HELLO_SPANS,
        summary="ClientHello: TLS_AES_128_GCM_SHA256, x25519",
        rfc="RFC 8446 §4.1.2",
    ),
    MessageReceived(
        role="server",
        name="ServerHello",
        msg_type=2,
        raw=filler(0x03, 10),
        summary="ServerHello",
        fields=(FieldSpan(path="ServerHello.x", start=0, end=10, value="ünïcode § \u2028 ok"),),
    ),
    TranscriptUpdated(role="client", through="ServerHello", transcript_hash=filler(0x04), hash_name="sha256"),
    SecretDerived(
        role="client",
        name="client_handshake_traffic_secret",
        operation="Derive-Secret",
        label="c hs traffic",
        parent="handshake_secret",
        inputs=("Messages=ClientHello..ServerHello",),
        transcript_through="ServerHello",
        transcript_hash=filler(0x05),
        value=filler(0xA3),
    ),
    KeysInstalled(
        role="server",
        direction="write",
        protection="handshake",
        secret_name="server_handshake_traffic_secret",
        cipher_suite="TLS_AES_128_GCM_SHA256",
        key=filler(0xA4, 16),
        iv=filler(0xA5, 12),
    ),
    KeyExchangeComputed(
        role="client",
        group="x25519",
        client_share=filler(0x06),
        server_share=filler(0x07),
        private_key=filler(0xA6),
        shared_secret=filler(0xA7),
    ),
    SignatureCreated(role="server", scheme="rsa_pss_rsae_sha256", content=filler(0x08, 130), signature=filler(0x09)),
    SignatureVerified(
        role="client", scheme="ecdsa_secp256r1_sha256", content=filler(0x0A, 130), signature=filler(0x0B, 71), ok=False
    ),
    FinishedComputed(
        role="server",
        sender="server",
        transcript_hash=filler(0x0C),
        finished_key=filler(0xA8),
        verify_data=filler(0xA9),
    ),
    FinishedVerified(
        role="client",
        sender="server",
        transcript_hash=filler(0x0D),
        finished_key=filler(0xAA),
        verify_data=filler(0xAB),
        received=filler(0xAC),
        ok=False,
    ),
    BinderComputed(
        role="client",
        identity_index=0,
        transcript_hash=filler(0x30),
        binder_key=filler(0xE1),
        binder=filler(0xE2),
    ),
    BinderVerified(
        role="server",
        identity_index=0,
        transcript_hash=filler(0x31),
        ok=True,
        binder_key=filler(0xE3),
        binder=filler(0xE4),
        received=filler(0xE5),
    ),
    ChoiceMade(role="server", subject="group", choice="x25519", reason="first of the server's groups"),
    CertificateChecked(
        role="client",
        subject="CN=server",
        server_name="server",
        checked=("chain", "hostname", "validity"),
        ok=False,
        reason="expired",
    ),
    CheckPerformed(
        role="client", check="legacy_session_id_echo", passed=True, detail="echoed 32 bytes", rfc="RFC 8446 §4.1.3"
    ),
    ParametersNegotiated(
        role="client",
        version="TLS 1.3",
        cipher_suite="TLS_AES_128_GCM_SHA256",
        group="x25519",
        signature_scheme="rsa_pss_rsae_sha256",
        alpn="h2",
        server_name="server",
        hello_retry=True,
    ),
    StateChanged(role="client", machine="client13", old_state="WAIT_SH", new_state="WAIT_EE", trigger="ServerHello"),
    AlertSent(role="server", level="fatal", description="decode_error", reason="trailing bytes"),
    AlertReceived(role="client", level="fatal", description="decode_error"),
    ApplicationDataSent(role="client", data=b"GET / HTTP/1.1\r\n\r\n"),
    ApplicationDataReceived(role="server", data=b"GET / HTTP/1.1\r\n\r\n\xad"),
    Note(role="client", text="certificate verification is disabled", level="warning"),
]


def secret_values(events: list[TraceEvent]) -> list[bytes]:
    return [
        getattr(event, field.name)
        for event in events
        for field in attrs.fields(type(event))
        if field.metadata.get("secret") and getattr(event, field.name)
    ]


def secret_field_names(cls: type[TraceEvent]) -> list[str]:
    return [field.name for field in attrs.fields(cls) if field.metadata.get("secret")]


def trace_lines(text: str) -> list[str]:
    # Not str.splitlines(): a sample holds U+2028, which JSON leaves unescaped.
    return text.split("\n")[:-1]


def json_objects(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in trace_lines(text)]


# --- the samples and the event classes --------------------------------------


def test_samples_cover_every_event_type() -> None:
    sampled = {type(event).__name__ for event in SAMPLE_EVENTS}
    assert sampled == set(EVENT_TYPES), f"add a sample for: {sorted(set(EVENT_TYPES) - sampled)}"


def test_no_event_field_uses_a_reserved_key() -> None:
    for cls in EVENT_TYPES.values():
        assert {"event", "redacted"}.isdisjoint(field.name for field in attrs.fields(cls)), cls


def test_every_secret_field_is_bytes() -> None:
    # Redaction writes b"", which only makes sense for bytes fields.
    for cls in EVENT_TYPES.values():
        hints = typing.get_type_hints(cls)
        for name in secret_field_names(cls):
            assert hints[name] is bytes, f"{cls.__name__}.{name}"


# --- round trips -------------------------------------------------------------


def test_round_trip_through_a_string() -> None:
    assert loads_jsonl(dumps_jsonl(SAMPLE_EVENTS)) == SAMPLE_EVENTS


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    dump_jsonl(SAMPLE_EVENTS, path)
    assert load_jsonl(path) == SAMPLE_EVENTS
    assert load_jsonl(str(path)) == SAMPLE_EVENTS


def test_round_trip_through_an_open_file() -> None:
    buffer = io.StringIO()
    dump_jsonl(SAMPLE_EVENTS, buffer)
    assert not buffer.closed  # we did not open it, so we do not close it
    buffer.seek(0)
    assert load_jsonl(buffer) == SAMPLE_EVENTS


def test_loaded_values_have_the_declared_types() -> None:
    loaded = loads_jsonl(dumps_jsonl(SAMPLE_EVENTS))
    record = loaded[0]
    assert isinstance(record, RecordSent)
    assert type(record.raw) is bytes
    message = loaded[2]
    assert isinstance(message, MessageSent)
    assert type(message.fields) is tuple
    assert all(type(span) is FieldSpan for span in message.fields)
    assert type(loaded[5].inputs) is tuple  # type: ignore[attr-defined]


def test_lone_surrogate_round_trips_through_a_utf8_file(tmp_path: Path) -> None:
    # e.g. a server_name of invalid UTF-8, decoded with errors="surrogateescape"
    events: list[TraceEvent] = [Note(role="server", text="bad \udcff name")]
    path = tmp_path / "trace.jsonl"
    dump_jsonl(events, path)
    path.read_bytes().decode("utf-8")  # still valid UTF-8
    assert load_jsonl(path) == events


@given(
    st.lists(
        st.builds(
            FieldSpan,
            path=st.text(),
            start=st.integers(min_value=0, max_value=2**24),
            end=st.integers(min_value=0, max_value=2**24),
            value=st.text(),
        )
    ).map(tuple)
)
def test_any_field_span_tuple_round_trips(spans: tuple[FieldSpan, ...]) -> None:
    events: list[TraceEvent] = [MessageReceived(role="server", name="X", msg_type=99, raw=b"", fields=spans)]
    assert loads_jsonl(dumps_jsonl(events)) == events


# --- the format ----------------------------------------------------------------


def test_header_then_one_object_per_event() -> None:
    objects = json_objects(dumps_jsonl(SAMPLE_EVENTS, metadata={"command": "teachtls demo", "seed": 1}))
    assert objects[0] == {
        "schema": "teachtls-trace",
        "version": SCHEMA_VERSION,
        "redacted": False,
        "command": "teachtls demo",
        "seed": 1,
    }
    assert [obj["event"] for obj in objects[1:]] == [type(event).__name__ for event in SAMPLE_EVENTS]


def test_field_encodings() -> None:
    objects = json_objects(dumps_jsonl(SAMPLE_EVENTS))
    client_hello = objects[3]
    assert client_hello["raw"].startswith("010000c00303cbcb")
    assert client_hello["fields"][1] == {"path": "ClientHello.random", "start": 6, "end": 38, "value": "cb" * 32}
    assert objects[2]["inner_content_type"] is None
    assert objects[6]["inputs"] == ["Messages=ClientHello..ServerHello"]
    assert objects[6]["value"] == "a3" * 32
    assert list(objects[6]) == ["event"] + [field.name for field in attrs.fields(SecretDerived)]


def test_metadata_may_not_override_the_header() -> None:
    with pytest.raises(ValueError, match="version"):
        dumps_jsonl([], metadata={"version": 99})


def test_metadata_is_read_back(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    dump_jsonl(SAMPLE_EVENTS[:2], path, metadata={"scenario": "simple_1rtt"})
    header, events = load_jsonl_with_header(path)
    assert header["scenario"] == "simple_1rtt"
    assert events == SAMPLE_EVENTS[:2]


# --- the JSON text ---------------------------------------------------------------
# The writer makes each line's text itself, for speed; it must be byte for
# byte what `json.dumps` writes for the event's JSON value (a dict of its
# fields, as the module docstring's table says), with lone surrogates escaped.


def json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return [json_value(item) for item in value]
    if attrs.has(type(value)):
        return {field.name: json_value(getattr(value, field.name)) for field in attrs.fields(type(value))}
    return value


def json_dumps_line(event: TraceEvent) -> str:
    text = json.dumps({"event": type(event).__name__, **json_value(event)}, ensure_ascii=False, separators=(",", ":"))
    return re.sub("[\ud800-\udfff]", lambda match: f"\\u{ord(match.group()):04x}", text)


def test_lines_are_what_json_dumps_writes() -> None:
    assert trace_lines(dumps_jsonl(SAMPLE_EVENTS))[1:] == [json_dumps_line(event) for event in SAMPLE_EVENTS]


any_text = st.text(st.characters(exclude_categories=()))  # lone surrogates too
any_int = st.integers(min_value=-(2**70), max_value=2**70)


@given(
    text=any_text,
    spans=st.lists(st.builds(FieldSpan, path=any_text, start=any_int, end=any_int, value=any_text)).map(tuple),
)
def test_any_text_is_written_as_json_dumps_does(text: str, spans: tuple[FieldSpan, ...]) -> None:
    events: list[TraceEvent] = [
        Note(role=text, text=text),
        MessageReceived(role="server", name=text, msg_type=-1, raw=b"", fields=spans, summary=text),
    ]
    written = dumps_jsonl(events)
    assert trace_lines(written)[1:] == [json_dumps_line(event) for event in events]
    assert loads_jsonl(written) == events


def test_an_int_enum_is_written_as_its_number() -> None:
    handshake = ContentType.handshake
    record = RecordSent(
        role="client",
        content_type=handshake,
        raw=b"",
        protection="plaintext",
        sequence_number=0,
        inner_content_type=handshake,
    )
    message = MessageSent(
        role="client", name="X", msg_type=1, raw=b"", fields=(FieldSpan(path="X.a", start=handshake, end=23, value=""),)
    )
    objects = json_objects(dumps_jsonl([record, message]))
    assert objects[1]["content_type"] == objects[1]["inner_content_type"] == 22
    assert objects[2]["fields"] == [{"path": "X.a", "start": 22, "end": 23, "value": ""}]
    assert loads_jsonl(dumps_jsonl([record, message])) == [record, message]


SPAN = FieldSpan(path="X.a", start=0, end=1, value="1")


@pytest.mark.parametrize(
    ("event", "where"),
    [
        (Note(role="client", text=b"not a str"), r"Note\.text: expected str, got bytes"),  # type: ignore[arg-type]
        (Note(role=None, text="x"), r"Note\.role: expected str, got NoneType"),  # type: ignore[arg-type]
        (
            CheckPerformed(role="client", check="x", passed=1),  # type: ignore[arg-type]
            r"CheckPerformed\.passed: expected bool, got int",
        ),
        (
            RecordReceived(
                role="client", content_type=22, raw=b"", protection="x", sequence_number=0, inner_content_type=True
            ),
            r"RecordReceived\.inner_content_type: expected int, got bool",
        ),
        (
            RecordReceived(role="client", content_type=22, raw=bytearray(b"x"), protection="x", sequence_number=0),  # type: ignore[arg-type]
            r"RecordReceived\.raw: expected bytes, got bytearray",
        ),
        (
            CertificateChecked(role="client", subject="x", server_name="x", checked=("chain", 3), ok=True),  # type: ignore[arg-type]
            r"CertificateChecked\.checked\[1\]: expected str, got int",
        ),
        (
            MessageSent(role="client", name="X", msg_type=1, raw=b"", fields=[SPAN]),  # type: ignore[arg-type]
            r"MessageSent\.fields: expected a tuple, got list",
        ),
        (
            MessageSent(role="client", name="X", msg_type=1, raw=b"", fields=(SPAN, "X.b")),  # type: ignore[arg-type]
            r"MessageSent\.fields\[1\]: expected FieldSpan, got str",
        ),
        (
            MessageSent(
                role="client",
                name="X",
                msg_type=1,
                raw=b"",
                fields=(SPAN, FieldSpan(path="X.b", start="1", end=2, value="2")),  # type: ignore[arg-type]
            ),
            r"MessageSent\.fields\[1\]\.start: expected int, got str",
        ),
        (
            MessageSent(
                role="client", name="X", msg_type=1, raw=b"", fields=(SPAN, SPAN, attrs.evolve(SPAN, end=True))
            ),
            r"MessageSent\.fields\[2\]\.end: expected int, got bool",
        ),
    ],
)
def test_a_wrong_value_is_named_exactly(event: TraceEvent, where: str) -> None:
    with pytest.raises(TypeError, match=f"^{where}$"):
        dumps_jsonl([event])


# --- redaction -------------------------------------------------------------------


def test_redaction_removes_every_secret_value() -> None:
    secrets = secret_values(SAMPLE_EVENTS)
    # the samples hold a value in every kind of secret field
    filled = {
        (type(event).__name__, name)
        for event in SAMPLE_EVENTS
        for name in secret_field_names(type(event))
        if getattr(event, name)
    }
    every = {(cls.__name__, name) for cls in EVENT_TYPES.values() for name in secret_field_names(cls)}
    assert every - filled == {("RecordReceived", "plaintext"), ("RecordReceived", "nonce")}
    text = dumps_jsonl(SAMPLE_EVENTS, redact=True)
    for secret in secrets:
        assert secret.hex() not in text
    # and without redaction they are all there
    plain = dumps_jsonl(SAMPLE_EVENTS)
    assert all(secret.hex() in plain for secret in secrets)


def test_redaction_is_marked() -> None:
    objects = json_objects(dumps_jsonl(SAMPLE_EVENTS, redact=True))
    assert objects[0]["redacted"] is True
    for event, obj in zip(SAMPLE_EVENTS, objects[1:], strict=True):
        names = secret_field_names(type(event))
        if names:
            assert obj["redacted"] == names
            assert all(obj[name] == "" for name in names)
        else:
            assert "redacted" not in obj


def test_redacted_trace_loads_with_empty_secrets() -> None:
    loaded = loads_jsonl(dumps_jsonl(SAMPLE_EVENTS, redact=True))
    emptied: dict[str, Any]
    expected = []
    for event in SAMPLE_EVENTS:
        emptied = dict.fromkeys(secret_field_names(type(event)), b"")
        expected.append(attrs.evolve(event, **emptied))
    assert loaded == expected


# --- errors ----------------------------------------------------------------------


def replace_line(text: str, index: int, obj: dict[str, Any]) -> str:
    lines = trace_lines(text)
    lines[index] = json.dumps(obj)
    return "\n".join(lines) + "\n"


def test_unknown_schema_version_is_rejected() -> None:
    text = dumps_jsonl(SAMPLE_EVENTS)
    header = json_objects(text)[0]
    for version in (SCHEMA_VERSION + 1, 0, str(SCHEMA_VERSION), True, None):
        with pytest.raises(TraceFormatError, match="version"):
            loads_jsonl(replace_line(text, 0, {**header, "version": version}))


def test_other_schema_is_rejected() -> None:
    with pytest.raises(TraceFormatError, match="not a teachtls trace"):
        loads_jsonl('{"event": "Note", "role": "client", "text": "no header"}\n')


def test_empty_trace_is_rejected() -> None:
    with pytest.raises(TraceFormatError, match="no header"):
        loads_jsonl("")


def test_header_only_is_an_empty_trace() -> None:
    header, events = loads_jsonl_with_header(dumps_jsonl([]))
    assert events == []
    assert header["version"] == SCHEMA_VERSION


def test_unknown_event_is_rejected() -> None:
    text = dumps_jsonl([]) + '{"event": "SecretForgotten", "role": "client"}\n'
    with pytest.raises(TraceFormatError, match="line 2: unknown event 'SecretForgotten'"):
        loads_jsonl(text)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"surprise": 1}, "unknown field"),
        ({"value": "zz"}, "not a hex string"),
        ({"value": 5}, "expected a hex string"),
        ({"inputs": "one"}, "expected a list"),
        ({"name": 7}, "expected str"),
        ({"redacted": ["name"]}, "'redacted' must list secret fields"),
    ],
)
def test_malformed_event_is_rejected(change: dict[str, Any], message: str) -> None:
    text = dumps_jsonl(SAMPLE_EVENTS)
    secret_derived = json_objects(text)[6]
    assert secret_derived["event"] == "SecretDerived"
    with pytest.raises(TraceFormatError, match=message):
        loads_jsonl(replace_line(text, 6, {**secret_derived, **change}))


def test_missing_field_without_default_is_rejected() -> None:
    text = dumps_jsonl([]) + '{"event": "Note", "role": "client"}\n'
    with pytest.raises(TraceFormatError, match="missing field 'text'"):
        loads_jsonl(text)


def test_missing_field_with_default_takes_the_default() -> None:
    text = dumps_jsonl([]) + '{"event": "Note", "role": "client", "text": "hi"}\n'
    assert loads_jsonl(text) == [Note(role="client", text="hi")]


def test_not_json_is_rejected_with_its_line() -> None:
    with pytest.raises(TraceFormatError, match="line 2: not JSON"):
        loads_jsonl(dumps_jsonl([]) + "{oops\n")


def test_a_subclass_outside_event_types_is_refused() -> None:
    @attrs.frozen(kw_only=True)
    class Unregistered(Note):
        pass

    with pytest.raises(TypeError, match="EVENT_TYPES"):
        dumps_jsonl([Unregistered(role="client", text="x")])


# --- streaming -------------------------------------------------------------------


@pytest.mark.parametrize("redact", [False, True])
def test_jsonl_writer_streams_the_same_text_as_dump(tmp_path: Path, redact: bool) -> None:
    path = tmp_path / "live.jsonl"
    with JsonlWriter(path, redact=redact, metadata={"live": True}) as writer:
        for event in SAMPLE_EVENTS:
            writer(event)
    assert path.read_text(encoding="utf-8") == dumps_jsonl(SAMPLE_EVENTS, redact=redact, metadata={"live": True})


def test_jsonl_writer_writes_every_event_so_far_on_flush(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    writer = JsonlWriter(path)
    assert load_jsonl(path) == []  # the header is there at once
    for count, event in enumerate(SAMPLE_EVENTS, start=1):
        writer(event)
        writer.flush()  # as a connection does when it returns (tests/test_observer_flush.py)
        assert load_jsonl(path) == SAMPLE_EVENTS[:count]
    writer.close()
    writer.close()  # closing twice is harmless
    with pytest.raises(ValueError, match="closed"):
        writer(SAMPLE_EVENTS[0])


def test_jsonl_writer_leaves_a_callers_file_open() -> None:
    buffer = io.StringIO()
    with JsonlWriter(buffer) as writer:
        writer(SAMPLE_EVENTS[0])
    assert not buffer.closed
    assert buffer.getvalue() == dumps_jsonl(SAMPLE_EVENTS[:1])


def test_jsonl_writer_writes_lone_surrogates_to_a_callers_file_as_dump_does() -> None:
    events: list[TraceEvent] = [Note(role="server", text="bad \udcff name")]
    buffer = io.StringIO()
    with JsonlWriter(buffer) as writer:
        writer(events[0])
    assert buffer.getvalue() == dumps_jsonl(events)
    assert "\\udcff" in buffer.getvalue()


class Trickle(io.FileIO):
    """A file that takes at most 7 bytes per write, as a pipe may take fewer than it is given."""

    def write(self, data: Any) -> int:
        return super().write(bytes(data[:7]))


def test_jsonl_writer_writes_all_of_every_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl, "open", lambda path, mode, buffering: Trickle(path, "w"), raising=False)
    path = tmp_path / "live.jsonl"
    dump_jsonl(SAMPLE_EVENTS, path)
    assert path.read_text(encoding="utf-8") == dumps_jsonl(SAMPLE_EVENTS)


# --- the documentation -------------------------------------------------------------

SCHEMA_DOC = Path(__file__).parent.parent / "docs" / "trace-schema.md"


def documented_section(event_name: str) -> str:
    """The part of docs/trace-schema.md whose heading names `event_name`."""
    sections = SCHEMA_DOC.read_text(encoding="utf-8").split("\n#### ")
    (section,) = [section for section in sections if f"`{event_name}`" in section.split("\n")[0]]
    return section


def documented_fields(event_name: str) -> dict[str, bool]:
    """The rows of the table for `event_name`: field name -> marked secret."""
    rows = [line.split("|") for line in documented_section(event_name).split("\n") if line.startswith("| `")]
    return {row[1].strip().strip("`"): row[4].strip() == "yes" for row in rows}


@pytest.mark.parametrize("event_name", sorted(EVENT_TYPES))
def test_schema_doc_has_a_table_for_every_event(event_name: str) -> None:
    cls = EVENT_TYPES[event_name]
    expected = {name: name in secret_field_names(cls) for name in attrs.fields_dict(cls)}
    del expected["role"], expected["rfc"]  # described once, as the common fields
    assert documented_fields(event_name) == expected
    rfc_default = attrs.fields_dict(cls)["rfc"].default
    assert f'Default `rfc`: `"{rfc_default}"`' in documented_section(event_name)


def test_a_wrong_value_is_still_named_after_a_subclass_was_learned() -> None:
    # The writer remembers the types a field's values were found to fit (an
    # IntEnum in an int field), to skip checking them again: what it learns
    # must not let any other wrong type through.
    def record(content_type: object, inner: object = None) -> RecordSent:
        return RecordSent(
            role="client",
            content_type=content_type,  # type: ignore[arg-type]
            raw=b"",
            protection="plaintext",
            sequence_number=0,
            inner_content_type=inner,  # type: ignore[arg-type]
        )

    assert json_objects(dumps_jsonl([record(ContentType.alert, ContentType.alert)]))[1]["content_type"] == 21
    for wrong, expected in ((True, "bool"), ("21", "str"), (21.0, "float")):
        with pytest.raises(TypeError, match=rf"^RecordSent\.content_type: expected int, got {expected}$"):
            dumps_jsonl([record(wrong)])
        with pytest.raises(TypeError, match=rf"^RecordSent\.inner_content_type: expected int, got {expected}$"):
            dumps_jsonl([record(22, wrong)])


def test_a_trace_written_with_spaces_loads_the_same() -> None:
    # Earlier teachtls wrote `json.dumps`'s default ", " and ": "; the schema is the same.
    compact = dumps_jsonl(SAMPLE_EVENTS, metadata={"scenario": "x"})
    spaced = "".join(json.dumps(json.loads(line), ensure_ascii=False) + "\n" for line in trace_lines(compact))
    assert spaced != compact
    assert loads_jsonl_with_header(spaced) == loads_jsonl_with_header(compact)


def test_every_event_keeps_exactly_its_fields_in_its_dict() -> None:
    # The JSON Lines writer takes an event's __dict__ as its object.
    for event in SAMPLE_EVENTS:
        assert list(vars(event)) == [field.name for field in attrs.fields(type(event))]
