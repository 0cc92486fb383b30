"""Packet captures: a teachtls trace as a pcapng file that Wireshark decrypts alone.

A trace records every TLS record that crossed the wire. This module writes
those records as a capture file, so a student can open a teachtls handshake
in Wireshark (or tshark) and compare its dissection, field by field, with
teachtls's own trace. The file also carries the session's secrets, so
Wireshark shows the decrypted handshake and application data without any
other file.

**pcapng** ("PCAP Next Generation", draft-ietf-opsawg-pcapng) is the capture
format Wireshark writes by default. A file is a series of blocks, and every
block has the same frame:

    uint32 block_type | uint32 block_total_length | body | uint32 block_total_length

The length is written twice so a reader can walk the file backwards too.
The body is padded to a multiple of 4 bytes. Most bodies end with options,
each `uint16 code | uint16 length | value padded to 4 bytes`, and the list
ends with a zero option (opt_endofopt). This writer uses four blocks:

* Section Header Block (0x0A0D0D0A). It opens the file. Its byte-order magic
  0x1A2B3C4D tells a reader whether the section is little- or big-endian;
  this writer is always little-endian.
* Interface Description Block (0x00000001). It names the link type of the
  packets: 1 is LINKTYPE_ETHERNET, so every packet starts with an Ethernet
  header. It also gives the snapshot length and, with if_tsresol, the
  timestamp unit (here 10^-6 s, microseconds).
* Decryption Secrets Block (0x0000000A). See below.
* Enhanced Packet Block (0x00000006), one per packet: the interface number,
  a 64-bit timestamp, the captured and the original length, the frame bytes,
  and here an opt_comment that says which TLS record the packet carries.
  Wireshark shows it as a packet comment (display filter `frame.comment`).

**Why synthetic TCP.** teachtls traces TLS records, not packets. An
in-memory client/server pair has no socket at all, and even a live
connection's trace sees only the bytes handed to the socket. Wireshark,
though, dissects frames: it finds TLS inside TCP, inside IPv4, inside
Ethernet. So this module invents the smallest believable TCP connection
around the records (RFC 9293):

1. the three-way handshake, SYN, SYN+ACK, ACK (§3.5);
2. each record in its own segment with PSH+ACK, in trace order (records
   longer than 1400 bytes are cut into several segments, which Wireshark
   reassembles). Sequence numbers count the payload bytes each side has
   sent; every segment acknowledges everything the peer sent before it;
3. an orderly close, FIN+ACK from the client, FIN+ACK from the server, and
   a final ACK (§3.6).

The IPv4 header checksum (RFC 791 §3.1) and the TCP checksum over the
pseudo-header (RFC 9293 §3.1) are computed, so Wireshark flags nothing.
Everything else is made up and means nothing. That covers the MAC
addresses (locally administered 02:00:00:00:00:01 for the client,
…:02 for the server), the initial sequence numbers, the window, and the
timestamps: they start at 2019-01-01T00:00:00Z (RFC 8448 appeared that
month) and advance 1 ms per packet. The same trace therefore always gives
the same bytes.

A trace may hold several connections, for instance a full handshake
followed by a resumption. Each gets its own TCP connection, from the next
client port: a client record that starts with a ClientHello opens a new one.
The exception is a second ClientHello on a connection that has carried only
plaintext handshake or change_cipher_spec records. That is the answer to a
HelloRetryRequest (RFC 8446 §4.1.4), so it stays on the same connection.

**The Decryption Secrets Block** (DSB, pcapng §4.7) carries key material
inside the capture. Its body is

    uint32 secrets_type | uint32 secrets_length | secrets data, padded to 4 bytes | options

and secrets type 0x544C534B, "TLSK" in ASCII, means the data is an NSS key
log file (see `teachtls.trace.keylog`). Wireshark 3.0 and later read it and
decrypt with no `-o tls.keylog_file:` setting. It is the same as running
`editcap --inject-secrets tls,keys.log` on a plain capture. The DSB is
written before the first packet, because a reader may need the secrets as
soon as it meets the first encrypted record. A trace with no secrets (all
plaintext, or secrets redacted) gets no DSB.

Left out on purpose: IPv6 (the addresses must be IPv4), TCP options,
retransmissions and pure ACKs (each side's next segment acknowledges the
peer's data), and any link type but Ethernet. Wireshark dissects TLS on
port 443 without help. For another server port, tell it:
`tshark -d tcp.port==4433,tls`.

Not for production: the file holds the session's secrets, so anyone who
has it can read the traffic.
"""

from __future__ import annotations

import ipaddress
import os
import struct
from collections.abc import Iterable, Iterator, Sequence

import attrs

