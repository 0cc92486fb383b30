"""A mutation fuzzer: recorded handshakes, replayed with random corruptions.

Several complete conversations are recorded once, byte for byte, between
deterministic connections (fixed randomness, clock and key shares; see
tests/handshake_pair.py): TLS 1.3 with data, a KeyUpdate and close_notify; a
HelloRetryRequest; resumption with 0-RTT data and a NewSessionTicket; client
authentication; TLS 1.2 ECDHE; TLS 1.2 client authentication; a TLS 1.2
ticket resumption; a TLS 1.2 renegotiation. A recording is a *tape*: what
each side did (start, send data, KeyUpdate, close) and every flight of bytes
each side received, in order.

One fuzz case picks a flight and the side that received it, rebuilds that
side from scratch by replaying the tape up to that flight (the connections
are deterministic, so it stands exactly where it stood), then delivers a
corrupted copy of the flight -- bytes flipped, records truncated, duplicated,
dropped, swapped, inserted, re-framed, headers rewritten -- cut into random
`receive_data` calls, and carries on with the rest of the tape. The rules:

* every call returns, or raises a `LocalAlert`, a `RemoteAlert` or another
  `TLSError` -- never any other exception, and never `InternalError`, which
  is how the connection reports a bug of its own (RFC 8446 §6.2);
* every call returns within `CALL_DEADLINE` seconds (no hang);
* after a `LocalAlert` the connection is closed, refuses further input, and
  the last record it sends carries that alert (decrypted here with the
  connection's own write keys when it is protected);
* a legal transformation -- the same bytes in other `receive_data` chunks,
  or plaintext handshake records re-framed (RFC 8446 §5.1, RFC 5246 §6.2.1
  allow any fragmentation) -- changes nothing: the connection ends in the
  same state as with the real flight.

By default the whole module fuzzes for about 10 seconds with a fresh seed,
printed at the start of each test (pytest shows it on failure). On demand::

    TEACHTLS_FUZZ_SECONDS=600 .venv/bin/pytest tests/test_mutation_fuzzer.py   # longer
    TEACHTLS_FUZZ_SEED=12345 .venv/bin/pytest tests/test_mutation_fuzzer.py    # same cases again
    TEACHTLS_FUZZ_CASE=tls13:7:987654321 .venv/bin/pytest tests/test_mutation_fuzzer.py -k one_case

A failure names its case as scenario:flight:case-seed for TEACHTLS_FUZZ_CASE.
"""

from __future__ import annotations

import functools
import itertools
import os
import random
import secrets
import time
import zlib
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from teachtls import ClientConnection, LocalAlert, RemoteAlert, ServerConnection
from teachtls.connection import Connection
from teachtls.crypto.aead import per_record_nonce
from teachtls.handshake import alerts
from teachtls.sessions import StatelessTickets
from teachtls.wire.enums import AlertLevel, ContentType, ProtocolVersion
from teachtls.wire.record import HEADER_LENGTH, MAX_PLAINTEXT, build_header
from tests.handshake_pair import HELLO_RETRY_CLIENT, client_config, counter_random, pki, server_config
from tests.test_rfc_musts import client_leaf

FUZZ_SECONDS = float(os.environ.get("TEACHTLS_FUZZ_SECONDS", "10"))
SEED = int(os.environ.get("TEACHTLS_FUZZ_SEED") or secrets.randbits(32))
CALL_DEADLINE = 5.0  # seconds one receive_data call may take; real ones take milliseconds
NOW = time.time()  # every connection's clock: certificates valid, tickets fresh, no timeout


def clock() -> float:
    return NOW


# --- tapes ---------------------------------------------------------------------------------


@attrs.frozen
class Act:
    """Something one side did on its own: start, send data, KeyUpdate, close."""

    role: str
    name: str
    do: Callable[[Any], None]


@attrs.frozen
class Deliver:
    """A flight of bytes that arrived at `to`, as one receive_data call."""

    to: str
    data: bytes


Tape = tuple[Act | Deliver, ...]
PUMP = "pump"


@attrs.frozen
class Scenario:
    name: str
    make: Callable[[], tuple[ClientConnection, ServerConnection]]
    steps: tuple[Act | str, ...]  # actions, and PUMP: move bytes until both sides are quiet


