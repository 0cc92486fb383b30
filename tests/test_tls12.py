"""TLS 1.2 in memory: a teachtls client and server back to back (no sockets).

What is shown here, each with the RFC clause it rests on:

1. **Version negotiation** (RFC 8446 §4.2.1, §4.1.3). A client offering
   TLS 1.3 and 1.2 to a server capped at 1.2 gets TLS 1.2, and that server,
   which could not have spoken 1.3, does *not* end its random with the
   "DOWNGRD\\x01" sentinel. A man in the middle who strips TLS 1.3 from the
   ClientHello of a 1.3-capable pair is caught by that sentinel.
2. **Every TLS 1.2 suite** (`SUITES_12`), the teaching-only ones included,
   with application data both ways.
3. **The extended master secret** (RFC 7627): on by default, off when either
   side does not want it.
4. **Client authentication** (RFC 5246 §7.4.4, §7.4.6, §7.4.8), **OCSP
   stapling** (RFC 6066 §8) and **resumption** by session ID and by ticket
   (RFC 5246 §7.3, RFC 5077).
5. **Renegotiation** (RFC 5746): started by either side, refused with a
   warning no_renegotiation alert when a peer lacks RFC 5746 or does not
   allow it, and fatal (handshake_failure) when the proof of continuity --
   the previous Finished values in renegotiation_info -- is wrong.
6. **Bad input**, one corruption per test: a wrong Finished, a tampered
   record, a forged ServerKeyExchange signature, a ChangeCipherSpec out of turn.
7. **A golden trace**: one deterministic TLS 1.2 handshake, its JSON Lines
   trace committed as tests/golden/traces/tls12-ecdhe.jsonl and compared
   event by event. Regenerate after an intended change with

       UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_tls12.py -k golden

   and review the diff like documentation.

The peers "from before RFC 5746" are small subclasses that strip
renegotiation_info from their hellos: teachtls itself always sends it.
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

import attrs
import pytest

from teachtls import (
    ApplicationData,
    ClientConnection,
    Config,
    HandshakeCompleted,
    RemoteAlert,
    ServerConnection,
    TLSError,
    WarningAlertReceived,
)
from teachtls.config import system_clock
from teachtls.crypto.suites12 import DEFAULT_SUITES_12, SUITES_12, TEACHING_ONLY_SUITES_12, CipherSuite12
from teachtls.handshake.alerts import (
    BadRecordMac,
    CertificateRevoked,
    DecryptError,
    HandshakeFailure,
    IllegalParameter,
    UnexpectedMessage,
)
from teachtls.handshake.states import State
from teachtls.pki.generate import IssuedCertificate, KeyType, issue_leaf
from teachtls.pki.ocsp import make_ocsp_response
from teachtls.scenarios import memory
from teachtls.scenarios.named import fixed_handshake
from teachtls.sessions import SessionDatabase, StatelessTickets
from teachtls.trace import events as trace
from teachtls.trace.jsonl import dumps_jsonl, loads_jsonl
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import AlertDescription, ContentType, ExtensionType, HandshakeType, ProtocolVersion
from teachtls.wire.messages import DOWNGRADE_TLS12, ClientHello, HandshakeMessage, ServerHello
from teachtls.wire.record import HEADER_LENGTH, build_header
from tests.golden_traces import check_golden_trace, golden_trace_file
from tests.handshake_pair import (
    HandshakePair,
    client_config,
    counter_random,
    pki,
    server_config,
    split_records,
)
from tests.interop import strip_tls13

TLS1_2, TLS1_3 = ProtocolVersion.TLS1_2, ProtocolVersion.TLS1_3
E = ExtensionType
NO_RENEGOTIATION = AlertDescription.no_renegotiation_RESERVED

GOLDEN = golden_trace_file("tls12-ecdhe")


# --- certificates ------------------------------------------------------------------------


@functools.cache
def leaf(key_type: KeyType, *, server: bool = True) -> IssuedCertificate:
    """A leaf of `key_type` from the cached test CA (made once per session)."""
    ca, _ = pki()
    return issue_leaf(ca, "localhost", dns_names=["localhost"], key_type=key_type, server=server)


def cert_type_for(suite: int) -> KeyType:
    """ECDHE_ECDSA suites need an EC (or Ed25519) key, RSA and ECDHE_RSA an RSA key."""
    return "ecdsa-p256" if SUITES_12[suite].key_exchange == "ECDHE_ECDSA" else "rsa-2048"


# --- configurations and pairs ----------------------------------------------------------------


def tls12_server(key_type: KeyType | None = None, **overrides: Any) -> ServerConnection:
    """A server capped at TLS 1.2 (the Ed25519 test leaf unless `key_type` says otherwise)."""
    settings: dict[str, Any] = {"versions": (TLS1_2,)}
    if key_type is not None:
        issued = leaf(key_type)
        settings.update(certificate_chain=(issued.certificate,), private_key=issued.private_key)
    settings.update(overrides)
    return ServerConnection(server_config(**settings))


def tls12_pair(client: dict[str, Any] | None = None, server: dict[str, Any] | None = None) -> HandshakePair:
    """A default (1.3 + 1.2) client and a 1.2-only server; keyword overrides per side."""
    return HandshakePair(ClientConnection(client_config(**(client or {}))), tls12_server(**(server or {})))


def completed_of(events: list[Any]) -> HandshakeCompleted:
    (completed,) = [event for event in events if isinstance(event, HandshakeCompleted)]
    return completed


def data_of(events: list[Any]) -> bytes:
    return b"".join(event.data for event in events if isinstance(event, ApplicationData))


def exchange_data(pair: HandshakePair, tag: bytes = b"") -> None:
    """Application data flows both ways."""
    pair.client.send_application_data(b"ping" + tag)
    client_events, server_events = pair.pump()
    assert data_of(server_events) == b"ping" + tag
    pair.server.send_application_data(b"pong" + tag)
    client_events, server_events = pair.pump()
    assert data_of(client_events) == b"pong" + tag


def of_type(recorder: Recorder, event_type: type[Any], **fields: Any) -> list[Any]:
    return [
        event
        for event in recorder.events
        if type(event) is event_type and all(getattr(event, name) == value for name, value in fields.items())
    ]


def messages(recorder: Recorder, event_type: type[Any], role: str) -> list[str]:
    return [event.name for event in of_type(recorder, event_type, role=role)]


def master_secret_labels(recorder: Recorder, role: str) -> list[str]:
    return [event.label for event in of_type(recorder, trace.SecretDerived, role=role, name="master_secret")]


# --- handshake messages and records on the wire ----------------------------------------------


def handshake_messages(flight: bytes) -> list[bytes]:
    """The handshake messages inside a flight's plaintext handshake records."""
    payload = b"".join(record[HEADER_LENGTH:] for record in split_records(flight) if record[0] == ContentType.handshake)
    found = []
    while payload:
        length = 4 + int.from_bytes(payload[1:4], "big")
        found.append(payload[:length])
        payload = payload[length:]
    return found


