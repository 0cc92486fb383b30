"""Every (state, message) pair that is not a transition is `unexpected_message`.

RFC 8446 §4: "A peer which receives a handshake message in an unexpected order
MUST abort the handshake with an 'unexpected_message' alert" (RFC 5246 §7.4
says the same of TLS 1.2). teachtls writes its four machines as tables
(teachtls/handshake/states.py: CLIENT_13, SERVER_13, CLIENT_12, SERVER_12) and
the connection treats a missing entry as that alert. This module checks the
claim pair by pair, the way h2's tests/test_state_machines.py does:

* for every table and every state a real handshake can stand in,
* for every handshake message type (every `HandshakeType` member, built with
  the codec -- the TLS 1.3 classes for the 1.3 machines, the TLS 1.2 ones for
  the 1.2 machines; DTLS's hello_verify_request, which no TLS codec knows,
  framed by hand) plus, for TLS 1.2, the ChangeCipherSpec record,
* that has no entry for that state,

a real handshake is driven to that state and the peer slips a well-formed
message of that type into its own flight, right before the message it would
have sent next (or, once connected, on its own). The injecting peer puts the
bytes into its outgoing handshake queue, so they travel exactly like its own
messages: in plaintext records before keys, protected with the current
traffic keys after -- the receiver's record layer accepts them and its state
machine alone must object. The test asserts `UnexpectedMessage`, that the
trace shows the receiver in the intended (machine, state) when it arrived,
that the connection closed, and that the last record it sends is that alert.

Message types the receiver's codec has no class for (a TLS 1.2 message in
TLS 1.3, EndOfEarlyData or KeyUpdate in TLS 1.2, the synthetic message_hash
anywhere) are unexpected_message too, one step earlier: at parse time.

States that no test can stand in, and why:

* SERVER_13 RECVD_CH, NEGOTIATED and WAIT_FLIGHT2 -- transient. The server
  enters RECVD_CH on a ClientHello and, before `receive_data` returns, moves
  on through NEGOTIATED and WAIT_FLIGHT2 to WAIT_EOED, WAIT_CERT or
  WAIT_FINISHED while it writes its flight (`advance()`); no byte can arrive
  in between. (A ClientHello that shares its record with a second message is
  the closest one gets: the second message then meets the *next* state.)
* SERVER_12 START and RECVD_CH -- the server runs SERVER_13 until a
  ClientHello selects TLS 1.2; it enters SERVER_12 in RECVD_CH and leaves it
  at once (a renegotiating ClientHello passes through RECVD_CH the same way).
* CLIENT_12 START -- the client enters CLIENT_12 from WAIT_SH, when the
  ServerHello selects TLS 1.2. (CLIENT_12's WAIT_SH is reached in a
  renegotiation, and is tested.)
* CLOSED -- no table has entries for it; a closed connection refuses all input
  with `ConnectionClosed` before any dispatch (tests/test_bad_input.py).

Change_cipher_spec in TLS 1.3 is not a state-machine input (RFC 8446 §5: it
is dropped, or unexpected_message, by the record layer); those cases are in
tests/test_rfc_musts.py.
"""

from __future__ import annotations

import datetime
import functools
import time
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from teachtls import ClientConnection, Config, LocalAlert, ServerConnection
from teachtls.connection import Connection
from teachtls.handshake import alerts
from teachtls.handshake.states import SEND_TRANSITIONS, TABLES, RecordMessage, State, Trigger
from teachtls.pki.ocsp import make_ocsp_response
from teachtls.sessions import StatelessTickets
from teachtls.trace.events import StateChanged
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import ContentType, HandshakeType, ProtocolVersion, SignatureScheme
from teachtls.wire.extensions import SignatureSchemeList, make_extension
from teachtls.wire.messages import (
    Certificate,
    CertificateRequest,
    CertificateVerify,
    EncryptedExtensions,
    EndOfEarlyData,
    Finished,
    HandshakeMessage,
    KeyUpdate,
    MessageHash,
    NewSessionTicket,
    ServerHello,
    build_handshake,
)
from teachtls.wire.messages12 import (
    Certificate12,
    CertificateRequest12,
    CertificateStatus12,
    ClientKeyExchangeECDHE,
    HelloRequest,
    NewSessionTicket12,
    ServerHelloDone,
    ServerKeyExchange,
)
from tests.handshake_pair import HELLO_RETRY_CLIENT, HandshakePair, client_config, counter_random, pki, server_config
from tests.test_bad_input import recorded_client_hello, recorded_server_hello
from tests.test_rfc_musts import assert_closed_with_alert, client_leaf

