"""RFC 8448, byte for byte: teachtls's client and server given the RFC's inputs.

Known answers from RFC 8448 §3 (simple 1-RTT), §4 (resumed 0-RTT),
§5 (HelloRetryRequest), §6 (client authentication) and §7 (compatibility mode). The inputs the RFC prints
(randoms, ephemeral private keys, replayed signatures, cookie and ticket) come
from teachtls.scenarios.rfc8448; the expected outputs from
tests/vectors/rfc8448-vectors.json (see tests/vectors/README.md).

Three ways to check each scenario:
* a teachtls client and server wired together send exactly the RFC's records;
* the server, fed the RFC client's records, answers with the RFC server's records;
* the client, fed the RFC server's records, answers with the RFC client's records;
and every secret, key, IV and Finished value in the trace equals the RFC's.
"""

from __future__ import annotations

import pytest

from teachtls import (
    ApplicationData,
    ClientConnection,
    CloseNotifyReceived,
    HandshakeCompleted,
    ServerConnection,
    SessionTicketReceived,
)
from teachtls.scenarios import memory, rfc8448
from teachtls.trace import events as trace
from teachtls.trace.observer import Recorder
from tests.rfc8448 import scenario as vector_scenario

SCENARIOS = ["simple_1rtt", "resumed_0rtt", "hello_retry_request", "client_authentication", "compatibility_mode"]


def expected_records(scenario: str, actor: str) -> list[bytes]:
    steps = vector_scenario(scenario)["steps"]
    return [
        bytes.fromhex(item["hex"])
        for step in steps
        if step["actor"] == actor and step["description"].startswith("send ")
        for item in step["items"]
        if item["label"] == "complete record"
    ]


def run_pair(scenario: str) -> tuple[memory.Exchange, Recorder]:
    recorder = Recorder()
    client = ClientConnection(rfc8448.client_config(scenario, recorder))
    server = ServerConnection(rfc8448.server_config(scenario, recorder))
    exchange = memory.run(
        client,
        server,
        client_data=rfc8448.application_data(scenario, "client"),
        server_data=rfc8448.application_data(scenario, "server"),
        early_data=rfc8448.early_data(scenario),
    )
    return exchange, recorder


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_client_and_server_together_send_the_rfc_records(scenario: str) -> None:
    exchange, _ = run_pair(scenario)
    assert exchange.completed
    assert exchange.client_records == expected_records(scenario, "client")
    assert exchange.server_records == expected_records(scenario, "server")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_server_fed_the_rfc_client_records_answers_with_the_rfc_server_records(scenario: str) -> None:
    server = ServerConnection(rfc8448.server_config(scenario))
    reply = rfc8448.application_data(scenario, "server")
    sent: list[bytes] = []
    for record in expected_records(scenario, "client"):
        for event in server.receive_data(record):
            if isinstance(event, ApplicationData) and event.early:
                assert event.data == rfc8448.early_data(scenario)
            elif isinstance(event, ApplicationData) and reply is not None:
                assert event.data == rfc8448.application_data(scenario, "client")
                server.send_application_data(reply)
            if isinstance(event, CloseNotifyReceived):
                server.close()
        sent += memory.split_records(server.data_to_send())
    assert sent == expected_records(scenario, "server")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_client_fed_the_rfc_server_records_answers_with_the_rfc_client_records(scenario: str) -> None:
    """The client's part of the script: once connected -- in §3 once the ticket
    has arrived -- it sends its application data; after the server's reply,
    or at once when there is none, it closes."""
    client = ClientConnection(rfc8448.client_config(scenario))
    client.start_handshake(early_data=rfc8448.early_data(scenario))
    sent = memory.split_records(client.data_to_send())
    request = rfc8448.application_data(scenario, "client")
    send_after = SessionTicketReceived if scenario == "simple_1rtt" else HandshakeCompleted
    for record in expected_records(scenario, "server"):
        for event in client.receive_data(record):
            if isinstance(event, send_after) and request is not None:
                client.send_application_data(request)
            if isinstance(event, ApplicationData) or (isinstance(event, HandshakeCompleted) and request is None):
                client.close()
        sent += memory.split_records(client.data_to_send())
    assert sent == expected_records(scenario, "client")


