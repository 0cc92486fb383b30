"""DTLS 1.3 (RFC 9147) in memory: record layer, cookie, ACKs, KeyUpdate, lossy links, bad datagrams.

What is tested (the wolfSSL capture, a known answer for the record layer and
the key schedule, has tests/test_dtls13_capture.py):

1. the unified header: building, splitting datagrams of mixed records,
   sequence number reconstruction (§4, §4.2.2), ACK and cookie codecs;
2. whole handshakes between DTLS13ClientConnection and DTLS13ServerConnection:
   the stateless HelloRetryRequest cookie (§5.1), epochs 0/2/3 (§6.1), the
   TLS-form transcript (§5.2), every cipher suite (AES and ChaCha20 record
   number encryption), small MTUs, NewSessionTicket and resumption;
3. ACKs and retransmission (§5.8, §7): the server ACKs the client's last
   flight, partial acknowledgement, lost ACKs answered again;
4. KeyUpdate with ACK (§8);
5. lossy links (several seeds) that drop, duplicate and reorder datagrams;
6. bad datagrams -- truncated, wrong epoch, replayed, forged, unprotected
   messages that must be protected -- dropped and traced (§4.5.2), or
   alerted where the RFC says so (a non-empty legacy_cookie, a bad cookie);
7. the golden trace tests/golden/traces/dtls13.jsonl
   (`UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_dtls13.py -k golden` rewrites it);
8. over UDP: the session, the two-version server, `teachtls --dtls --tls-version 1.3`.
"""

from __future__ import annotations

import os
import select
import shutil
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
from test_dtls12 import app_data, notes, of_type
from test_dtls12 import make_pair as dtls12_pair

from teachtls.connection import ApplicationData, HandshakeCompleted, KeyUpdated
from teachtls.dtls import framing, record, record13
from teachtls.dtls.ack import Ack, Piece, RecordNumber, SentPieces, build_ack, parse_ack
from teachtls.dtls.connection import DTLSSettings
from teachtls.dtls.cookie13 import CookieContents, make_cookie, open_cookie, peek_client_hello
from teachtls.dtls.dtls13 import DTLS13ClientConnection, DTLS13ServerConnection
from teachtls.dtls.link import DatagramPair, LossyLink
from teachtls.dtls.messages import DTLS1_2, DTLS1_3, DTLSClientHello
from teachtls.dtls.scenarios import converse, dtls13, dtls13_lossy
from teachtls.handshake import alerts
from teachtls.handshake.states import State
from teachtls.render.walkthrough import render_walkthrough
from teachtls.sessions import StatelessTickets
from teachtls.trace import events as trace
from teachtls.trace.jsonl import dumps_jsonl, load_jsonl
from teachtls.trace.observer import Recorder
from teachtls.wire.codec import DecodeError, build_struct
from teachtls.wire.enums import AlertDescription, CipherSuite, ContentType, ExtensionType, HandshakeType, NamedGroup
from teachtls.wire.extensions import SupportedVersionsClientHello, find_extension
from teachtls.wire.messages import KeyUpdate
from tests.golden_traces import check_golden_trace

CLIENT_ADDRESS = b"192.0.2.1:5684"


class Pair(DatagramPair):
    client: DTLS13ClientConnection
    server: DTLS13ServerConnection


def make_pair(recorder: Recorder | None = None, **options: Any) -> Pair:
    """The DTLS 1.2 tests' pair (the same options), of DTLS 1.3 connections."""
    pair: Pair = dtls12_pair(
        recorder, client_class=DTLS13ClientConnection, server_class=DTLS13ServerConnection, **options
    )
    return pair


def connected(pair: Pair) -> Pair:
    pair.handshake()
    pair.settle()
    return pair


def sent_records(events: list[trace.TraceEvent], role: str) -> list[trace.RecordSent]:
    return of_type(events, trace.RecordSent, role)


def inner_types(events: list[trace.TraceEvent], role: str) -> list[int | None]:
    return [r.inner_content_type or r.content_type for r in sent_records(events, role)]


# --- 1. codecs ---------------------------------------------------------------------------------------------


def test_unified_header_layout() -> None:
    header = record13.build_unified_header(epoch=6, sequence_number=0x12345, length=300)
    assert header == bytes([0b00101110, 0x23, 0x45, 0x01, 0x2C])  # 001 C=0 S=1 L=1, epoch bits 10
    short = record13.build_unified_header(epoch=3, sequence_number=0x1FF, length=0, sequence_length=1)
    assert short[0] == 0b00100111 and short[1] == 0xFF