def handshake_record(*raw_messages: bytes, legacy_record_version: int = TLS1_2) -> bytes:
    """One plaintext handshake record around the messages (RFC 5246 §6.2.1)."""
    body = b"".join(raw_messages)
    return build_header(ContentType.handshake, len(body), legacy_record_version) + body


CHANGE_CIPHER_SPEC_RECORD = build_header(ContentType.change_cipher_spec, 1) + b"\x01"


def flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


# --- 1. version negotiation and downgrade protection ---------------------------------------------


def test_tls13_client_gets_tls12_from_a_server_capped_at_12() -> None:
    recorder = Recorder()
    pair = tls12_pair({"observer": recorder}, {"observer": recorder})

    client_events, server_events = pair.handshake()

    assert completed_of(client_events).version == completed_of(server_events).version == "TLS 1.2"
    assert completed_of(client_events).cipher_suite == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    assert (pair.client.machine, pair.server.machine) == ("client12", "server12")
    # The client offered TLS 1.3 ...
    (client_hello,) = of_type(recorder, trace.MessageSent, role="client", name="ClientHello")
    assert "supported_versions" in client_hello.summary and "key_share" in client_hello.summary
    # ... but a server that cannot speak 1.3 was not downgraded by anyone: no
    # sentinel (RFC 8446 §4.1.3 asks it only of servers that *could* negotiate 1.3).
    (server_hello,) = of_type(recorder, trace.MessageSent, role="server", name="ServerHello")
    server_random = server_hello.raw[6:38]
    assert not server_random.endswith(DOWNGRADE_TLS12)
    assert of_type(recorder, trace.CheckPerformed, role="client", check="downgrade_sentinel")[0].passed
    exchange_data(pair)


def test_tls13_capable_server_marks_its_tls12_server_hello() -> None:
    """A 1.3-capable server talking to a 1.2-only client sets the sentinel; the
    1.2-only client has no reason to look at it (RFC 8446 §4.1.3)."""
    recorder = Recorder()
    pair = HandshakePair(
        ClientConnection(client_config(versions=(TLS1_2,), observer=recorder)),
        ServerConnection(server_config(observer=recorder)),
    )

    client_events, _server_events = pair.handshake()

    assert completed_of(client_events).version == "TLS 1.2"
    (server_hello,) = of_type(recorder, trace.MessageSent, role="server", name="ServerHello")
    assert server_hello.raw[6:38].endswith(DOWNGRADE_TLS12)


