"""pcapng export: the file's structure, the invented TCP, and real tshark decrypting it.

Two traces are exported:

* RFC 8448 §3 (simple 1-RTT), run by a teachtls client and server given the
  RFC's inputs. It is deterministic, so its capture must be byte-stable.
* A fresh handshake with generated certificates and HTTP-like application
  data each way. The server's reply is longer than one TCP segment, so
  tshark must reassemble a record split across segments.

The tshark tests prove decryption. EncryptedExtensions (8), Certificate
(11), CertificateVerify (15) and Finished (20) travel only inside encrypted
records, and application data is visible only once decrypted. The one key
tshark gets is the Decryption Secrets Block inside the file; stripping that
block makes them all vanish again.

tshark comes from the Debian package `tshark` (it pulls in
`wireshark-common`). Without it these tests are skipped, except under CI
(the CI environment variable set), where a missing tshark is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import subprocess
from pathlib import Path

import pytest

from teachtls import ClientConnection, Config, ServerConnection
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.scenarios import memory, rfc8448
from teachtls.trace import TraceEvent, keylog_lines
from teachtls.trace.events import ApplicationDataSent
from teachtls.trace.observer import Recorder
from teachtls.trace.pcap import (
    ACK,
    CLIENT_INITIAL_SEQUENCE,
    FIN,
    MAX_SEGMENT_PAYLOAD,
    SERVER_INITIAL_SEQUENCE,
    START_MICROSECONDS,
    SYN,
    TICK_MICROSECONDS,
    internet_checksum,
    pcapng_bytes,
    tcp_segments,
    wire_records,
    write_pcapng,
)

SECTION_HEADER_BLOCK = 0x0A0D0D0A
INTERFACE_DESCRIPTION_BLOCK = 1
ENHANCED_PACKET_BLOCK = 6
DECRYPTION_SECRETS_BLOCK = 0x0A

HTTP_REQUEST = b"GET /teachtls HTTP/1.1\r\nHost: localhost\r\n\r\n"
HTTP_BODY = b"hello from teachtls\n" * 150  # 3000 bytes: the record spans three segments
HTTP_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(HTTP_BODY) + HTTP_BODY
)


# --- traces -------------------------------------------------------------------------------


def rfc8448_trace(scenario: str = "simple_1rtt") -> list[TraceEvent]:
    recorder = Recorder()
    exchange = memory.run(
        ClientConnection(rfc8448.client_config(scenario, recorder)),
        ServerConnection(rfc8448.server_config(scenario, recorder)),
        client_data=rfc8448.application_data(scenario, "client"),
        server_data=rfc8448.application_data(scenario, "server"),
    )
    assert exchange.completed
    return recorder.events


def fresh_trace() -> list[TraceEvent]:
    """A handshake with generated certificates, then one HTTP request and response."""
    ca = make_ca()
    leaf = issue_leaf(ca, "localhost", dns_names=["localhost"])
    recorder = Recorder()
    client = Config(server_name="localhost", trusted_certificates=(ca.certificate,), observer=recorder)
    server = Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key, observer=recorder)
    exchange = memory.run(
        ClientConnection(client), ServerConnection(server), client_data=HTTP_REQUEST, server_data=HTTP_RESPONSE
    )
    assert exchange.completed
    assert exchange.client_received == HTTP_RESPONSE
    return recorder.events


@pytest.fixture(scope="module")
def rfc8448_events() -> list[TraceEvent]:
    return rfc8448_trace()


@pytest.fixture(scope="module")
def fresh_events() -> list[TraceEvent]:
    return fresh_trace()


# --- reading pcapng back, independently of the writer --------------------------------------


def read_blocks(data: bytes) -> list[tuple[int, bytes]]:
    """(block_type, body) for each block of a little-endian pcapng file, checking the frame."""
    blocks = []
    offset = 0
    while offset < len(data):
        block_type, total_length = struct.unpack_from("<II", data, offset)
        assert total_length % 4 == 0 and total_length >= 12
        (trailing_length,) = struct.unpack_from("<I", data, offset + total_length - 4)
        assert trailing_length == total_length
        blocks.append((block_type, data[offset + 8 : offset + total_length - 4]))
        offset += total_length
    assert offset == len(data)
    return blocks


def read_options(data: bytes) -> dict[int, bytes]:
    options = {}
    while data:
        code, length = struct.unpack_from("<HH", data)
        if code == 0:
            break
        options[code] = data[4 : 4 + length]
        data = data[4 + length + (-length % 4) :]
    return options


def packets(data: bytes) -> list[tuple[int, bytes, dict[int, bytes]]]:
    """(timestamp in µs, frame, options) of each Enhanced Packet Block."""
    found = []
    for block_type, body in read_blocks(data):
        if block_type == ENHANCED_PACKET_BLOCK:
            interface, high, low, captured, original = struct.unpack_from("<IIIII", body)
            assert interface == 0 and captured == original
            frame = body[20 : 20 + captured]
            found.append(((high << 32) | low, frame, read_options(body[20 + captured + (-captured % 4) :])))
    return found


# --- file structure (no tshark needed) ------------------------------------------------------


def test_blocks_come_in_order_with_the_secrets_before_the_packets(rfc8448_events):
    data = pcapng_bytes(rfc8448_events)
    blocks = read_blocks(data)
    types = [block_type for block_type, _ in blocks]
    # 3 packets of TCP handshake, one per record (none is over 1400 bytes), 3 of TCP close
    records = wire_records(rfc8448_events)
    assert len(records) == 9
    assert types == [SECTION_HEADER_BLOCK, INTERFACE_DESCRIPTION_BLOCK, DECRYPTION_SECRETS_BLOCK] + [
        ENHANCED_PACKET_BLOCK
    ] * (3 + len(records) + 3)

    magic, major, minor, section_length = struct.unpack_from("<IHHq", blocks[0][1])
    assert (magic, major, minor, section_length) == (0x1A2B3C4D, 1, 0, -1)
    linktype, reserved, snaplen = struct.unpack_from("<HHI", blocks[1][1])
    assert (linktype, reserved) == (1, 0) and snaplen >= 1514
    assert read_options(blocks[1][1][8:])[9] == bytes([6])  # if_tsresol: microseconds

    secrets_type, secrets_length = struct.unpack_from("<II", blocks[2][1])
    assert secrets_type == 0x544C534B  # "TLSK"
    assert blocks[2][1][:4] == b"KSLT"  # little-endian
    secrets = blocks[2][1][8 : 8 + secrets_length].decode("ascii")
    assert secrets.splitlines() == keylog_lines(rfc8448_events)
    assert len(secrets.splitlines()) == 5
    assert blocks[2][1][8 + secrets_length :] == b"\x00" * (-secrets_length % 4)


def test_packets_carry_the_records_in_order_with_fixed_timestamps(rfc8448_events):
    found = packets(pcapng_bytes(rfc8448_events))
    assert [timestamp for timestamp, _, _ in found] == [
        START_MICROSECONDS + index * TICK_MICROSECONDS for index in range(len(found))
    ]
    payloads = [frame[54:] for _, frame, _ in found]
    assert [payload for payload in payloads if payload] == [record.raw for _, record in wire_records(rfc8448_events)]
    comments = [options.get(1, b"").decode() for _, _, options in found]
    assert comments[4] == ("record 2, server → client: handshake (server_hello), plaintext, 95 bytes")
    assert comments[5].startswith(
        "record 3, server → client: handshake (encrypted_extensions, certificate, certificate_verify, finished),"
        " encrypted with handshake keys"
    )


def test_the_rfc8448_capture_is_byte_stable():
    first = pcapng_bytes(rfc8448_trace())
    assert pcapng_bytes(rfc8448_trace()) == first


def test_checksums_and_headers(rfc8448_events):
    for _, frame, _ in packets(pcapng_bytes(rfc8448_events, client=("10.0.0.1", 40000), server=("10.0.0.2", 443))):
        assert frame[12:14] == b"\x08\x00"  # IPv4
        ip, tcp = frame[14:34], frame[34:]
        assert internet_checksum(ip) == 0  # a header with its checksum in place sums to 0xFFFF
        assert struct.unpack("!H", ip[2:4])[0] == len(frame) - 14
        assert ip[12:16] in (bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        pseudo_header = ip[12:20] + struct.pack("!BBH", 0, 6, len(tcp))
        assert internet_checksum(pseudo_header + tcp) == 0
        ports = struct.unpack("!HH", tcp[:4])
        assert sorted(ports) == [443, 40000]


def test_sequence_and_acknowledgment_numbers(fresh_events):
    segments = tcp_segments(fresh_events)
    assert [s.flags for s in segments[:3]] == [SYN, SYN | ACK, ACK]
    assert [s.flags for s in segments[-3:]] == [FIN | ACK, FIN | ACK, ACK]
    sent = {"client": CLIENT_INITIAL_SEQUENCE, "server": SERVER_INITIAL_SEQUENCE}
    for segment in segments:
        peer = "server" if segment.sender == "client" else "client"
        assert segment.sequence_number == sent[segment.sender]
        if segment.flags & ACK:
            assert segment.acknowledgment_number == sent[peer]
        assert len(segment.payload) <= MAX_SEGMENT_PAYLOAD
        sent[segment.sender] += len(segment.payload) + (1 if segment.flags & (SYN | FIN) else 0)
    # the byte stream of each direction is exactly its records
    for role in ("client", "server"):
        stream = b"".join(s.payload for s in segments if s.sender == role)
        assert stream == b"".join(record.raw for sender, record in wire_records(fresh_events) if sender == role)
    # the 3000-byte HTTP response went out as one record, cut into three segments
    assert [s.comment.rsplit(", ", 1)[-1] for s in segments if "part" in s.comment] == [
        "part 1 of 3",
        "part 2 of 3",
        "part 3 of 3",
    ]


def test_hello_retry_request_stays_on_one_connection_and_new_handshakes_do_not():
    assert {s.connection for s in tcp_segments(rfc8448_trace("hello_retry_request"))} == {0}
    twice = rfc8448_trace() + rfc8448_trace("client_authentication")
    segments = tcp_segments(twice)
    assert [s.connection for s in segments if s.flags == SYN] == [0, 1]
    assert [s.connection for s in segments if s.flags == FIN | ACK] == [0, 0, 1, 1]


def test_write_pcapng_writes_the_same_bytes_readable_by_the_owner_only(rfc8448_events, tmp_path):
    path = tmp_path / "rfc8448.pcapng"
    write_pcapng(rfc8448_events, path)
    assert path.read_bytes() == pcapng_bytes(rfc8448_events)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_trace_without_secrets_gets_no_decryption_secrets_block(rfc8448_events):
    records_only = [event for event in rfc8448_events if type(event).__name__ in ("RecordSent", "RecordReceived")]
    types = [block_type for block_type, _ in read_blocks(pcapng_bytes(records_only))]
    assert DECRYPTION_SECRETS_BLOCK not in types
    assert types.count(ENHANCED_PACKET_BLOCK) == 15


def test_only_ipv4_endpoints():
    with pytest.raises(ValueError, match="IPv4"):
        pcapng_bytes([], client=("::1", 50000))
    with pytest.raises(ValueError, match="port"):
        pcapng_bytes([], server=("127.0.0.1", 70000))


# --- real tshark ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tshark_binary() -> str:
    found = shutil.which("tshark")
    if found is None:
        message = "tshark not installed (Debian package: tshark)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run these tests")
        pytest.skip(message)
    return found


def run_tshark(tshark: str, capture: Path, *arguments: str) -> str:
    result = subprocess.run(
        [tshark, "-r", str(capture), "-o", "tls.desegment_ssl_records:TRUE", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def handshake_types(tshark: str, capture: Path) -> set[int]:
    output = run_tshark(tshark, capture, "-T", "fields", "-e", "tls.handshake.type")
    return {int(value) for value in re.split(r"[,\s]+", output) if value}


def decrypted_application_data(tshark: str, capture: Path) -> bytes:
    """The decrypted application data, as tshark's raw "data" dissector shows it.

    Port 443 and a heuristic would both hand it to the HTTP dissector; the
    "decode as" (-d) and --disable-heuristic keep it raw bytes."""
    output = run_tshark(
        tshark,
        capture,
        *("-d", "tls.port==443,data", "--disable-heuristic", "http_tls"),
        *("-T", "fields", "-e", "data.data"),
    )
    return b"".join(bytes.fromhex(line.replace(",", "")) for line in output.split())


def sent_application_data(events: list[TraceEvent]) -> bytes:
    return b"".join(event.data for event in events if isinstance(event, ApplicationDataSent))


def without_secrets(data: bytes) -> bytes:
    """The same capture with its Decryption Secrets Block removed."""
    kept = b""
    for block_type, body in read_blocks(data):
        if block_type != DECRYPTION_SECRETS_BLOCK:
            kept += struct.pack("<II", block_type, len(body) + 12) + body + struct.pack("<I", len(body) + 12)
    return kept


ENCRYPTED_HANDSHAKE = {8, 11, 15, 20}  # EncryptedExtensions, Certificate, CertificateVerify, Finished


def test_tshark_decrypts_the_rfc8448_capture(rfc8448_events, tshark_binary, tmp_path):
    capture = tmp_path / "rfc8448.pcapng"
    write_pcapng(rfc8448_events, capture)
    # ClientHello, ServerHello in the clear; the rest only after decryption, NewSessionTicket (4) included
    assert handshake_types(tshark_binary, capture) == {1, 2, 4} | ENCRYPTED_HANDSHAKE
    application_data = sent_application_data(rfc8448_events)
    assert len(application_data) == 100  # 50 bytes each way, RFC 8448 §3
    assert decrypted_application_data(tshark_binary, capture) == application_data
    # both close_notify alerts (description 0) are inside encrypted records
    alerts = run_tshark(tshark_binary, capture, "-T", "fields", "-e", "tls.alert_message.desc").split()
    assert alerts == ["0", "0"]


def test_tshark_sees_valid_checksums_and_no_tcp_trouble(rfc8448_events, fresh_events, tshark_binary, tmp_path):
    checking = ("-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE")
    for name, events in (("rfc8448", rfc8448_events), ("fresh", fresh_events)):
        capture = tmp_path / f"{name}.pcapng"
        write_pcapng(events, capture)
        # checksum status 1 is "Good"
        good = run_tshark(
            tshark_binary, capture, *checking, "-Y", "ip.checksum.status == 1 && tcp.checksum.status == 1"
        )
        assert len(good.splitlines()) == len(tcp_segments(events))
        trouble = run_tshark(
            tshark_binary,
            capture,
            *checking,
            "-Y",
            "tcp.analysis.flags || _ws.malformed || _ws.expert.severity >= warning",
        )
        assert trouble == ""


def test_tshark_decrypts_a_fresh_handshake_and_its_http(fresh_events, tshark_binary, tmp_path):
    capture = tmp_path / "fresh.pcapng"
    write_pcapng(fresh_events, capture)
    assert handshake_types(tshark_binary, capture) == {1, 2} | ENCRYPTED_HANDSHAKE
    assert decrypted_application_data(tshark_binary, capture) == HTTP_REQUEST + HTTP_RESPONSE
    # tshark's HTTP dissector read the decrypted bytes (port 443 means HTTP over TLS)
    http = run_tshark(
        tshark_binary,
        capture,
        "-Y",
        "http",
        "-T",
        "fields",
        "-e",
        "http.request.method",
        "-e",
        "http.request.uri",
        "-e",
        "http.response.code",
        "-e",
        "http.content_length",
    )
    assert [line.split("\t") for line in http.splitlines()] == [
        ["GET", "/teachtls", "", ""],
        ["", "", "200", str(len(HTTP_BODY))],
    ]


def test_without_the_secrets_block_tshark_sees_only_ciphertext(fresh_events, tshark_binary, tmp_path):
    capture = tmp_path / "no-secrets.pcapng"
    capture.write_bytes(without_secrets(pcapng_bytes(fresh_events)))
    assert handshake_types(tshark_binary, capture) == {1, 2}
    assert decrypted_application_data(tshark_binary, capture) == b""


def test_tshark_decrypts_two_connections_in_one_trace(tshark_binary, tmp_path):
    capture = tmp_path / "two.pcapng"
    write_pcapng(rfc8448_trace() + fresh_trace(), capture)
    streams = run_tshark(tshark_binary, capture, "-Y", "tls.handshake.type == 8", "-T", "fields", "-e", "tcp.stream")
    assert streams.split() == ["0", "1"]
