"""`Trace` (teachtls.trace.trace) and the named scenarios behind `Trace.from_scenario`.

A `Trace` is made from a list of events, a JSON Lines file or a scenario
name; it is an immutable sequence, saves and loads back unchanged, and shows
itself in Jupyter as the sequence diagram (SVG) and the annotated page (HTML).
The named scenarios are deterministic: RFC 8448's connections, byte for byte
the traces the golden diagrams were drawn from, and one that fails.
"""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

import pytest

import teachtls
import teachtls.trace
from teachtls.render.sequence import sequence_dot
from teachtls.scenarios.named import SCENARIOS, run_scenario
from teachtls.trace import events as trace
from teachtls.trace.jsonl import dumps_jsonl, load_jsonl, load_jsonl_with_header
from teachtls.trace.trace import Trace

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden" / "diagrams"


@pytest.fixture(scope="module")
def simple() -> Trace:
    return Trace.from_scenario("rfc8448-simple")


# --- making a Trace --------------------------------------------------------------------------


def test_a_trace_from_a_list_is_an_immutable_sequence_of_its_events() -> None:
    events = run_scenario("rfc8448-simple")
    made = Trace(events)
    assert len(made) == len(events)
    assert made[0] is events[0] and made[-1] is events[-1]
    assert list(made) == events
    assert made.events == events
    made.events.clear()  # a copy: the trace is unchanged
    events.clear()  # and so is changing the list it was made from
    assert len(made) == len(run_scenario("rfc8448-simple"))


def test_a_slice_of_a_trace_is_a_trace() -> None:
    made = Trace.from_scenario("rfc8448-simple")
    first = made[:5]
    assert isinstance(first, Trace)
    assert list(first) == made.events[:5]
    assert first.metadata == {"scenario": "rfc8448-simple"}


def test_a_trace_holds_only_trace_events() -> None:
    with pytest.raises(TypeError, match="TraceEvents"):
        Trace(["ClientHello"])  # type: ignore[list-item]


def test_a_trace_from_a_scenario_has_both_roles_and_says_which(simple: Trace) -> None:
    assert {event.role for event in simple} == {"client", "server"}
    assert simple.metadata == {"scenario": "rfc8448-simple"}
    assert repr(simple) == f"<Trace 'rfc8448-simple': {len(simple)} events, client and server>"


def test_an_unknown_scenario_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="rfc8448-simple"):
        Trace.from_scenario("rfc8448-nope")


def test_save_and_load_round_trip(simple: Trace, tmp_path: Path) -> None:
    path = simple.save(tmp_path / "simple.jsonl")
    assert path == tmp_path / "simple.jsonl"
    loaded = Trace(path)
    assert loaded == simple
    assert Trace.load(str(path)) == simple
    assert loaded.metadata == {"scenario": "rfc8448-simple"}
    assert not loaded.redacted
    assert load_jsonl(path) == simple.events  # an ordinary trace file


def test_a_redacted_trace_stays_redacted(simple: Trace, tmp_path: Path) -> None:
    simple.save(tmp_path / "redacted.jsonl", redact=True)
    loaded = Trace(tmp_path / "redacted.jsonl")
    assert loaded.redacted
    secrets = [event for event in loaded if isinstance(event, trace.SecretDerived)]
    assert secrets and all(event.value == b"" for event in secrets)
    # Saved again without redact=True, the header still says what the file holds.
    loaded.save(tmp_path / "again.jsonl")
    header, _ = load_jsonl_with_header(tmp_path / "again.jsonl")
    assert header["redacted"] is True


def test_a_trace_equals_a_trace_with_the_same_events(simple: Trace) -> None:
    assert simple == Trace(simple.events)  # metadata aside
    assert simple != Trace(simple.events[1:])
    assert simple != simple.events  # a Trace is not a list
    assert hash(simple) == hash(Trace(simple.events))


def test_trace_is_exported_from_the_package_and_from_teachtls_trace() -> None:
    assert teachtls.Trace is Trace
    assert teachtls.trace.Trace is Trace
    assert "Trace" in teachtls.__all__ and "Trace" in teachtls.trace.__all__


def test_the_trace_module_imports_no_renderer_or_scenario_at_module_level() -> None:
    """trace/ sits below render/ and scenarios/: those are imported inside methods."""
    tree = ast.parse((ROOT / "teachtls" / "trace" / "trace.py").read_text(encoding="utf-8"))
    top_level = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    modules = {node.module for node in top_level if isinstance(node, ast.ImportFrom)}
    assert modules and not any(m and m.startswith(("teachtls.render", "teachtls.scenarios")) for m in modules)


# --- drawing and Jupyter --------------------------------------------------------------------------


def test_repr_svg_is_the_sequence_diagram(simple: Trace) -> None:
    svg = simple._repr_svg_()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "ClientHello" in svg and "NewSessionTicket" in svg