def record_tape(scenario: Scenario) -> Tape:
    """Run the scenario once and write down what happened, in order."""
    client, server = scenario.make()
    sides: dict[str, Connection] = {"client": client, "server": server}
    tape: list[Act | Deliver] = []
    for step in scenario.steps:
        if isinstance(step, Act):
            step.do(sides[step.role])
            tape.append(step)
            continue
        while True:
            moved = False
            for sender, receiver in (("client", "server"), ("server", "client")):
                data = sides[sender].data_to_send()
                if data and not sides[receiver].closed:
                    moved = True
                    tape.append(Deliver(receiver, data))
                    sides[receiver].receive_data(data)
            if not moved:
                break
    return tuple(tape)


def fresh(scenario: Scenario, role: str) -> Connection:
    client, server = scenario.make()
    return client if role == "client" else server


def replay_to(scenario: Scenario, tape: Tape, index: int) -> Connection:
    """A fresh copy of the side that receives tape[index], standing just before it."""
    target = tape[index]
    assert isinstance(target, Deliver)
    connection = fresh(scenario, target.to)
    for entry in tape[:index]:
        if isinstance(entry, Act) and entry.role == target.to:
            entry.do(connection)
        elif isinstance(entry, Deliver) and entry.to == target.to:
            connection.receive_data(entry.data)
        connection.data_to_send()
    return connection


# --- the scenarios ----------------------------------------------------------------------------


def act(role: str, name: str, do: Callable[[Any], None]) -> Act:
    return Act(role, name, do)


START = act("client", "start", lambda c: c.start_handshake())
CLIENT_DATA = act("client", "send", lambda c: c.send_application_data(b"GET / HTTP/1.1\r\n\r\n"))
SERVER_DATA = act("server", "send", lambda c: c.send_application_data(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 3000))
CLIENT_CLOSE = act("client", "close", lambda c: c.close())
SERVER_CLOSE = act("server", "close", lambda c: c.close())
CONVERSATION = (PUMP, CLIENT_DATA, PUMP, SERVER_DATA, PUMP)


def pair_of(client: dict[str, Any] | None = None, server: dict[str, Any] | None = None) -> Callable[..., Any]:
    def make() -> tuple[ClientConnection, ServerConnection]:
        return (
            ClientConnection(client_config(clock=clock, **(client or {}))),
            ServerConnection(server_config(clock=clock, **(server or {}))),
        )

    return make


def client_auth(version: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    ca, _ = pki()
    leaf = client_leaf()
    server: dict[str, Any] = {"client_auth": "require", "trusted_certificates": (ca.certificate,)}
    if version is not None:
        server["versions"] = (version,)
    return {"certificate_chain": (leaf.certificate,), "private_key": leaf.private_key}, server


@functools.cache
def issued_session(version: int) -> tuple[bytes, tuple[Any, ...]]:
    """A session from a first, unrecorded handshake; and the ticket keys that open it."""
    store = StatelessTickets(counter_random(b"fuzz ticket keys"), clock)
    settings: dict[str, Any] = {"session_store": store, "session_tickets": 1, "max_early_data_size": 4096}
    if version == ProtocolVersion.TLS1_2:
        settings["versions"] = (version,)
    client, server = pair_of(server=settings)()
    tape_scenario = Scenario("first", lambda: (client, server), (START, PUMP))
    record_tape(tape_scenario)
    return client.get_session_data(), tuple(store.keys)


def resuming(version: int, **server: Any) -> Callable[[], tuple[ClientConnection, ServerConnection]]:
    def make() -> tuple[ClientConnection, ServerConnection]:
        session, keys = issued_session(version)
        store = StatelessTickets(counter_random(b"fuzz ticket keys"), clock)
        store.keys = list(keys)  # opens the ticket; no ticket used for 0-RTT yet
        settings: dict[str, Any] = {"session_store": store, "session_tickets": 1, "max_early_data_size": 4096}
        if version == ProtocolVersion.TLS1_2:
            settings["versions"] = (version,)
        client = ClientConnection(client_config(clock=lambda: NOW + 1, random=counter_random(b"fuzz client 2")))
        client.set_session_data(session)
        server_connection = ServerConnection(
            server_config(clock=lambda: NOW + 1, random=counter_random(b"fuzz server 2"), **settings, **server)
        )
        return client, server_connection

    return make


TLS12 = {"versions": (ProtocolVersion.TLS1_2,)}

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "tls13",
            pair_of(),
            (
                START,
                *CONVERSATION,
                act("server", "key_update", lambda c: c.key_update(request_peer=True)),
                PUMP,
                CLIENT_CLOSE,
                PUMP,
                SERVER_CLOSE,
                PUMP,
            ),
        ),
        Scenario("hello-retry", pair_of(client=dict(HELLO_RETRY_CLIENT)), (START, *CONVERSATION)),
        Scenario(
            "resumption-0rtt",
            resuming(ProtocolVersion.TLS1_3),
            (act("client", "start with 0-RTT", lambda c: c.start_handshake(early_data=b"GET /0rtt")), *CONVERSATION),
        ),
        Scenario("client-auth", pair_of(*client_auth()), (START, *CONVERSATION)),
        Scenario("tls12", pair_of(server=TLS12), (START, *CONVERSATION, CLIENT_CLOSE, PUMP)),
        Scenario("tls12-client-auth", pair_of(*client_auth(ProtocolVersion.TLS1_2)), (START, *CONVERSATION)),
        Scenario("tls12-resumption", resuming(ProtocolVersion.TLS1_2), (START, *CONVERSATION)),
        Scenario(
            "tls12-renegotiation",
            pair_of(server=TLS12),
            (START, PUMP, act("client", "renegotiate", lambda c: c.renegotiate()), *CONVERSATION),
        ),
    )
}