H = HandshakeType
S = State
TLS1_2 = ProtocolVersion.TLS1_2
CHANGE_CIPHER_SPEC = RecordMessage.change_cipher_spec
ED25519 = SignatureScheme.ed25519
NOW = time.time()  # one fixed clock: the certificates are valid now, tickets stay fresh


# --- one well-formed message of every type --------------------------------------------------


def framed(message_type: int, body: bytes) -> bytes:
    """A handshake message framed by hand, for types no TLS codec class exists for."""
    return bytes([message_type]) + len(body).to_bytes(3, "big") + body


@functools.cache
def message_13(message_type: HandshakeType) -> bytes:
    """A well-formed message of `message_type`, built with the TLS 1.3 classes where there
    is one (the TLS 1.2-only ones with theirs: a 1.3 receiver cannot even parse them)."""
    messages: dict[HandshakeType, Callable[[], HandshakeMessage]] = {
        H.hello_request_RESERVED: HelloRequest,
        H.client_hello: recorded_client_hello,
        H.server_hello: recorded_server_hello,
        H.new_session_ticket: lambda: NewSessionTicket(
            ticket_lifetime=60, ticket_age_add=7, ticket_nonce=b"\x00", ticket=b"ticket"
        ),
        H.end_of_early_data: EndOfEarlyData,
        H.encrypted_extensions: EncryptedExtensions,
        H.certificate: Certificate,
        H.server_key_exchange_RESERVED: lambda: ServerKeyExchange(
            namedcurve=0x001D, public=bytes(range(1, 33)), algorithm=ED25519, signature=bytes(64)
        ),
        H.certificate_request: lambda: CertificateRequest(
            extensions=(make_extension(0x000D, SignatureSchemeList((ED25519,))),)
        ),
        H.server_hello_done_RESERVED: ServerHelloDone,
        H.certificate_verify: lambda: CertificateVerify(algorithm=ED25519, signature=bytes(64)),
        H.client_key_exchange_RESERVED: lambda: ClientKeyExchangeECDHE(ecdh_Yc=bytes(range(1, 33))),
        H.finished: lambda: Finished(verify_data=bytes(32)),
        H.certificate_status: lambda: CertificateStatus12(ocsp_response=b"\x30\x00"),
        H.key_update: lambda: KeyUpdate(request_update=0),
        H.message_hash: lambda: MessageHash(hash_value=bytes(32)),
    }
    if message_type not in messages:
        # e.g. DTLS's HelloVerifyRequest: server_version, then an empty cookie (RFC 6347 §4.2.1).
        return framed(message_type, b"\xfe\xfd\x00" if message_type == 3 else b"")
    return build_handshake(messages[message_type]())


@functools.cache
def message_12(message_type: HandshakeType) -> bytes:
    """The same, with the TLS 1.2 classes where TLS 1.2 has its own."""
    messages: dict[HandshakeType, Callable[[], HandshakeMessage]] = {
        H.certificate: Certificate12,
        H.certificate_request: lambda: CertificateRequest12(supported_signature_algorithms=(ED25519,)),
        H.new_session_ticket: lambda: NewSessionTicket12(ticket_lifetime_hint=60, ticket=b"ticket"),
    }
    if message_type in messages:
        return build_handshake(messages[message_type]())
    return message_13(message_type)