def test_repr_html_is_the_annotated_page_in_an_iframe(simple: Trace) -> None:
    text = simple._repr_html_()
    assert text.startswith("<iframe") and text.endswith("</iframe>")
    found = re.search(r'srcdoc="([^"]*)"', text)
    assert found is not None
    srcdoc = html.unescape(found.group(1))
    assert srcdoc == simple.page("html")
    assert srcdoc.startswith("<!DOCTYPE html>")
    assert "legacy_session_id" in srcdoc and "<svg" in srcdoc


def test_diagram_helpers(simple: Trace) -> None:
    for detail in ("messages", "keys", "records"):
        assert simple.diagram(detail=detail).startswith("<svg")
    assert "client_handshake_traffic_secret" in simple.diagram(detail="keys")
    assert "My title" in simple.diagram(title="My title")
    assert "master_secret" in simple.keyschedule("server")
    assert "WAIT_SH" in simple.statechart("client")
    with pytest.raises(ValueError, match="detail"):
        simple.diagram(detail="everything")


def test_page_formats(simple: Trace) -> None:
    assert simple.page().startswith("<!DOCTYPE html>")
    assert simple.page("md") == simple.page("markdown")
    assert simple.page("markdown").startswith("# ")
    assert "====" in simple.page("rst")
    assert "A title" in simple.page(title="A title")
    with pytest.raises(ValueError, match="format"):
        simple.page("pdf")


def test_walkthrough(simple: Trace) -> None:
    text = simple.walkthrough()
    assert "ClientHello" in text and "\x1b[" not in text
    secret = next(e for e in simple if isinstance(e, trace.SecretDerived) and e.name == "master_secret")
    assert secret.value.hex()[:16] in text.replace(" ", "")
    assert secret.value.hex()[:16] not in simple.walkthrough(show_secrets=False).replace(" ", "")


# --- the named scenarios --------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_named_scenario_is_deterministic(name: str) -> None:
    """A second run (uncached) gives the same trace, byte for byte."""
    assert dumps_jsonl(SCENARIOS[name]()) == dumps_jsonl(run_scenario(name))


def test_run_scenario_returns_a_new_list_each_time() -> None:
    first = run_scenario("rfc8448-hrr")
    first.clear()
    assert run_scenario("rfc8448-hrr")


@pytest.mark.parametrize("detail", ["messages", "keys", "records"])
def test_rfc8448_simple_is_the_trace_of_the_golden_diagrams(detail: str) -> None:
    golden = (GOLDEN / f"rfc8448-simple-sequence-{detail}.dot").read_text(encoding="utf-8")
    assert sequence_dot(run_scenario("rfc8448-simple"), detail=detail) == golden


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rfc8448-resumed-0rtt", {"early_data", "pre_shared_key"}),
        ("rfc8448-hrr", {"cookie"}),
        ("rfc8448-client-auth", {"CertificateRequest"}),
    ],
)
def test_each_rfc8448_scenario_shows_what_it_is_about(name: str, expected: set[str]) -> None:
    text = dumps_jsonl(run_scenario(name))
    assert all(word in text for word in expected)
    closes = [e for e in run_scenario(name) if isinstance(e, trace.AlertSent)]
    assert {(e.role, e.description) for e in closes} == {("client", "close_notify"), ("server", "close_notify")}


def test_the_compat_scenario_sends_change_cipher_spec() -> None:
    records = [e for e in run_scenario("rfc8448-compat") if isinstance(e, trace.RecordSent)]
    assert any(record.raw[0] == 20 for record in records)  # ContentType.change_cipher_spec


def test_bad_certificate_fails_with_bad_certificate_on_both_sides() -> None:
    events = run_scenario("bad-certificate")
    checked = [e for e in events if isinstance(e, trace.CertificateChecked)]
    assert len(checked) == 1 and not checked[0].ok
    assert "hostname mismatch" in checked[0].reason
    sent = [e for e in events if isinstance(e, trace.AlertSent)]
    received = [e for e in events if isinstance(e, trace.AlertReceived)]
    assert [(e.role, e.description, e.level) for e in sent] == [("client", "bad_certificate", "fatal")]
    assert [(e.role, e.description) for e in received] == [("server", "bad_certificate")]
    assert not any(isinstance(e, trace.ApplicationDataSent) for e in events)


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_renderer_draws_every_named_scenario(name: str) -> None:
    made = Trace.from_scenario(name)
    for detail in ("messages", "keys", "records"):
        assert made.diagram(detail=detail).startswith("<svg")
    for role in ("client", "server"):
        assert made.keyschedule(role).startswith("<svg")
        assert made.statechart(role).startswith("<svg")
    for page_format in ("html", "md", "rst"):
        assert made.page(page_format)
    assert made.walkthrough()