def test_forced_downgrade_is_detected() -> None:
    recorder = Recorder()
    client = ClientConnection(client_config(observer=recorder))
    server = ServerConnection(server_config(observer=recorder))  # TLS 1.3 and 1.2

    client.start_handshake()
    # The man in the middle (tests/interop.py): no supported_versions, no
    # key_share, no TLS 1.3 suites -- a ClientHello that looks 1.2-only.
    server.receive_data(strip_tls13(client.data_to_send()))

    # The server sees a 1.2-only ClientHello, answers 1.2 -- and, being able to
    # speak 1.3, says so in the last 8 bytes of its random.
    assert server.machine == "server12"
    (server_hello,) = of_type(recorder, trace.MessageSent, role="server", name="ServerHello")
    assert server_hello.raw[6:38].endswith(DOWNGRADE_TLS12)
    # The client offered 1.3, so it stops right there: the sentinel check comes
    # before anything else (the Finished would fail later too: the transcripts differ).
    with pytest.raises(IllegalParameter, match="downgrade sentinel"):
        client.receive_data(server.data_to_send())
    (check,) = of_type(recorder, trace.CheckPerformed, role="client", check="downgrade_sentinel")
    assert check.passed is False and check.rfc == "RFC 8446 §4.1.3"
    assert [alert.description for alert in of_type(recorder, trace.AlertSent, role="client")] == ["illegal_parameter"]
    with pytest.raises(RemoteAlert) as remote:
        server.receive_data(client.data_to_send())
    assert remote.value.description == AlertDescription.illegal_parameter


def test_without_the_attacker_the_same_pair_speaks_tls13() -> None:
    client_events, _server_events = HandshakePair().handshake()
    assert completed_of(client_events).version == "TLS 1.3"


# --- 2. every TLS 1.2 suite --------------------------------------------------------------------


@pytest.mark.parametrize("suite", list(DEFAULT_SUITES_12) + list(TEACHING_ONLY_SUITES_12), ids=lambda s: s.name)
def test_every_suite(suite: CipherSuite12) -> None:
    """The server prefers `suite` (listed first, before the teaching-only suites
    that `legacy_suites_for_teaching` adds); the client offers it."""
    params = SUITES_12[suite]
    teaching = params.teaching_only
    recorder = Recorder()
    client = ClientConnection(
        client_config(
            cipher_suites_12=() if teaching else (suite,), legacy_suites_for_teaching=teaching, observer=recorder
        )
    )
    server = tls12_server(
        cert_type_for(suite), cipher_suites_12=(suite,), legacy_suites_for_teaching=teaching, observer=recorder
    )

    exchange = memory.run(client, server, client_data=b"ping " * 100, server_data=b"pong " * 100)

    completed = completed_of(exchange.client_events)
    assert completed.version == "TLS 1.2"
    assert completed.cipher_suite == completed_of(exchange.server_events).cipher_suite == suite.name
    assert exchange.server_received == b"ping " * 100
    assert exchange.client_received == b"pong " * 100
    if params.key_exchange == "RSA":
        # Static RSA: no ServerKeyExchange, no ephemeral group, and a warning in the trace.
        assert completed.group == ""
        assert "ServerKeyExchange" not in messages(recorder, trace.MessageReceived, "client")
        assert any(note.level == "warning" and "forward secrecy" in note.text for note in of_type(recorder, trace.Note))
    else:
        assert completed.group == "x25519"
        assert messages(recorder, trace.MessageReceived, "client")[2] == "ServerKeyExchange"
    # AES-CBC with HMAC: an explicit 16-byte IV in front of every record, and the
    # MAC inside the encryption (MAC-then-encrypt, RFC 5246 §6.2.3.2).
    app_records = of_type(recorder, trace.RecordSent, role="client", content_type=ContentType.application_data)
    assert len(app_records[0].nonce) == (16 if params.cipher_type == "block" else 12)


def test_teaching_only_suites_are_not_offered_by_default() -> None:
    recorder = Recorder()
    pair = tls12_pair({"observer": recorder})
    pair.handshake()
    (client_hello,) = of_type(recorder, trace.MessageSent, role="client", name="ClientHello")
    for suite in TEACHING_ONLY_SUITES_12:
        assert suite.name not in client_hello.summary
    for suite in DEFAULT_SUITES_12:
        assert suite.name in client_hello.summary


# --- 3. the extended master secret (RFC 7627) ------------------------------------------------