from teachtls.trace.conversation import conversation
from teachtls.trace.events import RecordEvent, TraceEvent
from teachtls.trace.keylog import keylog_lines
from teachtls.wire.enums import ContentType, HandshakeType

Endpoint = tuple[str, int]
"""An IPv4 address and a TCP port: ("127.0.0.1", 443)."""

# --- pcapng constants (draft-ietf-opsawg-pcapng) -------------------------------

SECTION_HEADER_BLOCK = 0x0A0D0D0A
INTERFACE_DESCRIPTION_BLOCK = 0x00000001
ENHANCED_PACKET_BLOCK = 0x00000006
DECRYPTION_SECRETS_BLOCK = 0x0000000A

BYTE_ORDER_MAGIC = 0x1A2B3C4D
TLS_KEY_LOG_SECRETS = 0x544C534B  # "TLSK": the data is an NSS key log file
LINKTYPE_ETHERNET = 1
SNAPLEN = 262144  # as tcpdump; our frames are far shorter

OPT_ENDOFOPT = 0
OPT_COMMENT = 1
SHB_USERAPPL = 4
IF_NAME = 2
IF_TSRESOL = 9

# --- the invented network -------------------------------------------------------

START_MICROSECONDS = 1_546_300_800 * 1_000_000  # 2019-01-01T00:00:00Z
TICK_MICROSECONDS = 1_000  # one packet per millisecond
MAX_SEGMENT_PAYLOAD = 1400  # bytes of TLS per TCP segment
WINDOW = 65535
CLIENT_MAC = bytes.fromhex("020000000001")
SERVER_MAC = bytes.fromhex("020000000002")
CLIENT_INITIAL_SEQUENCE = 0x10000000
SERVER_INITIAL_SEQUENCE = 0x20000000

# TCP flags, RFC 9293 §3.1
FIN = 0x01
SYN = 0x02
PSH = 0x08
ACK = 0x10

ETHERTYPE_IPV4 = 0x0800
IP_PROTOCOL_TCP = 6


@attrs.frozen(kw_only=True)
class Segment:
    """One invented TCP segment: who sends it, its numbers, flags and payload.

    `connection` counts the TCP connections of the capture from 0; connection
    n uses client port + n. `comment` becomes the packet's pcapng comment."""

    connection: int
    sender: str  # "client" or "server"
    sequence_number: int
    acknowledgment_number: int
    flags: int
    payload: bytes = b""
    comment: str = ""


# --- from records to segments ---------------------------------------------------------


def wire_records(events: Sequence[TraceEvent]) -> list[tuple[str, RecordEvent]]:
    """(sender, record) for each record that crossed the wire, once each, in order."""
    return [(step.sender, step.event) for step in conversation(events) if isinstance(step.event, RecordEvent)]


def _starts_with_client_hello(record: RecordEvent) -> bool:
    # A plaintext handshake record: 5-byte header, then msg_type (RFC 8446 §5.1, §4).
    return record.content_type == ContentType.handshake and record.raw[5:6] == bytes([HandshakeType.client_hello])


def _type_name(enum_type: type[ContentType] | type[HandshakeType], value: int) -> str:
    try:
        return enum_type(value).name
    except ValueError:
        return str(value)


def _handshake_message_names(fragment: bytes) -> list[str]:
    """The msg_type names of the handshake messages that start in `fragment`.

    Each message is `msg_type (1) | length (3) | body` (RFC 8446 §4); a
    message cut across records ends the walk."""
    names = []
    while len(fragment) >= 4:
        names.append(_type_name(HandshakeType, fragment[0]))
        fragment = fragment[4 + int.from_bytes(fragment[1:4], "big") :]
    return names


def describe_record(record: RecordEvent) -> str:
    """One line on what a record carries, for the packet comment:

    "handshake (client_hello), plaintext, 201 bytes"
    "handshake (encrypted_extensions, certificate, ...), encrypted with handshake keys, 679 bytes"

    A protected record is application_data on the outside; the type named
    is the inner one from TLSInnerPlaintext (RFC 8446 §5.2)."""
    content_type: int | None
    if record.protection == "plaintext":
        content_type, fragment, how = record.content_type, record.raw[5:], "plaintext"
    else:
        content_type, fragment = record.inner_content_type, record.plaintext
        how = f"encrypted with {record.protection} keys"
    name = "encrypted" if content_type is None else _type_name(ContentType, content_type)
    if content_type == ContentType.handshake and fragment:
        name += f" ({', '.join(_handshake_message_names(fragment))})"
    return f"{name}, {how}, {len(record.raw)} bytes"


