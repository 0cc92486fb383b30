"""DTLS 1.2 (RFC 6347): the datagram foundation and the handshake, in memory.

What is tested, layer by layer (the lossy link has tests/test_dtls_link.py,
the real openssl and GnuTLS binaries tests/test_interop_dtls12.py):

1. the DTLSPlaintext header and datagrams of several records (§4.1, §4.1.1);
2. the anti-replay window (§4.1.2.6);
3. handshake framing: message_seq, fragmentation, reassembly out of order
   and with overlaps (§4.2.2, §4.2.3);
4. the DTLS ClientHello and HelloVerifyRequest, codec round trips (§4.2.1);
5. the stateless cookie (§4.2.1);
6. whole handshakes between a DTLSClientConnection and a
   DTLSServerConnection: cookie exchange, message_seq and record sequence
   rules, the transcript, every cipher suite, resumption, client auth, MTU;
7. timers: retransmission, doubling, the total timeout, set_timeouts;
8. bad datagrams: truncated, wrong epoch, replayed, forged, garbage -- each
   dropped (and traced) as RFC 6347 §4.1.2.7 says, or alerted where TLS's
   handshake rules apply; never a crash;
9. the UDP session (PacketTooLarge on EMSGSIZE) and `teachtls --dtls`;
10. the golden trace tests/golden/traces/dtls12-ecdhe.jsonl
    (`UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_dtls12.py -k golden` rewrites it).
"""

from __future__ import annotations

import errno
import itertools
import os
import select
import socket
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
from handshake_pair import client_config, server_config
from hypothesis import given, settings
from hypothesis import strategies as st

from teachtls.connection import ApplicationData, CloseNotifyReceived, HandshakeCompleted
from teachtls.crypto.suites12 import CipherSuite12
from teachtls.dtls import DTLSClientConnection, DTLSServerConnection, DTLSSettings, PacketTooLarge, framing, record
from teachtls.dtls import cookie as cookies
from teachtls.dtls.flights import RetransmitTimer
from teachtls.dtls.link import DatagramPair, LossyLink, ManualClock
from teachtls.dtls.messages import DTLS1_0, DTLS1_2, DTLSClientHello, HelloVerifyRequest, dtls_message_classes
from teachtls.dtls.replay import ReplayWindow
from teachtls.dtls.scenarios import dtls12_ecdhe
from teachtls.handshake import alerts
from teachtls.handshake.states import State
from teachtls.render.walkthrough import render_walkthrough
from teachtls.sessions import SessionDatabase, StatelessTickets
from teachtls.trace import events as trace
from teachtls.trace.jsonl import dumps_jsonl, load_jsonl
from teachtls.trace.observer import Recorder
from teachtls.wire.codec import DecodeError, build_struct, parse_struct
from teachtls.wire.enums import AlertDescription, ContentType, ExtensionType, HandshakeType, ProtocolVersion
from teachtls.wire.extensions import SupportedVersionsClientHello, find_extension, make_extension
from teachtls.wire.messages import build_handshake, parse_handshake
from tests.golden_traces import check_golden_trace

CLIENT_ADDRESS = b"192.0.2.1:5684"


# --- helpers -----------------------------------------------------------------------------


class Pair(DatagramPair):
    """A `DatagramPair` of a DTLS 1.2 client and server (typed for the tests)."""

    client: DTLSClientConnection
    server: DTLSServerConnection


def make_pair(
    recorder: Recorder | None = None,
    *,
    client: dict[str, Any] | None = None,
    server: dict[str, Any] | None = None,
    mtu: int = 1200,
    cookie_exchange: bool = True,
    link: LossyLink | None = None,
    client_class: type[Any] = DTLSClientConnection,
    server_class: type[Any] = DTLSServerConnection,
) -> Any:
    """A DTLS client and server on one ManualClock, traced into `recorder`
    (DTLS 1.2's classes unless others are given: tests/test_dtls13.py)."""
    recorder = recorder if recorder is not None else Recorder()
    clock = ManualClock()
    client_connection = client_class(
        client_config(observer=recorder, clock=clock, **(client or {})), DTLSSettings(mtu=mtu)
    )
    server_connection = server_class(
        server_config(observer=recorder, clock=clock, **(server or {})),
        DTLSSettings(mtu=mtu, client_address=CLIENT_ADDRESS, cookie_exchange=cookie_exchange),
    )
    return Pair(client_connection, server_connection, link or LossyLink(observer=recorder), clock)


def handshake(pair: Pair) -> Pair:
    pair.handshake()
    return pair


def of_type(events: list[trace.TraceEvent], kind: type, role: str | None = None) -> list[Any]:
    return [e for e in events if type(e) is kind and (role is None or e.role == role)]


def notes(events: list[trace.TraceEvent], role: str | None = None) -> list[str]:
    return [e.text for e in of_type(events, trace.Note, role)]


def app_data(events: list[Any]) -> list[bytes]:
    return [e.data for e in events if isinstance(e, ApplicationData)]


def connected(pair: Pair) -> Pair:
    """A completed handshake, nothing in flight."""
    handshake(pair)
    pair.settle()
    return pair