def test_split_datagram_with_every_kind_of_record() -> None:
    plaintext = record.build_record(ContentType.handshake, DTLS1_2, 0, 7, b"\x01" * 5)
    with_length = record13.build_unified_header(2, 9, 20) + bytes(20)
    eight_bit_no_length = bytes([0b00100011, 0x09]) + bytes(30)  # S=0, L=0: runs to the end
    split = record13.split_datagram(plaintext + with_length + eight_bit_no_length)
    assert not split.problem
    first, second, third = split.records
    assert type(first) is record.DTLSRecord and first.sequence_number == 7
    assert isinstance(second, record13.DTLSCiphertextRecord) and second.epoch_bits == 2 and second.header_length == 5
    assert isinstance(third, record13.DTLSCiphertextRecord)
    assert third.epoch_bits == 3 and third.header_length == 2 and len(third.fragment) == 30


@pytest.mark.parametrize(
    ("datagram", "problem"),
    [
        (bytes([0b00101110, 1]), "too few for a 5-byte unified header"),
        (record13.build_unified_header(2, 0, 50) + bytes(10), "announces 50 bytes, the datagram holds 10"),
        (bytes([0b00111110]) + bytes(40), "connection ID"),
        (b"\x16\xfe\xfd", "too few for a 13-byte record header"),
    ],
)
def test_truncated_and_unframeable_records(datagram: bytes, problem: str) -> None:
    split = record13.split_datagram(datagram)
    assert split.records == () and problem in split.problem and split.leftover == datagram


@pytest.mark.parametrize(
    ("expected", "low_bits", "bit_length", "full"),
    [
        (0, 0, 16, 0),
        (5, 5, 8, 5),
        (0x1FE, 0x01, 8, 0x201),  # just past a wrap: closer than 0x101
        (0x201, 0xFF, 8, 0x1FF),  # a late record from before the wrap
        (0x10000, 0xFFFF, 16, 0xFFFF),
        (3, 0xF0, 8, 0xF0),  # nothing below 0 to choose
    ],
)
def test_sequence_number_reconstruction(expected: int, low_bits: int, bit_length: int, full: int) -> None:
    """RFC 9147 §4.2.2: "numerically closest to one plus the sequence number of the highest ... record"."""
    assert record13.reconstruct_sequence_number(expected, low_bits, bit_length) == full


def test_ack_codec_and_sent_pieces() -> None:
    numbers = [RecordNumber(epoch=3, sequence_number=1), RecordNumber(epoch=2, sequence_number=7)]
    raw = build_ack(numbers)
    assert raw == b"\x00\x20" + (2).to_bytes(8, "big") + (7).to_bytes(8, "big") + (3).to_bytes(8, "big") + (1).to_bytes(
        8, "big"
    )
    assert parse_ack(raw) == Ack(record_numbers=tuple(sorted(numbers)))  # "in numerically increasing order"
    assert parse_ack(b"\x00\x00").record_numbers == ()
    with pytest.raises(DecodeError):
        parse_ack(b"\x00\x10" + bytes(15))
    pieces = SentPieces()
    pieces.sent(RecordNumber(epoch=2, sequence_number=0), Piece(1, 0, 400))
    pieces.sent(RecordNumber(epoch=2, sequence_number=1), Piece(1, 400, 800))
    pieces.sent(RecordNumber(epoch=2, sequence_number=2), Piece(1, 800, 900))
    assert pieces.acknowledge([RecordNumber(epoch=2, sequence_number=1), RecordNumber(epoch=9, sequence_number=9)])
    assert pieces.missing(1, 900) == [(0, 400), (800, 900)]
    assert pieces.acknowledge([RecordNumber(epoch=2, sequence_number=1)]) == []  # nothing new
    pieces.acknowledge([RecordNumber(epoch=2, sequence_number=0), RecordNumber(epoch=2, sequence_number=2)])
    assert pieces.is_acknowledged(1, 900)


def test_cookie_binds_the_address_and_its_contents() -> None:
    contents = CookieContents(cipher_suite=0x1301, selected_group=NamedGroup.secp256r1, client_hello1_hash=bytes(32))
    cookie = make_cookie(b"secret", CLIENT_ADDRESS, contents)
    assert open_cookie(b"secret", CLIENT_ADDRESS, cookie) == contents
    assert open_cookie(b"secret", b"198.51.100.7:5684", cookie) is None  # another address
    assert open_cookie(b"other secret", CLIENT_ADDRESS, cookie) is None
    tampered = bytearray(cookie)
    tampered[1] ^= 1  # another cipher suite
    assert open_cookie(b"secret", CLIENT_ADDRESS, bytes(tampered)) is None
    assert open_cookie(b"secret", CLIENT_ADDRESS, b"short") is None


# --- 2. handshakes -----------------------------------------------------------------------------------------