@functools.cache
def tape_of(name: str) -> Tape:
    return record_tape(SCENARIOS[name])


@functools.cache
def outcome_of_real_flight(name: str, index: int) -> tuple[str, bool]:
    """(state, closed) of the side that receives tape[index], after the real bytes."""
    connection = replay_to(SCENARIOS[name], tape_of(name), index)
    connection.receive_data(tape_of(name)[index].data)  # type: ignore[union-attr]
    return connection.state.value, connection.closed


# --- mutations -----------------------------------------------------------------------------------


def records_of(data: bytes) -> list[bytes]:
    """Whole records (the tape's flights are well formed)."""
    found = []
    while len(data) >= HEADER_LENGTH:
        end = HEADER_LENGTH + int.from_bytes(data[3:5], "big")
        found.append(data[:end])
        data = data[end:]
    return found


def plaintext_handshake_run(records: list[bytes], plaintext_at_start: bool) -> tuple[int, int]:
    """The first run of plaintext handshake records: (start, end) indexes, maybe empty.

    Records stay plaintext until the first change_cipher_spec (TLS 1.2's key
    change) or application_data (TLS 1.3's TLSCiphertext); re-framing inside
    that run is legal, and it ends before any key change."""
    if not plaintext_at_start:
        return 0, 0
    start = end = 0
    while end < len(records) and records[end][0] == ContentType.handshake:
        end += 1
    return start, end


def reframe(payload: bytes, rng: random.Random) -> list[bytes]:
    pieces = []
    while payload:
        size = rng.choice([1, 2, 3, 7, rng.randint(1, 64), rng.randint(1, MAX_PLAINTEXT)])
        pieces.append(build_header(ContentType.handshake, len(payload[:size])) + payload[:size])
        payload = payload[size:]
    return pieces


Mutation = Callable[[bytes, random.Random], bytes]