@pytest.mark.parametrize(
    ("client_ems", "server_ems", "label"),
    [
        (True, True, "extended master secret"),
        (False, True, "master secret"),
        (True, False, "master secret"),
    ],
    ids=["default", "client-off", "server-off"],
)
def test_extended_master_secret(client_ems: bool, server_ems: bool, label: str) -> None:
    recorder = Recorder()
    pair = tls12_pair(
        {"extended_master_secret": client_ems, "observer": recorder},
        {"extended_master_secret": server_ems, "observer": recorder},
    )

    pair.handshake()

    assert master_secret_labels(recorder, "client") == master_secret_labels(recorder, "server") == [label]
    (server_hello,) = of_type(recorder, trace.MessageReceived, role="client", name="ServerHello")
    assert ("extended_master_secret" in server_hello.summary) is (label == "extended master secret")
    (derived,) = of_type(recorder, trace.SecretDerived, role="client", name="master_secret")
    if label == "extended master secret":
        # RFC 7627 §4: PRF(pre_master_secret, "extended master secret", session_hash),
        # session_hash covering the handshake through ClientKeyExchange.
        assert derived.inputs == ("session_hash",) and derived.transcript_through == "ClientKeyExchange"
    else:
        assert derived.inputs == ("ClientHello.random", "ServerHello.random")
    assert pair.client.secrets["master_secret"] == pair.server.secrets["master_secret"]
    exchange_data(pair)


# --- 4. client authentication, OCSP stapling, resumption ------------------------------------


@pytest.mark.parametrize("key_type", ["ed25519", "ecdsa-p256", "rsa-2048"])
def test_client_certificate_required_and_sent(key_type: KeyType) -> None:
    ca, _ = pki()
    client_leaf = leaf(key_type, server=False)
    recorder = Recorder()
    pair = tls12_pair(
        {
            "certificate_chain": (client_leaf.certificate,),
            "private_key": client_leaf.private_key,
            "observer": recorder,
        },
        {"client_auth": "require", "trusted_certificates": (ca.certificate,), "observer": recorder},
    )

    _client_events, server_events = pair.handshake()

    assert completed_of(server_events).peer_certificates == (client_leaf.certificate,)
    assert messages(recorder, trace.MessageSent, "server") == [
        "ServerHello", "Certificate", "ServerKeyExchange", "CertificateRequest", "ServerHelloDone", "Finished",
    ]  # fmt: skip
    assert messages(recorder, trace.MessageSent, "client") == [
        "ClientHello", "Certificate", "ClientKeyExchange", "CertificateVerify", "Finished",
    ]  # fmt: skip
    # RFC 5246 §7.4.8: the client signs every handshake message before CertificateVerify.
    (verified,) = of_type(recorder, trace.SignatureVerified, role="server")
    assert verified.ok and verified.rfc == "RFC 5246 §7.4.8"
    exchange_data(pair)


def test_client_certificate_requested_but_not_sent() -> None:
    """RFC 5246 §7.4.6: a client without a certificate sends an empty Certificate."""
    pair = tls12_pair(server={"client_auth": "request"})
    _client_events, server_events = pair.handshake()
    assert completed_of(server_events).peer_certificates == ()
    exchange_data(pair)


def test_client_certificate_required_but_missing() -> None:
    pair = tls12_pair(server={"client_auth": "require"})
    pair.client.start_handshake()
    pair.server.receive_data(pair.client.data_to_send())
    pair.client.receive_data(pair.server.data_to_send())
    with pytest.raises(HandshakeFailure, match="no certificate"):
        pair.server.receive_data(pair.client.data_to_send())


def ocsp_staple(status: str) -> bytes:
    ca, server_leaf = pki()
    now = datetime.datetime.now(datetime.UTC)
    return make_ocsp_response(
        certificate=server_leaf,
        issuer=ca,
        responder=ca,
        status=status,  # type: ignore[arg-type]
        this_update=now - datetime.timedelta(hours=1),
        next_update=now + datetime.timedelta(days=1),
    )


def test_ocsp_staple_in_certificate_status() -> None:
    recorder = Recorder()
    staple = ocsp_staple("good")
    pair = tls12_pair({"observer": recorder}, {"ocsp_response": staple, "observer": recorder})

    pair.handshake()

    # RFC 6066 §8: in TLS 1.2 the staple is a handshake message of its own.
    assert messages(recorder, trace.MessageReceived, "client")[:4] == [
        "ServerHello", "Certificate", "CertificateStatus", "ServerKeyExchange",
    ]  # fmt: skip
    assert pair.client.peer_staple == staple
    chain_checked, staple_checked = of_type(recorder, trace.CertificateChecked, role="client")
    assert chain_checked.ok and staple_checked.ok
    assert staple_checked.rfc == "RFC 6066 §8" and "status: good" in staple_checked.checked


def test_revoked_ocsp_staple_is_refused() -> None:
    pair = tls12_pair(server={"ocsp_response": ocsp_staple("revoked")})
    pair.client.start_handshake()
    pair.server.receive_data(pair.client.data_to_send())
    with pytest.raises(CertificateRevoked):
        pair.client.receive_data(pair.server.data_to_send())


def test_no_staple_unless_asked() -> None:
    recorder = Recorder()
    pair = tls12_pair({"status_request": False}, {"ocsp_response": ocsp_staple("good"), "observer": recorder})
    pair.handshake()
    assert "CertificateStatus" not in messages(recorder, trace.MessageSent, "server")