def test_handshake_with_stateless_cookie_exchange() -> None:
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    for role in ("client", "server"):
        (completed,) = [e for e in pair.events[role] if isinstance(e, HandshakeCompleted)]
        assert completed.version == "DTLS 1.3" and completed.hello_retry
    sent = [(e.role, e.name) for e in of_type(recorder.events, trace.MessageSent)]
    assert sent == [
        ("client", "ClientHello"),
        ("server", "HelloRetryRequest"),
        ("client", "ClientHello"),
        ("server", "ServerHello"),
        ("server", "EncryptedExtensions"),
        ("server", "Certificate"),
        ("server", "CertificateVerify"),
        ("server", "Finished"),
        ("client", "Finished"),
    ]
    (choice,) = [e for e in of_type(recorder.events, trace.ChoiceMade, "server") if e.subject == "cookie"]
    assert "denial-of-service defence" in choice.reason and "keep no state" in choice.reason
    # message_seq: the client counts 0, 1, 2; the server mirrors the ClientHello it answers
    message_seqs = [(e.role, framing.message_seq_of(e.raw)) for e in of_type(recorder.events, trace.MessageSent)]
    assert message_seqs[:4] == [("client", 0), ("server", 0), ("client", 1), ("server", 1)]
    assert message_seqs[-1] == ("client", 2)
    # RFC 9147 §5.7: the server ACKs the client's final flight
    assert inner_types(recorder.events, "server")[-1] == record13.ACK
    assert pair.client.flight is None and pair.client.next_timeout() is None


def test_the_server_forgets_a_client_hello_it_answers_with_a_cookie() -> None:
    pair = make_pair()
    pair.client.start_handshake()
    (client_hello,) = pair.client.datagrams_to_send()
    pair.server.receive_datagram(client_hello)
    server = pair.server
    assert server.state is State.START and server.next_timeout() is None and server.flight is None
    assert server.client_hello is None and server.cipher_suite is None and server.secrets == {}
    assert server.handshake_started_at is None and server.reassembler.next_receive_seq is None
    # ... and says the same thing again to the same ClientHello: nothing was kept
    first = server.datagrams_to_send()
    server.receive_datagram(client_hello)
    assert server.datagrams_to_send() == first


def test_records_carry_epochs_by_purpose() -> None:
    """RFC 9147 §6.1: 0 plaintext, 2 handshake keys, 3 application keys."""
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    pair.client.send_application_data(b"ping")
    pair.settle()
    seen = {(r.role, r.protection, r.epoch) for r in of_type(recorder.events, trace.RecordSent)}
    assert seen == {
        ("client", "plaintext", 0),
        ("server", "plaintext", 0),
        ("client", "handshake", 2),
        ("server", "handshake", 2),
        ("client", "application", 3),
        ("server", "application", 3),  # the ACK of the client's Finished
    }
    for r in of_type(recorder.events, trace.RecordSent):
        if r.protection == "plaintext":
            assert r.raw[1:3] == b"\xfe\xfd"  # legacy_record_version {254, 253}
        else:
            assert record13.is_unified_header(r.raw[0]) and len(r.raw) == 5 + len(r.plaintext) + 1 + 16
    assert pair.client.read_epochs.keys() == {0, 2, 3} and pair.client.write_epoch == 3


def test_hellos_say_dtls_1_3_and_the_transcript_is_tls_form() -> None:
    recorder = Recorder()
    pair = connected(make_pair(recorder, cookie_exchange=False))
    client_hello, server_hello = [e for e in of_type(recorder.events, trace.MessageSent)][:2]
    hello = peek_client_hello(sent_records(recorder.events, "client")[0].raw)
    assert hello is not None
    message, message_seq = hello
    assert isinstance(message, DTLSClientHello) and message_seq == 0
    assert message.legacy_version == DTLS1_2 and message.cookie == b"" and message.legacy_session_id == b""
    versions = find_extension(message.extensions, ExtensionType.supported_versions)
    assert isinstance(versions, SupportedVersionsClientHello) and versions.versions == (DTLS1_3,)
    assert server_hello.raw[12:14] == b"\xfe\xfd"
    assert b"\x00\x2b\x00\x02\xfe\xfc" in server_hello.raw  # supported_versions: DTLS 1.3
    # RFC 9147 §5.2: the transcript has the 4-byte headers only
    (through_server_hello,) = [
        e
        for e in of_type(recorder.events, trace.SecretDerived, "client")
        if e.name == "client_handshake_traffic_secret"
    ]
    tls_forms = framing.tls_message(client_hello.raw) + framing.tls_message(server_hello.raw)
    assert through_server_hello.transcript_hash == pair.client.hash_alg.digest(tls_forms)


