"""NSS key log lines from traces: labels, connections, duplicates, live writing.

The first connection uses the values of RFC 8448 §3 (Simple 1-RTT
Handshake): its ClientHello and the secrets derived from it, copied from
the RFC's text. The events around them are synthetic -- they stand for what
an in-memory client/server pair traced by one observer would emit.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from teachtls.trace import (
    KeylogWriter,
    MessageReceived,
    MessageSent,
    ParametersNegotiated,
    SecretDerived,
    StateChanged,
    TraceEvent,
    keylog_lines,
    write_keylog,
)
from teachtls.wire.codec import FieldSpan

# RFC 8448 §3, {client} construct a ClientHello handshake message
RFC8448_CLIENT_HELLO = bytes.fromhex(
    "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302010000910000"
    "000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400230000003300260024001d"
    "002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304000d0020001e04030503060302"
    "0308040805080604010501060102010402050206020202002d00020101001c00024001"
)
RFC8448_CLIENT_RANDOM = "cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7"

# RFC 8448 §3, {server} extract secret / derive secret: the "expanded" (or "secret") values
RFC8448_SECRETS = {
    "handshake_secret": "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac",
    "client_handshake_traffic_secret": "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
    "server_handshake_traffic_secret": "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38",
    "master_secret": "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919",
    "client_application_traffic_secret_0": "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5",
    "server_application_traffic_secret_0": "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643",
    "exporter_master_secret": "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50",
}

RFC8448_KEYLOG = [
    f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {RFC8448_CLIENT_RANDOM} {RFC8448_SECRETS['client_handshake_traffic_secret']}",
    f"SERVER_HANDSHAKE_TRAFFIC_SECRET {RFC8448_CLIENT_RANDOM} {RFC8448_SECRETS['server_handshake_traffic_secret']}",
    f"CLIENT_TRAFFIC_SECRET_0 {RFC8448_CLIENT_RANDOM} {RFC8448_SECRETS['client_application_traffic_secret_0']}",
    f"SERVER_TRAFFIC_SECRET_0 {RFC8448_CLIENT_RANDOM} {RFC8448_SECRETS['server_application_traffic_secret_0']}",
    f"EXPORTER_SECRET {RFC8448_CLIENT_RANDOM} {RFC8448_SECRETS['exporter_master_secret']}",
]


def client_hello(role: str, raw: bytes) -> TraceEvent:
    """The ClientHello as the client sent it, or as the server received it."""
    cls = MessageSent if role == "client" else MessageReceived
    return cls(role=role, name="ClientHello", msg_type=1, raw=raw)


def derived(role: str, name: str, value: str | bytes) -> SecretDerived:
    value = bytes.fromhex(value) if isinstance(value, str) else value
    return SecretDerived(role=role, name=name, operation="Derive-Secret", label="", parent="", value=value)


def tls13_connection(role: str, raw_client_hello: bytes, secrets: dict[str, str]) -> list[TraceEvent]:
    """One side of a TLS 1.3 handshake, as far as a key log cares."""
    return [
        client_hello(role, raw_client_hello),
        StateChanged(role=role, machine=f"{role}13", old_state="START", new_state="WAIT_SH", trigger="ClientHello"),
        ParametersNegotiated(role=role, version="TLS 1.3", cipher_suite="TLS_AES_128_GCM_SHA256"),
        *(derived(role, name, value) for name, value in secrets.items()),
    ]


def paired_rfc8448_trace() -> list[TraceEvent]:
    """Client and server in one trace: the same ClientHello and the same secrets, twice."""
    client = tls13_connection("client", RFC8448_CLIENT_HELLO, RFC8448_SECRETS)
    server = tls13_connection("server", RFC8448_CLIENT_HELLO, RFC8448_SECRETS)
    # interleave them roughly as an in-memory pair would
    return [event for pair in zip(client, server, strict=True) for event in pair]


def other_client_hello(random_byte: int) -> bytes:
    return bytes.fromhex("010000260303") + bytes([random_byte]) * 32 + b"\x00\x00\x00"


# --- lines from a recorded trace -------------------------------------------------


def test_rfc8448_handshake_gives_the_five_tls13_lines() -> None:
    trace = tls13_connection("client", RFC8448_CLIENT_HELLO, RFC8448_SECRETS)
    assert keylog_lines(trace) == RFC8448_KEYLOG


def test_both_roles_of_a_pair_give_each_line_once() -> None:
    assert keylog_lines(paired_rfc8448_trace()) == RFC8448_KEYLOG


def test_server_only_trace_gives_the_same_lines() -> None:
    trace = tls13_connection("server", RFC8448_CLIENT_HELLO, RFC8448_SECRETS)
    assert keylog_lines(trace) == RFC8448_KEYLOG


def test_tls13_master_secret_and_other_secrets_are_not_logged() -> None:
    lines = keylog_lines(tls13_connection("client", RFC8448_CLIENT_HELLO, RFC8448_SECRETS))
    text = "\n".join(lines)
    assert RFC8448_SECRETS["master_secret"] not in text
    assert RFC8448_SECRETS["handshake_secret"] not in text
    assert "CLIENT_RANDOM" not in text


def test_early_data_labels() -> None:
    trace = [
        client_hello("client", other_client_hello(0x11)),
        derived("client", "client_early_traffic_secret", b"\xe1" * 32),
        derived("client", "early_exporter_master_secret", b"\xe2" * 32),
    ]
    random = "11" * 32
    assert keylog_lines(trace) == [
        f"CLIENT_EARLY_TRAFFIC_SECRET {random} {'e1' * 32}",
        f"EARLY_EXPORTER_SECRET {random} {'e2' * 32}",
    ]


def test_later_traffic_secret_generations_are_not_logged() -> None:
    # RFC 8446 §7.2: after KeyUpdate; Wireshark derives these itself.
    trace = [
        client_hello("client", other_client_hello(0x11)),
        derived("client", "client_application_traffic_secret_1", b"\xe1" * 32),
    ]
    assert keylog_lines(trace) == []


def test_two_connections_one_after_the_other() -> None:
    second_secrets = {"client_handshake_traffic_secret": "22" * 32, "server_handshake_traffic_secret": "33" * 32}
    trace = paired_rfc8448_trace() + tls13_connection("client", other_client_hello(0x44), second_secrets)
    second_random = "44" * 32
    assert keylog_lines(trace) == [
        *RFC8448_KEYLOG,
        f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {second_random} {'22' * 32}",
        f"SERVER_HANDSHAKE_TRAFFIC_SECRET {second_random} {'33' * 32}",
    ]


def test_each_role_follows_its_own_connection() -> None:
    # The client has already started a second connection when the server
    # derives a secret of the first: it must still go with the first random.
    trace = [
        client_hello("client", other_client_hello(0x01)),
        client_hello("server", other_client_hello(0x01)),
        client_hello("client", other_client_hello(0x02)),
        derived("server", "server_handshake_traffic_secret", b"\x0a" * 32),
        derived("client", "client_handshake_traffic_secret", b"\x0b" * 32),
    ]
    assert keylog_lines(trace) == [
        f"SERVER_HANDSHAKE_TRAFFIC_SECRET {'01' * 32} {'0a' * 32}",
        f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {'02' * 32} {'0b' * 32}",
    ]


def test_hello_retry_request_keeps_the_random() -> None:
    # RFC 8446 §4.1.2: the second ClientHello repeats the random.
    trace = [
        client_hello("client", other_client_hello(0x05)),
        client_hello("client", other_client_hello(0x05)),
        derived("client", "client_handshake_traffic_secret", b"\x0c" * 32),
    ]
    assert keylog_lines(trace) == [f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {'05' * 32} {'0c' * 32}"]


def test_tls12_master_secret_is_client_random() -> None:
    master_secret = b"\x12" * 48
    trace = [
        client_hello("client", other_client_hello(0x66)),
        ParametersNegotiated(role="client", version="TLS 1.2", cipher_suite="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        derived("client", "master_secret", master_secret),
    ]
    assert keylog_lines(trace) == [f"CLIENT_RANDOM {'66' * 32} {master_secret.hex()}"]


def test_version_is_forgotten_at_the_next_client_hello() -> None:
    trace = [
        client_hello("client", other_client_hello(0x66)),
        ParametersNegotiated(role="client", version="TLS 1.2", cipher_suite="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        client_hello("client", other_client_hello(0x77)),
        derived("client", "master_secret", b"\x13" * 32),  # a TLS 1.3 Master Secret: no version said 1.2
    ]
    assert keylog_lines(trace) == []


def test_secret_before_any_client_hello_is_left_out() -> None:
    trace = [derived("client", "client_handshake_traffic_secret", b"\x0d" * 32)]
    assert keylog_lines(trace) == []


def test_random_from_the_field_spans_when_raw_is_missing() -> None:
    spans = (FieldSpan(path="ClientHello.random", start=6, end=38, value=RFC8448_CLIENT_RANDOM),)
    hello = MessageSent(role="client", name="ClientHello", msg_type=1, raw=b"", fields=spans)
    trace = [
        hello,
        derived("client", "client_handshake_traffic_secret", RFC8448_SECRETS["client_handshake_traffic_secret"]),
    ]
    assert keylog_lines(trace) == RFC8448_KEYLOG[:1]


def test_no_events_no_lines() -> None:
    assert keylog_lines([]) == []


# --- files -----------------------------------------------------------------------


def test_write_keylog(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    path.write_text("old contents\n")
    write_keylog(paired_rfc8448_trace(), path)
    assert path.read_text() == "".join(line + "\n" for line in RFC8448_KEYLOG)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_new_keylog_files_are_private(tmp_path: Path) -> None:
    write_keylog([], tmp_path / "batch.log")
    with KeylogWriter(tmp_path / "live.log"):
        pass
    for name in ("batch.log", "live.log"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600


def test_keylog_writer_streams_each_line_as_it_is_derived(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    trace = paired_rfc8448_trace()
    with KeylogWriter(path) as writer:
        for count, event in enumerate(trace, start=1):
            writer(event)
            # already on disk, without closing: as SSLKEYLOGFILE
            assert path.read_text().splitlines() == keylog_lines(trace[:count])
    assert path.read_text().splitlines() == RFC8448_KEYLOG


def test_keylog_writer_appends(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    path.write_text("# from another program\n")
    with KeylogWriter(path) as writer:
        for event in tls13_connection("client", RFC8448_CLIENT_HELLO, RFC8448_SECRETS):
            writer(event)
    assert path.read_text().splitlines() == ["# from another program", *RFC8448_KEYLOG]


def test_tls12_trace_gives_one_client_random_line() -> None:
    """A TLS 1.2 master secret is derived before ParametersNegotiated arrives."""
    from teachtls.scenarios.named import run_scenario

    lines = keylog_lines(run_scenario("tls12-ecdhe"))
    assert len(lines) == 1 and lines[0].startswith("CLIENT_RANDOM ")