# --- 1. records ------------------------------------------------------------------------------


def test_dtls_plaintext_header() -> None:
    raw = record.build_record(ContentType.handshake, DTLS1_2, 1, 0x010203040506, b"abc")
    assert raw.hex() == "16fefd00010102030405060003616263"
    (parsed,) = record.split_datagram(raw).records
    assert (parsed.content_type, parsed.version, parsed.epoch, parsed.sequence_number) == (
        22,
        DTLS1_2,
        1,
        0x010203040506,
    )
    assert parsed.fragment == b"abc" and parsed.header == raw[:13]
    # RFC 6347 §4.1.2.1: epoch || sequence_number is TLS's 64-bit seq_num.
    assert parsed.record_number == 0x0001010203040506
    with pytest.raises(ValueError):
        record.build_header(22, DTLS1_2, 0, 2**48, 0)


def test_several_records_in_one_datagram_and_a_truncated_one() -> None:
    first = record.build_record(ContentType.handshake, DTLS1_2, 0, 0, b"one")
    second = record.build_record(ContentType.alert, DTLS1_2, 0, 1, b"\x01\x00")
    split = record.split_datagram(first + second)
    assert [r.raw for r in split.records] == [first, second] and not split.problem
    # "Records may not span datagrams": a cut record is broken, not pending.
    split = record.split_datagram(first + second[:-1])
    assert [r.raw for r in split.records] == [first]
    assert split.leftover == second[:-1] and "announces 2 bytes" in split.problem
    assert "too few" in record.split_datagram(first + b"\x16\xfe").problem


def test_record_spans_cover_the_header() -> None:
    raw = record.build_record(ContentType.handshake, DTLS1_2, 1, 7, b"xyz")
    spans = record.record_spans(raw, protected=True)
    assert [s.path for s in spans] == [
        "DTLSCiphertext.type", "DTLSCiphertext.version", "DTLSCiphertext.epoch",
        "DTLSCiphertext.sequence_number", "DTLSCiphertext.length", "DTLSCiphertext.encrypted_record",
    ]  # fmt: skip
    assert [(s.start, s.end) for s in spans] == [(0, 1), (1, 3), (3, 5), (5, 11), (11, 13), (13, 16)]
    assert spans[1].value == "DTLS1_2" and spans[2].value == "1"


def test_record_events_know_their_epoch() -> None:
    raw = record.build_record(ContentType.handshake, DTLS1_2, 3, 7, b"xyz")
    dtls = trace.RecordSent(role="client", content_type=22, raw=raw, protection="plaintext", sequence_number=7)
    tls = trace.RecordSent(
        role="client", content_type=22, raw=b"\x16\x03\x03\x00\x00", protection="plaintext", sequence_number=0
    )
    assert (dtls.epoch, tls.epoch) == (3, None)


# --- 2. the replay window --------------------------------------------------------------------


def test_replay_window() -> None:
    window = ReplayWindow()
    assert window.check(0) == "new"
    window.mark_received(0)
    assert window.check(0) == "duplicate"
    window.mark_received(5)
    assert [window.check(n) for n in (1, 4, 5, 6)] == ["new", "new", "duplicate", "new"]
    window.mark_received(3)  # reordered: inside the window, new
    assert window.check(3) == "duplicate"
    window.mark_received(100)
    assert window.check(36) == "too old" and window.check(37) == "new"  # 64 numbers: 37..100
    with pytest.raises(ValueError):
        ReplayWindow(16)  # "A minimum window size of 32 MUST be supported"


def test_replay_window_moves_only_after_authentication() -> None:
    window = ReplayWindow()
    window.mark_received(10)
    assert window.check(2**40) == "new"  # a forged number: checked, not marked
    assert window.check(11) == "new" and window.right_edge == 10


# --- 3. handshake framing ---------------------------------------------------------------------


def test_fragmentation_and_out_of_order_reassembly() -> None:
    body = bytes(range(256)) * 3
    message = framing.build_fragment(HandshakeType.certificate, len(body), 2, 0, body)
    pieces = framing.fragment_message(message, 100)
    assert len(pieces) == 8 and all(len(p) <= 12 + 100 for p in pieces)
    fragments = [f for p in pieces for f in framing.parse_fragments(p)]
    assert [f.fragment_offset for f in fragments] == list(range(0, 768, 100))
    reassembler = framing.Reassembler(2)
    for fragment in reversed(fragments):  # the last piece first
        assert reassembler.pop_message() is None
        assert reassembler.add(fragment) == "new"
    assert reassembler.pop_message() == message  # whole, as one fragment (RFC 6347 §4.2.6)
    assert reassembler.next_receive_seq == 3 and not reassembler.waiting


def test_overlapping_and_duplicate_fragments() -> None:
    """RFC 6347 §4.2.3: "DTLS implementations MUST be able to handle overlapping fragment ranges." """
    body = b"0123456789abcdef"
    message = framing.build_fragment(HandshakeType.certificate, 16, 0, 0, body)
    reassembler = framing.Reassembler(0)
    for offset, end in ((0, 6), (4, 10), (4, 10), (8, 16)):
        fragment = framing.HandshakeFragment(
            msg_type=11, length=16, message_seq=0, fragment_offset=offset, body=body[offset:end]
        )
        assert reassembler.add(fragment) == "new"
    assert reassembler.pop_message() == message
    old = framing.HandshakeFragment(msg_type=11, length=16, message_seq=0, fragment_offset=0, body=body)
    assert reassembler.add(old) == "old"  # "the message MUST be discarded"