def flip(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        position = rng.randrange(len(buffer))
        buffer[position] ^= 1 << rng.randrange(8) if rng.random() < 0.7 else rng.randint(1, 255)
    return bytes(buffer)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def with_records(change: Callable[[list[bytes], random.Random], list[bytes]]) -> Mutation:
    def mutation(data: bytes, rng: random.Random) -> bytes:
        records = records_of(data)
        return b"".join(change(records, rng)) if records else data

    mutation.__name__ = change.__name__
    return mutation


@with_records
def truncate_record(records: list[bytes], rng: random.Random) -> list[bytes]:
    index = rng.randrange(len(records))
    body = records[index][HEADER_LENGTH:]
    cut = body[: rng.randrange(len(body))] if body else b""
    records[index] = records[index][:3] + len(cut).to_bytes(2, "big") + cut
    return records


@with_records
def duplicate_record(records: list[bytes], rng: random.Random) -> list[bytes]:
    index = rng.randrange(len(records))
    records.insert(rng.randrange(len(records) + 1), records[index])
    return records


@with_records
def drop_record(records: list[bytes], rng: random.Random) -> list[bytes]:
    del records[rng.randrange(len(records))]
    return records


@with_records
def swap_records(records: list[bytes], rng: random.Random) -> list[bytes]:
    first, second = rng.randrange(len(records)), rng.randrange(len(records))
    records[first], records[second] = records[second], records[first]
    return records


@with_records
def insert_record(records: list[bytes], rng: random.Random) -> list[bytes]:
    content_type = rng.choice([20, 21, 22, 23, rng.randint(0, 255)])
    body = rng.choice([b"", b"\x01", b"\x02\x0a", bytes(rng.randint(0, 40)), rng.randbytes(rng.randint(1, 300))])
    records.insert(rng.randrange(len(records) + 1), build_header(content_type, len(body)) + body)
    return records


@with_records
def rewrite_header(records: list[bytes], rng: random.Random) -> list[bytes]:
    index = rng.randrange(len(records))
    header = bytearray(records[index][:HEADER_LENGTH])
    field = rng.choice(["type", "version", "length"])
    if field == "type":
        header[0] = rng.choice([20, 21, 22, 23, rng.randint(0, 255)])
    elif field == "version":
        header[1:3] = rng.choice([b"\x03\x01", b"\x03\x04", b"\x00\x00", rng.randbytes(2)])
    else:
        header[3:5] = rng.randint(0, 0xFFFF).to_bytes(2, "big")
    records[index] = bytes(header) + records[index][HEADER_LENGTH:]
    return records


def duplicate_bytes(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(len(data))
    piece = data[start : start + rng.randint(1, 64)]
    position = rng.randrange(len(data) + 1)
    return data[:position] + piece + data[position:]


MUTATIONS: tuple[Mutation, ...] = (
    flip,
    truncate,
    truncate_record,
    duplicate_record,
    drop_record,
    swap_records,
    insert_record,
    rewrite_header,
    duplicate_bytes,
)


# --- mutations under the record protection ---------------------------------------------------
#
# Flipping a byte of a protected record only ever tests the AEAD (bad_record_mac).
# To reach the parser and the handshake logic behind it, a case can instead
# change the *plaintext* of one protected record and seal it again with the keys
# the receiver will use for it -- learnt by letting a shadow copy of the receiver
# read the real flight record by record.


@attrs.frozen
class OpenedRecord:
    """One record of a real flight, as the receiver will read it."""

    raw: bytes
    content: bytes = b""  # the plaintext, when the record is protected
    content_type: int = 0  # the real (inner) content type
    seal: Callable[[bytes, int, int], bytes] | None = None  # (content, type, padding) -> record


def sealer_13(aead: Any, iv: bytes, sequence_number: int, tag_length: int) -> Callable[[bytes, int, int], bytes]:
    def seal(content: bytes, content_type: int, padding: int) -> bytes:
        inner = content + bytes([content_type]) + bytes(padding)
        header = build_header(ContentType.application_data, len(inner) + tag_length)
        sealed: bytes = aead.seal(per_record_nonce(iv, sequence_number), inner, header)
        return header + sealed

    return seal


def sealer_12(protector: Any, sequence_number: int) -> Callable[[bytes, int, int], bytes]:
    def seal(content: bytes, content_type: int, padding: int) -> bytes:
        fragment: bytes = protector.seal(sequence_number, content_type, ProtocolVersion.TLS1_2, content[:MAX_PLAINTEXT])
        return build_header(content_type, len(fragment)) + fragment

    return seal


@functools.cache
def opened_flight(name: str, index: int) -> tuple[OpenedRecord, ...]:
    """tape[index] record by record, each protected one opened with the receiver's keys."""
    shadow = replay_to(SCENARIOS[name], tape_of(name), index)
    opened = []
    for raw in records_of(tape_of(name)[index].data):  # type: ignore[union-attr]
        protection = shadow._read
        header, body = raw[:HEADER_LENGTH], raw[HEADER_LENGTH:]
        record = OpenedRecord(raw)
        try:
            if protection is not None and shadow.version == ProtocolVersion.TLS1_2:
                sequence_number = protection.sequence_number
                protector = protection.protector  # type: ignore[attr-defined]
                content = protector.open(sequence_number, raw[0], ProtocolVersion.TLS1_2, body)
                record = OpenedRecord(raw, content, raw[0], sealer_12(protector, sequence_number))
            elif protection is not None and raw[0] == ContentType.application_data:
                nonce = per_record_nonce(protection.iv, protection.sequence_number)
                inner = protection.aead.open(nonce, body, header).rstrip(b"\x00")
                seal = sealer_13(
                    protection.aead, protection.iv, protection.sequence_number, protection.params.tag_length
                )
                record = OpenedRecord(raw, inner[:-1], inner[-1], seal)
        except Exception:  # e.g. rejected 0-RTT data, skipped unread: leave it opaque
            record = OpenedRecord(raw)
        opened.append(record)
        shadow.receive_data(raw)
        shadow.data_to_send()
    return tuple(opened)


def edit_inside(content: bytes, content_type: int, rng: random.Random) -> tuple[bytes, int, int, str]:
    """A change to a protected record's plaintext: (content, type, padding, name)."""
    edit = rng.choice(
        ["flip", "truncate", "extend", "length", "message-type", "content-type", "empty", "duplicate", "pad"]
    )
    padding = 0
    if edit == "flip" and content:
        position = rng.randrange(len(content))
        content = content[:position] + bytes([content[position] ^ rng.randint(1, 255)]) + content[position + 1 :]
    elif edit == "truncate" and content:
        content = content[: rng.randrange(len(content))]
    elif edit == "extend":
        content += rng.randbytes(rng.randint(1, 8))
    elif edit == "length" and len(content) >= 4:
        content = content[:1] + rng.randint(0, 0xFFFFFF).to_bytes(3, "big") + content[4:]
    elif edit == "message-type" and content:
        content = (
            bytes([rng.choice([0, 1, 2, 4, 5, 8, 11, 12, 13, 14, 15, 16, 20, 22, 24, 254, rng.randint(0, 255)])])
            + content[1:]
        )
    elif edit == "content-type":
        content_type = rng.choice([0, 20, 21, 22, 23, rng.randint(0, 255)])
    elif edit == "empty":
        content = b""
    elif edit == "duplicate":
        content = content * 2
    elif edit == "pad":
        padding = rng.choice([1, 16, 255, rng.randint(1, 2**14)])
    return content, content_type, padding, edit


def reseal(opened: tuple[OpenedRecord, ...], rng: random.Random) -> tuple[bytes, str]:
    index = rng.choice([i for i, record in enumerate(opened) if record.seal is not None])
    target = opened[index]
    assert target.seal is not None
    content, content_type, padding, edit = edit_inside(target.content, target.content_type, rng)
    records = [record.raw for record in opened]
    records[index] = target.seal(content, content_type, padding)
    return b"".join(records), f"reseal-{edit}"


def padding_is_legal(opened: tuple[OpenedRecord, ...], data: bytes, rng: random.Random) -> bytes | None:
    """RFC 8446 §5.4: any protected TLS 1.3 record may carry zero padding (within
    2^14 + 1 bytes of TLSInnerPlaintext); adding some changes nothing."""
    tls13 = [
        i
        for i, record in enumerate(opened)
        if record.seal is not None and record.raw[0] == ContentType.application_data and record.content
    ]
    if not tls13:
        return None
    index = rng.choice(tls13)
    target = opened[index]
    assert target.seal is not None
    room = 2**14 + 1 - len(target.content) - 1
    records = [record.raw for record in opened]
    records[index] = target.seal(target.content, target.content_type, rng.randint(1, max(1, room)))
    return b"".join(records)


def mutate(
    data: bytes, rng: random.Random, plaintext_at_start: bool, opened: tuple[OpenedRecord, ...] = ()
) -> tuple[bytes, list[str], bool]:
    """A corrupted (or, now and then, legally re-framed or padded) copy of `data`.

    Returns the bytes, the names of what was done, and whether it is legal."""
    records = records_of(data)
    start, end = plaintext_handshake_run(records, plaintext_at_start)
    if rng.random() < 0.15:
        choice = rng.random()
        if end > start and choice < 0.5:
            payload = b"".join(record[HEADER_LENGTH:] for record in records[start:end])
            records[start:end] = reframe(payload, rng)
            return b"".join(records), ["reframe"], True
        padded = padding_is_legal(opened, data, rng) if choice < 0.8 else None
        if padded is not None:
            return padded, ["pad"], True
        return data, ["none"], True
    if any(record.seal is not None for record in opened) and rng.random() < 0.5:
        data, name = reseal(opened, rng)
        return data, [name], False
    done = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        mutation = rng.choice(MUTATIONS)
        if data:
            data = mutation(data, rng)
            done.append(mutation.__name__)
    return data, done, False


def chunks_of(data: bytes, rng: random.Random) -> list[bytes]:
    """`data` in random receive_data calls (a TCP stream may cut anywhere)."""
    if len(data) < 2 or rng.random() < 0.4:
        return [data]
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 12))))
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