def test_labels_use_the_dtls13_prefix() -> None:
    """Key separation from TLS 1.3 (RFC 9147 §5.9): the same inputs, other keys."""
    recorder = Recorder()
    connected(make_pair(recorder))
    sn_keys = [e for e in of_type(recorder.events, trace.SecretDerived) if e.name.endswith("_sn_key")]
    assert {e.name for e in sn_keys} == {"client_sn_key", "server_sn_key"} and {e.label for e in sn_keys} == {"sn"}
    from teachtls.keyschedule import tls13 as keyschedule

    (installed,) = [
        e
        for e in of_type(recorder.events, trace.KeysInstalled, "client")
        if e.secret_name == "client_handshake_traffic_secret"
    ][:1]
    (secret,) = [
        e.value
        for e in of_type(recorder.events, trace.SecretDerived, "client")
        if e.name == "client_handshake_traffic_secret"
    ]
    from teachtls.crypto.aead import CIPHER_SUITES

    params = CIPHER_SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
    assert (installed.key, installed.iv) == keyschedule.traffic_keys(params, secret, b"dtls13")
    assert installed.key != keyschedule.traffic_keys(params, secret)[0]


def test_hello_retry_request_for_a_key_share_is_stateless_too() -> None:
    """The server prefers P-256; the client offered only an x25519 share: the cookie carries the group."""
    recorder = Recorder()
    pair = connected(make_pair(recorder, server={"supported_groups": (NamedGroup.secp256r1, NamedGroup.x25519)}))
    (completed,) = [e for e in pair.events["client"] if isinstance(e, HandshakeCompleted)]
    assert completed.group == "secp256r1"
    retry = [e for e in of_type(recorder.events, trace.MessageSent, "server") if e.name == "HelloRetryRequest"]
    assert len(retry) == 1 and "key_share=secp256r1" in retry[0].summary


def test_stateful_hello_retry_request_without_cookie_exchange() -> None:
    pair = connected(
        make_pair(server={"supported_groups": (NamedGroup.secp256r1, NamedGroup.x25519)}, cookie_exchange=False)
    )
    assert pair.client.handshake_complete and pair.server.handshake_complete and pair.server.hello_retry


@pytest.mark.parametrize(
    "suite",
    [CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384, CipherSuite.TLS_CHACHA20_POLY1305_SHA256],
)
def test_every_cipher_suite_carries_data(suite: int) -> None:
    """AES suites mask record numbers with AES-ECB, ChaCha20-Poly1305 with ChaCha20 (RFC 9147 §4.2.3)."""
    pair = connected(make_pair(client={"cipher_suites": (suite,)}))
    pair.client.send_application_data(b"over " + bytes([suite & 0xFF]))
    pair.settle()
    assert app_data(pair.events["server"]) == [b"over " + bytes([suite & 0xFF])]
    assert pair.server.cipher_suite == suite


def test_small_mtu_fragments_every_flight() -> None:
    recorder = Recorder()
    pair = connected(make_pair(recorder, mtu=160))
    for event in of_type(recorder.events, trace.RecordSent):
        assert len(event.raw) <= 160
    assert any("fragment of Certificate" in text for text in notes(recorder.events, "client"))
    assert pair.client.get_data_mtu() == 160 - 5 - 17  # unified header; content type and tag


def test_session_ticket_is_acknowledged_and_resumes() -> None:
    recorder = Recorder()
    store = StatelessTickets(os.urandom, time.time)
    pair = connected(make_pair(recorder, server={"session_tickets": 1, "session_store": store}))
    assert any("a NewSessionTicket must be acknowledged" in text for text in notes(recorder.events, "client"))
    assert pair.server.flight is None and pair.server.next_timeout() is None  # acknowledged: FINISHED
    data = pair.client.get_session_data()
    again = connected(make_pair(client={"session": None}, server={"session_tickets": 1, "session_store": store}))
    assert not again.client.resumed
    resumed = make_pair(server={"session_tickets": 1, "session_store": store})
    resumed.client.set_session_data(data)
    connected(resumed)
    assert resumed.client.resumed and resumed.server.resumed


def test_early_data_is_refused() -> None:
    with pytest.raises(alerts.TLSError, match="0-RTT"):
        make_pair().client.start_handshake(early_data=b"too early")


# --- 3. ACKs and retransmission ---------------------------------------------------------------------------
#
# With a 1200-byte MTU and the cookie exchange: datagram 1 ClientHello, 2 HelloRetryRequest,
# 3 ClientHello, 4 the server's flight, 5 the client's Finished, 6 the server's ACK.


def test_lost_server_ack_makes_the_client_retransmit_its_finished() -> None:
    recorder = Recorder()
    pair = make_pair(recorder, link=LossyLink(drop_numbers={6}, observer=recorder))
    pair.handshake()
    assert pair.client.next_timeout() is not None  # the Finished waits for its ACK
    pair.run(lambda: pair.client.flight is None)
    texts = notes(recorder.events)
    assert any(t.startswith("retransmitting flight 5 (Finished): no answer within 1 s") for t in texts)
    assert any(
        "a message processed before arrived again: our ACK was lost" in t for t in notes(recorder.events, "server")
    )