def test_reassembler_refuses_contradictions_and_distant_messages() -> None:
    reassembler = framing.Reassembler(0)
    first = framing.HandshakeFragment(msg_type=11, length=8, message_seq=0, fragment_offset=0, body=b"abcd")
    assert reassembler.add(first) == "new"
    other_length = attrs.evolve(first, length=9)
    changed = attrs.evolve(first, body=b"abXd")
    assert reassembler.add(other_length) == "conflicting"
    assert reassembler.add(changed) == "conflicting"
    far = attrs.evolve(first, message_seq=framing.MAX_MESSAGES_AHEAD + 1)
    assert reassembler.add(far) == "too far ahead"
    huge = attrs.evolve(first, message_seq=1, length=framing.MAX_MESSAGE_LENGTH + 1)
    assert reassembler.add(huge) == "too long"


def test_empty_message_and_tls_form() -> None:
    server_hello_done = framing.dtls_message(bytes([14, 0, 0, 0]), 4)
    assert server_hello_done.hex() == "0e0000000004000000000000"
    assert framing.fragment_message(server_hello_done, 10) == [server_hello_done]
    assert framing.tls_message(server_hello_done) == bytes([14, 0, 0, 0])
    reassembler = framing.Reassembler(4)
    (fragment,) = framing.parse_fragments(server_hello_done)
    assert reassembler.add(fragment) == "new" and reassembler.pop_message() == server_hello_done


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x0b\x00\x00\x10\x00\x00\x00\x00", "cut short"),
        (framing.build_fragment(11, 4, 0, 0, b"abcd")[:-1], "runs past the record"),
        (framing.build_fragment(11, 4, 0, 2, b"abcd"), "outside the 4-byte message"),
    ],
)
def test_malformed_fragments(content: bytes, problem: str) -> None:
    with pytest.raises(DecodeError, match=problem):
        framing.parse_fragments(content)


@given(st.binary(min_size=0, max_size=600), st.integers(1, 200), st.randoms(use_true_random=False))
@settings(max_examples=60, deadline=None)
def test_any_message_survives_any_fragmentation_and_order(body: bytes, size: int, rng: Any) -> None:
    message = framing.build_fragment(HandshakeType.certificate, len(body), 5, 0, body)
    fragments = [f for p in framing.fragment_message(message, size) for f in framing.parse_fragments(p)]
    fragments += rng.sample(fragments, k=min(2, len(fragments)))  # duplicates
    rng.shuffle(fragments)
    reassembler = framing.Reassembler(5)
    for fragment in fragments:
        reassembler.add(fragment)
    assert reassembler.pop_message() == message


# --- 4. messages ---------------------------------------------------------------------------------


def client_hello(cookie: bytes = b"") -> DTLSClientHello:
    return DTLSClientHello(
        random=bytes(range(32)),
        cookie=cookie,
        cipher_suites=(CipherSuite12.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,),
    )


def test_dtls_client_hello_round_trip_and_spans() -> None:
    hello = client_hello(cookie=b"\xc0" * 32)
    raw = build_handshake(hello)
    parsed, spans = parse_handshake(raw, classes=dtls_message_classes({}))
    assert parsed == hello
    assert [s.path for s in spans][:6] == [
        "ClientHello.msg_type", "ClientHello.length", "ClientHello.legacy_version", "ClientHello.random",
        "ClientHello.legacy_session_id.length", "ClientHello.cookie.length",
    ]  # fmt: skip
    assert raw[4:6] == DTLS1_2.to_bytes(2, "big")
    # the spans tile the message, in the DTLS form too
    dtls_raw = framing.dtls_message(raw, 1)
    dtls_spans = framing.message_spans(dtls_raw, spans)
    assert dtls_spans[0].start == 0 and dtls_spans[-1].end == len(dtls_raw)
    assert all(a.end == b.start for a, b in itertools.pairwise(dtls_spans))
    assert [s.path for s in dtls_spans[:5]] == [
        "ClientHello.msg_type", "ClientHello.length", "ClientHello.message_seq",
        "ClientHello.fragment_offset", "ClientHello.fragment_length",
    ]  # fmt: skip


def test_dtls_client_hello_as_tls_reads_it() -> None:
    """The version is translated, in legacy_version and in supported_versions (RFC 9147 §5.3)."""
    versions = make_extension(
        ExtensionType.supported_versions, SupportedVersionsClientHello((ProtocolVersion.DTLS1_3, DTLS1_2))
    )
    hello = attrs.evolve(client_hello(b"c"), extensions=(versions,))
    tls = hello.to_tls()
    assert tls.legacy_version == ProtocolVersion.TLS1_2
    offered = find_extension(tls.extensions, ExtensionType.supported_versions)
    assert isinstance(offered, SupportedVersionsClientHello)
    assert offered.versions == (ProtocolVersion.TLS1_3, ProtocolVersion.TLS1_2)
    assert DTLSClientHello.from_tls(tls, b"c").legacy_version == DTLS1_2