@pytest.mark.parametrize("how", ["ticket", "session ID"])
def test_resumption(how: str) -> None:
    """RFC 5077 (ticket) or RFC 5246 §7.4.1.2 (session ID): an abbreviated
    handshake from the saved master secret, the server's Finished first."""
    if how == "ticket":
        store = StatelessTickets(counter_random(b"tickets"), system_clock)
        server_settings: dict[str, Any] = {"session_store": store, "session_tickets": 1}
    else:
        server_settings = {"session_id_cache": SessionDatabase(counter_random(b"session ids"))}
    first = tls12_pair(server=server_settings)
    first.handshake()
    saved = first.client.get_session_data()

    recorder = Recorder()
    client = ClientConnection(client_config(random=counter_random(b"second client"), observer=recorder))
    client.set_session_data(saved)
    server = tls12_server(random=counter_random(b"second server"), observer=recorder, **server_settings)
    second = HandshakePair(client, server)
    client_events, server_events = second.handshake()

    assert completed_of(client_events).resumed and completed_of(server_events).resumed
    assert [choice.choice for choice in of_type(recorder, trace.ChoiceMade, subject="session")] == [f"resumed by {how}"]
    expected = ["ServerHello", "NewSessionTicket", "Finished"] if how == "ticket" else ["ServerHello", "Finished"]
    assert messages(recorder, trace.MessageSent, "server") == expected
    assert messages(recorder, trace.MessageSent, "client") == ["ClientHello", "Finished"]
    assert client.secrets["master_secret"] == first.client.secrets["master_secret"]
    exchange_data(second)


# --- 5. renegotiation (RFC 5746) ------------------------------------------------------------


def test_client_initiated_renegotiation() -> None:
    recorder = Recorder()
    pair = tls12_pair({"observer": recorder}, {"observer": recorder})
    pair.handshake()
    first_client_verify_data = pair.client.client_verify_data
    assert pair.client.secure_renegotiation and pair.server.secure_renegotiation

    pair.client.renegotiate()
    client_events, server_events = pair.pump()

    assert completed_of(client_events).version == completed_of(server_events).version == "TLS 1.2"
    assert len(of_type(recorder, trace.ParametersNegotiated, role="server")) == 2
    # The second ClientHello travels encrypted under the first handshake's keys ...
    hellos = [r for r in of_type(recorder, trace.RecordSent, role="client") if r.content_type == ContentType.handshake]
    assert hellos[0].protection == "plaintext" and hellos[-1].protection == "application"
    # ... and proves continuity with the client's previous verify_data (RFC 5746 §3.5, §3.7).
    (check,) = of_type(recorder, trace.CheckPerformed, role="server", check="renegotiation_info_verify_data")
    assert check.passed
    assert pair.client.client_verify_data != first_client_verify_data
    assert pair.client.secrets["master_secret"] == pair.server.secrets["master_secret"]
    exchange_data(pair, b" after renegotiation")


def test_server_initiated_renegotiation() -> None:
    recorder = Recorder()
    pair = tls12_pair({"observer": recorder}, {"observer": recorder})
    pair.handshake()
    first_master_secret = pair.client.secrets["master_secret"]

    pair.server.request_renegotiation()
    client_events, server_events = pair.pump()

    assert "HelloRequest" in messages(recorder, trace.MessageReceived, "client")
    assert completed_of(client_events) and completed_of(server_events)
    assert len(of_type(recorder, trace.ParametersNegotiated, role="client")) == 2
    assert pair.client.secrets["master_secret"] != first_master_secret
    exchange_data(pair, b" after renegotiation")


class ClientWithoutRFC5746(ClientConnection):
    """A client from before RFC 5746: no renegotiation_info in any ClientHello."""

    def build_client_hello(self, cookie: bytes | None = None) -> ClientHello:
        hello = super().build_client_hello(cookie)
        self.offered_extensions.discard(E.renegotiation_info)
        kept = tuple(extension for extension in hello.extensions if extension.extension_type != E.renegotiation_info)
        return attrs.evolve(hello, extensions=kept)

    def renegotiate_insecurely(self) -> None:
        """Send a new ClientHello as pre-RFC 5746 clients did (teachtls's own
        `renegotiate()` refuses to). The current session stays in use."""
        self.start_renegotiation()


class ServerWithoutRFC5746(ServerConnection):
    """A server from before RFC 5746: its ServerHello has no renegotiation_info."""

    def send_handshake(self, message: HandshakeMessage, *, transcript: bool = True) -> bytes:
        if isinstance(message, ServerHello):
            kept = tuple(e for e in message.extensions if e.extension_type != E.renegotiation_info)
            message = attrs.evolve(message, extensions=kept)
        return super().send_handshake(message, transcript=transcript)


