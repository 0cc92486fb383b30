"""The break-it labs (teachtls.labs): every fault is caught, by the check the lab says.

Each lab is run once per test session (`results`) and checked three ways:

* the outcome, read from the trace: the check that caught the fault, the side
  that caught it, the alert and its sender, the exception raised;
* what a student sees: the sequence diagram carries the failure marker ✗,
  the annotated page names the failure, the walkthrough ends with it;
* the exercises: every variation an exercise asks for is run, and must end
  the way the lab's `answer` (and docs/labs.md) says.

Then the `teachtls lab` command: listing, running (files written, exit 0),
an unknown name (exit 2), a lab that misbehaves (exit 1).
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Any

import attrs
import pytest

from teachtls.cli import main
from teachtls.handshake.alerts import LocalAlert
from teachtls.labs import LABS, LabResult, run_lab
from teachtls.labs.lab import FAULT_PREFIX
from teachtls.labs.stage import LAB_TIME, trusted_ca
from teachtls.render.style import FAILURE_MARK
from teachtls.render.walkthrough import render_walkthrough, summarize_trace
from teachtls.trace import events as trace
from teachtls.trace.jsonl import load_jsonl_with_header
from teachtls.wire.messages import DOWNGRADE_TLS12

NAMES = [
    "tampered-server-hello",
    "corrupted-finished",
    "wrong-certificate-verify-key",
    "expired-certificate",
    "wrong-hostname",
    "unknown-ca",
    "revoked-staple",
    "downgrade-attempt",
    "replayed-0rtt",
    "truncated-record",
    "wrong-record-mac",
]
DOCS = Path(__file__).resolve().parent.parent / "docs" / "labs.md"


@functools.cache
def results(name: str) -> LabResult:
    """Each lab's result, computed once per session."""
    return LABS[name].run()


def of_type(result: LabResult, kind: type[trace.TraceEvent]) -> list[Any]:
    return [event for event in result.trace if isinstance(event, kind)]


# --- the registry ------------------------------------------------------------------------------


def test_registry_holds_the_eleven_labs_in_order() -> None:
    assert list(LABS) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_lab_is_described(name: str) -> None:
    lab = LABS[name]
    assert lab.name == name and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name)
    assert lab.title and lab.explanation and lab.exercise and lab.answer
    assert "RFC" in lab.explanation and lab.rule.startswith("RFC")
    assert "?" in lab.exercise  # an exercise asks a question
    assert lab.expected_role in ("client", "server")


def test_run_lab_by_name() -> None:
    assert run_lab("corrupted-finished").as_expected
    with pytest.raises(KeyError, match="choose one of tampered-server-hello"):
        run_lab("no-such-lab")


# --- every fault is caught, by the expected check -----------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_fault_is_caught_by_the_expected_check(name: str) -> None:
    lab, result = LABS[name], results(name)
    assert result.as_expected, (result.caught, result.alert)
    assert result.caught is not None
    assert (result.caught.check, result.caught.role) == (lab.expected_check, lab.expected_role)
    assert lab.expected_reason in result.caught.reason
    # The lab said what it did, in the trace.
    notes = [note.text for note in of_type(result, trace.Note)]
    assert any(text.startswith(FAULT_PREFIX) for text in notes)


@pytest.mark.parametrize("name", [name for name in NAMES if LABS[name].expected_alert is not None])
def test_alert_is_sent_by_the_side_that_caught_it(name: str) -> None:
    lab, result = LABS[name], results(name)
    assert result.alert is not None
    assert (result.alert.description, result.alert.sent_by) == (lab.expected_alert, lab.expected_role)
    # The exception is the catching side's LocalAlert, with the same description.
    assert isinstance(result.exception, LocalAlert)
    assert result.exception.description.name == lab.expected_alert
    # The other side was told: it received the alert (or could not even read it).
    sent = [e for e in of_type(result, trace.AlertSent) if e.level == "fatal"]
    received = of_type(result, trace.AlertReceived)
    assert sent[0].role == lab.expected_role
    assert any(e.description == lab.expected_alert for e in received) or len(sent) == 2
    assert not summarize_trace(result.trace)["completed"] or name == "wrong-record-mac"


def test_tampered_server_hello_makes_the_keys_differ() -> None:
    result = results("tampered-server-hello")
    assert "≠ server's!" in render_walkthrough(result.trace)
    # The client could not decrypt the server's flight; the server cannot decrypt the client's alert.
    assert [(e.role, e.description) for e in of_type(result, trace.AlertSent)] == [
        ("client", "bad_record_mac"),
        ("server", "bad_record_mac"),
    ]


def test_downgrade_attempt_shows_the_sentinel() -> None:
    result = results("downgrade-attempt")
    (server_hello,) = [e for e in of_type(result, trace.MessageSent) if e.name == "ServerHello"]
    assert server_hello.raw[6:38].endswith(DOWNGRADE_TLS12)