def test_hello_verify_request_round_trip() -> None:
    message = HelloVerifyRequest(cookie=b"\x01\x02")
    body = build_struct(message)
    assert body.hex() == "feff020102"  # server_version DTLS 1.0, RFC 6347 §4.2.1
    assert parse_struct(body, HelloVerifyRequest)[0] == message
    with pytest.raises(DecodeError):
        parse_struct(body[:-1], HelloVerifyRequest)


# --- 5. cookies --------------------------------------------------------------------------------------


def test_cookie_binds_address_and_client_parameters() -> None:
    secret = b"s" * 32
    hello = client_hello()
    cookie = cookies.make_cookie(secret, CLIENT_ADDRESS, hello)
    assert cookies.cookie_is_valid(secret, CLIENT_ADDRESS, attrs.evolve(hello, cookie=cookie))
    assert not cookies.cookie_is_valid(secret, b"198.51.100.7:5684", attrs.evolve(hello, cookie=cookie))
    assert not cookies.cookie_is_valid(b"t" * 32, CLIENT_ADDRESS, attrs.evolve(hello, cookie=cookie))
    changed = attrs.evolve(hello, random=bytes(32), cookie=cookie)  # "MUST use the same parameter values"
    assert not cookies.cookie_is_valid(secret, CLIENT_ADDRESS, changed)


def test_stateless_check_of_a_first_datagram() -> None:
    secret = b"s" * 32
    hello = client_hello()

    def datagram(message: DTLSClientHello, sequence_number: int, message_seq: int = 0) -> bytes:
        body = build_struct(message)
        handshake = framing.build_fragment(HandshakeType.client_hello, len(body), message_seq, 0, body)
        return record.build_record(ContentType.handshake, DTLS1_2, 0, sequence_number, handshake)

    answer = cookies.check_datagram(datagram(hello, 7), CLIENT_ADDRESS, secret)
    assert answer.action == "verify"
    (reply,) = record.split_datagram(answer.reply).records
    # "the server MUST use the record sequence number in the ClientHello as the
    # record sequence number in the HelloVerifyRequest"
    assert (reply.epoch, reply.sequence_number, reply.version) == (0, 7, DTLS1_0)
    (fragment,) = framing.parse_fragments(reply.fragment)
    verify = parse_struct(fragment.body, HelloVerifyRequest)[0]
    assert (fragment.msg_type, fragment.message_seq) == (HandshakeType.hello_verify_request_RESERVED, 0)
    second = attrs.evolve(hello, cookie=verify.cookie)
    assert cookies.check_datagram(datagram(second, 8, 1), CLIENT_ADDRESS, secret).action == "accept"
    assert cookies.check_datagram(datagram(second, 8, 1), b"10.0.0.1:1", secret).action == "verify"
    assert cookies.check_datagram(b"\x17\xfe\xfd" + bytes(20), CLIENT_ADDRESS, secret).action == "ignore"
    assert cookies.check_datagram(b"hello", CLIENT_ADDRESS, secret).action == "ignore"


# --- 6. handshakes in memory -----------------------------------------------------------------------


def test_handshake_with_cookie_exchange() -> None:
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    (client_done,) = [e for e in pair.events["client"] if isinstance(e, HandshakeCompleted)]
    assert client_done.version == "DTLS 1.2"
    assert client_done.cipher_suite == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    events = recorder.events
    sent = [(e.role, e.name) for e in of_type(events, trace.MessageSent)]
    assert sent == [
        ("client", "ClientHello"), ("server", "HelloVerifyRequest"), ("client", "ClientHello"),
        ("server", "ServerHello"), ("server", "Certificate"), ("server", "ServerKeyExchange"),
        ("server", "ServerHelloDone"), ("client", "ClientKeyExchange"), ("client", "Finished"),
        ("server", "Finished"),
    ]  # fmt: skip
    # message_seq: each side counts from 0; the server's ServerHello takes the
    # second ClientHello's (RFC 6347 §4.2.2's example: both are 1).
    seqs = [(e.role, e.name, framing.message_seq_of(e.raw)) for e in of_type(events, trace.MessageSent)]
    assert seqs[1:4] == [
        ("server", "HelloVerifyRequest", 0),
        ("client", "ClientHello", 1),
        ("server", "ServerHello", 1),
    ]
    # The server keeps no state from the first ClientHello: its machine stayed in START.
    (stay,) = [e for e in of_type(events, trace.StateChanged, "server") if e.old_state == e.new_state]
    assert (stay.new_state, stay.machine) == ("START", "dtls_server12")
    (choice,) = [e for e in of_type(events, trace.ChoiceMade, "server") if e.subject == "cookie"]
    assert "denial-of-service" in choice.reason and choice.rfc == "RFC 6347 §4.2.1"
    # Epochs: ChangeCipherSpec is the last epoch-0 record of each side, Finished the first of epoch 1.
    for role in ("client", "server"):
        records = [(r.epoch, r.content_type, r.sequence_number) for r in of_type(events, trace.RecordSent, role)]
        ccs = next(i for i, r in enumerate(records) if r[1] == ContentType.change_cipher_spec)
        assert records[ccs][0] == 0 and records[ccs + 1] == (1, ContentType.handshake, 0)