def test_server_refuses_renegotiation_from_a_client_without_rfc5746() -> None:
    recorder = Recorder()
    pair = HandshakePair(ClientWithoutRFC5746(client_config(observer=recorder)), tls12_server(observer=recorder))
    pair.handshake()
    assert not pair.server.secure_renegotiation
    assert isinstance(pair.client, ClientWithoutRFC5746)

    pair.client.renegotiate_insecurely()
    client_events, server_events = pair.pump()

    # RFC 5746 §4.4: the server declines with a *warning* no_renegotiation ...
    assert client_events == [WarningAlertReceived(description=NO_RENEGOTIATION)]
    assert server_events == []
    (alert,) = of_type(recorder, trace.AlertSent, role="server")
    assert (alert.level, alert.description) == ("warning", "no_renegotiation_RESERVED")
    assert len(of_type(recorder, trace.ParametersNegotiated, role="server")) == 1
    # ... and the connection goes on under the first handshake's keys.
    assert pair.server.state is State.CONNECTED
    exchange_data(pair)


def test_teachtls_client_will_not_renegotiate_insecurely() -> None:
    pair = HandshakePair(ClientConnection(client_config()), ServerWithoutRFC5746(server_config(versions=(TLS1_2,))))
    pair.handshake()
    assert not pair.client.secure_renegotiation
    with pytest.raises(TLSError, match="secure renegotiation"):
        pair.client.renegotiate()


def test_client_declines_hello_request_from_a_server_without_rfc5746() -> None:
    recorder = Recorder()
    server = ServerWithoutRFC5746(server_config(versions=(TLS1_2,), observer=recorder))
    pair = HandshakePair(ClientConnection(client_config(observer=recorder)), server)
    pair.handshake()

    server.request_renegotiation()
    client_events, server_events = pair.pump()

    assert client_events == []
    assert server_events == [WarningAlertReceived(description=NO_RENEGOTIATION)]
    (alert,) = of_type(recorder, trace.AlertSent, role="client")
    assert (alert.level, alert.description) == ("warning", "no_renegotiation_RESERVED")
    assert "ClientHello" not in messages(recorder, trace.MessageSent, "client")[1:]
    exchange_data(pair)


def test_server_that_does_not_allow_renegotiation_declines_and_the_client_carries_on() -> None:
    """RFC 5246 §7.2.2: after no_renegotiation "the original requester can decide
    whether to proceed with the connection"; teachtls proceeds."""
    pair = tls12_pair(server={"allow_renegotiation": False})
    pair.handshake()

    pair.client.renegotiate()
    client_events, _server_events = pair.pump()

    assert client_events == [WarningAlertReceived(description=NO_RENEGOTIATION)]
    assert pair.client.state is State.CONNECTED and not pair.client.renegotiating
    exchange_data(pair)


def test_client_that_does_not_allow_renegotiation_declines_hello_request() -> None:
    pair = tls12_pair(client={"allow_renegotiation": False})
    pair.handshake()

    pair.server.request_renegotiation()
    _client_events, server_events = pair.pump()

    assert server_events == [WarningAlertReceived(description=NO_RENEGOTIATION)]
    exchange_data(pair)


def test_renegotiation_with_wrong_client_verify_data_is_fatal() -> None:
    recorder = Recorder()
    pair = tls12_pair(server={"observer": recorder})
    pair.handshake()
    pair.client.client_verify_data = bytes(12)  # not what the client's Finished said

    pair.client.renegotiate()
    with pytest.raises(HandshakeFailure, match="last verify_data"):
        pair.server.receive_data(pair.client.data_to_send())
    (check,) = of_type(recorder, trace.CheckPerformed, role="server", check="renegotiation_info_verify_data")
    assert check.passed is False and check.rfc == "RFC 5746 §3.7"
    with pytest.raises(RemoteAlert) as remote:
        pair.client.receive_data(pair.server.data_to_send())
    assert remote.value.description == AlertDescription.handshake_failure


def test_renegotiation_without_renegotiation_info_on_a_secure_connection_is_fatal() -> None:
    class DropsItOnRenegotiation(ClientConnection):
        def build_client_hello(self, cookie: bytes | None = None) -> ClientHello:
            hello = super().build_client_hello(cookie)
            if not self.renegotiating:
                return hello
            kept = tuple(e for e in hello.extensions if e.extension_type != E.renegotiation_info)
            return attrs.evolve(hello, extensions=kept)

    pair = HandshakePair(DropsItOnRenegotiation(client_config()), tls12_server())
    pair.handshake()
    pair.client.renegotiate()
    with pytest.raises(HandshakeFailure, match="renegotiating ClientHello"):
        pair.server.receive_data(pair.client.data_to_send())


