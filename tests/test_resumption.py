"""Resumption and 0-RTT (RFC 8446 §2.2, §2.3, §4.2.10, §4.2.11, §4.6.1) in memory.

A first full handshake leaves the client with tickets; a second connection
offers one. Each test names the behaviour it proves.
"""

from __future__ import annotations

import time

import attrs
import pytest

from teachtls import ApplicationData, ClientConnection, Config, HandshakeCompleted, ServerConnection
from teachtls.handshake import alerts
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.scenarios import memory
from teachtls.sessions import ClientSession, SessionDatabase, SessionStore, StatelessTickets
from teachtls.trace import events as trace
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import PskKeyExchangeMode

CA = make_ca()
LEAF = issue_leaf(CA, "localhost", dns_names=["localhost"])


class Clock:
    """An injected clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Counter:
    """Deterministic 'randomness' for ticket keys (distinct bytes each call)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, n: int) -> bytes:
        self.count += 1
        return (self.count.to_bytes(4, "big") * (n // 4 + 1))[:n]


def configs(store: SessionStore, clock: Clock, **server: object) -> tuple[Config, Config]:
    client = Config(server_name="localhost", trusted_certificates=(CA.certificate,), clock=clock)
    server_config = Config(
        certificate_chain=(LEAF.certificate,),
        private_key=LEAF.private_key,
        session_store=store,
        session_tickets=2,
        max_early_data_size=4096,
        clock=clock,
    )
    return client, attrs.evolve(server_config, **server)


def first_session(client_config: Config, server_config: Config) -> bytes:
    client = ClientConnection(client_config)
    exchange = memory.run(client, ServerConnection(server_config), client_data=b"hello", server_data=b"hi")
    assert exchange.completed and len(client.sessions) == 2
    return client.get_session_data()


def resume(
    client_config: Config, server_config: Config, session: bytes, early_data: bytes | None = None
) -> tuple[HandshakeCompleted, memory.Exchange, Recorder]:
    recorder = Recorder()
    client = ClientConnection(attrs.evolve(client_config, observer=recorder))
    client.set_session_data(session)
    server = ServerConnection(attrs.evolve(server_config, observer=recorder))
    exchange = memory.run(client, server, early_data=early_data)
    completed = next(e for e in exchange.client_events if isinstance(e, HandshakeCompleted))
    return completed, exchange, recorder


def choices(recorder: Recorder, subject: str) -> list[str]:
    return [e.choice for e in recorder.events if isinstance(e, trace.ChoiceMade) and e.subject == subject]


@pytest.mark.parametrize("backend", ["stateless", "database"])
def test_a_ticket_from_one_connection_resumes_the_next(backend: str) -> None:
    clock = Clock()
    store: SessionStore = StatelessTickets(Counter(), clock) if backend == "stateless" else SessionDatabase(Counter())
    client_config, server_config = configs(store, clock)
    session = first_session(client_config, server_config)
    clock.now += 5
    completed, _, recorder = resume(client_config, server_config, session)
    assert completed.resumed
    assert not completed.peer_certificates  # no Certificate in a PSK handshake
    verified = [e for e in recorder.events if isinstance(e, trace.BinderVerified)]
    assert verified and verified[0].ok


def test_session_data_round_trips_through_bytes() -> None:
    clock = Clock()
    client_config, server_config = configs(SessionDatabase(Counter()), clock)
    session = first_session(client_config, server_config)
    assert ClientSession.from_bytes(session).to_bytes() == session


def test_early_data_is_accepted_once_and_a_replay_is_rejected() -> None:
    clock = Clock()
    client_config, server_config = configs(StatelessTickets(Counter(), clock), clock)
    session = first_session(client_config, server_config)
    clock.now += 1
    completed, exchange, recorder = resume(client_config, server_config, session, early_data=b"GET /0rtt")
    assert completed.early_data_accepted
    early = [e for e in exchange.server_events if isinstance(e, ApplicationData) and e.early]
    assert [e.data for e in early] == [b"GET /0rtt"]
    # The same ClientHello data again -- an attacker replaying the flight:
    replay, exchange, recorder = resume(client_config, server_config, session, early_data=b"GET /0rtt")
    assert replay.resumed and not replay.early_data_accepted
    assert not [e for e in exchange.server_events if isinstance(e, ApplicationData) and e.early]
    rejected = [e for e in recorder.events if isinstance(e, trace.ChoiceMade) and e.choice == "rejected"]
    assert any("replay" in e.reason for e in rejected)


def test_early_data_is_refused_when_the_server_does_not_take_it() -> None:
    clock = Clock()
    client_config, server_config = configs(SessionDatabase(Counter()), clock)
    session = first_session(client_config, server_config)
    completed, exchange, _ = resume(
        client_config, attrs.evolve(server_config, max_early_data_size=0), session, early_data=b"x"
    )
    assert completed.resumed and not completed.early_data_accepted
    assert exchange.completed


def test_a_forged_ticket_falls_back_to_a_full_handshake() -> None:
    clock = Clock()
    client_config, server_config = configs(StatelessTickets(Counter(), clock), clock)
    session = ClientSession.from_bytes(first_session(client_config, server_config))
    forged = attrs.evolve(session, ticket=bytes(len(session.ticket)))
    completed, _, recorder = resume(client_config, server_config, forged.to_bytes())
    assert not completed.resumed and completed.peer_certificates
    assert choices(recorder, "psk")[-1] == "rejected by the server"


def test_tickets_sealed_under_a_rotated_out_key_no_longer_open() -> None:
    clock = Clock()
    store = StatelessTickets(Counter(), clock, rotation_interval=60, key_lifetime=120)
    client_config, server_config = configs(store, clock)
    session = first_session(client_config, server_config)
    clock.now += 90  # rotated, but the old key still opens tickets
    assert resume(client_config, server_config, session)[0].resumed
    assert len(store.keys) == 2
    clock.now += 60  # the old key is gone
    store.current_key()
    assert not resume(client_config, server_config, session)[0].resumed


def test_an_expired_ticket_is_not_offered() -> None:
    clock = Clock()
    client_config, server_config = configs(SessionDatabase(Counter()), clock, ticket_lifetime=10)
    session = first_session(client_config, server_config)
    clock.now += 11
    completed, _, recorder = resume(client_config, server_config, session)
    assert not completed.resumed
    assert choices(recorder, "psk")[0] == "not offered"


def test_psk_ke_resumes_without_a_key_exchange() -> None:
    clock = Clock()
    client_config, server_config = configs(SessionDatabase(Counter()), clock)
    session = first_session(client_config, server_config)
    only_psk_ke = (PskKeyExchangeMode.psk_ke,)
    completed, _, recorder = resume(
        attrs.evolve(client_config, psk_key_exchange_modes=only_psk_ke),
        attrs.evolve(server_config, psk_key_exchange_modes=(PskKeyExchangeMode.psk_ke, PskKeyExchangeMode.psk_dhe_ke)),
        session,
    )
    assert completed.resumed and completed.group == ""
    assert not [e for e in recorder.events if isinstance(e, trace.KeyExchangeComputed)]


def test_a_wrong_binder_is_a_decrypt_error() -> None:
    clock = Clock()
    client_config, server_config = configs(SessionDatabase(Counter()), clock)
    session = ClientSession.from_bytes(first_session(client_config, server_config))
    wrong_psk = attrs.evolve(session, resumption_psk=bytes(32))
    client = ClientConnection(attrs.evolve(client_config, session=wrong_psk))
    server = ServerConnection(server_config)
    client.start_handshake()
    with pytest.raises(alerts.DecryptError, match="binder"):
        server.receive_data(client.data_to_send())


def test_resumption_survives_a_hello_retry_request() -> None:
    clock = Clock()
    client_config, server_config = configs(SessionDatabase(Counter()), clock)
    session = first_session(client_config, server_config)
    completed, _, recorder = resume(
        client_config, attrs.evolve(server_config, supported_groups=(23,)), session, early_data=b"dropped"
    )
    assert completed.resumed and completed.hello_retry and not completed.early_data_accepted
    assert sum(isinstance(e, trace.BinderComputed) for e in recorder.events) == 2
