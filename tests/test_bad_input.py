"""Bad input never crashes a connection; each corruption gets its own alert.

Part one is Hypothesis. Both roles are fed garbage at six points of the
handshake (`tests/handshake_pair.POINTS`):

* ``server-fresh``                        -- a server that has received nothing;
* ``client-sent-client-hello``            -- a client waiting for the ServerHello;
* ``client-received-server-hello``        -- a client holding handshake keys (WAIT_EE);
* ``server-sent-flight``                  -- a server waiting for the client's Finished;
* ``server-sent-hello-retry-request``     -- a server waiting for ClientHello2;
* ``client-received-hello-retry-request`` -- a client that has sent ClientHello2.

The garbage: truncated and oversized records, random bytes, random content
types, and the *real* recorded flight with bytes flipped, inserted or
deleted. Whatever arrives, `receive_data` either returns (perhaps it needs
more bytes) or raises a `LocalAlert` subclass or a `RemoteAlert` -- never any
other exception, never a hang. After a `LocalAlert` the connection is closed
and its last record is the fatal alert the exception names (RFC 8446 §6.2):
`15 03 03 00 02 02 <description>` before write keys exist, an encrypted
record (outer type application_data) after.

Legal input must still work: the real flight cut into many `receive_data`
calls, or re-framed into 1-byte records (RFC 8446 §5.1 allows handshake
messages to be fragmented across records), completes the handshake.

Part two is negative tests in the STYLE.md §6 sense: one corruption, one
expected alert. Messages are built with the codec (`build_handshake`,
`build_header`), usually by editing a field of the recorded message with
`attrs.evolve`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import NamedTuple

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teachtls import ClientConnection, Config, HandshakeCompleted, LocalAlert, RemoteAlert, ServerConnection
from teachtls.connection import Connection, Event
from teachtls.handshake import alerts
from teachtls.handshake.states import State
from teachtls.trace.events import AlertSent, KeysInstalled, RecordSent
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import (
    AlertDescription,
    AlertLevel,
    CipherSuite,
    ContentType,
    ExtensionType,
    NamedGroup,
    ProtocolVersion,
)
from teachtls.wire.extensions import (
    CLIENT_HELLO,
    SERVER_HELLO,
    Cookie,
    Extension,
    KeyShareClientHello,
    KeyShareEntry,
    KeyShareHelloRetryRequest,
    KeyShareServerHello,
    OfferedPsks,
    PskIdentity,
    SelectedIdentity,
    SupportedVersionsClientHello,
    SupportedVersionsServerHello,
    find_extension,
    make_extension,
)
from teachtls.wire.messages import (
    DOWNGRADE_TLS12,
    HELLO_RETRY_REQUEST_RANDOM,
    Certificate,
    ClientHello,
    Finished,
    HandshakeMessage,
    KeyUpdate,
    ServerHello,
    build_handshake,
    parse_handshake,
)
from teachtls.wire.record import HEADER_LENGTH, MAX_CIPHERTEXT, MAX_PLAINTEXT, build_header
from tests import strategies
from tests.handshake_pair import (
    POINTS,
    HandshakePair,
    RecordedHandshake,
    client_after_server_hello,
    client_config,
    client_waiting_for_server_hello,
    fresh_server,
    recorded,
    recorded_hello_retry,
    server_config,
    server_waiting_for_finished,
    split_records,
)

# A hang shows up as a deadline failure (each example takes a few milliseconds).
FUZZ = settings(
    deadline=datetime.timedelta(seconds=2),
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
POINT_NAMES = list(POINTS)
# Points where the connection has no keys yet, and where it reads encrypted records.
BEFORE_KEYS = [
    "server-fresh",
    "client-sent-client-hello",
    "server-sent-hello-retry-request",
    "client-received-hello-retry-request",
]
AFTER_KEYS = ["client-received-server-hello", "server-sent-flight"]
E = ExtensionType


# --- helpers ------------------------------------------------------------------------


def at(point: str) -> tuple[Connection, Recorder]:
    """A fresh connection at `point`, with a recorder watching it."""
    recorder = Recorder()
    return POINTS[point].make(observer=recorder), recorder


def record(content_type: int, payload: bytes, version: int = ProtocolVersion.TLS1_2) -> bytes:
    """One TLSPlaintext record: the codec's header, then `payload`."""
    return build_header(content_type, len(payload), version) + payload


def handshake_record(*messages: HandshakeMessage) -> bytes:
    return record(ContentType.handshake, b"".join(build_handshake(message) for message in messages))


def fatal_alert_record(description: int) -> bytes:
    """What RFC 8446 §6 puts on the wire before any keys: `15 03 03 00 02 02 <description>`."""
    return record(ContentType.alert, bytes([AlertLevel.fatal, description]))


# --- the recorded handshakes' hellos, parsed to be edited ------------------------------


def recorded_client_hello() -> ClientHello:
    message, _ = parse_handshake(recorded().client_hello[HEADER_LENGTH:])
    assert isinstance(message, ClientHello)
    return message


def client_hello_of(recording: RecordedHandshake, flight: int = 0) -> ClientHello:
    """The ClientHello in a recorded client flight (after any change_cipher_spec)."""
    (hello_record,) = [r for r in split_records(recording.flights[flight]) if r[0] == ContentType.handshake]
    message, _ = parse_handshake(hello_record[HEADER_LENGTH:])
    assert isinstance(message, ClientHello)
    return message


def server_hello_of(recording: RecordedHandshake) -> ServerHello:
    """The ServerHello (not a HelloRetryRequest) of a recorded handshake."""
    message, _ = parse_handshake(recording.server_hello_record[HEADER_LENGTH:])
    assert isinstance(message, ServerHello) and not message.is_hello_retry_request
    return message