# --- one case ------------------------------------------------------------------------------------


class FuzzFailure(AssertionError):
    pass


def last_alert_record(connection: Connection, data: bytes) -> bytes:
    """The plaintext of the last record `connection` sent: decrypted with the
    connection's own write keys when it is protected (RFC 8446 §5.2, RFC 5246 §6.2.3)."""
    last = records_of(data)[-1]
    header, body = last[:HEADER_LENGTH], last[HEADER_LENGTH:]
    protection = connection._write
    if protection is None:
        assert last[0] == ContentType.alert
        return body
    sequence_number = protection.sequence_number - 1
    if connection.version == ProtocolVersion.TLS1_2:
        assert last[0] == ContentType.alert
        return protection.protector.open(sequence_number, last[0], ProtocolVersion.TLS1_2, body)  # type: ignore[attr-defined,no-any-return]
    nonce = per_record_nonce(protection.iv, sequence_number)
    inner = protection.aead.open(nonce, body, header).rstrip(b"\x00")
    assert inner[-1] == ContentType.alert, inner
    return inner[:-1]


def check_failed_connection(connection: Connection, alert: BaseException, was_write_closed: bool) -> None:
    assert connection.closed, f"{alert!r} but the connection is still open"
    if isinstance(alert, LocalAlert):
        data = connection.data_to_send()
        if was_write_closed:
            assert data == b"", "nothing may follow close_notify"  # RFC 8446 §6.1
        else:
            assert data, f"{alert!r} but no alert record was queued"
            assert last_alert_record(connection, data) == bytes([AlertLevel.fatal, alert.description])
    with pytest.raises(alerts.ConnectionClosed):
        connection.receive_data(b"")


