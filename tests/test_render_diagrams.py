"""The diagrams: sequence diagrams, state charts and the key-schedule ladder.

Golden files. The DOT source of each diagram of RFC 8448 §3 (simple 1-RTT) is
kept in tests/golden/diagrams/ and compared exactly: the trace is
deterministic, so is the DOT, and a diff of a golden file shows a reviewer
what changed in the picture. After an intended change, rewrite them with

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render_diagrams.py

and look at the rendered result (`render_sequence(trace, "x.png")`).

Beyond the golden files: every message and record of a trace is drawn (with
the anchors the annotated pages link to), a failed handshake shows its failed
check and alert, the state charts contain every transition of the tables,
and every output format is produced.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import attrs
import pytest

from teachtls import ClientConnection, ServerConnection
from teachtls.config import Config
from teachtls.handshake.alerts import LocalAlert
from teachtls.handshake.states import SEND_TRANSITIONS, TABLES
from teachtls.pki import generate
from teachtls.render import common, keyschedule, sequence, statechart
from teachtls.scenarios import memory, rfc8448
from teachtls.trace import events as trace
from teachtls.trace.observer import Recorder

GOLDEN = Path(__file__).parent / "golden" / "diagrams"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
RENDER_MODULES = ("sequence", "statechart", "keyschedule", "style")


def rfc8448_trace(scenario: str) -> list[trace.TraceEvent]:
    recorder = Recorder()
    client = ClientConnection(rfc8448.client_config(scenario, recorder))
    server = ServerConnection(rfc8448.server_config(scenario, recorder))
    memory.run(
        client,
        server,
        client_data=rfc8448.application_data(scenario, "client"),
        server_data=rfc8448.application_data(scenario, "server"),
    )
    return recorder.events


@pytest.fixture(scope="module")
def simple() -> list[trace.TraceEvent]:
    return rfc8448_trace("simple_1rtt")


@pytest.fixture(scope="module")
def hello_retry() -> list[trace.TraceEvent]:
    return rfc8448_trace("hello_retry_request")


@pytest.fixture(scope="module")
def failing() -> list[trace.TraceEvent]:
    """A client that trusts another CA than the one that issued the server's certificate."""
    recorder = Recorder()
    ca = generate.make_ca("teachtls test CA")
    other_ca = generate.make_ca("some other CA")
    leaf = generate.issue_leaf(ca, "localhost", dns_names=["localhost"])
    client = ClientConnection(
        Config(server_name="localhost", trusted_certificates=(other_ca.certificate,), observer=recorder)
    )
    server = ServerConnection(
        Config(certificate_chain=(leaf.certificate, ca.certificate), private_key=leaf.private_key, observer=recorder)
    )
    with pytest.raises(LocalAlert):
        memory.run(client, server)
    return recorder.events


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file (UPDATE_GOLDEN=1 rewrites)"


# --- golden DOT -------------------------------------------------------------------------


@pytest.mark.parametrize("detail", sequence.DETAILS)
def test_sequence_golden(simple, detail):
    check_golden(f"rfc8448-simple-sequence-{detail}.dot", sequence.sequence_dot(simple, detail=detail))


@pytest.mark.parametrize("role", ["client", "server"])
def test_statechart_golden(simple, role):
    check_golden(f"rfc8448-simple-statechart-{role}.dot", statechart.statechart_dot(role, simple))


def test_keyschedule_golden(simple):
    check_golden("rfc8448-simple-keyschedule-client.dot", keyschedule.keyschedule_dot(simple))


def test_dot_is_deterministic(simple):
    assert sequence.sequence_dot(simple, detail="keys") == sequence.sequence_dot(list(simple), detail="keys")


# --- sequence diagrams --------------------------------------------------------------------


def node_with_href(dot: str, href: str) -> str:
    """The DOT statement of the label node linking to `href`."""
    found = [line for line in dot.splitlines() if f'href="{href}"' in line and "->" not in line]
    assert len(found) == 1, f"expected one label linking to {href}, found {len(found)}"
    return found[0]


def test_every_message_is_an_arrow_with_its_anchor(simple):
    dot = sequence.sequence_dot(simple)
    messages = [s.event for s in common.conversation(simple) if isinstance(s.event, trace.MessageEvent)]
    assert [m.name for m in messages] == [
        "ClientHello",
        "ServerHello",
        "EncryptedExtensions",
        "Certificate",
        "CertificateVerify",
        "Finished",
        "Finished",
        "NewSessionTicket",
    ]
    for index, message in enumerate(messages):
        assert f">{message.name}<" in node_with_href(dot, f"#msg-{index}")
    assert f"#msg-{len(messages)}" not in dot


def test_message_labels_show_the_negotiation(simple):
    dot = sequence.sequence_dot(simple)
    client_hello = node_with_href(dot, "#msg-0")
    assert "TLS_CHACHA20_POLY1305_SHA256" in client_hello
    assert "key_share: x25519" in client_hello
    assert "supported_groups: x25519" in client_hello
    server_hello = node_with_href(dot, "#msg-1")
    assert "cipher_suite: TLS_AES_128_GCM_SHA256" in server_hello
    assert "subject: CN=rsa" in node_with_href(dot, "#msg-3")
    assert "algorithm: rsa_pss_rsae_sha256" in node_with_href(dot, "#msg-4")
    # application data and the two close_notify alerts are drawn from their records
    assert dot.count(">Application Data<") == 2
    assert dot.count(">Alert: close_notify<") == 2


