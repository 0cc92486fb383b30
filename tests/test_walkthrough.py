"""The walkthrough: `teachtls demo`'s step-by-step story of a recorded trace.

Behaviour tests on real in-memory handshakes (a single Recorder traces both
roles), a handshake that fails because the client does not trust the
server's CA, one-sided and redacted (JSON Lines) traces, the RFC 8448
scenarios, and one synthetic instance of every event type.
"""

from __future__ import annotations

import ast
import re
import types
import typing
from pathlib import Path

import attrs
import pytest

from teachtls import ClientConnection, Config, LocalAlert, RemoteAlert, ServerConnection
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.render import walkthrough
from teachtls.render.walkthrough import RENDERERS, render_walkthrough, summarize_trace
from teachtls.scenarios import memory, rfc8448
from teachtls.trace import events as trace
from teachtls.trace.events import EVENT_TYPES, TraceEvent
from teachtls.trace.jsonl import dumps_jsonl, loads_jsonl
from teachtls.trace.observer import Recorder
from teachtls.wire.codec import FieldSpan

HANDSHAKE = ["ClientHello", "ServerHello", "EncryptedExtensions", "Certificate", "CertificateVerify", "Finished"]
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def flat(text: str) -> str:
    """The text with all whitespace runs folded: wrapped lines join up again."""
    return " ".join(text.split())


# --------------------------------------------------------------------------
# Traces
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki():
    ca = make_ca()
    other_ca = make_ca()
    leaf = issue_leaf(ca, "localhost", dns_names=["localhost"])
    return ca, other_ca, leaf


def make_pair(pki, *, trust_the_right_ca: bool = True) -> tuple[ClientConnection, ServerConnection, Recorder]:
    ca, other_ca, leaf = pki
    recorder = Recorder()  # one observer for both roles: one ordered trace
    trusted = ca if trust_the_right_ca else other_ca
    client = ClientConnection(
        Config(server_name="localhost", trusted_certificates=(trusted.certificate,), observer=recorder)
    )
    server = ServerConnection(
        Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key, observer=recorder)
    )
    return client, server, recorder


@pytest.fixture(scope="module")
def good_trace(pki) -> list[TraceEvent]:
    client, server, recorder = make_pair(pki)
    exchange = memory.run(client, server, client_data=REQUEST, server_data=b"hello, client")
    assert exchange.completed
    return recorder.events


@pytest.fixture(scope="module")
def failed_trace(pki) -> list[TraceEvent]:
    """The client trusts a different CA: it rejects the certificate with unknown_ca."""
    client, server, recorder = make_pair(pki, trust_the_right_ca=False)
    client.start_handshake()
    server.receive_data(client.data_to_send())
    with pytest.raises(LocalAlert):
        client.receive_data(server.data_to_send())
    with pytest.raises(RemoteAlert):
        server.receive_data(client.data_to_send())
    return recorder.events


def of_type(events, cls):
    return [event for event in events if type(event) is cls]


# --------------------------------------------------------------------------
# A successful handshake
# --------------------------------------------------------------------------


def test_every_handshake_message_appears_in_order_sent_then_received(good_trace):
    text = render_walkthrough(good_trace)
    position = 0
    flights = [
        ("client", "server", HANDSHAKE[:1]),
        ("server", "client", HANDSHAKE[1:]),
        ("client", "server", ["Finished"]),
    ]
    for sender, receiver, names in flights:
        for name in names:
            sent = text.index(f"{sender} → {receiver}  {name}  (RFC 8446", position)
            text.index(f"{receiver} ← {sender}  {name}  (RFC 8446", sent)
            position = sent + 1
    # The in-memory order: the server's whole flight is sent before the client reads any of it.
    assert text.index("server → client  Finished") < text.index("client ← server  ServerHello")


def test_steps_are_numbered_in_trace_order(good_trace):
    numbers = [
        int(match) for match in re.findall(r"^\s*(\d+)  (?:client|server) [→←]", render_walkthrough(good_trace), re.M)
    ]
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) >= 2 * len(HANDSHAKE) + 2  # each message sent and received, plus data