def all_triggers(machine: str) -> list[Trigger]:
    triggers: list[Trigger] = list(HandshakeType)
    if machine.endswith("12"):
        triggers.append(CHANGE_CIPHER_SPEC)
    return triggers


def trigger_name(trigger: Trigger) -> str:
    return trigger.name.removesuffix("_RESERVED")


# --- peers that slip one extra message into their own flight --------------------------------


@attrs.define
class Injection:
    """What to inject, and just before which of the injector's own steps."""

    machine: str  # the receiver's machine: decides TLS 1.3 or 1.2 message classes
    trigger: Trigger
    before: str  # a message name ("Certificate"), "ChangeCipherSpec", or "" (inject by hand)
    when: Callable[[Connection], bool] = lambda connection: True
    done: bool = False

    def payload_into(self, connection: Connection) -> None:
        """Queue the extra message where `connection`'s next own message would go."""
        self.done = True
        if self.trigger is CHANGE_CIPHER_SPEC:
            connection.flush()
            connection.write_record(ContentType.change_cipher_spec, b"\x01")
            return
        assert isinstance(self.trigger, HandshakeType)
        raw = message_12(self.trigger) if self.machine.endswith("12") else message_13(self.trigger)
        connection._handshake_out.append(raw)

    def maybe(self, connection: Connection, name: str) -> None:
        if not self.done and name == self.before and self.when(connection):
            self.payload_into(connection)


def message_label(message: HandshakeMessage) -> str:
    return message.name if isinstance(message, ServerHello) else message.wire_name


class InjectingClient(ClientConnection):
    def __init__(self, config: Config, injection: Injection) -> None:
        super().__init__(config)
        self.injection = injection

    def send_handshake(self, message: HandshakeMessage, *, transcript: bool = True) -> bytes:
        self.injection.maybe(self, message_label(message))
        return super().send_handshake(message, transcript=transcript)

    def send_change_cipher_spec_12(self) -> None:
        self.injection.maybe(self, "ChangeCipherSpec")
        super().send_change_cipher_spec_12()


class InjectingServer(ServerConnection):
    def __init__(self, config: Config, injection: Injection) -> None:
        super().__init__(config)
        self.injection = injection

    def send_handshake(self, message: HandshakeMessage, *, transcript: bool = True) -> bytes:
        self.injection.maybe(self, message_label(message))
        return super().send_handshake(message, transcript=transcript)

    def send_change_cipher_spec_12(self) -> None:
        self.injection.maybe(self, "ChangeCipherSpec")
        super().send_change_cipher_spec_12()


# --- where: one real handshake per state --------------------------------------------------------


def run_until_alert(pair: HandshakePair, receiver: Connection) -> LocalAlert:
    """Move bytes both ways until the receiver raises; only the receiver may."""
    for _ in range(30):
        moved = False
        for sender, target in ((pair.client, pair.server), (pair.server, pair.client)):
            data = sender.data_to_send()
            if not data or target.closed:
                continue
            moved = True
            try:
                target.receive_data(data)
            except LocalAlert as alert:
                assert target is receiver, f"the injecting peer failed instead: {alert!r}"
                return alert
        if not moved:
            break
    raise AssertionError("the injected message was never refused")


@functools.cache
def tls13_session() -> tuple[bytes, tuple[Any, ...]]:
    """A TLS 1.3 session allowing 0-RTT, and the ticket keys of the store that issued it."""
    store = StatelessTickets(counter_random(b"ticket keys"), lambda: NOW)
    first = HandshakePair(
        ClientConnection(client_config(clock=lambda: NOW)),
        ServerConnection(
            server_config(session_store=store, session_tickets=1, max_early_data_size=1024, clock=lambda: NOW)
        ),
    )
    first.handshake()
    return first.client.get_session_data(), tuple(store.keys)