def test_partial_acknowledgement_leaves_out_what_arrived() -> None:
    """A lost datagram of the server's flight: the client ACKs what it has, the server
    resends only the rest (RFC 9147 §7.1, §7.2)."""
    recorder = Recorder()
    pair = make_pair(recorder, mtu=400, link=LossyLink(drop_numbers={6}, observer=recorder))
    pair.handshake()
    server_notes = notes(recorder.events, "server")
    partial = [
        t for t in server_notes if t.startswith("retransmitting flight") and "acknowledged message(s) left out" in t
    ]
    assert partial, server_notes
    assert any(t.startswith("ACK received for records (epoch/seq) 0/1, 2/") for t in server_notes)


def test_records_before_their_keys_bring_an_empty_ack() -> None:
    """RFC 9147 §7.1: the ServerHello is lost; the client cannot open the rest, and says so."""
    recorder = Recorder()
    pair = make_pair(recorder, mtu=300, link=LossyLink(drop_numbers={4}, observer=recorder))
    pair.handshake()
    assert any("sending ACK in epoch 0 for records (epoch/seq) none" in t for t in notes(recorder.events, "client"))
    assert any("is empty: the peer is missing something" in t for t in notes(recorder.events, "server"))


# --- 4. KeyUpdate -------------------------------------------------------------------------------------------


def test_key_update_waits_for_its_ack() -> None:
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    pair.client.key_update(request_peer=False)
    assert pair.client.write_epoch == 3  # RFC 9147 §8: not before the ACK
    with pytest.raises(alerts.TLSError, match="not been acknowledged"):
        pair.client.key_update()
    pair.settle()
    assert pair.client.write_epoch == 4 and pair.server.read_epoch == 4 and pair.server.write_epoch == 3
    assert KeyUpdated(direction="write", generation=1) in pair.events["client"]
    pair.client.send_application_data(b"new keys")
    pair.settle()
    assert app_data(pair.events["server"])[-1] == b"new keys"
    assert [r.epoch for r in sent_records(recorder.events, "client")][-1] == 4 & 0b11  # epoch bits of 4


def test_key_update_both_ways() -> None:
    pair = connected(make_pair())
    pair.client.key_update(request_peer=True)
    pair.settle()
    assert (pair.client.write_epoch, pair.client.read_epoch) == (4, 4)
    assert (pair.server.write_epoch, pair.server.read_epoch) == (4, 4)
    pair.server.send_application_data(b"both updated")
    pair.settle()
    assert app_data(pair.events["client"]) == [b"both updated"]


def test_lost_ack_of_a_key_update() -> None:
    """The KeyUpdate is sent again; the receiver, which already updated, ACKs it again."""
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    sent_so_far = pair.link.sent
    pair.link.drop_numbers = {sent_so_far + 2}  # the client's KeyUpdate (+1), the server's ACK (+2)
    pair.client.key_update(request_peer=False)
    pair.run(lambda: pair.client.write_epoch == 4)
    assert any(t.startswith("retransmitting flight") and "(KeyUpdate)" in t for t in notes(recorder.events, "client"))
    assert pair.server.read_epoch == 4


def test_old_epoch_data_is_still_read_after_a_key_update() -> None:
    """RFC 9147 §8: "receivers MUST retain the pre-update keying material until receipt and successful
    decryption of a message using the new keys" -- a reordered old record still arrives."""
    pair = connected(make_pair())
    pair.client.send_application_data(b"old keys")
    (late,) = pair.client.datagrams_to_send()
    pair.client.key_update(request_peer=False)
    pair.settle()
    assert app_data(pair.server.receive_datagram(late)) == [b"old keys"]


# --- 5. lossy links -----------------------------------------------------------------------------------------

SEEDS = list(range(12))


def lossy(recorder: Recorder, seed: int) -> LossyLink:
    return LossyLink(seed=seed, drop=0.2, duplicate=0.2, reorder=0.3, observer=recorder)


@pytest.mark.parametrize("seed", SEEDS)
def test_handshake_completes_across_a_lossy_link(seed: int) -> None:
    recorder = Recorder()
    pair = make_pair(recorder, mtu=400, link=lossy(recorder, seed))
    converse(pair, key_update=True)
    for role in ("client", "server"):
        assert any(isinstance(e, HandshakeCompleted) for e in pair.events[role])
    assert any(isinstance(e, ApplicationData) for e in pair.events["server"])
    reported = [n for n in notes(recorder.events) if n.startswith("the link dropped")]
    assert len(reported) == len(pair.link.dropped)