def test_message_summary_and_its_record(good_trace):
    text = render_walkthrough(good_trace)
    client_hello = of_type(good_trace, trace.MessageSent)[0]
    assert client_hello.name == "ClientHello"
    assert "cipher_suites=[TLS_AES_128_GCM_SHA256" in text
    assert f"{len(client_hello.raw)} bytes in a {len(client_hello.raw) + 5}-byte plaintext record" in text
    assert "(as sent in step 1)" in text  # the server's ClientHello points back
    assert "encrypted with server_handshake_traffic_secret keys" in text
    assert "record sent: 4 handshake messages" in text  # EE, Certificate, CertificateVerify, Finished
    assert "middlebox compatibility" in text  # the dummy change_cipher_spec


def test_key_schedule_ladder_under_each_role(good_trace):
    text = flat(render_walkthrough(good_trace))
    for event in of_type(good_trace, trace.SecretDerived):
        assert f"derive {event.name} = " in text
    assert 'Derive-Secret(handshake_secret, "c hs traffic", ClientHello..ServerHello)' in text
    assert "HKDF-Extract(salt=early_secret_derived, IKM=(EC)DHE shared secret)" in text
    secret = next(e for e in of_type(good_trace, trace.SecretDerived) if e.name == "client_handshake_traffic_secret")
    assert f"derive client_handshake_traffic_secret = {secret.value[:8].hex()}…" in text
    # Both sides derive it; the second derivation says it matches the first.
    assert text.count("derive client_handshake_traffic_secret") == 2
    assert "(= server's)" in text
    shared = of_type(good_trace, trace.KeyExchangeComputed)[0]
    assert f"x25519 shared secret = {shared.shared_secret[:8].hex()}…" in text


def test_checks_states_signatures_and_finished(good_trace):
    text = render_walkthrough(good_trace)
    for check in of_type(good_trace, trace.CheckPerformed):
        assert f"✓ {check.check}  ({check.rfc})" in text
    assert "✓ legacy_session_id_echo  (RFC 8446 §4.1.3)" in text
    assert "✗" not in text.split("\n", 2)[2]  # only the legend mentions ✗
    assert "client: WAIT_SH → WAIT_EE  (ServerHello)" in text
    assert "server: WAIT_FINISHED → CONNECTED" in text
    assert "✓ hostname 'localhost' in subjectAltName" in text
    assert "signature" in text and "verified" in text
    assert "✓ server Finished verified" in text and "✓ client Finished verified" in text
    assert "negotiated: TLS 1.3, TLS_AES_128_GCM_SHA256, x25519" in text


def test_application_data_and_close(good_trace):
    text = render_walkthrough(good_trace)
    assert f'client → server  application data: {len(REQUEST)} bytes "GET / HTTP/1.1\\r\\nHost: localhost\\r\\n' in text
    assert 'client ← server  application data: 13 bytes "hello, client"' in text
    assert "client → server  alert: warning close_notify" in text


def test_summary_counts_and_line(good_trace):
    summary = summarize_trace(good_trace)
    assert summary["roles"] == ("client", "server")
    assert summary["handshake_messages"] == 7  # six kinds; Finished from each side
    assert summary["per_role"]["client"]["messages_sent"] == 2
    assert summary["per_role"]["client"]["messages_received"] == 5
    assert summary["per_role"]["client"]["application_bytes_sent"] == len(REQUEST)
    assert summary["records"] == len(of_type(good_trace, trace.RecordSent))
    assert summary["bytes"] == sum(len(record.raw) for record in of_type(good_trace, trace.RecordSent))
    assert summary["secrets_derived"] == len(of_type(good_trace, trace.SecretDerived))
    assert summary["checks_passed"] > 10 and summary["checks_failed"] == 0
    assert summary["negotiated"]["cipher_suite"] == "TLS_AES_128_GCM_SHA256"
    assert summary["negotiated"]["group"] == "x25519"
    assert summary["completed"] and not summary["failed"]
    line = summary["summary"]
    assert line.startswith("Handshake complete: TLS 1.3, TLS_AES_128_GCM_SHA256, x25519, ecdsa_secp256r1_sha256; ")
    assert "7 handshake messages" in line and f"{summary['checks_passed']} checks passed" in line
    assert line.endswith("closed with close_notify.")
    # It closes the walkthrough (wrapped to the terminal width).
    assert flat(render_walkthrough(good_trace)).endswith(line)