def call(connection: Connection, what: Callable[[], Any]) -> BaseException | None:
    """Run one call under the rules; return the TLS error it raised, if any."""
    was_write_closed = connection.write_closed
    started = time.monotonic()
    try:
        what()
    except alerts.InternalError as error:
        raise FuzzFailure(f"internal_error (a bug): {error}") from error
    except (LocalAlert, RemoteAlert) as alert:
        check_failed_connection(connection, alert, was_write_closed)
        return alert
    except alerts.TLSError as error:
        return error
    except Exception as error:
        raise FuzzFailure(f"{type(error).__name__} is not a TLS error: {error}") from error
    finally:
        elapsed = time.monotonic() - started
        if elapsed > CALL_DEADLINE:
            raise FuzzFailure(f"a call took {elapsed:.1f} s (deadline {CALL_DEADLINE} s)")
    return None


def run_case(name: str, index: int, case_seed: int) -> str:
    """One fuzz case; returns a one-line description. Raises FuzzFailure."""
    rng = random.Random(case_seed)
    scenario, tape = SCENARIOS[name], tape_of(name)
    connection = replay_to(scenario, tape, index)
    entry = tape[index]
    assert isinstance(entry, Deliver)
    opened = opened_flight(name, index)
    data, done, legal = mutate(entry.data, rng, plaintext_at_start=connection._read is None, opened=opened)
    description = f"{name}:{index}:{case_seed} ({entry.to}, {'+'.join(done)}, {len(data)} bytes)"
    try:
        for chunk in chunks_of(data, rng):
            if call(connection, functools.partial(connection.receive_data, chunk)) is not None:
                break
        else:
            if legal:
                outcome = (connection.state.value, connection.closed)
                assert outcome == outcome_of_real_flight(name, index), "a legal re-framing changed the outcome"
            # Carry on with the rest of the tape: the damage may only show later.
            for later in tape[index + 1 :]:
                if connection.closed:
                    break
                if isinstance(later, Act) and later.role == entry.to:
                    step: Callable[[], Any] = functools.partial(later.do, connection)
                elif isinstance(later, Deliver) and later.to == entry.to:
                    step = functools.partial(connection.receive_data, later.data)
                else:
                    continue
                if call(connection, step) is not None:
                    break
                connection.data_to_send()
    except AssertionError as failure:
        raise FuzzFailure(
            f"fuzz case {description} failed: {failure}\nreproduce with TEACHTLS_FUZZ_CASE={name}:{index}:{case_seed}"
        ) from failure
    return description