def test_lossy_links_show_retransmissions_and_acks() -> None:
    seen: set[str] = set()
    for seed in SEEDS:
        recorder = Recorder()
        converse(make_pair(recorder, mtu=400, link=lossy(recorder, seed)))
        for text in notes(recorder.events):
            for marker in (
                "no answer within",  # a retransmit timer expired (§5.8)
                "the ACK leaves part of it unacknowledged",  # an ACK-driven retransmission (§7.2)
                "acknowledged message(s) left out",  # partial acknowledgement (§5.8.1)
                "sending ACK",  # §7.1
                "replayed",  # the replay window (§4.5.1)
                "arrived before its keys",  # records of a later epoch kept (§4.2.1)
                "fragment of",  # reassembly (§5.5)
            ):
                if marker in text:
                    seen.add(marker)
    assert len(seen) == 7, seen


def test_lossy_scenario_is_deterministic() -> None:
    assert dumps_jsonl(dtls13_lossy()) == dumps_jsonl(dtls13_lossy())


# --- 6. bad datagrams -------------------------------------------------------------------------------------


def protected_client_record(pair: Pair, data: bytes = b"hello") -> bytes:
    pair.client.send_application_data(data)
    (datagram,) = pair.client.datagrams_to_send()
    return datagram


def test_replayed_datagram_is_discarded() -> None:
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    datagram = protected_client_record(pair)
    assert app_data(pair.server.receive_datagram(datagram)) == [b"hello"]
    assert pair.server.receive_datagram(datagram) == []
    assert "replayed: sequence number 0 of epoch 3 was received already" in notes(recorder.events, "server")[-1]
    assert not pair.server.closed


def test_forged_record_is_discarded_and_the_window_does_not_move() -> None:
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    datagram = bytearray(protected_client_record(pair))
    datagram[-1] ^= 1
    assert pair.server.receive_datagram(bytes(datagram)) == []
    assert "failed authentication" in notes(recorder.events, "server")[-1]
    assert not of_type(recorder.events, trace.AlertSent, "server")
    datagram[-1] ^= 1
    assert app_data(pair.server.receive_datagram(bytes(datagram))) == [b"hello"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: bytes([r[0] ^ 0b10]) + r[1:], "no keys for epoch bits 01"),  # epoch 1: no early data here
        (lambda r: r[:-3], "the unified header announces"),
        (lambda r: r[:3], "too few for a 5-byte unified header"),
        (lambda r: bytes([r[0] | 0x10]) + r[1:], "connection ID"),
        (lambda r: r[:3] + (7).to_bytes(2, "big") + r[5:12], "too short to sample 16 bytes"),
        (
            lambda r: record.build_record(ContentType.application_data, DTLS1_2, 0, 5, b"plain"),
            "neither alert, handshake, ack nor a unified header",
        ),
    ],
)
def test_bad_records_are_discarded(change: Any, reason: str) -> None:
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    datagram = protected_client_record(pair)
    assert pair.server.receive_datagram(change(datagram)) == []
    assert any(reason in text for text in notes(recorder.events, "server")[-2:]), notes(recorder.events, "server")[-2:]
    assert not pair.server.closed
    assert app_data(pair.server.receive_datagram(protected_client_record(pair, b"still here"))) == [b"still here"]


def test_wrong_epoch_keys_fail_authentication() -> None:
    """Epoch 3's record relabelled epoch 2 (bits 10) is opened with handshake keys: it fails, quietly."""
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    datagram = protected_client_record(pair)
    relabelled = bytes([(datagram[0] & ~0b11) | 0b10]) + datagram[1:]
    assert pair.server.receive_datagram(relabelled) == []
    assert "failed authentication" in notes(recorder.events, "server")[-1]


def test_unprotected_messages_that_must_be_protected_are_discarded() -> None:
    """A KeyUpdate in a plaintext epoch-0 record would let anyone rekey the association."""
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    body = build_struct(KeyUpdate(request_update=1))
    fragment = framing.build_fragment(HandshakeType.key_update, len(body), 5, 0, body)
    forged = record.build_record(ContentType.handshake, DTLS1_2, 0, 40, fragment)
    assert pair.server.receive_datagram(forged) == []
    assert "key_update fragment under plaintext protection" in notes(recorder.events, "server")[-1]
    assert pair.server.read_epoch == 3 and not pair.server.closed


def test_plaintext_alert_after_the_handshake_is_discarded() -> None:
    recorder = Recorder()
    pair = connected(make_pair(recorder))
    forged = record.build_record(ContentType.alert, DTLS1_2, 0, 50, bytes([2, AlertDescription.handshake_failure]))
    assert pair.server.receive_datagram(forged) == []
    assert not pair.server.closed and "unprotected record after the handshake" in notes(recorder.events, "server")[-1]