def test_record_sequence_numbers_follow_the_client_hello() -> None:
    """RFC 6347 §4.2.1: the HelloVerifyRequest and the first ServerHello take the
    record sequence number of the ClientHello they answer."""
    recorder = Recorder()
    connected(make_pair(recorder))
    received = [(r.role, r.sequence_number) for r in of_type(recorder.events, trace.RecordReceived, "server")]
    sent = [(r.sequence_number, r.raw) for r in of_type(recorder.events, trace.RecordSent, "server")]
    assert received[0] == ("server", 0) and sent[0][0] == 0  # ClientHello1 -> HelloVerifyRequest
    assert received[1] == ("server", 1) and sent[1][0] == 1  # ClientHello2 -> ServerHello


def test_transcript_leaves_out_the_cookie_exchange() -> None:
    """RFC 6347 §4.2.6: Finished covers ClientHello2 onwards, in the DTLS form
    (message_seq included); both sides agree, so both Finished verify."""
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    assert all(e.ok for e in of_type(recorder.events, trace.FinishedVerified))
    hashes = {e.transcript_hash for e in of_type(recorder.events, trace.FinishedComputed)}
    assert len(hashes) == 2  # client Finished over ..ClientKeyExchange, server's over ..client Finished
    assert pair.client.handshake_messages[0][12:14] == DTLS1_2.to_bytes(2, "big")  # a DTLS ClientHello
    assert framing.message_seq_of(pair.client.handshake_messages[0]) == 1  # ClientHello2, not ClientHello1


def test_handshake_without_cookie_exchange() -> None:
    recorder = Recorder()
    connected(make_pair(recorder, cookie_exchange=False))
    sent = [(e.name, framing.message_seq_of(e.raw)) for e in of_type(recorder.events, trace.MessageSent, "server")]
    assert sent[0] == ("ServerHello", 0)


@pytest.mark.parametrize(
    "suite",
    [
        CipherSuite12.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite12.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite12.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite12.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
    ],
)
def test_every_cipher_suite_carries_data(suite: CipherSuite12) -> None:
    teaching = suite.name.endswith(("CBC_SHA256", "CBC_SHA"))
    settings_ = {"cipher_suites_12": (suite,), "legacy_suites_for_teaching": teaching}
    pair = connected(make_pair(client=settings_, server=settings_, mtu=300))
    assert pair.client.params12 is not None and pair.client.params12.suite == suite
    pair.client.send_application_data(b"x" * pair.client.get_data_mtu())
    pair.server.send_application_data(b"pong")
    pair.settle()
    assert app_data(pair.events["server"]) == [b"x" * pair.client.get_data_mtu()]
    assert app_data(pair.events["client"]) == [b"pong"]
    assert all(len(d) <= 300 for d in pair.client.datagrams_to_send() + pair.server.datagrams_to_send())


def test_small_mtu_fragments_every_flight() -> None:
    recorder = Recorder()
    pair = make_pair(recorder, mtu=128)
    sizes: list[int] = []
    original = pair.link.send

    def measuring(sender: str, payload: bytes) -> None:
        sizes.append(len(payload))
        original(sender, payload)

    pair.link.send = measuring  # type: ignore[method-assign]
    connected(pair)
    assert max(sizes) <= 128
    fragments = [n for n in notes(recorder.events, "client") if n.startswith("fragment of Certificate")]
    assert len(fragments) >= 3


def test_resumption_with_a_session_ticket() -> None:
    store = StatelessTickets(os.urandom, time.time)
    server_settings = {"session_store": store, "session_tickets": 1}
    first = connected(make_pair(server=server_settings))
    saved = first.client.get_session_data()
    recorder = Recorder()
    second = make_pair(recorder, server=server_settings)
    second.client.set_session_data(saved)
    connected(second)
    assert second.client.resumed and second.server.resumed
    # Resumed: the server sends ServerHello, [NewSessionTicket], ChangeCipherSpec, Finished; the client answers.
    assert [e.name for e in of_type(recorder.events, trace.MessageSent, "client")] == [
        "ClientHello",
        "ClientHello",
        "Finished",
    ]


def test_resumption_by_session_id() -> None:
    server_settings = {"session_id_cache": SessionDatabase(os.urandom)}
    first = connected(make_pair(server=server_settings))
    second = make_pair(server=server_settings)
    second.client.set_session_data(first.client.get_session_data())
    assert connected(second).client.resumed


def test_client_authentication() -> None:
    from handshake_pair import pki

    from teachtls.pki.generate import issue_leaf

    ca, _ = pki()
    leaf = issue_leaf(ca, "client", dns_names=["client"], key_type="ed25519", server=False)
    client_settings = {"certificate_chain": (leaf.certificate,), "private_key": leaf.private_key}
    server_settings = {"client_auth": "require", "trusted_certificates": (ca.certificate,)}
    recorder = Recorder()
    pair = connected(make_pair(recorder, client=client_settings, server=server_settings))
    assert pair.server.peer_certificates
    assert [e.name for e in of_type(recorder.events, trace.MessageSent, "client")][2:] == [
        "Certificate", "ClientKeyExchange", "CertificateVerify", "Finished",
    ]  # fmt: skip