def test_arrows_carry_their_protection_by_colour_and_line_style(simple):
    arrows = [row for row in sequence.rows(simple) if isinstance(row, sequence.Arrow)]
    by_title = [(arrow.title, arrow.line.style) for arrow in arrows]
    assert by_title[:8] == [
        ("ClientHello", "solid"),
        ("ServerHello", "solid"),
        ("EncryptedExtensions", "dashed"),
        ("Certificate", "dashed"),
        ("CertificateVerify", "dashed"),
        ("Finished", "dashed"),
        ("Finished", "dashed"),
        ("NewSessionTicket", "bold"),
    ]
    dot = sequence.sequence_dot(simple)
    assert "cluster_legend" in dot
    for meaning in ("plaintext", "handshake traffic keys", "application traffic keys"):
        assert meaning in dot


def test_records_view_has_one_arrow_per_record(simple):
    dot = sequence.sequence_dot(simple, detail="records")
    records = [s.event for s in common.conversation(simple) if isinstance(s.event, trace.RecordEvent)]
    for index, record in enumerate(records):
        assert f"{len(record.raw)} bytes" in node_with_href(dot, f"#rec-{index}")
    # the server's encrypted flight: one record, four messages
    flight = node_with_href(dot, "#rec-2")
    assert "carries EncryptedExtensions, Certificate," in flight
    assert "handshake (22)" in flight
    assert "#msg-" not in dot


def test_keys_view_notes_every_derived_secret(simple):
    dot = sequence.sequence_dot(simple, detail="keys")
    for event in simple:
        if isinstance(event, trace.SecretDerived):
            assert event.name in dot
            assert event.value.hex() in dot  # in full, in the note's tooltip
    notes = [row for row in sequence.rows(simple, "keys") if isinstance(row, sequence.NoteRow)]
    assert {note.role for note in notes} == {"client", "server"}
    assert "client_notes" in dot and "server_notes" in dot


def test_failed_handshake_shows_the_check_and_the_alert(failing):
    dot = sequence.sequence_dot(failing)
    check = next(e for e in failing if isinstance(e, trace.CertificateChecked))
    assert not check.ok
    assert "✗ certificate rejected: CN=localhost" in dot
    assert "unknown CA" in dot
    assert "✗ Alert: unknown_ca" in dot
    assert "the client sent a fatal unknown_ca alert" in dot
    assert "#c62828" in dot  # drawn in the failure colour
    rows = sequence.rows(failing)
    note = next(row for row in rows if isinstance(row, sequence.NoteRow) and row.failed)
    alert = next(row for row in rows if isinstance(row, sequence.Arrow) and row.failed)
    assert note.role == "client" and alert.sender == "client"
    assert rows.index(note) < rows.index(alert)


def test_failed_check_performed_is_drawn(simple):
    """A CheckPerformed that did not pass appears where it happened, with its detail."""
    broken = list(simple)
    at = next(i for i, e in enumerate(broken) if isinstance(e, trace.CheckPerformed) and e.role == "client")
    broken[at] = attrs.evolve(broken[at], passed=False, detail="ServerHello says something it must not")
    check = broken[at]
    assert isinstance(check, trace.CheckPerformed)
    dot = sequence.sequence_dot(broken)
    assert f"✗ check failed: {check.check}" in dot
    assert "ServerHello says something it must not" in dot


def test_one_sided_trace(simple):
    """A trace of the client alone (like `teachtls connect --trace`) draws the same arrows."""
    client_only = [event for event in simple if event.role == "client"]
    both = [(a.sender, a.title) for a in sequence.rows(simple) if isinstance(a, sequence.Arrow)]
    one = [(a.sender, a.title) for a in sequence.rows(client_only) if isinstance(a, sequence.Arrow)]
    assert one == both
    assert "(not traced)" in sequence.sequence_dot(client_only)


def test_hello_retry_request(hello_retry):
    dot = sequence.sequence_dot(hello_retry)
    assert ">HelloRetryRequest<" in dot
    assert "selected_group: secp256r1" in dot
    assert "(after HelloRetryRequest)" in dot


def test_unknown_detail_is_refused(simple):
    with pytest.raises(ValueError, match="detail"):
        sequence.sequence_dot(simple, detail="everything")


def test_trace_file_is_accepted(simple, tmp_path):
    from teachtls.trace.jsonl import dump_jsonl

    path = tmp_path / "trace.jsonl"
    dump_jsonl(simple, path)
    assert sequence.sequence_dot(path) == sequence.sequence_dot(simple)