def recorded_server_hello() -> ServerHello:
    return server_hello_of(recorded())


# --- what a failing connection must do -------------------------------------------------


def assert_alert_sent(connection: Connection, alert: LocalAlert, recorder: Recorder) -> bytes:
    """The connection is closed and its last record carries `alert` (RFC 8446 §6.2).

    Returns what the connection had left to send, the alert record last."""
    assert connection.closed
    assert connection.state is State.CLOSED
    sent = [event for event in recorder.events if isinstance(event, AlertSent)]
    assert sent[-1].description == alert.description.name
    assert sent[-1].level == "fatal"
    sent_bytes = connection.data_to_send()
    records = split_records(sent_bytes)
    assert records, "no alert was queued"
    last = records[-1]
    has_write_keys = any(isinstance(e, KeysInstalled) and e.direction == "write" for e in recorder.events)
    if not has_write_keys:
        assert last == fatal_alert_record(alert.description)
    else:
        assert last[0] == ContentType.application_data
        (written,) = [e for e in recorder.events if isinstance(e, RecordSent) and e.raw == last]
        assert written.inner_content_type == ContentType.alert
        assert written.plaintext == bytes([AlertLevel.fatal, alert.description])
    with pytest.raises(alerts.ConnectionClosed):
        connection.receive_data(b"")
    return sent_bytes


class Failure(NamedTuple):
    alert: LocalAlert
    sent: bytes  # the bytes queued for the peer, ending with the alert record


def deliver(connection: Connection, recorder: Recorder, chunks: list[bytes]) -> BaseException | None:
    """Feed `chunks` one `receive_data` call each.

    Returns None if every call returned, or the alert raised. Any exception
    that is not a LocalAlert or RemoteAlert propagates and fails the test."""
    for chunk in chunks:
        try:
            connection.receive_data(chunk)
        except LocalAlert as alert:
            assert_alert_sent(connection, alert, recorder)
            return alert
        except RemoteAlert as alert:
            assert connection.closed
            return alert
    return None


def expect_alert(
    connection: Connection,
    recorder: Recorder,
    data: bytes,
    alert_class: type[LocalAlert],
    match: str | None = None,
) -> Failure:
    """Exactly one corruption, exactly one alert."""
    with pytest.raises(alert_class, match=match) as caught:
        connection.receive_data(data)
    return Failure(caught.value, assert_alert_sent(connection, caught.value, recorder))


def completed(events: list[Event]) -> bool:
    return any(isinstance(event, HandshakeCompleted) for event in events)


def assert_reached_expected_state(point: str, connection: Connection, events: list[Event]) -> None:
    """After the whole real input, the connection is where the recorded run was:
    same bytes sent, handshake complete or waiting for the client's Finished."""
    assert not connection.closed
    assert connection.data_to_send() == POINTS[point].then_sends()
    assert completed(events) is POINTS[point].completes
    assert connection.state is (State.CONNECTED if POINTS[point].completes else State.WAIT_FINISHED)


# --- Hypothesis: whatever arrives, an alert or nothing ---------------------------------


@pytest.mark.parametrize("point", POINT_NAMES)
@FUZZ
@given(data=st.data())
def test_random_bytes(point: str, data: st.DataObject) -> None:
    connection, recorder = at(point)
    chunks = data.draw(st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=4))
    deliver(connection, recorder, chunks)


@pytest.mark.parametrize("point", POINT_NAMES)
@FUZZ
@given(data=st.data())
def test_mutated_real_flight(point: str, data: st.DataObject) -> None:
    connection, recorder = at(point)
    corrupted = data.draw(strategies.mutated(POINTS[point].expected_input()))
    chunks = data.draw(strategies.split_points(corrupted, max_pieces=3))
    deliver(connection, recorder, chunks)


@pytest.mark.parametrize("point", POINT_NAMES)
@FUZZ
@given(data=st.data())
def test_mutated_record_keeps_its_framing(point: str, data: st.DataObject) -> None:
    """Corrupt the inside of one real record and fix its length: the damage reaches the
    parser or the AEAD instead of only confusing the framing."""
    connection, recorder = at(point)
    records = split_records(POINTS[point].expected_input())
    index = data.draw(st.integers(0, len(records) - 1))
    body = data.draw(strategies.mutated(records[index][HEADER_LENGTH:]))
    records[index] = record(records[index][0], body)
    deliver(connection, recorder, [b"".join(records)])


EDITED_HELLOS: dict[str, tuple[Callable[[], ClientHello | ServerHello], str]] = {
    # point: (the real hello it expects, the context its extensions are read in)
    "server-fresh": (recorded_client_hello, CLIENT_HELLO),
    "server-sent-hello-retry-request": (lambda: client_hello_of(recorded_hello_retry(), flight=2), CLIENT_HELLO),
    "client-sent-client-hello": (recorded_server_hello, SERVER_HELLO),
    "client-received-hello-retry-request": (lambda: server_hello_of(recorded_hello_retry()), SERVER_HELLO),
}


@pytest.mark.parametrize("point", list(EDITED_HELLOS))
@FUZZ
@given(data=st.data())
def test_edited_real_hello(point: str, data: st.DataObject) -> None:
    """Well-formed but wrong: the real hello with extensions regenerated, added or
    removed and fields redrawn. It decodes, so the handshake logic must judge it."""
    connection, recorder = at(point)
    real, context = EDITED_HELLOS[point]
    hello = data.draw(strategies.edited_hellos(real(), context))
    deliver(connection, recorder, [handshake_record(hello)])


