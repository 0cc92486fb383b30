"""Session lifecycle in the sans-I/O core: timeouts, KeyUpdate limits,
certificate verification with OCSP staples and a custom callback, and
internal errors that still end in an alert."""

from __future__ import annotations

import datetime
import time

import attrs
import pytest

from teachtls import ClientConnection, Config, HandshakeCompleted, ServerConnection
from teachtls.handshake import alerts
from teachtls.pki import ocsp
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.pki.verify import VerificationResult
from teachtls.scenarios import memory
from teachtls.trace import events as trace
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import AlertDescription

CA = make_ca()
LEAF = issue_leaf(CA, "localhost", dns_names=["localhost"])
MUST_STAPLE = issue_leaf(CA, "localhost", dns_names=["localhost"], must_staple=True)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def client_config(**changes: object) -> Config:
    return attrs.evolve(Config(server_name="localhost", trusted_certificates=(CA.certificate,)), **changes)


def server_config(leaf: object = LEAF, **changes: object) -> Config:
    return attrs.evolve(
        Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key),  # type: ignore[attr-defined]
        **changes,
    )


# --- handshake timeout (gnutls_handshake_set_timeout) -----------------------------------


def test_the_handshake_times_out_on_the_injected_clock() -> None:
    clock = Clock()
    client = ClientConnection(client_config(clock=clock, handshake_timeout_ms=1000))
    client.start_handshake()
    client.data_to_send()
    assert client.handshake_time_left() == pytest.approx(1.0)
    clock.now += 1.5
    with pytest.raises(alerts.HandshakeTimeout, match="1000 ms"):
        client.check_timeout()
    assert client.closed
    assert client.data_to_send() == b""  # no further handshake bytes


def test_a_server_times_out_when_the_client_stalls() -> None:
    clock = Clock()
    client = ClientConnection(client_config())
    server = ServerConnection(server_config(clock=clock, handshake_timeout_ms=500))
    client.start_handshake()
    hello = client.data_to_send()
    server.receive_data(hello[:10])  # a stalled ClientHello
    clock.now += 1
    with pytest.raises(alerts.HandshakeTimeout):
        server.receive_data(hello[10:])


def test_a_zero_timeout_disables_the_limit() -> None:
    clock = Clock()
    client = ClientConnection(client_config(clock=clock, handshake_timeout_ms=0))
    client.start_handshake()
    clock.now += 10**6
    client.check_timeout()
    assert client.handshake_time_left() is None


def test_the_timeout_stops_counting_once_connected() -> None:
    clock = Clock()
    client = ClientConnection(client_config(clock=clock, handshake_timeout_ms=1000))
    memory.run(client, ServerConnection(server_config()), close=False)
    clock.now += 60
    client.check_timeout()
    assert client.handshake_complete


# --- KeyUpdate ---------------------------------------------------------------------


def test_key_update_both_ways_keeps_data_flowing() -> None:
    client, server = ClientConnection(client_config()), ServerConnection(server_config())
    memory.run(client, server, close=False)
    exchange = memory.Exchange()
    client.key_update(request_peer=True)
    memory.pump(client, server, exchange)
    assert client.write_generation == 1 and server.read_generation == 1
    assert server.write_generation == 1 and client.read_generation == 1
    server.key_update(request_peer=False)
    memory.pump(client, server, exchange)
    assert server.write_generation == 2 and client.write_generation == 1
    client.send_application_data(b"after updates")
    memory.pump(client, server, exchange)
    assert exchange.server_received == b"after updates"


def test_a_flood_of_key_updates_is_cut_off() -> None:
    clock = Clock()
    client = ClientConnection(client_config())
    server = ServerConnection(server_config(clock=clock, key_update_limit=4))
    memory.run(client, server, close=False)
    for _ in range(4):
        client.key_update(request_peer=False)
    server.receive_data(client.data_to_send())
    client.key_update(request_peer=False)
    with pytest.raises(alerts.KeyUpdateFlood) as raised:
        server.receive_data(client.data_to_send())
    assert raised.value.description is AlertDescription.unexpected_message
    clock.now += 2  # the limit is per second: after a pause, updates are fine again
    client2 = ClientConnection(client_config())
    server2 = ServerConnection(server_config(clock=clock, key_update_limit=4))
    memory.run(client2, server2, close=False)
    for _ in range(4):
        client2.key_update(request_peer=False)
        server2.receive_data(client2.data_to_send())
        clock.now += 0.5
    assert server2.read_generation == 4


# --- OCSP stapling and must-staple ----------------------------------------------------