# --- state charts ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["client", "server"])
def test_statechart_has_every_state_and_transition(simple, role):
    dot = statechart.statechart_dot(role, simple)
    flat = re.sub(r"<BR/>", " ", dot)
    edges = statechart.table_edges(role)
    machine = statechart.MACHINES[role]
    assert len(edges) == sum(len(t.targets) for t in TABLES[machine].values()) + len(SEND_TRANSITIONS[machine])
    for state in statechart.states_of(edges):
        assert re.search(rf"^\s*{state} \[", dot, re.MULTILINE), state
    for edge in edges:
        assert f"{edge.source} -> {edge.target}" in dot or f"{edge.target} -> {edge.source}" in dot
        assert " ".join(edge.label.split()) in flat, edge.label


def test_statechart_highlights_the_path(simple, hello_retry):
    client = statechart.statechart_dot("client", simple)
    assert '1.</FONT></B> <FONT COLOR="#0072b2"><I>send ClientHello</I>' in client
    assert '6.</FONT></B> <FONT COLOR="#0072b2">recv Finished' in client
    # WAIT_CERT was not visited in §3: grey
    assert re.search(r"^\s*WAIT_CERT \[.*color=\"#a6a6a6\"", client, re.MULTILINE)
    server = statechart.statechart_dot("server", hello_retry)
    assert '1, 3.</FONT></B> <FONT COLOR="#0072b2">recv ClientHello' in server
    assert "send HelloRetryRequest" in server


def test_statechart_without_trace_and_with_failure(failing):
    plain = statechart.statechart_dot("server")
    assert "#0072b2" not in plain
    failed = statechart.statechart_dot("client", failing)
    assert "✗ unknown_ca sent" in failed
    assert "WAIT_CERT_CR -> CLOSED" in failed
    with pytest.raises(ValueError):
        statechart.statechart_dot("middlebox")


# --- key schedule ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["client", "server"])
def test_keyschedule_shows_every_secret_of_the_role(simple, role):
    dot = keyschedule.keyschedule_dot(simple, role=role)
    for event in simple:
        if isinstance(event, trace.SecretDerived) and event.role == role:
            assert f"{keyschedule.node_id(event.name)} [" in dot
            assert common.short_hex(event.value, keyschedule.HEX_BYTES) in dot
            assert event.value.hex() in dot  # the full value, as a tooltip
        if isinstance(event, trace.KeysInstalled) and event.role == role:
            assert event.key.hex() in dot
    for secret in keyschedule.LADDER:
        assert f"{secret.name} [" in dot
    assert "not derived in this trace" in dot  # no PSK: binder_key, early traffic


def test_keyschedule_after_key_update():
    recorder = Recorder()
    client = ClientConnection(rfc8448.client_config("simple_1rtt", recorder))
    server = ServerConnection(rfc8448.server_config("simple_1rtt", recorder))
    exchange = memory.run(client, server, close=False)
    client.key_update()
    memory.pump(client, server, exchange)
    dot = keyschedule.keyschedule_dot(recorder.events)
    assert "client_application_traffic_secret_1 [" in dot
    assert "client_application_traffic_secret_0 -> client_application_traffic_secret_1" in dot
    assert "traffic upd" in dot


# --- outputs -------------------------------------------------------------------------------------


def test_svg_is_inlinable(simple):
    svg = sequence.sequence_svg(simple)
    assert svg.startswith("<svg")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg
    assert 'xlink:href="#msg-0"' in svg
    assert statechart.statechart_svg("client", simple).startswith("<svg")
    svg = keyschedule.keyschedule_svg(simple)
    assert svg.startswith("<svg")
    master = next(e for e in simple if isinstance(e, trace.SecretDerived) and e.name == "master_secret")
    assert master.value.hex() in svg  # hover shows the full value


@pytest.mark.parametrize(
    ("suffix", "magic"),
    [(".svg", b"<svg"), (".png", b"\x89PNG\r\n\x1a\n"), (".pdf", b"%PDF"), (".dot", b"digraph")],
)
def test_output_formats(simple, tmp_path, suffix, magic):
    outputs = [
        sequence.render_sequence(simple, tmp_path / f"sequence{suffix}", detail="keys"),
        statechart.render_statechart("server", tmp_path / f"statechart{suffix}", simple),
        keyschedule.render_keyschedule(simple, tmp_path / f"keyschedule{suffix}", role="server"),
    ]
    for path in outputs:
        data = path.read_bytes()
        assert data.startswith(magic), path
        assert len(data) > 1000, path


def test_unknown_format_is_refused(simple, tmp_path):
    with pytest.raises(ValueError, match="unsupported format"):
        sequence.render_sequence(simple, tmp_path / "diagram.jpeg")


# --- renderers only read ---------------------------------------------------------------------------


@pytest.mark.parametrize("module", RENDER_MODULES)
def test_diagrams_do_not_import_the_protocol(module):
    """STYLE.md, "Renderers only read": no connection or handshake code, only the tables."""
    path = Path(__file__).parent.parent / "teachtls" / "render" / f"{module}.py"
    forbidden = (
        "teachtls.connection",
        "teachtls.handshake.client13",
        "teachtls.handshake.server13",
        "teachtls.handshake.common13",
        "teachtls.net",
    )
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            assert not name.startswith(forbidden), f"{module}.py imports {name}"