def test_forged_plaintext_ack_cannot_acknowledge_protected_records() -> None:
    """RFC 9147 §7: an ACK's epoch is at least that of the records it acknowledges."""
    recorder = Recorder()
    pair = make_pair(recorder)
    pair.client.start_handshake()
    for _ in range(3):  # ClientHello, HelloRetryRequest, ClientHello: the server's flight is out
        pair.step()
    assert pair.server.next_timeout() is not None
    forged_ack = build_ack([RecordNumber(epoch=2, sequence_number=n) for n in range(4)])
    assert pair.server.receive_datagram(record.build_record(record13.ACK, DTLS1_2, 0, 9, forged_ack)) == []
    assert "4 record numbers above the ACK's own epoch ignored" in notes(recorder.events, "server")[-2]
    assert pair.server.next_timeout() is not None  # nothing acknowledged: still retransmitting


def test_non_empty_legacy_cookie_is_illegal_parameter() -> None:
    pair = make_pair()
    pair.client.start_handshake()
    (datagram,) = pair.client.datagrams_to_send()
    hello, _ = peek_client_hello(datagram) or (None, 0)
    assert isinstance(hello, DTLSClientHello)
    body = build_struct(attrs.evolve(hello, cookie=b"\x01\x02"))
    forged = framing.build_fragment(HandshakeType.client_hello, len(body), 0, 0, body)
    with pytest.raises(alerts.IllegalParameter, match="legacy_cookie"):
        pair.server.receive_datagram(record.build_record(ContentType.handshake, DTLS1_2, 0, 0, forged))
    (alert,) = record13.split_datagram(pair.server.datagrams_to_send()[0]).records
    assert alert.fragment == bytes([2, AlertDescription.illegal_parameter])


def test_cookie_from_another_address_is_illegal_parameter() -> None:
    """RFC 9147 §5.1: "If a server receives a ClientHello with an invalid cookie, it MUST terminate
    the handshake with an "illegal_parameter" alert."""
    pair = make_pair()
    pair.client.start_handshake()
    pair.step()  # ClientHello
    pair.step()  # the HelloRetryRequest reaches the client, which answers with the cookie
    (client_hello2,) = pair.client.datagrams_to_send()
    elsewhere = DTLS13ServerConnection(
        server_config(clock=pair.clock), DTLSSettings(client_address=b"198.51.100.7:5684", cookie_secret=b"x" * 32)
    )
    with pytest.raises(alerts.IllegalParameter, match="cookie"):
        elsewhere.receive_datagram(client_hello2)


@given(st.binary(max_size=300))
@settings(max_examples=60, deadline=None)
def test_garbage_never_crashes(garbage: bytes) -> None:
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


@given(st.binary(min_size=1, max_size=200))
@settings(max_examples=60, deadline=None)
def test_garbage_with_a_unified_header_never_crashes(body: bytes) -> None:
    pair = connected(make_pair())
    for first in (0b00101100, 0b00101110, 0b00101111, 0b00100011):
        try:
            pair.server.receive_datagram(bytes([first]) + body)
        except alerts.InternalError:
            raise
        except alerts.TLSError:
            assert pair.server.closed
            return


def test_a_flipped_byte_in_any_datagram_of_a_handshake() -> None:
    """One byte flipped in one datagram at a time: the handshake recovers, or ends with a clean alert."""
    clean = make_pair()
    count = 0
    original = clean.link.send

    def counting(sender: str, payload: bytes) -> None:
        nonlocal count
        count += 1
        original(sender, payload)

    clean.link.send = counting  # type: ignore[method-assign]
    connected(clean)
    outcomes = set()
    for index in range(1, count + 1):
        for position in (3, 20, -1):
            pair = make_pair()

            def corrupt(
                sender: str, payload: bytes, *, _pair: Pair = pair, _at: tuple[int, int] = (index, position)
            ) -> None:
                if _pair.link.sent + 1 == _at[0]:
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
                outcomes.add("alerted")
    assert "recovered" in outcomes


# --- 7. the golden trace ----------------------------------------------------------------------------------


def test_golden_trace_is_deterministic() -> None:
    assert dumps_jsonl(dtls13()) == dumps_jsonl(dtls13())


def test_golden_trace() -> None:
    events = dtls13()
    check_golden_trace(events, "dtls13")


def test_golden_trace_tells_the_dtls13_story() -> None:
    events = dtls13()
    texts = notes(events)
    for expected in (
        "sending ACK in epoch 3 for records (epoch/seq) 2/0: the client's final flight must be acknowledged",
        "KeyUpdate sent in epoch 3: our records keep that epoch until the peer acknowledges it",
        "our KeyUpdate is acknowledged: write epoch 4 begins",
    ):
        assert expected in texts, expected
    text = render_walkthrough(events)
    assert "HelloRetryRequest" in text and "Handshake complete: DTLS 1.3, TLS_AES_128_GCM_SHA256" in text


# --- 8. over UDP --------------------------------------------------------------------------------------------