def test_application_data_both_ways_and_close() -> None:
    pair = connected(make_pair())
    pair.client.send_application_data(b"ping")
    pair.settle()
    pair.server.send_application_data(b"pong")
    pair.settle()
    pair.client.close()
    pair.settle()
    assert app_data(pair.events["server"]) == [b"ping"] and app_data(pair.events["client"]) == [b"pong"]
    assert any(isinstance(e, CloseNotifyReceived) for e in pair.events["server"])


def test_packet_too_large_is_not_fatal() -> None:
    """GNUTLS_E_LARGE_PACKET: data that does not fit the MTU raises, nothing is queued."""
    pair = connected(make_pair(mtu=200))
    limit = pair.client.get_data_mtu()
    assert limit == 200 - 13 - 8 - 16  # header, GCM nonce_explicit, tag
    with pytest.raises(PacketTooLarge) as caught:
        pair.client.send_application_data(b"x" * (limit + 1))
    assert caught.value.mtu == 200 and "send less at a time, or raise the MTU" in str(caught.value)
    assert pair.client.datagrams_to_send() == []
    pair.client.send_application_data(b"x" * limit)
    (datagram,) = pair.client.datagrams_to_send()
    assert len(datagram) == 200
    with pytest.raises(ValueError):
        pair.client.set_mtu(10)


def test_packet_too_large_is_not_fatal_for_the_session_layer() -> None:
    from teachtls.net.nonblocking import is_fatal

    assert not is_fatal(PacketTooLarge(2000, 1200))


# --- 7. timers --------------------------------------------------------------------------------------


def test_retransmit_timer_doubles_up_to_sixty_seconds() -> None:
    timer = RetransmitTimer()
    values = []
    for _ in range(9):
        values.append(timer.current)
        timer.back_off()
    assert values == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    timer.reset_value()
    assert timer.current == 1


def test_lost_client_hello_is_retransmitted_after_one_second() -> None:
    recorder = Recorder()
    pair = make_pair(recorder, link=LossyLink(drop_numbers={1}, observer=recorder))
    client, clock = pair.client, pair.clock
    assert clock is not None
    client.start_handshake()
    start = clock()
    pair.step()  # the ClientHello is lost
    assert client.next_timeout() == start + 1
    client.handle_timeout()  # too early: nothing happens
    assert client.datagrams_to_send() == []
    clock.advance(1)
    client.handle_timeout()
    (again,) = client.datagrams_to_send()
    assert client.next_timeout() == clock() + 2  # doubled
    assert "retransmitting flight 1 (ClientHello): no answer within 1 s; next timeout in 2 s" in notes(recorder.events)
    client_hellos = [r for r in of_type(recorder.events, trace.RecordSent, "client")]
    assert [r.sequence_number for r in client_hellos] == [0, 1]  # "the retransmission is a new record"
    pair.link.send("client", again)
    pair.run(lambda: pair.client.handshake_complete and pair.server.handshake_complete)


def test_total_timeout_ends_the_handshake() -> None:
    """gnutls_dtls_set_timeouts(retransmit, total): give up after `total`."""
    pair = make_pair(link=LossyLink(drop=1.0))
    pair.client.set_timeouts(500, 3000)
    with pytest.raises(alerts.HandshakeTimeout):
        pair.handshake()
    assert pair.client.closed and pair.client.next_timeout() is None
    assert pair.clock is not None and pair.client.handshake_started_at is not None
    # retransmissions after 0.5 and 1.5 s; the next would be at 3.5 s, but the end comes at 3 s
    assert pair.clock() - pair.client.handshake_started_at == 3.0
    assert pair.timeouts == 3


def test_server_without_a_client_has_no_timer() -> None:
    """RFC 6347 §4.2.4: "DTLS servers start in the WAITING state, but with empty buffers and no retransmit timer"."""
    pair = make_pair()
    assert pair.server.next_timeout() is None
    pair.client.start_handshake()
    pair.step()  # ClientHello -> HelloVerifyRequest: stateless, no timer either
    assert pair.server.next_timeout() is None and pair.server.state is State.START


def test_finished_side_holds_its_last_flight_without_a_timer() -> None:
    pair = connected(make_pair())
    assert pair.server.next_timeout() is None and pair.client.next_timeout() is None
    assert pair.server.flight is not None and pair.server.flight.names == "ChangeCipherSpec, Finished"
    assert pair.client.flight is None  # it received the last flight: nothing to hold


# --- 8. bad datagrams ---------------------------------------------------------------------------------


def deliver_to_server(pair: Pair, datagram: bytes) -> list[Any]:
    return pair.server.receive_datagram(datagram)


def protected_client_record(pair: Pair, data: bytes = b"hello") -> bytes:
    pair.client.send_application_data(data)
    (datagram,) = pair.client.datagrams_to_send()
    return datagram