class _TcpConnection:
    """The sequence numbers of one invented TCP connection (RFC 9293 §3.4)."""

    def __init__(self, number: int) -> None:
        self.number = number
        # the next sequence number each side will send
        self.next_sequence = {"client": CLIENT_INITIAL_SEQUENCE, "server": SERVER_INITIAL_SEQUENCE}
        self.only_plaintext_handshake = True

    def segment(self, sender: str, flags: int, payload: bytes = b"", comment: str = "") -> Segment:
        receiver = "server" if sender == "client" else "client"
        segment = Segment(
            connection=self.number,
            sender=sender,
            sequence_number=self.next_sequence[sender],
            # the SYN acknowledges nothing; every later segment acknowledges all the peer sent
            acknowledgment_number=self.next_sequence[receiver] if flags & ACK else 0,
            flags=flags,
            payload=payload,
            comment=comment,
        )
        # SYN and FIN each occupy one sequence number (RFC 9293 §3.4)
        self.next_sequence[sender] = (
            self.next_sequence[sender] + len(payload) + (1 if flags & (SYN | FIN) else 0)
        ) % 2**32
        return segment

    def open(self) -> Iterator[Segment]:
        yield self.segment("client", SYN, comment="synthetic TCP handshake: teachtls traces records, not packets")
        yield self.segment("server", SYN | ACK)
        yield self.segment("client", ACK)

    def close(self) -> Iterator[Segment]:
        yield self.segment("client", FIN | ACK, comment="synthetic TCP close")
        yield self.segment("server", FIN | ACK)
        yield self.segment("client", ACK)


def tcp_segments(events: Sequence[TraceEvent]) -> list[Segment]:
    """The invented TCP segments that carry a trace's records, handshakes and closes included."""
    segments: list[Segment] = []
    connection: _TcpConnection | None = None
    for number, (sender, record) in enumerate(wire_records(events), start=1):
        # a ClientHello opens a new connection, unless it answers a HelloRetryRequest
        new_connection = sender == "client" and _starts_with_client_hello(record)
        if connection is None or (new_connection and not connection.only_plaintext_handshake):
            if connection is not None:
                segments += connection.close()
            connection = _TcpConnection(0 if connection is None else connection.number + 1)
            segments += connection.open()
        if record.protection != "plaintext" or record.content_type not in (
            ContentType.handshake,
            ContentType.change_cipher_spec,
        ):
            connection.only_plaintext_handshake = False
        description = f"record {number}, {sender} → {'server' if sender == 'client' else 'client'}: "
        description += describe_record(record)
        chunks = [record.raw[i : i + MAX_SEGMENT_PAYLOAD] for i in range(0, len(record.raw), MAX_SEGMENT_PAYLOAD)]
        for index, chunk in enumerate(chunks):
            comment = description if len(chunks) == 1 else f"{description}, part {index + 1} of {len(chunks)}"
            segments.append(connection.segment(sender, PSH | ACK, chunk, comment))
    if connection is not None:
        segments += connection.close()
    return segments


# --- from segments to Ethernet frames ---------------------------------------------------