def resumption_settings() -> tuple[dict[str, Any], dict[str, Any], bytes]:
    session, keys = tls13_session()
    store = StatelessTickets(counter_random(b"ticket keys"), lambda: NOW + 1)
    store.keys = list(keys)  # a fresh store (no ticket used yet) that opens the ticket
    clock = {"clock": lambda: NOW + 1}
    return clock, {"session_store": store, "max_early_data_size": 1024, **clock}, session


def client_auth(version: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    ca, _ = pki()
    leaf = client_leaf()
    server: dict[str, Any] = {"client_auth": "request", "trusted_certificates": (ca.certificate,)}
    if version is not None:
        server["versions"] = (version,)
    return {"certificate_chain": (leaf.certificate,), "private_key": leaf.private_key}, server


@attrs.frozen
class Where:
    """A (machine, state) a real handshake reaches, and how to inject there."""

    machine: str
    state: State
    variant: str  # tells apart two ways into the same state
    receiver: str  # "client" or "server"
    before: str  # the injector's message the extra one goes in front of ("" = after the handshake)
    client: Callable[[], dict[str, Any]] = dict
    server: Callable[[], dict[str, Any]] = dict
    when: Callable[[Connection], bool] = lambda connection: True
    # Set up, e.g. resumption: returns (client settings, server settings, session or b"").
    setup: Callable[[], tuple[dict[str, Any], dict[str, Any], bytes]] | None = None
    early_data: bytes | None = None
    renegotiate: bool = False
    fresh: bool = False  # the receiver has done nothing yet: send it the message alone

    @property
    def id(self) -> str:
        return f"{self.machine}-{self.state.value}" + (f"-{self.variant}" if self.variant else "")


def _tls12(**more: Any) -> Callable[[], dict[str, Any]]:
    return lambda: {"versions": (TLS1_2,), **more}


def _auth_client() -> dict[str, Any]:
    return client_auth()[0]


def _auth_server(version: int | None = None) -> Callable[[], dict[str, Any]]:
    return lambda: client_auth(version)[1]


def _renegotiating(connection: Connection) -> bool:
    return bool(getattr(connection, "renegotiating", False))


def _after_hello_retry(connection: Connection) -> bool:
    return getattr(connection, "hello_retry_request", None) is not None


@functools.cache
def staple() -> bytes:
    """A good OCSP response for the server's certificate (RFC 6066 §8)."""
    ca, leaf = pki()
    now = datetime.datetime.fromtimestamp(NOW, tz=datetime.UTC)
    return make_ocsp_response(
        certificate=leaf,
        issuer=ca,
        responder=ca,
        status="good",
        this_update=now - datetime.timedelta(hours=1),
        next_update=now + datetime.timedelta(days=1),
    )


def _tls12_ticket_store() -> dict[str, Any]:
    store = StatelessTickets(counter_random(b"tls12 tickets"), lambda: NOW)
    return {"versions": (TLS1_2,), "session_store": store, "session_tickets": 1}


def _staple_server() -> dict[str, Any]:
    return _tls12(ocsp_response=staple())()


def _hello_retry_client() -> dict[str, Any]:
    return dict(HELLO_RETRY_CLIENT)


def _client_hello_retry_seen(connection: Connection) -> bool:
    return bool(getattr(connection, "hello_retry", False))


_TLS12 = _tls12()
_RESUMED = resumption_settings

# fmt: off
WHERE: list[Where] = [
    # --- CLIENT_13 (RFC 8446 §A.1) -------------------------------------------------------------
    Where("client13", S.START, "", "client", "", fresh=True),
    Where("client13", S.WAIT_SH, "", "client", "ServerHello"),
    Where("client13", S.WAIT_SH, "after-hello-retry-request", "client", "ServerHello",
          client=_hello_retry_client, when=_client_hello_retry_seen),
    Where("client13", S.WAIT_EE, "", "client", "EncryptedExtensions"),
    Where("client13", S.WAIT_CERT_CR, "", "client", "Certificate"),
    Where("client13", S.WAIT_CERT, "", "client", "Certificate", client=_auth_client, server=_auth_server()),
    Where("client13", S.WAIT_CV, "", "client", "CertificateVerify"),
    Where("client13", S.WAIT_FINISHED, "", "client", "Finished"),
    Where("client13", S.WAIT_FINISHED, "resumed", "client", "Finished", setup=_RESUMED),
    Where("client13", S.CONNECTED, "", "client", ""),
    # --- SERVER_13 (RFC 8446 §A.2) -------------------------------------------------------------
    Where("server13", S.START, "", "server", "", fresh=True),
    Where("server13", S.START, "after-hello-retry-request", "server", "ClientHello",
          client=_hello_retry_client, when=_after_hello_retry),
    Where("server13", S.WAIT_EOED, "", "server", "EndOfEarlyData", setup=_RESUMED, early_data=b"0-RTT"),
    Where("server13", S.WAIT_CERT, "", "server", "Certificate", client=_auth_client, server=_auth_server()),
    Where("server13", S.WAIT_CV, "", "server", "CertificateVerify", client=_auth_client, server=_auth_server()),
    Where("server13", S.WAIT_FINISHED, "", "server", "Finished"),
    Where("server13", S.WAIT_FINISHED, "resumed", "server", "Finished", setup=_RESUMED),
    Where("server13", S.CONNECTED, "", "server", ""),
    # --- CLIENT_12 (RFC 5246 §7.3) -------------------------------------------------------------
    Where("client12", S.WAIT_SH, "renegotiation", "client", "ServerHello",
          server=_TLS12, when=_renegotiating, renegotiate=True),
    Where("client12", S.WAIT_CERT, "", "client", "Certificate", server=_TLS12),
    Where("client12", S.WAIT_CERT_STATUS, "", "client", "CertificateStatus", server=_staple_server),
    Where("client12", S.WAIT_SKE, "", "client", "ServerKeyExchange", server=_TLS12),
    Where("client12", S.WAIT_CR_OR_SHD, "", "client", "ServerHelloDone", server=_TLS12),
    Where("client12", S.WAIT_SHD, "", "client", "ServerHelloDone", client=_auth_client, server=_auth_server(TLS1_2)),
    Where("client12", S.WAIT_NST, "", "client", "NewSessionTicket", server=_tls12_ticket_store),
    Where("client12", S.WAIT_CCS, "", "client", "ChangeCipherSpec", server=_TLS12),
    Where("client12", S.WAIT_FINISHED, "", "client", "Finished", server=_TLS12),
    Where("client12", S.CONNECTED, "", "client", "", server=_TLS12),
    # --- SERVER_12 (RFC 5246 §7.3) -------------------------------------------------------------
    Where("server12", S.WAIT_CERT, "", "server", "Certificate", client=_auth_client, server=_auth_server(TLS1_2)),
    Where("server12", S.WAIT_CKE, "", "server", "ClientKeyExchange", server=_TLS12),
    Where("server12", S.WAIT_CV, "", "server", "CertificateVerify", client=_auth_client, server=_auth_server(TLS1_2)),
    Where("server12", S.WAIT_CCS, "", "server", "ChangeCipherSpec", server=_TLS12),
    Where("server12", S.WAIT_FINISHED, "", "server", "Finished", server=_TLS12),
    Where("server12", S.CONNECTED, "", "server", "", server=_TLS12),
]
# fmt: on

UNREACHABLE: dict[str, set[State]] = {
    "client13": set(),
    "server13": {S.RECVD_CH, S.NEGOTIATED, S.WAIT_FLIGHT2},
    "client12": {S.START},
    "server12": {S.START, S.RECVD_CH},
}


def ignored(machine: str, state: State, trigger: Trigger) -> bool:
    """Pairs the RFC says to drop silently rather than alert: RFC 5246 §7.4.1.1,
    a HelloRequest "will be ignored by the client if the client is currently
    negotiating a session" (tests/test_tls12.py proves it is ignored)."""
    return machine == "client12" and trigger == H.hello_request_RESERVED and state is not State.CONNECTED


def cases() -> list[Any]:
    found = []
    for where in WHERE:
        table = TABLES[where.machine]
        for trigger in all_triggers(where.machine):
            if (where.state, trigger) not in table and not ignored(where.machine, where.state, trigger):
                found.append(pytest.param(where, trigger, id=f"{where.id}-{trigger_name(trigger)}"))
    return found


def provoke(where: Where, trigger: Trigger, recorder: Recorder) -> tuple[Connection, LocalAlert]:
    """Drive a real handshake to `where` and have the peer send `trigger` there."""
    injection = Injection(where.machine, trigger, where.before, where.when)
    client_settings, server_settings, session = where.setup() if where.setup else ({}, {}, b"")
    client_settings = {**client_settings, **where.client()}
    server_settings = {**server_settings, **where.server()}
    client: ClientConnection
    server: ServerConnection
    if where.receiver == "client":
        client = ClientConnection(client_config(observer=recorder, **client_settings))
        server = InjectingServer(server_config(**server_settings), injection)
    else:
        client = InjectingClient(client_config(**client_settings), injection)
        server = ServerConnection(server_config(observer=recorder, **server_settings))
    receiver: Connection = client if where.receiver == "client" else server
    injector: Connection = server if where.receiver == "client" else client
    if where.fresh:
        raw = message_13(trigger) if isinstance(trigger, HandshakeType) else b""
        record = bytes([ContentType.handshake]) + b"\x03\x03" + len(raw).to_bytes(2, "big") + raw
        with pytest.raises(LocalAlert) as caught:
            receiver.receive_data(record)
        return receiver, caught.value
    if session:
        client.set_session_data(session)
    pair = HandshakePair(client, server)
    client.start_handshake(early_data=where.early_data)
    if where.before and not where.renegotiate:
        return receiver, run_until_alert(pair, receiver)
    pair.pump()
    assert client.handshake_complete and server.handshake_complete
    if where.renegotiate:
        client.renegotiate()  # the server injects in front of its renegotiation ServerHello
    else:
        injection.payload_into(injector)
        injector.flush()
    return receiver, run_until_alert(pair, receiver)


@pytest.mark.parametrize(("where", "trigger"), cases())
def test_message_not_in_the_table_is_unexpected_message(where: Where, trigger: Trigger) -> None:
    recorder = Recorder()
    receiver, alert = provoke(where, trigger, recorder)
    assert type(alert) is alerts.UnexpectedMessage, repr(alert)
    # The receiver stood where we meant it to when the message arrived.
    closing = [e for e in recorder.events if isinstance(e, StateChanged) and e.role == where.receiver][-1]
    assert closing.new_state == "CLOSED"
    assert (closing.machine, closing.old_state) == (where.machine, where.state.value)
    assert_closed_with_alert(receiver, recorder, alert)


def test_every_state_of_every_table_is_reached_or_explained() -> None:
    """The states a table mentions are all either tested above or listed as unreachable."""
    for machine, table in TABLES.items():
        states = {state for state, _trigger in table} | {target for t in table.values() for target in t.targets}
        states |= {s.source for s in SEND_TRANSITIONS[machine]} | {s.target for s in SEND_TRANSITIONS[machine]}
        states.discard(S.CLOSED)
        reached = {where.state for where in WHERE if where.machine == machine}
        assert states - reached == UNREACHABLE[machine], machine


def test_the_transitions_themselves_are_not_refused() -> None:
    """A sanity check of the harness: injecting nothing, each scenario completes."""
    for where in WHERE:
        if where.fresh:
            continue
        client_settings, server_settings, session = where.setup() if where.setup else ({}, {}, b"")
        client = ClientConnection(client_config(**{**client_settings, **where.client()}))
        server = ServerConnection(server_config(**{**server_settings, **where.server()}))
        if session:
            client.set_session_data(session)
        pair = HandshakePair(client, server)
        client.start_handshake(early_data=where.early_data)
        pair.pump()
        assert client.handshake_complete and server.handshake_complete, where.id