def test_replayed_datagram_is_discarded() -> None:
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    datagram = protected_client_record(pair)
    assert app_data(deliver_to_server(pair, datagram)) == [b"hello"]
    assert deliver_to_server(pair, datagram) == []  # the replay: dropped, not fatal
    assert "replayed: sequence number 1 of epoch 1 was received already" in notes(recorder.events, "server")[-1]
    assert not pair.server.closed


def test_forged_record_is_discarded_silently() -> None:
    """RFC 6347 §4.1.2.7: bad MAC -> "silently discarded, thus preserving the association"."""
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    datagram = bytearray(protected_client_record(pair))
    datagram[-1] ^= 1
    assert deliver_to_server(pair, bytes(datagram)) == []
    assert "failed authentication" in notes(recorder.events, "server")[-1]
    assert not of_type(recorder.events, trace.AlertSent, "server")
    # The window did not move: the genuine record with that number still counts.
    datagram[-1] ^= 1
    assert app_data(deliver_to_server(pair, bytes(datagram))) == [b"hello"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r[:3] + b"\x00\x05" + r[5:], "epoch 5 is not in use"),
        (lambda r: r[:1] + b"\x03\x03" + r[3:], "is not a DTLS version"),
        (lambda r: b"\x63" + r[1:], "unknown content type 99"),
        (lambda r: r[:-3], "the record header announces"),
        (lambda r: r[:10], "too few for a 13-byte record header"),
    ],
)
def test_bad_records_are_discarded(change: Any, reason: str) -> None:
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    datagram = protected_client_record(pair)
    assert deliver_to_server(pair, change(datagram)) == []
    assert reason in notes(recorder.events, "server")[-1]
    assert not pair.server.closed
    assert app_data(deliver_to_server(pair, protected_client_record(pair, b"still here"))) == [b"still here"]


def test_plaintext_alert_from_an_old_epoch_is_discarded() -> None:
    """A forged close_notify in epoch 0 after the handshake must not end the association."""
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    forged = record.build_record(ContentType.alert, DTLS1_2, 0, 50, bytes([2, AlertDescription.handshake_failure]))
    assert deliver_to_server(pair, forged) == []
    assert not pair.server.closed and "epoch 0 ended with the handshake" in notes(recorder.events, "server")[-1]


def test_malformed_handshake_message_is_alerted() -> None:
    """A complete message that does not decode: the TLS rule, a fatal decode_error."""
    pair = make_pair()
    pair.client.start_handshake()
    body = b"\xfe\xfd" + bytes(10)  # a ClientHello cut short
    forged = framing.build_fragment(HandshakeType.client_hello, len(body), 0, 0, body)
    with pytest.raises(alerts.DecodeError):
        pair.server.receive_datagram(record.build_record(ContentType.handshake, DTLS1_2, 0, 0, forged))
    assert pair.server.closed
    (alert,) = record.split_datagram(pair.server.datagrams_to_send()[0]).records
    assert alert.content_type == ContentType.alert and alert.fragment == bytes([2, AlertDescription.decode_error])


def test_application_data_in_epoch_zero_is_discarded() -> None:
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    plain = record.build_record(ContentType.application_data, DTLS1_2, 0, 60, b"not protected")
    assert deliver_to_server(pair, plain) == []


@given(st.binary(max_size=300))
@settings(max_examples=80, deadline=None)
def test_garbage_never_crashes(garbage: bytes) -> None:
    """Any bytes at all: discarded, or (a well-framed but bad handshake message) a clean alert."""
    for role in ("client", "server"):
        pair = make_pair()
        pair.client.start_handshake()
        if role == "client":
            pair.step()
        connection = pair.connection(role)
        try:
            connection.receive_datagram(garbage)
        except alerts.InternalError:
            raise
        except alerts.TLSError:
            assert connection.closed


def test_garbage_in_every_epoch_of_a_real_handshake() -> None:
    """Flip one byte in each datagram of a handshake, one at a time: never a crash."""
    clean = make_pair()
    clean.client.start_handshake()
    datagrams: list[tuple[str, bytes]] = []
    original = clean.link.send

    def keep(sender: str, payload: bytes) -> None:
        datagrams.append((sender, payload))
        original(sender, payload)

    clean.link.send = keep  # type: ignore[method-assign]
    connected(clean)
    outcomes = set()
    for index, (_, original_payload) in enumerate(datagrams):
        for position in (20, 60, len(original_payload) - 1):
            pair = make_pair()

            def corrupt(
                sender: str, payload: bytes, *, _pair: DatagramPair = pair, _at: tuple[int, int] = (index, position)
            ) -> None:
                if _pair.link.sent == _at[0]:  # the datagram numbered `index` (from 0)
                    at = _at[1] % len(payload)
                    payload = payload[:at] + bytes([payload[at] ^ 0xFF]) + payload[at + 1 :]
                LossyLink.send(_pair.link, sender, payload)

            pair.link.send = corrupt  # type: ignore[method-assign]
            try:
                pair.handshake()
                outcomes.add("recovered")
            except alerts.InternalError:
                raise
            except alerts.TLSError:
                outcomes.add("alerted")  # a corrupted plaintext handshake message: alerted, as TLS does
    assert outcomes == {"recovered", "alerted"}