def test_renegotiation_server_hello_with_wrong_verify_data_is_fatal() -> None:
    pair = tls12_pair()
    pair.handshake()
    pair.server.server_verify_data = bytes(12)  # the server "forgot" its own last Finished

    pair.client.renegotiate()
    pair.server.receive_data(pair.client.data_to_send())
    with pytest.raises(HandshakeFailure, match="both last Finished values"):
        pair.client.receive_data(pair.server.data_to_send())


# --- 6. bad input ----------------------------------------------------------------------------


class WrongFinishedClient(ClientConnection):
    def finished_12(self, sender: str) -> bytes:
        value = super().finished_12(sender)
        return flip_last_byte(value) if sender == "client" else value


class WrongFinishedServer(ServerConnection):
    def finished_12(self, sender: str) -> bytes:
        value = super().finished_12(sender)
        return flip_last_byte(value) if sender == "server" else value


def test_wrong_client_finished_is_decrypt_error() -> None:
    pair = HandshakePair(WrongFinishedClient(client_config()), tls12_server())
    pair.client.start_handshake()
    pair.server.receive_data(pair.client.data_to_send())
    pair.client.receive_data(pair.server.data_to_send())
    with pytest.raises(DecryptError, match="client Finished"):
        pair.server.receive_data(pair.client.data_to_send())


def test_wrong_server_finished_is_decrypt_error() -> None:
    server = WrongFinishedServer(server_config(versions=(TLS1_2,)))
    pair = HandshakePair(ClientConnection(client_config()), server)
    with pytest.raises(DecryptError, match="server Finished"):
        pair.handshake()


@pytest.mark.parametrize(
    "suite",
    [
        CipherSuite12.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite12.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite12.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
    ],
    ids=lambda suite: suite.name,
)
@pytest.mark.parametrize("where", ["first byte", "last byte"])
def test_tampered_record_is_bad_record_mac(suite: CipherSuite12, where: str) -> None:
    teaching = SUITES_12[suite].teaching_only
    pair = HandshakePair(
        ClientConnection(client_config(legacy_suites_for_teaching=teaching)),
        tls12_server(cipher_suites_12=(suite,), legacy_suites_for_teaching=teaching),
    )
    pair.handshake()
    pair.server.send_application_data(b"attack at dawn")
    record = pair.server.data_to_send()
    position = HEADER_LENGTH if where == "first byte" else len(record) - 1
    tampered = record[:position] + bytes([record[position] ^ 0x80]) + record[position + 1 :]

    with pytest.raises(BadRecordMac):
        pair.client.receive_data(tampered)


def test_server_key_exchange_with_a_bad_signature_is_decrypt_error() -> None:
    pair = tls12_pair()
    pair.client.start_handshake()
    pair.server.receive_data(pair.client.data_to_send())
    flight = handshake_messages(pair.server.data_to_send())
    forged = [flip_last_byte(m) if m[0] == HandshakeType.server_key_exchange_RESERVED else m for m in flight]

    with pytest.raises(DecryptError, match="ServerKeyExchange signature"):
        pair.client.receive_data(handshake_record(*forged))


def test_change_cipher_spec_before_client_key_exchange_is_unexpected() -> None:
    pair = tls12_pair()
    pair.client.start_handshake()
    pair.server.receive_data(pair.client.data_to_send())
    pair.server.data_to_send()
    with pytest.raises(UnexpectedMessage, match="ChangeCipherSpec is not expected in state WAIT_CKE"):
        pair.server.receive_data(CHANGE_CIPHER_SPEC_RECORD)


def test_change_cipher_spec_right_after_server_hello_is_unexpected() -> None:
    pair = tls12_pair()
    pair.client.start_handshake()
    pair.server.receive_data(pair.client.data_to_send())
    server_hello = handshake_messages(pair.server.data_to_send())[0]
    with pytest.raises(UnexpectedMessage, match="ChangeCipherSpec is not expected in state WAIT_CERT"):
        pair.client.receive_data(handshake_record(server_hello) + CHANGE_CIPHER_SPEC_RECORD)


# --- 7. the golden trace ------------------------------------------------------------------------
#
# Everything that could vary is fixed: the random source, the clock, the x25519
# private keys, and the certificates themselves. The CA key is a fixed P-256
# scalar and signs with deterministic ECDSA (RFC 6979, cryptography >= 44); the
# server's leaf is an Ed25519 key from a fixed seed, whose ServerKeyExchange
# signatures are deterministic by design (RFC 8032), and which RFC 8422 §5.1.3
# allows in the ECDHE_ECDSA suites. Serial numbers and validity are fixed too,
# so the certificate bytes -- and so the whole trace -- repeat exactly.
# The scenario lives in teachtls.scenarios.named, shared with the docs.