def test_replayed_0rtt_is_rejected_and_never_delivered() -> None:
    result = results("replayed-0rtt")
    assert result.alert is None and result.exception is None
    rejected = [e for e in of_type(result, trace.ChoiceMade) if e.subject == "early_data"]
    assert [(e.choice, e.role) for e in rejected] == [("rejected", "server")]
    assert "replay" in rejected[0].reason
    assert not of_type(result, trace.ApplicationDataReceived)
    assert any(e.protection == "skipped 0-RTT" for e in of_type(result, trace.RecordReceived))


def test_wrong_record_mac_never_delivers_the_altered_request() -> None:
    result = results("wrong-record-mac")
    assert not of_type(result, trace.ApplicationDataReceived)
    assert summarize_trace(result.trace)["completed"]  # the handshake itself was fine


def test_labs_are_deterministic() -> None:
    """Same bytes on every run (within a process: the certificates are made once)."""
    for name in NAMES:
        assert LABS[name].run().trace == results(name).trace, name


def test_the_stage_clock_is_fixed() -> None:
    result = results("expired-certificate")
    assert result.caught is not None and "2025-03-01T12:00:00Z" in result.caught.reason
    assert trusted_ca().certificate.not_valid_before_utc < LAB_TIME < trusted_ca().certificate.not_valid_after_utc


# --- what a student sees: diagram, page, walkthrough ------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_diagram_shows_the_failure(name: str) -> None:
    result = results(name)
    svg = result.diagram()
    assert svg.lstrip().startswith("<svg")
    assert FAILURE_MARK in svg
    if result.alert is not None:
        assert f"Alert: {result.alert.description}" in svg
    else:
        assert "without an alert" in svg and "replay" in svg


@pytest.mark.parametrize("name", NAMES)
def test_page_shows_the_failure_and_the_fault(name: str) -> None:
    result = results(name)
    page = result.page()
    assert f"Lab {name}:" in page
    assert "LAB FAULT" in page
    assert result.caught is not None
    if result.alert is not None:
        assert "This connection failed." in page
        assert f"fatal {result.alert.description}" in page
    else:
        assert "chooses early data: rejected" in page and "a replay" in page


@pytest.mark.parametrize("name", NAMES)
def test_walkthrough_summary_names_the_outcome(name: str) -> None:
    result = results(name)
    if result.alert is not None:
        assert f"fatal {result.alert.description} alert" in result.summary
    lines = result.what_happened()
    assert lines[0].startswith("The fault: ")
    assert any(line.startswith(f"✗ Caught by the {LABS[name].expected_role}") for line in lines)
    assert lines[-1] == f"Summary: {result.summary}"


def test_write_puts_three_files_in_the_directory(tmp_path: Path) -> None:
    result = results("corrupted-finished")
    paths = result.write(tmp_path / "out")
    assert sorted(path.name for path in paths.values()) == ["diagram.svg", "page.html", "trace.jsonl"]
    header, events = load_jsonl_with_header(paths["trace"])
    assert header["lab"] == "corrupted-finished"
    assert events == result.trace
    assert FAILURE_MARK in paths["diagram"].read_text(encoding="utf-8")


# --- the exercises: each variation ends as its answer says --------------------------------------


def outcome(result: LabResult) -> tuple[str | None, str | None, str | None, bool]:
    """(check, who caught it, alert, handshake completed)."""
    caught = result.caught
    return (
        caught.check if caught else None,
        caught.role if caught else None,
        result.alert.description if result.alert else None,
        bool(summarize_trace(result.trace)["completed"]),
    )


EXERCISES = [
    # (lab, options, (check, role, alert, completed))
    (
        "tampered-server-hello",
        {"field": "ServerHello.cipher_suite"},
        ("cipher_suite_offered", "client", "illegal_parameter", False),
    ),
    (
        "tampered-server-hello",
        {"field": "ServerHello.legacy_session_id_echo"},
        ("legacy_session_id_echo", "client", "illegal_parameter", False),
    ),
    ("corrupted-finished", {"sender": "client"}, ("client_finished", "server", "decrypt_error", True)),
    (
        "wrong-certificate-verify-key",
        {"impostor_certificate": True},
        ("certificate_verification", "client", "unknown_ca", False),
    ),
    ("expired-certificate", {"client_days_back": 60}, (None, None, None, True)),
    (
        "wrong-hostname",
        {"common_name": "www.example.com"},
        ("certificate_verification", "client", "bad_certificate", False),
    ),
    ("unknown-ca", {"send_rogue_ca": True}, ("certificate_verification", "client", "unknown_ca", False)),
    ("revoked-staple", {"staple": "none"}, (None, None, None, True)),
    (
        "revoked-staple",
        {"staple": "none", "must_staple": True},
        ("ocsp_staple", "client", "bad_certificate_status_response", False),
    ),
    ("downgrade-attempt", {"server_versions": ("1.2",)}, ("record_authentication", "server", "bad_record_mac", False)),
    (
        "downgrade-attempt",
        {"server_versions": ("1.2",), "extended_master_secret": False},
        ("client_finished", "server", "decrypt_error", False),
    ),
    ("replayed-0rtt", {"replay_to": "other-server"}, (None, None, None, False)),
    ("truncated-record", {"fix_handshake_length": False}, ("message_expected", "client", "unexpected_message", False)),
    ("wrong-record-mac", {"offset": 2, "mask": 0x01}, ("record_authentication", "server", "bad_record_mac", True)),
    ("wrong-record-mac", {"offset": 0, "mask": 0x01}, ("message_expected", "server", "unexpected_message", True)),
]