# --- 9. the UDP session and the command line ------------------------------------------------------------


def test_emsgsize_is_packet_too_large() -> None:
    """The operating system refuses an over-long datagram: PacketTooLarge, not fatal."""
    from teachtls.net.udp import DTLSSession

    class RefusingSocket:
        def send(self, data: bytes) -> int:
            raise OSError(errno.EMSGSIZE, "Message too long")

        def close(self) -> None:
            pass

    connection = DTLSClientConnection(client_config())
    session = DTLSSession(RefusingSocket(), connection)  # type: ignore[arg-type]
    connection.start_handshake()
    with pytest.raises(PacketTooLarge, match="EMSGSIZE"):
        session._write_pending()
    assert not session.closed and not connection.closed


def test_real_udp_emsgsize(tmp_path: Path) -> None:
    """On loopback a UDP datagram over 65507 bytes fails with EMSGSIZE."""
    from teachtls.net.udp import DTLSSession, serve_dtls_in_thread

    with serve_dtls_in_thread("127.0.0.1", 0, server_config()) as running:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(5)
        sock.connect(("127.0.0.1", running.port))
        session = DTLSSession(sock, DTLSClientConnection(client_config(), DTLSSettings(mtu=65535)))
        session.handshake()
        for _ in range(4):  # four records of 16380 bytes: one 65520-byte datagram, over IPv4's 65507
            session.connection.send_application_data(b"x" * 16343)
        with pytest.raises(PacketTooLarge):
            session._write_pending()
        session.set_mtu(1200)
        assert session.send(b"small") == 5 and session.recv() == b"small"
        session.close()


def test_a_rebooted_client_replaces_its_association() -> None:
    """RFC 6347 §4.2.8: a new epoch-0 ClientHello from the address of an established
    association; after the cookie exchange the server starts over with it."""
    from teachtls.net.udp import DTLSSession, serve_dtls_in_thread

    log: list[str] = []
    with serve_dtls_in_thread("127.0.0.1", 0, server_config(), log=log.append) as running:
        local_port = 0
        for attempt in range(2):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", local_port))
            local_port = sock.getsockname()[1]
            sock.settimeout(5)
            sock.connect(("127.0.0.1", running.port))
            session = DTLSSession(sock, DTLSClientConnection(client_config(random=os.urandom)))
            session.handshake()
            session.send(b"attempt %d" % attempt)
            assert session.recv() == b"attempt %d" % attempt
            session._hang_up()  # "reboot": no close_notify, same address next time
        assert len(running.server.completed) == 2
    assert any("started a new handshake (RFC 6347 §4.2.8)" in line for line in log)


def test_cli_connect_and_serve_dtls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`teachtls serve --dtls` (in a subprocess) answers `teachtls connect --dtls`."""
    import subprocess

    from handshake_pair import pki

    from teachtls.cli import main

    ca, leaf = pki()
    cert, key, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    leaf.write(cert, key)
    ca_file.write_bytes(ca.certificate_pem())
    server = subprocess.Popen(
        [sys.executable, "-m", "teachtls", "serve", "--dtls", "--port", "0", "--cert", str(cert), "--key", str(key),
         "--trace-dir", str(tmp_path / "traces"), "--mtu", "400"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 20)
        assert ready, "teachtls serve --dtls did not start"
        line = server.stdout.readline()
        assert "listening on dtls://127.0.0.1:" in line
        port = line.split("127.0.0.1:")[1].split("/")[0]
        code = main(["connect", "--dtls", f"127.0.0.1:{port}", "--servername", "localhost", "--cafile", str(ca_file),
                     "--trace", str(tmp_path / "client.jsonl"), "--timeout", "5", "--mtu", "400"])  # fmt: skip
        out = capsys.readouterr().out
        assert code == 0 and "HTTP/1.0 200 OK" in out and "Hello from teachtls over DTLS 1.2." in out
        received = [
            event.name for event in load_jsonl(tmp_path / "client.jsonl") if isinstance(event, trace.MessageReceived)
        ]
        assert "HelloVerifyRequest" in received
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert (tmp_path / "traces" / "connection-1.jsonl").exists()


# --- 10. the golden trace ---------------------------------------------------------------------------------


def test_golden_trace_is_deterministic() -> None:
    assert dumps_jsonl(dtls12_ecdhe()) == dumps_jsonl(dtls12_ecdhe())


def test_golden_trace() -> None:
    events = dtls12_ecdhe()
    check_golden_trace(events, "dtls12-ecdhe")


def test_walkthrough_tells_the_dtls_story() -> None:
    text = render_walkthrough(dtls12_ecdhe())
    assert text.startswith("DTLS walkthrough")
    for expected in (
        "HelloVerifyRequest",
        "denial-of-service defence",
        "record sent: handshake, 189 bytes, epoch 0, seq 1, plaintext",
        "write epoch 1 begins",
        "Handshake complete: DTLS 1.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ):
        assert expected in text, expected