def golden_handshake() -> list[trace.TraceEvent]:
    """The "tls12-ecdhe" scenario (teachtls.scenarios.named.fixed_handshake): a
    default client (offering 1.3 and 1.2) and a 1.2-only server, one full ECDHE
    handshake with the extended master secret, one message each way, close."""
    return fixed_handshake((TLS1_2,))


def test_golden_trace_is_deterministic() -> None:
    assert dumps_jsonl(golden_handshake()) == dumps_jsonl(golden_handshake())


def test_golden_trace() -> None:
    events = golden_handshake()
    text, _ = check_golden_trace(events, "tls12-ecdhe")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_golden_trace_tells_the_tls12_story() -> None:
    """What a reader of tls12-ecdhe.jsonl should find in it."""
    recorder = Recorder()
    for event in loads_jsonl(GOLDEN.read_text(encoding="utf-8")) if GOLDEN.exists() else golden_handshake():
        recorder(event)
    assert messages(recorder, trace.MessageSent, "server") == [
        "ServerHello", "Certificate", "ServerKeyExchange", "ServerHelloDone", "Finished",
    ]  # fmt: skip
    assert messages(recorder, trace.MessageSent, "client") == ["ClientHello", "ClientKeyExchange", "Finished"]
    assert master_secret_labels(recorder, "client") == ["extended master secret"]
    (negotiated, _) = of_type(recorder, trace.ParametersNegotiated)
    assert (negotiated.version, negotiated.cipher_suite, negotiated.signature_scheme) == (
        "TLS 1.2",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "ed25519",
    )
    # Verification is on in this scenario: the golden CA is trusted, the clock fixed.
    chain_checked, _no_staple = of_type(recorder, trace.CertificateChecked, role="client")
    assert chain_checked.ok and "chain to trusted root 'CN=teachtls golden CA'" in chain_checked.checked


def test_teaching_only_suites_need_the_explicit_flag() -> None:
    """Listing a static-RSA or CBC suite is not enough: without
    legacy_suites_for_teaching neither side offers or accepts it."""
    from teachtls.crypto.suites12 import TEACHING_ONLY_SUITES_12

    client = ClientConnection(Config(cipher_suites_12=tuple(TEACHING_ONLY_SUITES_12)))
    assert client.offered_suites_12() == ()
    teaching = ClientConnection(Config(legacy_suites_for_teaching=True))
    assert set(TEACHING_ONLY_SUITES_12) <= set(teaching.offered_suites_12())


def test_rsa_server_signs_with_pkcs1_when_the_client_prefers_it() -> None:
    """TLS 1.2 still allows RSASSA-PKCS1-v1_5 for ServerKeyExchange (RFC 5246 §7.4.3)."""
    from teachtls.pki.generate import issue_leaf, make_ca
    from teachtls.scenarios import memory
    from teachtls.wire.enums import ProtocolVersion, SignatureScheme

    ca = make_ca()
    leaf = issue_leaf(ca, "localhost", dns_names=["localhost"], key_type="rsa-2048")
    client = ClientConnection(
        Config(
            server_name="localhost",
            trusted_certificates=(ca.certificate,),
            versions=(ProtocolVersion.TLS1_2,),
            signature_algorithms=(SignatureScheme.rsa_pkcs1_sha256, SignatureScheme.rsa_pss_rsae_sha256),
        )
    )
    server = ServerConnection(Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key))
    exchange = memory.run(client, server)
    completed = next(e for e in exchange.client_events if isinstance(e, HandshakeCompleted))
    assert completed.signature_scheme == "rsa_pkcs1_sha256"


def test_a_hello_request_during_a_handshake_is_ignored() -> None:
    """RFC 5246 §7.4.1.1: the client ignores a HelloRequest while negotiating."""
    from teachtls.handshake.states import State
    from teachtls.pki.generate import issue_leaf, make_ca
    from teachtls.scenarios import memory
    from teachtls.trace.observer import Recorder
    from teachtls.wire.enums import ProtocolVersion
    from teachtls.wire.messages12 import HelloRequest

    ca = make_ca()
    leaf = issue_leaf(ca, "localhost", dns_names=["localhost"])
    recorder = Recorder()
    client = ClientConnection(
        Config(server_name="localhost", trusted_certificates=(ca.certificate,), observer=recorder)
    )
    server = ServerConnection(
        Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key, versions=(ProtocolVersion.TLS1_2,))
    )
    memory.run(client, server, close=False)
    server.request_renegotiation()
    # A second HelloRequest right behind the first: the client is negotiating by then.
    server.send_handshake(HelloRequest(), transcript=False)
    client.receive_data(server.data_to_send())
    assert client.state is State.WAIT_SH
    assert any("HelloRequest ignored" in getattr(e, "text", "") for e in recorder.events)
    exchange = memory.Exchange()
    memory.pump(client, server, exchange)
    assert client.state is State.CONNECTED and server.state is State.CONNECTED