def internet_checksum(data: bytes) -> int:
    """The 16-bit one's complement of the one's complement sum of `data` (RFC 1071)."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ipv4(host: str) -> bytes:
    try:
        return ipaddress.IPv4Address(host).packed
    except ValueError:
        raise ValueError(f"pcap export needs IPv4 addresses, got {host!r}") from None


def ethernet_frame(
    segment: Segment,
    *,
    identification: int,
    client: Endpoint = ("127.0.0.1", 50000),
    server: Endpoint = ("127.0.0.1", 443),
) -> bytes:
    """Ethernet II + IPv4 (RFC 791) + TCP (RFC 9293) around one segment."""
    # connection n of a capture comes from the client port + n
    client_end = (_ipv4(client[0]), client[1] + segment.connection, CLIENT_MAC)
    server_end = (_ipv4(server[0]), server[1], SERVER_MAC)
    ends = (client_end, server_end) if segment.sender == "client" else (server_end, client_end)
    (source_address, source_port, source_mac), (destination_address, destination_port, destination_mac) = ends

    # TCP header: ports, seq, ack, data offset (5 words, no options) and flags, window, checksum, urgent pointer
    def tcp_header(checksum: int) -> bytes:
        return struct.pack(
            "!HHIIBBHHH",
            source_port,
            destination_port,
            segment.sequence_number,
            segment.acknowledgment_number,
            5 << 4,
            segment.flags,
            WINDOW,
            checksum,
            0,
        )

    tcp_length = 20 + len(segment.payload)
    # RFC 9293 §3.1: the checksum also covers a pseudo-header of addresses, protocol and TCP length
    pseudo_header = source_address + destination_address + struct.pack("!BBH", 0, IP_PROTOCOL_TCP, tcp_length)
    tcp = tcp_header(internet_checksum(pseudo_header + tcp_header(0) + segment.payload)) + segment.payload

    # IPv4 header: version 4, IHL 5 words; DSCP 0; total length; identification; Don't Fragment; TTL 64
    def ip_header(checksum: int) -> bytes:
        return struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + tcp_length,
            identification,
            0x4000,
            64,
            IP_PROTOCOL_TCP,
            checksum,
            source_address,
            destination_address,
        )

    ip = ip_header(internet_checksum(ip_header(0)))
    return destination_mac + source_mac + struct.pack("!H", ETHERTYPE_IPV4) + ip + tcp


# --- pcapng blocks ----------------------------------------------------------------------


def _pad4(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def _options(*options: tuple[int, bytes]) -> bytes:
    """Options as `code | length | value padded to 4`, then opt_endofopt; b"" for none."""
    if not options:
        return b""
    encoded = b"".join(struct.pack("<HH", code, len(value)) + _pad4(value) for code, value in options)
    return encoded + struct.pack("<HH", OPT_ENDOFOPT, 0)


def block(block_type: int, body: bytes) -> bytes:
    """A pcapng block: type, total length, body padded to 4 bytes, total length again."""
    body = _pad4(body)
    total_length = 12 + len(body)
    return struct.pack("<II", block_type, total_length) + body + struct.pack("<I", total_length)


def section_header_block() -> bytes:
    # major 1, minor 0; section length -1 means "not given"
    body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + _options((SHB_USERAPPL, b"teachtls"))
    return block(SECTION_HEADER_BLOCK, body)


def interface_description_block() -> bytes:
    body = struct.pack("<HHI", LINKTYPE_ETHERNET, 0, SNAPLEN) + _options(
        (IF_NAME, b"teachtls synthetic loopback"),
        (IF_TSRESOL, bytes([6])),  # 10^-6 s
    )
    return block(INTERFACE_DESCRIPTION_BLOCK, body)


def decryption_secrets_block(keylog_text: bytes) -> bytes:
    """A DSB holding an NSS key log (secrets type "TLSK"), pcapng §4.7."""
    body = struct.pack("<II", TLS_KEY_LOG_SECRETS, len(keylog_text)) + _pad4(keylog_text)
    return block(DECRYPTION_SECRETS_BLOCK, body)


def enhanced_packet_block(frame: bytes, microseconds: int, comment: str = "") -> bytes:
    # interface 0; the timestamp is split into its high and low 32 bits
    header = struct.pack("<IIIII", 0, microseconds >> 32, microseconds & 0xFFFFFFFF, len(frame), len(frame))
    options = _options((OPT_COMMENT, comment.encode("utf-8"))) if comment else b""
    return block(ENHANCED_PACKET_BLOCK, header + _pad4(frame) + options)


# --- the public API ---------------------------------------------------------------------


def pcapng_bytes(
    events: Iterable[TraceEvent],
    *,
    client: Endpoint = ("127.0.0.1", 50000),
    server: Endpoint = ("127.0.0.1", 443),
) -> bytes:
    """A trace as a pcapng capture: its records in synthetic TCP, with its secrets.

    `client` and `server` are the invented IPv4 endpoints; a trace with
    several connections uses client ports `client[1]`, `client[1] + 1`, ...
    The result depends on the trace alone, byte for byte.

    Raises ValueError for an address that is not IPv4 or a port out of range."""
    for host, port in (client, server):
        _ipv4(host)
        if not 0 < port < 65536:
            raise ValueError(f"TCP port out of range: {port}")
    events = list(events)
    blocks = [section_header_block(), interface_description_block()]
    lines = keylog_lines(events)
    if lines:
        blocks.append(decryption_secrets_block("".join(line + "\n" for line in lines).encode("ascii")))
    segments = tcp_segments(events)
    if segments and client[1] + segments[-1].connection > 65535:
        raise ValueError(f"{segments[-1].connection + 1} connections do not fit above client port {client[1]}")
    identification = {"client": 0, "server": 0}  # IPv4 identification, counted per sender
    for index, segment in enumerate(segments):
        identification[segment.sender] += 1
        frame = ethernet_frame(segment, identification=identification[segment.sender], client=client, server=server)
        blocks.append(enhanced_packet_block(frame, START_MICROSECONDS + index * TICK_MICROSECONDS, segment.comment))
    return b"".join(blocks)


def write_pcapng(
    events: Iterable[TraceEvent],
    path: str | os.PathLike[str],
    *,
    client: Endpoint = ("127.0.0.1", 50000),
    server: Endpoint = ("127.0.0.1", 443),
) -> None:
    """Write `pcapng_bytes(events)` to `path`, readable by its owner only (it holds secrets).

    Open it with `wireshark path` or `tshark -r path`: no key log file needed."""
    data = pcapng_bytes(events, client=client, server=server)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
        file.write(data)