# RFC 8448 step description -> the name teachtls gives the secret.
SECRET_NAMES = {
    'extract secret "early"': "early_secret",
    'derive secret for handshake "tls13 derived"': "early_secret_derived",
    'extract secret "handshake"': "handshake_secret",
    'derive secret "tls13 c hs traffic"': "client_handshake_traffic_secret",
    'derive secret "tls13 s hs traffic"': "server_handshake_traffic_secret",
    'derive secret for master "tls13 derived"': "handshake_secret_derived",
    'extract secret "master"': "master_secret",
    'derive secret "tls13 c ap traffic"': "client_application_traffic_secret_0",
    'derive secret "tls13 s ap traffic"': "server_application_traffic_secret_0",
    'derive secret "tls13 exp master"': "exporter_master_secret",
    'derive secret "tls13 res master"': "resumption_master_secret",
    'generate resumption secret "tls13 resumption"': "resumption_psk[0000]",
    'derive secret "tls13 c e traffic"': "client_early_traffic_secret",
    'derive secret "tls13 e exp master"': "early_exporter_master_secret",
}


def rfc_secrets(scenario: str) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for step in vector_scenario(scenario)["steps"]:
        for description, name in SECRET_NAMES.items():
            if step["description"].startswith(description):
                for item in step["items"]:
                    if item["label"] in ("secret", "expanded") and item["hex"]:
                        found[name] = bytes.fromhex(item["hex"])
    return found


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("role", ["client", "server"])
def test_every_traced_secret_equals_the_rfc_value(scenario: str, role: str) -> None:
    _, recorder = run_pair(scenario)
    traced = {e.name: e.value for e in recorder.events if isinstance(e, trace.SecretDerived) and e.role == role}
    expected = rfc_secrets(scenario)
    assert len(expected) >= 11
    for name, value in expected.items():
        assert traced[name] == value, name


def rfc_keys(scenario: str) -> set[tuple[bytes, bytes]]:
    keys = set()
    for step in vector_scenario(scenario)["steps"]:
        if "traffic keys" in step["description"] and step["items"]:
            values = {item["label"]: bytes.fromhex(item["hex"]) for item in step["items"]}
            keys.add((values["key expanded"], values["iv expanded"]))
    return keys


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_installed_key_and_iv_equals_the_rfc_value(scenario: str) -> None:
    _, recorder = run_pair(scenario)
    installed = {(e.key, e.iv) for e in recorder.events if isinstance(e, trace.KeysInstalled)}
    expected = rfc_keys(scenario)
    assert len(expected) >= 4
    assert expected <= installed


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_finished_key_and_verify_data_equals_the_rfc_value(scenario: str) -> None:
    _, recorder = run_pair(scenario)
    finished = {
        (e.finished_key, e.verify_data)
        for e in recorder.events
        if type(e) in (trace.FinishedComputed, trace.FinishedVerified)
    }
    expected = set()
    for step in vector_scenario(scenario)["steps"]:
        if step["description"].startswith("calculate finished") and step["items"]:
            values = {item["label"]: bytes.fromhex(item["hex"]) for item in step["items"] if item["hex"]}
            expected.add((values["expanded"], values["finished"]))
    assert len(expected) == 2
    assert expected <= finished
    assert all(e.ok for e in recorder.events if isinstance(e, trace.FinishedVerified))


def test_rfc8448_scenarios_warn_that_certificate_verification_is_off() -> None:
    _, recorder = run_pair("simple_1rtt")
    warnings = [e for e in recorder.events if isinstance(e, trace.Note) and e.level == "warning"]
    assert warnings and "DISABLED" in warnings[0].text


def test_hello_retry_request_scenario_uses_the_message_hash_transcript() -> None:
    exchange, recorder = run_pair("hello_retry_request")
    assert next(e for e in exchange.client_events if type(e).__name__ == "HandshakeCompleted").hello_retry  # type: ignore[union-attr]
    names = [e.name for e in recorder.events if isinstance(e, trace.MessageSent) and e.role == "server"]
    assert names[0] == "HelloRetryRequest"


def test_resumed_handshake_psk_binder_equals_the_rfc_value() -> None:
    _, recorder = run_pair("resumed_0rtt")
    step = next(s for s in vector_scenario("resumed_0rtt")["steps"] if s["description"].startswith("calculate PSK"))
    values = {item["label"]: bytes.fromhex(item["hex"]) for item in step["items"] if item["hex"]}
    computed = next(e for e in recorder.events if isinstance(e, trace.BinderComputed))
    verified = next(e for e in recorder.events if isinstance(e, trace.BinderVerified))
    assert computed.transcript_hash == values["binder hash"]
    assert computed.binder_key == values["PRK"]
    assert verified.ok and verified.binder == computed.binder


def test_resumed_handshake_delivers_the_early_data_as_early() -> None:
    exchange, _ = run_pair("resumed_0rtt")
    early = [e for e in exchange.server_events if isinstance(e, ApplicationData) and e.early]
    assert [e.data for e in early] == [rfc8448.early_data("resumed_0rtt")]
    completed = next(e for e in exchange.client_events if isinstance(e, HandshakeCompleted))
    assert completed.resumed and completed.early_data_accepted