def staple(status: str = "good", *, stale: bool = False, certificate: object = LEAF) -> bytes:
    now = datetime.datetime.now(datetime.UTC)
    this_update = now - datetime.timedelta(days=10 if stale else 1)
    return ocsp.make_ocsp_response(
        certificate=certificate.certificate,  # type: ignore[attr-defined]
        issuer=CA.certificate,
        responder=CA,
        status=status,
        this_update=this_update,
        next_update=this_update + datetime.timedelta(days=7),
        revocation_time=now - datetime.timedelta(days=2) if status == "revoked" else None,
    )


def handshake(client: Config, server: Config) -> tuple[memory.Exchange, Recorder]:
    recorder = Recorder()
    exchange = memory.run(
        ClientConnection(attrs.evolve(client, observer=recorder)), ServerConnection(server), close=False
    )
    return exchange, recorder


def test_a_good_staple_is_checked_and_traced() -> None:
    exchange, recorder = handshake(client_config(), server_config(ocsp_response=staple()))
    assert exchange.completed
    checks = [e for e in recorder.events if isinstance(e, trace.CertificateChecked) and e.rfc == "RFC 6066 §8"]
    assert checks and checks[0].ok and any("good" in step for step in checks[0].checked)


@pytest.mark.parametrize(
    ("response", "leaf", "alert"),
    [
        (lambda: staple("revoked"), LEAF, alerts.CertificateRevoked),
        (lambda: staple("unknown"), LEAF, alerts.BadCertificateStatusResponse),
        (lambda: staple(stale=True), LEAF, alerts.BadCertificateStatusResponse),
        (lambda: staple(certificate=MUST_STAPLE), LEAF, alerts.BadCertificateStatusResponse),
        (lambda: None, MUST_STAPLE, alerts.BadCertificateStatusResponse),
    ],
    ids=["revoked", "unknown", "stale", "for-another-certificate", "must-staple-without-staple"],
)
def test_bad_staples_fail_with_the_right_alert(response: object, leaf: object, alert: type[Exception]) -> None:
    client = ClientConnection(client_config())
    server = ServerConnection(server_config(leaf, ocsp_response=response()))  # type: ignore[operator]
    client.start_handshake()
    server.receive_data(client.data_to_send())
    with pytest.raises(alert, match=r"OCSP|staple"):
        client.receive_data(server.data_to_send())
    assert client.closed


def test_no_staple_is_sent_when_the_client_does_not_ask() -> None:
    exchange, recorder = handshake(client_config(status_request=False), server_config(ocsp_response=staple()))
    assert exchange.completed
    checks = [e for e in recorder.events if isinstance(e, trace.CertificateChecked) and e.rfc == "RFC 6066 §8"]
    assert checks and any("no OCSP staple" in step for step in checks[0].checked)


# --- the application's verification callback ---------------------------------------------


def test_the_verify_callback_sees_the_chain_and_the_built_in_result() -> None:
    seen: list[tuple[int, bool]] = []

    def callback(chain: tuple[object, ...], result: VerificationResult) -> bool:
        seen.append((len(chain), result.ok))
        return True

    exchange, _ = handshake(client_config(verify_callback=callback), server_config())
    assert exchange.completed and seen == [(1, True)]


def test_the_verify_callback_can_reject_a_chain() -> None:
    def pin(chain: tuple[object, ...], result: VerificationResult) -> VerificationResult:
        return attrs.evolve(result, ok=False, reason="certificate verify failed: not the pinned key")

    client = ClientConnection(client_config(verify_callback=pin))
    server = ServerConnection(server_config())
    client.start_handshake()
    server.receive_data(client.data_to_send())
    with pytest.raises(alerts.BadCertificate, match="pinned"):
        client.receive_data(server.data_to_send())


# --- verification off, and bugs ----------------------------------------------------------


def test_disabled_verification_is_traced_as_a_warning() -> None:
    exchange, recorder = handshake(client_config(verify_peer=False, trusted_certificates=()), server_config())
    assert exchange.completed
    notes = [e for e in recorder.events if isinstance(e, trace.Note) and e.level == "warning"]
    assert notes and "DISABLED" in notes[0].text


def test_an_unexpected_exception_becomes_an_internal_error_alert() -> None:
    def broken_callback(chain: tuple[object, ...], result: VerificationResult) -> bool:
        raise RuntimeError("a bug in the callback")

    client = ClientConnection(client_config(verify_callback=broken_callback))
    server = ServerConnection(server_config())
    client.start_handshake()
    server.receive_data(client.data_to_send())
    with pytest.raises(alerts.InternalError, match="RuntimeError"):
        client.receive_data(server.data_to_send())
    assert client.closed
    assert client.data_to_send()[:1] == b"\x17"  # the alert, encrypted with handshake keys


def test_completed_handshake_reports_what_was_negotiated() -> None:
    exchange, _ = handshake(client_config(), server_config())
    completed = next(e for e in exchange.client_events if isinstance(e, HandshakeCompleted))
    assert completed.version == "TLS 1.3" and completed.group == "x25519"