def test_udp_session_and_the_two_version_server() -> None:
    from teachtls.net.udp import connect_dtls, serve_dtls_in_thread

    log: list[str] = []
    with serve_dtls_in_thread("127.0.0.1", 0, server_config(), log=log.append) as running:
        with connect_dtls("127.0.0.1", running.port, client_config(random=os.urandom), version="1.3") as session:
            assert session.completed is not None and session.completed.version == "DTLS 1.3"
            assert session.send(b"echo me") == 7 and session.recv() == b"echo me"
            session.connection.key_update()
            session.send(b"after KeyUpdate")
            assert session.recv() == b"after KeyUpdate"
        with connect_dtls("127.0.0.1", running.port, client_config(random=os.urandom)) as session:
            assert session.completed is not None and session.completed.version == "DTLS 1.2"
        # The cookie-less ClientHellos created nothing: one association per handshake.
        assert [c.version for c in running.server.completed] == ["DTLS 1.3", "DTLS 1.2"]


def test_udp_server_limited_to_dtls_1_2_answers_a_dtls_1_3_client_as_dtls_1_2() -> None:
    """A DTLS 1.2-only server sends its HelloVerifyRequest, as GnuTLS 3.7 does; the DTLS 1.3-only
    client cannot use it (RFC 9147 §5.2) and ends the handshake. The server keeps nothing."""
    from teachtls.net.udp import connect_dtls, serve_dtls_in_thread

    with serve_dtls_in_thread("127.0.0.1", 0, server_config(), versions=("1.2",)) as running:
        with pytest.raises(alerts.UnexpectedMessage, match=r"type 3 is not a DTLS 1\.3 message"):
            connect_dtls("127.0.0.1", running.port, client_config(), timeout=3, version="1.3")
        assert running.server.associations == {}


def test_a_rebooted_dtls13_client_replaces_its_association() -> None:
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
            session = DTLSSession(sock, DTLS13ClientConnection(client_config(random=os.urandom)))
            session.handshake()
            session.send(b"attempt %d" % attempt)
            assert session.recv() == b"attempt %d" % attempt
            session._hang_up()
        assert len(running.server.completed) == 2
    assert any("started a new handshake (RFC 9147 §5.11)" in line for line in log)


def test_cli_connect_and_serve_dtls13(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess

    from handshake_pair import pki

    from teachtls.cli import main

    ca, leaf = pki()
    cert, key, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    leaf.write(cert, key)
    ca_file.write_bytes(ca.certificate_pem())
    server = subprocess.Popen(
        [sys.executable, "-m", "teachtls", "serve", "--dtls", "--tls-version", "1.3", "--port", "0",
         "--cert", str(cert), "--key", str(key), "--mtu", "400"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 20)
        assert ready, "teachtls serve --dtls did not start"
        line = server.stdout.readline()
        assert "(UDP, DTLS 1.3, MTU 400)" in line
        port = line.split("127.0.0.1:")[1].split("/")[0]
        code = main(["connect", "--dtls", "--tls-version", "1.3", f"127.0.0.1:{port}", "--servername", "localhost",
                     "--cafile", str(ca_file), "--trace", str(tmp_path / "client.jsonl"), "--timeout", "5"])  # fmt: skip
        out = capsys.readouterr().out
        assert code == 0 and "Hello from teachtls over DTLS 1.3." in out
        received = [
            event.name for event in load_jsonl(tmp_path / "client.jsonl") if isinstance(event, trace.MessageReceived)
        ]
        assert "HelloRetryRequest" in received
    finally:
        server.terminate()
        server.wait(timeout=10)


# --- 9. the peers at hand (none speaks DTLS 1.3: see docs/dtls.md) -------------------------------------


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.skipif(not shutil.which("gnutls-serv"), reason="gnutls-serv is not installed")
def test_gnutls_3_7_answers_dtls13_with_a_hello_verify_request(tmp_path: Path) -> None:
    """GnuTLS 3.7 knows no DTLS 1.3: it answers with DTLS 1.2's HelloVerifyRequest, which a
    DTLS 1.3-only client must not use (RFC 9147 §5.2) -- a clean unexpected_message, not a hang."""
    import subprocess

    from handshake_pair import pki

    from teachtls.net.udp import connect_dtls

    _, leaf = pki()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.write(cert, key)
    port = _free_udp_port()
    server = subprocess.Popen(
        ["gnutls-serv", "--udp", "-p", str(port), "--x509certfile", str(cert), "--x509keyfile", str(key)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        quick = DTLSSettings(total_timeout_ms=5000, retransmit_timeout_ms=300)
        with pytest.raises(alerts.UnexpectedMessage, match=r"type 3 is not a DTLS 1\.3 message"):
            connect_dtls("127.0.0.1", port, client_config(), quick, timeout=5, version="1.3")
    finally:
        server.terminate()
        server.wait(timeout=10)