def test_lines_fit_a_100_column_terminal(good_trace):
    for line in render_walkthrough(good_trace).splitlines():
        assert len(line) <= 100, line


def test_color_only_adds_ansi_codes(good_trace):
    plain = render_walkthrough(good_trace)
    colored = render_walkthrough(good_trace, color=True)
    assert "\x1b[" not in plain
    assert "\x1b[32m" in colored  # passed checks in green
    assert ANSI_ESCAPE.sub("", colored) == plain


# --------------------------------------------------------------------------
# Secrets hidden
# --------------------------------------------------------------------------


def test_show_secrets_false_hides_every_secret_value(good_trace):
    shown = render_walkthrough(good_trace)
    hidden = render_walkthrough(good_trace, show_secrets=False)
    secret = next(e for e in of_type(good_trace, trace.SecretDerived) if e.name == "client_handshake_traffic_secret")
    assert secret.value[:8].hex() in shown
    assert secret.value[:8].hex() not in hidden
    values = [e.value for e in of_type(good_trace, trace.SecretDerived)]
    values += [e.key for e in of_type(good_trace, trace.KeysInstalled)]
    values += [e.shared_secret for e in of_type(good_trace, trace.KeyExchangeComputed)]
    values += [e.verify_data for e in of_type(good_trace, trace.FinishedComputed)]  # also in Finished's summary
    for value in values:
        assert value[:8].hex() not in hidden
    assert "(redacted)" in hidden
    assert "GET /" not in hidden  # application data is secret too
    assert "Transcript-Hash(ClientHello..ServerHello) = " in hidden  # public values stay


def test_a_trace_written_redacted_renders_with_redacted_values(good_trace):
    loaded = loads_jsonl(dumps_jsonl(good_trace, redact=True))
    text = render_walkthrough(loaded)
    secret = next(e for e in of_type(good_trace, trace.SecretDerived) if e.name == "master_secret")
    assert "derive master_secret = " in flat(text)
    assert secret.value[:8].hex() not in text
    assert "(redacted)" in text
    assert summarize_trace(loaded)["summary"] == summarize_trace(good_trace)["summary"]


# --------------------------------------------------------------------------
# A failed handshake
# --------------------------------------------------------------------------


def test_failed_handshake_shows_the_failed_check_and_the_alert(failed_trace):
    text = render_walkthrough(failed_trace)
    flat_text = flat(text)
    assert "✗ certificate verify failed: unknown CA" in flat_text
    assert "client → server  alert: fatal unknown_ca" in text
    assert "server ← client  alert: fatal unknown_ca" in text
    assert "reason: certificate verify failed" in text
    assert "client: WAIT_CERT_CR → CLOSED" in text
    assert "client ← server  CertificateVerify" not in text  # the client stopped at the certificate
    summary = summarize_trace(failed_trace)
    assert summary["failed"] and not summary["completed"]
    assert summary["checks_failed"] == 1
    assert summary["failed_checks"] == ["client: certificate CN=localhost"]
    assert summary["alerts"][0]["description"] == "unknown_ca"
    assert summary["summary"].startswith("Handshake FAILED: the client sent a fatal unknown_ca alert (certificate")
    assert flat_text.endswith(summary["summary"])


def test_failed_handshake_in_color_marks_the_failure_red(failed_trace):
    colored = render_walkthrough(failed_trace, color=True)
    assert re.search(r"\x1b\[1;31m\s*✗ certificate verify failed", colored)


# --------------------------------------------------------------------------
# One side only, RFC 8448, every event type
# --------------------------------------------------------------------------