# --- the tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_recording_is_deterministic(name: str) -> None:
    """Two runs say the same bytes, and a side rebuilt from the tape answers each
    flight exactly as in the recording: the premise of replaying."""
    tape = tape_of(name)
    assert record_tape(SCENARIOS[name]) == tape
    deliveries = [i for i, entry in enumerate(tape) if isinstance(entry, Deliver)]
    assert len(deliveries) >= 3
    for role in ("client", "server"):
        sent = b"".join(e.data for e in tape if isinstance(e, Deliver) and e.to != role)
        connection = fresh(SCENARIOS[name], role)
        produced = b""
        for entry in tape:
            if isinstance(entry, Act) and entry.role == role:
                entry.do(connection)
            elif isinstance(entry, Deliver) and entry.to == role:
                connection.receive_data(entry.data)
            produced += connection.data_to_send()
        assert produced == sent, role


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_mutated_replays(name: str) -> None:
    seed = SEED ^ zlib.crc32(name.encode())
    print(f"TEACHTLS_FUZZ_SEED={SEED} (scenario {name}: seed {seed}), {FUZZ_SECONDS:g} s in all")
    rng = random.Random(seed)
    tape = tape_of(name)
    deliveries = [i for i, entry in enumerate(tape) if isinstance(entry, Deliver)]
    budget = FUZZ_SECONDS / len(SCENARIOS)
    deadline = time.monotonic() + budget
    cases = 0
    kinds: dict[str, int] = {}
    while cases < len(deliveries) or time.monotonic() < deadline:
        # Each flight at least once, then at random.
        index = deliveries[cases] if cases < len(deliveries) else rng.choice(deliveries)
        description = run_case(name, index, rng.getrandbits(48))
        kind = description.split("(")[1].split(",")[1].strip()
        kinds[kind] = kinds.get(kind, 0) + 1
        cases += 1
    print(f"{cases} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])[:12]))


@pytest.mark.skipif(not os.environ.get("TEACHTLS_FUZZ_CASE"), reason="set TEACHTLS_FUZZ_CASE=scenario:flight:seed")
def test_one_case() -> None:
    """Replay one failing case, named as the failure message names it."""
    name, index, case_seed = os.environ["TEACHTLS_FUZZ_CASE"].split(":")
    print(run_case(name, int(index), int(case_seed)))


def test_the_fuzzer_notices_a_bug() -> None:
    """The rules bite: a handler that crashes (here on EncryptedExtensions) is
    reported as internal_error by the connection, and as a failure by `call`."""

    class Broken(ClientConnection):
        def on_encrypted_extensions(self, message: Any, raw: bytes) -> Any:
            raise KeyError("a bug")

    tape = tape_of("tls13")
    client = Broken(client_config(clock=clock))
    client.start_handshake()
    assert tape[1] == Deliver("server", client.data_to_send())  # the same ClientHello ...
    server_flight = tape[2]
    assert isinstance(server_flight, Deliver) and server_flight.to == "client"
    with pytest.raises(FuzzFailure, match="internal_error"):  # ... and the real answer to it
        call(client, lambda: client.receive_data(server_flight.data))


def test_plaintext_run_and_reframing() -> None:
    records = [build_header(22, 3) + b"abc", build_header(22, 2) + b"de", build_header(20, 1) + b"\x01"]
    assert plaintext_handshake_run(records, True) == (0, 2)
    assert plaintext_handshake_run(records, False) == (0, 0)
    pieces = reframe(b"abcde", random.Random(1))
    assert b"".join(p[HEADER_LENGTH:] for p in pieces) == b"abcde"