@pytest.mark.parametrize(("name", "options", "expected"), EXERCISES, ids=lambda value: str(value))
def test_exercise_ends_as_the_answer_says(name: str, options: dict[str, Any], expected: tuple[Any, ...]) -> None:
    result = LABS[name].run(**options)
    assert outcome(result) == expected
    # The answer names what the student will see: the alert, and the check when it is a new one.
    check, _, alert, _ = expected
    if check is not None and check != LABS[name].expected_check:
        assert check in LABS[name].answer
    if alert is not None:
        assert alert in LABS[name].answer


def test_every_lab_has_an_exercise_checked_here() -> None:
    assert {name for name, _, _ in EXERCISES} == set(NAMES)


def test_replay_to_another_server_delivers_the_request_twice() -> None:
    result = LABS["replayed-0rtt"].run(replay_to="other-server")
    (delivered,) = of_type(result, trace.ApplicationDataReceived)
    assert delivered.data == b"POST /transfer amount=100 to=bob"


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="sender"):
        LABS["corrupted-finished"].run(sender="network")
    with pytest.raises(KeyError, match=re.escape("no field 'ServerHello.nonsense'")):
        LABS["tampered-server-hello"].run(field="ServerHello.nonsense")
    with pytest.raises(TypeError):
        LABS["unknown-ca"].run(no_such_option=True)


# --- docs/labs.md ----------------------------------------------------------------------------------


def test_docs_have_a_section_per_lab() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert "Not for production" in text
    for name in NAMES:
        assert f"\n## {name}\n" in text, name
        assert f"teachtls lab {name}`" in text, name
        assert f"**{name}.**" in text, name  # its answer


def test_docs_exercise_snippets_run() -> None:
    """Every `LABS["name"].run(...)` in docs/labs.md runs with options the lab takes."""
    text = DOCS.read_text(encoding="utf-8")
    calls = re.findall(r'^LABS\["([a-z0-9-]+)"\]\.run\((.*)\)$', text, flags=re.MULTILINE)
    assert {name for name, _ in calls} == {name for name, _, _ in EXERCISES}
    for name, arguments in calls:
        call = ast.parse(f"f({arguments})", mode="eval").body
        assert isinstance(call, ast.Call)
        options = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
        assert any(options == listed for lab, listed, _ in EXERCISES if lab == name), (name, options)


# --- the command line ----------------------------------------------------------------------------


def test_cli_lists_the_labs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab"]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert f"  {name} " in out
        assert LABS[name].title in out


def test_cli_runs_a_lab_and_writes_its_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "lab"
    assert main(["lab", "corrupted-finished", "--out", str(out_dir)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the text is wrapped to 78 columns
    assert out.startswith("Lab corrupted-finished: The server's Finished does not match the transcript")
    assert "What is going on" in out and "Finished is the last word of each side" in out
    assert "The fault: the server flips the top bit of its own Finished.verify_data" in out
    assert "✗ Caught by the client: check server_finished (RFC 8446 §4.4.4)" in out
    assert "✗ Alert: the client sent a fatal decrypt_error alert." in out
    assert "Handshake FAILED: the client sent a fatal decrypt_error alert" in out
    assert "As expected: caught by the client's server_finished check, with a decrypt_error alert." in out
    assert "Exercise" in out and 'sender="client"' in out
    for filename in ("trace.jsonl", "diagram.svg", "page.html"):
        assert (out_dir / filename).stat().st_size > 0
        assert f"to {out_dir / filename}" in out
    assert FAILURE_MARK in (out_dir / "diagram.svg").read_text(encoding="utf-8")
    assert "This connection failed." in (out_dir / "page.html").read_text(encoding="utf-8")


def test_cli_default_output_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["lab", "replayed-0rtt"]) == 0
    assert (tmp_path / "lab-output" / "replayed-0rtt" / "diagram.svg").exists()


def test_cli_unknown_lab_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "no-such-lab"]) == 2
    assert "unknown lab 'no-such-lab'; choose one of: tampered-server-hello" in capsys.readouterr().err


def test_cli_exits_1_when_a_lab_misbehaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same fault, expected to be caught by a check that does not exist.
    wrong = attrs.evolve(LABS["corrupted-finished"], expected_check="no_such_check")
    monkeypatch.setitem(LABS, "corrupted-finished", wrong)
    assert main(["lab", "corrupted-finished", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "NOT as expected: expected caught by the client's no_such_check check" in " ".join(captured.out.split())
    assert "got caught by the client's server_finished check" in captured.err