@pytest.mark.parametrize("point", POINT_NAMES)
@FUZZ
@given(data=st.data())
def test_random_content_types(point: str, data: st.DataObject) -> None:
    connection, recorder = at(point)
    content_type = data.draw(st.integers(0, 255))
    version = data.draw(st.sampled_from([0x0301, 0x0303, 0x0304, 0x0000, 0xFFFF]))
    body = data.draw(st.binary(max_size=64))
    alert = deliver(connection, recorder, [record(content_type, body, version)])
    if content_type not in (20, 21, 22, 23):
        # RFC 8446 §5: "If a TLS implementation receives an unexpected record
        # type, it MUST terminate the connection with an 'unexpected_message' alert."
        assert isinstance(alert, alerts.UnexpectedMessage)


@pytest.mark.parametrize("point", POINT_NAMES)
@FUZZ
@given(data=st.data())
def test_truncated_real_flight_waits_for_more(point: str, data: st.DataObject) -> None:
    """A prefix of legal input is legal: nothing fails, nothing completes; the rest finishes it."""
    connection, _ = at(point)
    flight = POINTS[point].expected_input()
    cut = data.draw(st.integers(1, len(flight) - 1))
    events = connection.receive_data(flight[:cut])
    assert not connection.closed
    assert not completed(events)
    events += connection.receive_data(flight[cut:])
    assert_reached_expected_state(point, connection, events)


@pytest.mark.parametrize("point", POINT_NAMES)
@FUZZ
@given(data=st.data())
def test_truncated_record_with_fixed_length(point: str, data: st.DataObject) -> None:
    connection, recorder = at(point)
    records = split_records(POINTS[point].expected_input())
    index = data.draw(st.integers(0, len(records) - 1))
    body = records[index][HEADER_LENGTH:]
    cut = data.draw(st.integers(0, len(body) - 1))
    records[index] = record(records[index][0], body[:cut])
    deliver(connection, recorder, [b"".join(records)])


@pytest.mark.parametrize("point", POINT_NAMES)
@FUZZ
@given(
    content_type=st.sampled_from(list(ContentType)[1:]),
    length=st.integers(MAX_CIPHERTEXT + 1, 0xFFFF),
)
def test_record_longer_than_2_14_plus_256(point: str, content_type: int, length: int) -> None:
    """RFC 8446 §5.2: "An endpoint that receives a record that exceeds this
    length MUST terminate the connection with a 'record_overflow' alert." The
    header alone is enough to tell."""
    connection, recorder = at(point)
    expect_alert(connection, recorder, build_header(content_type, length), alerts.RecordOverflow)


@pytest.mark.parametrize("point", BEFORE_KEYS)
@settings(FUZZ, max_examples=15)
@given(
    content_type=st.sampled_from([ContentType.change_cipher_spec, ContentType.alert, ContentType.handshake]),
    length=st.integers(MAX_PLAINTEXT + 1, MAX_CIPHERTEXT),
)
def test_plaintext_record_longer_than_2_14(point: str, content_type: int, length: int) -> None:
    """RFC 8446 §5.1: a TLSPlaintext fragment "MUST NOT exceed 2^14 bytes. An
    endpoint that receives a record that exceeds this length MUST terminate
    the connection with a 'record_overflow' alert." """
    connection, recorder = at(point)
    expect_alert(connection, recorder, record(content_type, bytes(length)), alerts.RecordOverflow)