def test_a_one_sided_trace_shows_received_messages_in_full(good_trace):
    client_only = [event for event in good_trace if event.role == "client"]
    text = render_walkthrough(client_only)
    assert "client ← server  ServerHello" in text
    assert "cipher_suite=TLS_AES_128_GCM_SHA256" in text  # no sent copy to point back to
    assert "as sent in step" not in text
    assert "(= server's)" not in text
    assert summarize_trace(client_only)["summary"].startswith("Handshake complete: TLS 1.3")


@pytest.mark.parametrize("scenario", ["simple_1rtt", "hello_retry_request", "client_authentication"])
def test_rfc8448_scenarios(scenario):
    recorder = Recorder()
    client = ClientConnection(rfc8448.client_config(scenario, recorder))
    server = ServerConnection(rfc8448.server_config(scenario, recorder))
    memory.run(
        client,
        server,
        client_data=rfc8448.application_data(scenario, "client"),
        server_data=rfc8448.application_data(scenario, "server"),
    )
    text = render_walkthrough(recorder.events)
    summary = summarize_trace(recorder.events)
    assert summary["completed"] and not summary["failed"]
    # The scenarios turn certificate verification off; the trace warns, prominently.
    assert "⚠ WARNING: certificate verification is DISABLED" in text
    assert summary["warnings"]
    if scenario == "hello_retry_request":
        assert "server → client  HelloRetryRequest" in text
        assert "(after a HelloRetryRequest)" in summary["summary"]
    if scenario == "client_authentication":
        assert "server → client  CertificateRequest" in text
        assert "client → server  CertificateVerify" in text


def sample_value(annotation: typing.Any, name: str) -> typing.Any:
    """A plausible value of a trace event field, from its type annotation."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    if typing.get_origin(annotation) is tuple:
        item = typing.get_args(annotation)[0]
        if item is FieldSpan:
            return (FieldSpan(path="X.y", start=0, end=1, value="1"),)
        return ("one", "two")
    return {str: f"sample_{name}", int: 22, bool: False, bytes: bytes(range(40))}[annotation]


def sample_event(cls: type[TraceEvent]) -> TraceEvent:
    hints = typing.get_type_hints(cls)
    values = {
        field.name: sample_value(hints[field.name], field.name) for field in attrs.fields(cls) if field.name != "role"
    }
    return cls(role="client", **values)


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_every_event_type_has_a_renderer(name):
    cls = EVENT_TYPES[name]
    # Looked up by exact class: a renderer registered for a base class does not count.
    assert cls in RENDERERS, f"{name} has no renderer in teachtls.render.walkthrough.RENDERERS"
    event = sample_event(cls)
    empty = render_walkthrough([])
    text = render_walkthrough([event])
    assert len(text.splitlines()) > len(empty.splitlines()), f"{name} rendered nothing"
    assert f"{cls.__name__}:" not in text  # not the generic fallback
    render_walkthrough([event], show_secrets=False, color=True)
    summarize_trace([event])


def test_sent_and_received_siblings_render_differently():
    sent = render_walkthrough([sample_event(trace.RecordSent)])
    received = render_walkthrough([sample_event(trace.RecordReceived)])
    assert "record sent:" in sent and "record received:" in received
    assert "client → server  alert" in render_walkthrough([sample_event(trace.AlertSent)])
    assert "client ← server  alert" in render_walkthrough([sample_event(trace.AlertReceived)])


def test_an_unknown_event_type_falls_back_to_a_generic_line():
    class FutureEvent(trace.Note):
        pass

    text = render_walkthrough([FutureEvent(role="server", text="from a newer schema")])
    assert "FutureEvent: text='from a newer schema'" in text


def test_the_renderer_only_reads_traces():
    """STYLE.md: renderers never import the protocol code."""
    tree = ast.parse(Path(walkthrough.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    forbidden = ("teachtls.connection", "teachtls.handshake", "teachtls.net", "teachtls.scenarios", "teachtls.config")
    assert not [module for module in imported if module.startswith(forbidden)]