@pytest.mark.parametrize("point", AFTER_KEYS)
@settings(FUZZ, max_examples=15)
@given(length=st.integers(MAX_PLAINTEXT + 1, MAX_CIPHERTEXT), data=st.data())
def test_oversized_ciphertext_that_does_not_decrypt(point: str, length: int, data: st.DataObject) -> None:
    connection, recorder = at(point)
    body = data.draw(st.binary(min_size=16, max_size=16)) * (length // 16) + bytes(length % 16)
    expect_alert(connection, recorder, record(ContentType.application_data, body), alerts.BadRecordMac)


@pytest.mark.parametrize("point", AFTER_KEYS)
def test_change_cipher_spec_longer_than_2_14_after_keys(point: str) -> None:
    # change_cipher_spec is never encrypted, so the TLSPlaintext limit still applies.
    connection, recorder = at(point)
    oversized = record(ContentType.change_cipher_spec, bytes(MAX_PLAINTEXT + 1))
    expect_alert(connection, recorder, oversized, alerts.RecordOverflow, "exceeds 2\\^14")


# --- Hypothesis: legal fragmentation must work --------------------------------------------


@pytest.mark.parametrize("point", POINT_NAMES)
@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_real_flight_split_anywhere_succeeds(point: str, data: st.DataObject) -> None:
    connection, _ = at(point)
    chunks = data.draw(strategies.split_points(POINTS[point].expected_input(), max_pieces=40))
    events = []
    for chunk in chunks:
        events += connection.receive_data(chunk)
    assert_reached_expected_state(point, connection, events)


def one_byte_records(plaintext_record: bytes) -> bytes:
    """The same handshake bytes, one per TLSPlaintext record (RFC 8446 §5.1)."""
    content_type, payload = plaintext_record[0], plaintext_record[HEADER_LENGTH:]
    return b"".join(record(content_type, payload[i : i + 1]) for i in range(len(payload)))


def test_client_hello_in_one_byte_records() -> None:
    connection, _ = at("server-fresh")
    connection.receive_data(one_byte_records(recorded().client_hello))
    assert_reached_expected_state("server-fresh", connection, [])


def test_server_hello_in_one_byte_records() -> None:
    connection, _ = at("client-sent-client-hello")
    flights = recorded()
    events = connection.receive_data(one_byte_records(flights.server_hello_record))
    assert connection.state is State.WAIT_EE
    events += connection.receive_data(flights.server_flight_after_server_hello)
    assert_reached_expected_state("client-sent-client-hello", connection, events)


def test_second_client_hello_in_one_byte_records() -> None:
    connection, _ = at("server-sent-hello-retry-request")
    change_cipher_spec, client_hello2 = split_records(recorded_hello_retry().flights[2])
    connection.receive_data(change_cipher_spec + one_byte_records(client_hello2))
    assert_reached_expected_state("server-sent-hello-retry-request", connection, [])


def test_whole_handshake_in_one_byte_records() -> None:
    """max_fragment_length=1: every handshake record, plaintext and encrypted, carries one byte."""
    pair = HandshakePair(
        ClientConnection(client_config(max_fragment_length=1)),
        ServerConnection(server_config(max_fragment_length=1)),
    )
    pair.client.start_handshake()
    client_hello = pair.client.data_to_send()
    assert len(split_records(client_hello)) == len(split_records(recorded().client_hello)[0]) - HEADER_LENGTH
    pair.server.receive_data(client_hello)
    client_events = pair.server_to_client()
    server_events = pair.client_to_server()
    assert completed(client_events) and completed(server_events)


# --- one corruption, one alert: the record layer ---------------------------------------------


@pytest.mark.parametrize("point", POINT_NAMES)
def test_unknown_record_content_type(point: str) -> None:
    connection, recorder = at(point)
    expect_alert(connection, recorder, record(0x18, b"\x01"), alerts.UnexpectedMessage, "content type 24")


@pytest.mark.parametrize("point", POINT_NAMES)
def test_record_length_2_14_plus_257(point: str) -> None:
    connection, recorder = at(point)
    expect_alert(
        connection, recorder, build_header(ContentType.handshake, 2**14 + 257), alerts.RecordOverflow, "2\\^14 \\+ 256"
    )


def test_record_length_2_14_plus_256_is_not_an_overflow() -> None:
    # The ceiling itself is legal for a TLSCiphertext; the AEAD then rejects it.
    connection, recorder = at("client-received-server-hello")
    expect_alert(connection, recorder, record(ContentType.application_data, bytes(MAX_CIPHERTEXT)), alerts.BadRecordMac)


@pytest.mark.parametrize("point", BEFORE_KEYS)
def test_change_cipher_spec_with_contents_02(point: str) -> None:
    connection, recorder = at(point)
    expect_alert(connection, recorder, record(ContentType.change_cipher_spec, b"\x02"), alerts.UnexpectedMessage, "02")


def test_change_cipher_spec_before_client_hello() -> None:
    connection, recorder = at("server-fresh")
    expect_alert(
        connection, recorder, record(ContentType.change_cipher_spec, b"\x01"), alerts.UnexpectedMessage, "outside"
    )


@pytest.mark.parametrize("point", BEFORE_KEYS)
def test_zero_length_handshake_record(point: str) -> None:
    connection, recorder = at(point)
    expect_alert(connection, recorder, record(ContentType.handshake, b""), alerts.UnexpectedMessage, "zero-length")


@pytest.mark.parametrize("point", BEFORE_KEYS)
def test_alert_record_of_3_bytes(point: str) -> None:
    connection, recorder = at(point)
    payload = bytes([AlertLevel.fatal, AlertDescription.handshake_failure, 0])
    expect_alert(connection, recorder, record(ContentType.alert, payload), alerts.DecodeError, "3 bytes")


@pytest.mark.parametrize("point", BEFORE_KEYS)
def test_application_data_before_keys(point: str) -> None:
    connection, recorder = at(point)
    expect_alert(connection, recorder, record(ContentType.application_data, b"GET /"), alerts.UnexpectedMessage)


@pytest.mark.parametrize("point", AFTER_KEYS)
def test_plaintext_handshake_record_after_keys(point: str) -> None:
    connection, recorder = at(point)
    expect_alert(
        connection, recorder, handshake_record(Finished(verify_data=bytes(32))), alerts.UnexpectedMessage, "unprotected"
    )


def test_plaintext_alert_from_a_client_that_rejected_the_server_hello() -> None:
    """A client that rejects the ServerHello has no keys yet, so its alert is
    plaintext -- while the server already reads with the client's handshake keys.
    The server must report the client's alert, not invent one of its own
    (OpenSSL accepts plaintext alerts in this window: ENC_READ_STATE_ALLOW_PLAIN_ALERTS)."""

    def wrong_echo(message: HandshakeMessage) -> HandshakeMessage:
        if isinstance(message, ServerHello):
            return attrs.evolve(message, legacy_session_id_echo=bytes(32))
        return message

    recorder = Recorder()
    client = ClientConnection(client_config(observer=recorder))
    pair = HandshakePair(client, TamperingServer(server_config(), wrong_echo))
    client.start_handshake()
    pair.client_to_server()
    failure = expect_alert(client, recorder, pair.server.data_to_send(), alerts.IllegalParameter)
    assert failure.sent == fatal_alert_record(AlertDescription.illegal_parameter)
    assert_peer_receives(failure, pair.server)
    assert pair.server.data_to_send() == b""  # no alert answers an alert


def test_plaintext_alert_once_encrypted_records_arrived() -> None:
    # The window closes with the first record protected under the handshake keys.
    recorder = Recorder()
    client = ClientConnection(client_config(observer=recorder))
    pair = HandshakePair(client, ServerConnection(server_config(max_fragment_length=16)))
    client.start_handshake()
    pair.client_to_server()
    records = split_records(pair.server.data_to_send())
    first_encrypted = [r[0] for r in records].index(ContentType.application_data)
    # The ServerHello (in 16-byte records too), change_cipher_spec, one encrypted record.
    client.receive_data(b"".join(records[: first_encrypted + 1]))
    assert client.state is State.WAIT_EE
    plaintext_alert = fatal_alert_record(AlertDescription.handshake_failure)
    failure = expect_alert(client, recorder, plaintext_alert, alerts.UnexpectedMessage, "unprotected alert")
    assert failure.sent[0] == ContentType.application_data


def test_peer_alert_is_a_remote_alert() -> None:
    connection, _ = at("client-sent-client-hello")
    with pytest.raises(RemoteAlert) as caught:
        connection.receive_data(fatal_alert_record(AlertDescription.handshake_failure))
    assert caught.value.description is AlertDescription.handshake_failure
    assert connection.closed
    assert connection.data_to_send() == b""  # no alert answers an alert


# --- one corruption, one alert: handshake framing ---------------------------------------------


@pytest.mark.parametrize("point", BEFORE_KEYS)
def test_handshake_message_of_unknown_type(point: str) -> None:
    connection, recorder = at(point)
    # No message class exists for type 99, so the codec cannot build it: frame it by hand.
    expect_alert(connection, recorder, record(ContentType.handshake, bytes([99, 0, 0, 0])), alerts.UnexpectedMessage)


def test_handshake_message_not_expected_in_state() -> None:
    connection, recorder = at("server-fresh")
    expect_alert(
        connection,
        recorder,
        handshake_record(Finished(verify_data=bytes(32))),
        alerts.UnexpectedMessage,
        "not expected in state START",
    )


def test_handshake_message_that_does_not_decode() -> None:
    connection, recorder = at("server-fresh")
    raw = build_handshake(recorded_client_hello())
    truncated_body = raw[:1] + (len(raw) - 5).to_bytes(3, "big") + raw[4:-1]  # consistent length, body cut short
    expect_alert(connection, recorder, record(ContentType.handshake, truncated_body), alerts.DecodeError)


def test_handshake_data_before_a_key_change_in_the_same_record() -> None:
    # RFC 8446 §5.1: "Handshake messages MUST NOT span key changes."
    connection, recorder = at("client-sent-client-hello")
    server_hello = recorded().server_hello_record
    # The ServerHello and the first byte of an EncryptedExtensions in one plaintext record.
    mixed = record(ContentType.handshake, server_hello[HEADER_LENGTH:] + b"\x08")
    expect_alert(connection, recorder, mixed, alerts.UnexpectedMessage, "key change")


@pytest.mark.parametrize(
    "interloper",
    [
        record(ContentType.change_cipher_spec, b"\x01"),
        record(ContentType.alert, bytes([AlertLevel.warning, AlertDescription.user_canceled])),
    ],
    ids=["change_cipher_spec", "alert"],
)
def test_record_between_the_fragments_of_a_handshake_message(interloper: bytes) -> None:
    # RFC 8446 §5.1: "if a handshake message is split over two or more
    # records, there MUST NOT be any other records between them."
    connection, recorder = at("client-sent-client-hello")
    server_hello = recorded().server_hello_record[HEADER_LENGTH:]
    split = (
        record(ContentType.handshake, server_hello[:40]) + interloper + record(ContentType.handshake, server_hello[40:])
    )
    expect_alert(connection, recorder, split, alerts.UnexpectedMessage, "interleaved")


class InterleavingServer(ServerConnection):
    """Sends a (warning) user_canceled alert right after its first encrypted handshake record."""

    interleaved = False

    def write_record(self, content_type: int, payload: bytes) -> None:
        super().write_record(content_type, payload)
        if content_type == ContentType.handshake and self._write is not None and not self.interleaved:
            self.interleaved = True
            super().write_record(ContentType.alert, bytes([AlertLevel.warning, AlertDescription.user_canceled]))


def test_encrypted_record_between_the_fragments_of_a_handshake_message() -> None:
    # 16-byte records split EncryptedExtensions; the alert lands inside it.
    recorder = Recorder()
    client = ClientConnection(client_config(observer=recorder))
    pair = HandshakePair(client, InterleavingServer(server_config(max_fragment_length=16)))
    client.start_handshake()
    pair.client_to_server()
    failure = expect_alert(client, recorder, pair.server.data_to_send(), alerts.UnexpectedMessage, "interleaved")
    assert_peer_receives(failure, pair.server)


# --- one corruption, one alert: the ClientHello ----------------------------------------------


def send_client_hello(hello: ClientHello, alert_class: type[LocalAlert], match: str | None = None) -> Failure:
    connection, recorder = at("server-fresh")
    return expect_alert(connection, recorder, handshake_record(hello), alert_class, match)


def send_client_hello_to_tls13_only_server(
    hello: ClientHello, alert_class: type[LocalAlert], match: str | None = None
) -> Failure:
    recorder = Recorder()
    connection = ServerConnection(server_config(versions=(ProtocolVersion.TLS1_3,), observer=recorder))
    return expect_alert(connection, recorder, handshake_record(hello), alert_class, match)


def test_recorded_client_hello_rebuilds_exactly() -> None:
    # RFC 8446 §5.1: the initial ClientHello's record says 0x0301.
    raw = build_handshake(recorded_client_hello())
    assert record(ContentType.handshake, raw, ProtocolVersion.TLS1_0) == recorded().client_hello


def test_client_hello_without_tls13() -> None:
    hello = recorded_client_hello()
    extensions = tuple(
        make_extension(
            E.supported_versions, SupportedVersionsClientHello((ProtocolVersion.TLS1_2, ProtocolVersion.TLS1_1))
        )
        if extension.extension_type == E.supported_versions
        else extension
        for extension in hello.extensions
    )
    send_client_hello_to_tls13_only_server(
        attrs.evolve(hello, extensions=extensions), alerts.ProtocolVersionAlert, "TLS1_3"
    )


def test_client_hello_without_supported_versions() -> None:
    hello = recorded_client_hello()
    extensions = tuple(e for e in hello.extensions if e.extension_type != E.supported_versions)
    send_client_hello_to_tls13_only_server(attrs.evolve(hello, extensions=extensions), alerts.ProtocolVersionAlert)


def test_client_hello_offering_only_old_versions() -> None:
    """Neither TLS 1.3 nor TLS 1.2 offered: protocol_version even for a server speaking both."""
    hello = recorded_client_hello()
    extensions = tuple(
        make_extension(E.supported_versions, SupportedVersionsClientHello((ProtocolVersion.TLS1_1,)))
        if extension.extension_type == E.supported_versions
        else extension
        for extension in hello.extensions
    )
    send_client_hello(attrs.evolve(hello, extensions=extensions), alerts.ProtocolVersionAlert)


def test_client_hello_with_compression_method_1() -> None:
    hello = attrs.evolve(recorded_client_hello(), legacy_compression_methods=b"\x01")
    send_client_hello(hello, alerts.IllegalParameter, "compression")


def test_client_hello_with_duplicate_extension() -> None:
    hello = recorded_client_hello()
    hello = attrs.evolve(hello, extensions=(*hello.extensions, hello.extensions[0]))
    send_client_hello(hello, alerts.IllegalParameter, "two")


def test_client_hello_without_key_share() -> None:
    hello = recorded_client_hello()
    extensions = tuple(e for e in hello.extensions if e.extension_type != E.key_share)
    send_client_hello(attrs.evolve(hello, extensions=extensions), alerts.MissingExtension, "key_share")


def test_client_hello_with_pre_shared_key_not_last() -> None:
    hello = recorded_client_hello()
    offered = make_extension(
        E.pre_shared_key,
        OfferedPsks(identities=(PskIdentity(identity=b"ticket", obfuscated_ticket_age=0),), binders=(bytes(32),)),
    )
    hello = attrs.evolve(hello, extensions=(offered, *hello.extensions))
    send_client_hello(hello, alerts.IllegalParameter, "last")


def test_client_hello_without_common_cipher_suite() -> None:
    hello = attrs.evolve(recorded_client_hello(), cipher_suites=(0x0A0A, 0x00FF))
    send_client_hello(hello, alerts.HandshakeFailure, "cipher suite")


def test_client_hello_with_invalid_key_share() -> None:
    hello = recorded_client_hello()
    zero_point = KeyShareEntry(group=NamedGroup.x25519, key_exchange=bytes(32))
    bad = make_extension(E.key_share, KeyShareClientHello((zero_point,)))
    extensions = tuple(bad if e.extension_type == E.key_share else e for e in hello.extensions)
    # The all-zero X25519 point has low order: RFC 8446 §7.4.2.
    send_client_hello(attrs.evolve(hello, extensions=extensions), alerts.IllegalParameter, "x25519")


# --- one corruption, one alert: the ServerHello ----------------------------------------------


def send_server_hello(hello: ServerHello, alert_class: type[LocalAlert], match: str | None = None) -> Failure:
    connection, recorder = at("client-sent-client-hello")
    return expect_alert(connection, recorder, handshake_record(hello), alert_class, match)


def without_extension(hello: ServerHello, extension_type: ExtensionType) -> ServerHello:
    return attrs.evolve(hello, extensions=tuple(e for e in hello.extensions if e.extension_type != extension_type))


def test_recorded_server_hello_rebuilds_exactly() -> None:
    assert handshake_record(recorded_server_hello()) == recorded().server_hello_record


def test_server_hello_with_wrong_legacy_session_id_echo() -> None:
    hello = recorded_server_hello()
    wrong = bytes([hello.legacy_session_id_echo[0] ^ 1]) + hello.legacy_session_id_echo[1:]
    send_server_hello(
        attrs.evolve(hello, legacy_session_id_echo=wrong), alerts.IllegalParameter, "legacy_session_id_echo"
    )


def test_server_hello_with_cipher_suite_not_offered() -> None:
    hello = attrs.evolve(recorded_server_hello(), cipher_suite=0x1304)  # TLS_AES_128_CCM_SHA256
    send_server_hello(hello, alerts.IllegalParameter, "not offered")


def test_server_hello_with_cipher_suite_the_client_did_not_offer_this_time() -> None:
    # The client offers only AES-256; the recorded ServerHello picks AES-128.
    recorder = Recorder()
    client = client_waiting_for_server_hello(cipher_suites=(CipherSuite.TLS_AES_256_GCM_SHA384,), observer=recorder)
    expect_alert(client, recorder, handshake_record(recorded_server_hello()), alerts.IllegalParameter, "not offered")


def test_server_hello_tls12_with_downgrade_sentinel() -> None:
    hello = without_extension(recorded_server_hello(), E.supported_versions)
    hello = attrs.evolve(hello, random=hello.random[:24] + DOWNGRADE_TLS12)
    send_server_hello(hello, alerts.IllegalParameter, "downgrade")


def test_server_hello_tls12_without_downgrade_sentinel() -> None:
    # A client that offers only TLS 1.3 (the recorded one offers TLS 1.2 too).
    recorder = Recorder()
    client = client_waiting_for_server_hello(versions=(ProtocolVersion.TLS1_3,), observer=recorder)
    hello = without_extension(recorded_server_hello(), E.supported_versions)
    expect_alert(client, recorder, handshake_record(hello), alerts.ProtocolVersionAlert, "does not offer")


def test_server_hello_selecting_tls12_in_supported_versions() -> None:
    hello = recorded_server_hello()
    extensions = tuple(
        make_extension(E.supported_versions, SupportedVersionsServerHello(ProtocolVersion.TLS1_2))
        if e.extension_type == E.supported_versions
        else e
        for e in hello.extensions
    )
    send_server_hello(attrs.evolve(hello, extensions=extensions), alerts.IllegalParameter, "selects")


def test_server_hello_with_compression_method_1() -> None:
    send_server_hello(attrs.evolve(recorded_server_hello(), legacy_compression_method=1), alerts.IllegalParameter)


def test_server_hello_without_key_share() -> None:
    send_server_hello(without_extension(recorded_server_hello(), E.key_share), alerts.MissingExtension)


def test_server_hello_with_key_share_for_group_not_offered() -> None:
    hello = recorded_server_hello()
    share = KeyShareServerHello(KeyShareEntry(group=NamedGroup.secp256r1, key_exchange=b"\x04" + bytes(64)))
    extensions = tuple(
        make_extension(E.key_share, share) if e.extension_type == E.key_share else e for e in hello.extensions
    )
    send_server_hello(attrs.evolve(hello, extensions=extensions), alerts.IllegalParameter, "no share was offered")


def test_server_hello_with_unsolicited_extension() -> None:
    hello = recorded_server_hello()
    hello = attrs.evolve(hello, extensions=(*hello.extensions, make_extension(E.pre_shared_key, SelectedIdentity(0))))
    send_server_hello(hello, alerts.UnsupportedExtension, "not offered")


# --- one corruption, one alert: HelloRetryRequest (RFC 8446 §4.1.4) ----------------------------


def hello_retry_request(*extensions: Extension) -> ServerHello:
    """A HelloRetryRequest for the recorded ClientHello, built from the recorded ServerHello."""
    return attrs.evolve(recorded_server_hello(), random=HELLO_RETRY_REQUEST_RANDOM, extensions=extensions)


SELECT_TLS13 = make_extension(E.supported_versions, SupportedVersionsServerHello(ProtocolVersion.TLS1_3))


def test_second_hello_retry_request() -> None:
    connection, recorder = at("client-received-hello-retry-request")
    again = hello_retry_request(make_extension(E.key_share, KeyShareHelloRetryRequest(NamedGroup.x448)), SELECT_TLS13)
    again = attrs.evolve(again, legacy_session_id_echo=client_hello_of(recorded_hello_retry()).legacy_session_id)
    expect_alert(connection, recorder, handshake_record(again), alerts.UnexpectedMessage, "second HelloRetryRequest")


def test_hello_retry_request_for_a_group_already_shared() -> None:
    retry = hello_retry_request(make_extension(E.key_share, KeyShareHelloRetryRequest(NamedGroup.x25519)), SELECT_TLS13)
    send_server_hello(retry, alerts.IllegalParameter, "already sent")


def test_hello_retry_request_that_changes_nothing() -> None:
    send_server_hello(hello_retry_request(SELECT_TLS13), alerts.IllegalParameter, "would not result in any change")


def test_hello_retry_request_for_an_unsupported_group() -> None:
    retry = hello_retry_request(
        make_extension(E.key_share, KeyShareHelloRetryRequest(NamedGroup.ffdhe2048)), SELECT_TLS13
    )
    send_server_hello(retry, alerts.IllegalParameter, "not in supported_groups")


def send_second_client_hello(hello: ClientHello, alert_class: type[LocalAlert], match: str) -> None:
    connection, recorder = at("server-sent-hello-retry-request")
    expect_alert(connection, recorder, handshake_record(hello), alert_class, match)


def test_second_client_hello_without_the_cookie() -> None:
    hello = client_hello_of(recorded_hello_retry(), flight=2)
    extensions = tuple(e for e in hello.extensions if e.extension_type != E.cookie)
    send_second_client_hello(attrs.evolve(hello, extensions=extensions), alerts.IllegalParameter, "cookie")


def test_second_client_hello_with_a_changed_cookie() -> None:
    hello = client_hello_of(recorded_hello_retry(), flight=2)
    cookie = find_extension(hello.extensions, E.cookie)
    assert isinstance(cookie, Cookie)
    changed = make_extension(E.cookie, Cookie(bytes([cookie.cookie[0] ^ 1]) + cookie.cookie[1:]))
    extensions = tuple(changed if e.extension_type == E.cookie else e for e in hello.extensions)
    send_second_client_hello(attrs.evolve(hello, extensions=extensions), alerts.IllegalParameter, "cookie")


def test_second_client_hello_with_the_first_key_share() -> None:
    # ClientHello2 carrying ClientHello1's share, for secp256r1, not the group the server asked for.
    hello = client_hello_of(recorded_hello_retry(), flight=2)
    first_share = find_extension(client_hello_of(recorded_hello_retry()).extensions, E.key_share)
    assert isinstance(first_share, KeyShareClientHello)
    old = make_extension(E.key_share, first_share)
    extensions = tuple(old if e.extension_type == E.key_share else e for e in hello.extensions)
    send_second_client_hello(
        attrs.evolve(hello, extensions=extensions), alerts.IllegalParameter, "exactly one key share"
    )


def test_server_hello_after_hello_retry_request_with_another_cipher_suite() -> None:
    connection, recorder = at("client-received-hello-retry-request")
    hello = server_hello_of(recorded_hello_retry())
    changed = attrs.evolve(hello, cipher_suite=CipherSuite.TLS_AES_256_GCM_SHA384)
    expect_alert(connection, recorder, handshake_record(changed), alerts.IllegalParameter, "differs")


# --- one corruption, one alert: the encrypted flights -------------------------------------------


def flip_in_last_record(data: bytes) -> bytes:
    """Flip one bit of the last record's ciphertext (its header stays intact)."""
    return data[:-20] + bytes([data[-20] ^ 0x01]) + data[-19:]


def test_flipped_byte_in_encrypted_server_flight() -> None:
    connection, recorder = at("client-received-server-hello")
    corrupted = flip_in_last_record(recorded().server_flight_after_server_hello)
    expect_alert(connection, recorder, corrupted, alerts.BadRecordMac, "server_handshake_traffic_secret")


def test_flipped_byte_in_encrypted_client_finished() -> None:
    connection, recorder = at("server-sent-flight")
    corrupted = flip_in_last_record(recorded().client_flight)
    expect_alert(connection, recorder, corrupted, alerts.BadRecordMac, "client_handshake_traffic_secret")


class TamperingServer(ServerConnection):
    """A server that edits one of its own handshake messages just before sending it.

    The edit happens before the record layer encrypts it, so the client sees a
    well-protected record with a wrong message inside: the corruption reaches
    the handshake logic rather than the AEAD."""

    def __init__(self, config: Config, edit: Callable[[HandshakeMessage], HandshakeMessage]) -> None:
        super().__init__(config)
        self.edit = edit

    def send_handshake(self, message: HandshakeMessage, *, transcript: bool = True) -> bytes:
        return super().send_handshake(self.edit(message), transcript=transcript)


class TamperingClient(ClientConnection):
    def __init__(self, config: Config, edit: Callable[[HandshakeMessage], HandshakeMessage]) -> None:
        super().__init__(config)
        self.edit = edit

    def send_handshake(self, message: HandshakeMessage, *, transcript: bool = True) -> bytes:
        return super().send_handshake(self.edit(message), transcript=transcript)


def flip_finished(message: HandshakeMessage) -> HandshakeMessage:
    if isinstance(message, Finished):
        return Finished(verify_data=bytes([message.verify_data[0] ^ 0x80]) + message.verify_data[1:])
    return message


def assert_peer_receives(failure: Failure, peer: Connection) -> None:
    """The encrypted alert decrypts at the peer and names the same description."""
    with pytest.raises(RemoteAlert) as caught:
        peer.receive_data(failure.sent)
    assert caught.value.description == failure.alert.description
    assert peer.closed


def test_corrupted_server_finished() -> None:
    recorder = Recorder()
    client = ClientConnection(client_config(observer=recorder))
    pair = HandshakePair(client, TamperingServer(server_config(), flip_finished))
    client.start_handshake()
    pair.client_to_server()
    failure = expect_alert(client, recorder, pair.server.data_to_send(), alerts.DecryptError, "server Finished")
    assert failure.alert.rfc == "RFC 8446 §4.4.4"
    assert_peer_receives(failure, pair.server)


def test_corrupted_client_finished() -> None:
    recorder = Recorder()
    server = ServerConnection(server_config(observer=recorder))
    pair = HandshakePair(TamperingClient(client_config(), flip_finished), server)
    pair.client.start_handshake()
    pair.client_to_server()
    pair.server_to_client()
    failure = expect_alert(server, recorder, pair.client.data_to_send(), alerts.DecryptError, "client Finished")
    assert_peer_receives(failure, pair.client)


def test_finished_of_wrong_length() -> None:
    def shorten(message: HandshakeMessage) -> HandshakeMessage:
        return Finished(verify_data=message.verify_data[:-1]) if isinstance(message, Finished) else message

    recorder = Recorder()
    client = ClientConnection(client_config(observer=recorder))
    pair = HandshakePair(client, TamperingServer(server_config(), shorten))
    client.start_handshake()
    pair.client_to_server()
    expect_alert(client, recorder, pair.server.data_to_send(), alerts.DecodeError, "Hash.length")


def test_empty_certificate_from_the_server() -> None:
    def empty(message: HandshakeMessage) -> HandshakeMessage:
        return Certificate() if isinstance(message, Certificate) else message

    recorder = Recorder()
    client = ClientConnection(client_config(observer=recorder))
    pair = HandshakePair(client, TamperingServer(server_config(), empty))
    client.start_handshake()
    pair.client_to_server()
    failure = expect_alert(client, recorder, pair.server.data_to_send(), alerts.DecodeError, "empty Certificate")
    assert_peer_receives(failure, pair.server)


def test_server_certificate_that_is_not_der() -> None:
    def garbage(message: HandshakeMessage) -> HandshakeMessage:
        if isinstance(message, Certificate):
            entry = attrs.evolve(message.certificate_list[0], cert_data=b"not a certificate")
            return attrs.evolve(message, certificate_list=(entry,))
        return message

    recorder = Recorder()
    client = ClientConnection(client_config(observer=recorder))
    pair = HandshakePair(client, TamperingServer(server_config(), garbage))
    client.start_handshake()
    pair.client_to_server()
    expect_alert(client, recorder, pair.server.data_to_send(), alerts.BadCertificate, "DER")


def test_key_update_with_request_update_2() -> None:
    # RFC 8446 §4.6.3: request_update is 0 or 1; anything else is illegal_parameter.
    def request_2(message: HandshakeMessage) -> HandshakeMessage:
        return KeyUpdate(request_update=2) if isinstance(message, KeyUpdate) else message

    recorder = Recorder()
    server = ServerConnection(server_config(observer=recorder))
    pair = HandshakePair(TamperingClient(client_config(), request_2), server)
    pair.handshake()
    pair.client.key_update()
    failure = expect_alert(server, recorder, pair.client.data_to_send(), alerts.IllegalParameter, "request_update")
    assert_peer_receives(failure, pair.client)


# --- sanity of the helpers themselves ------------------------------------------------------------


def test_fresh_connections_replay_the_recorded_handshake() -> None:
    flights = recorded()
    server = fresh_server()
    server.receive_data(flights.client_hello)
    assert server.data_to_send() == flights.server_flight
    client = client_after_server_hello()
    assert completed(client.receive_data(flights.server_flight_after_server_hello))
    assert client.data_to_send() == flights.client_flight
    assert completed(server_waiting_for_finished().receive_data(flights.client_flight))
