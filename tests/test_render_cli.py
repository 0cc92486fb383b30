"""The trace commands of `teachtls`: diagram, keyschedule, statechart, explain, keylog, pcap; and demo's pictures.

Each command reads a saved trace (here RFC 8448 §3, written as JSON Lines
once per module) or a named scenario, and writes one file whose type
follows the suffix of -o. Mistakes in the input exit 2 with one line on
stderr; a failure to write exits 1.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from teachtls.cli import main
from teachtls.scenarios.named import run_scenario
from teachtls.trace import events as trace
from teachtls.trace.jsonl import dump_jsonl, load_jsonl

MAGIC = {
    ".svg": b"<svg",
    ".png": b"\x89PNG",
    ".pdf": b"%PDF",
    ".dot": b"digraph",
    ".pcapng": b"\x0a\x0d\x0d\x0a",  # pcapng Section Header Block
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RFC 8448 §3 (simple 1-RTT, both roles), saved as a JSON Lines trace."""
    path = tmp_path_factory.mktemp("trace") / "rfc8448-simple.jsonl"
    dump_jsonl(run_scenario("rfc8448-simple"), path)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_written(path: Path, suffix: str) -> bytes:
    data = path.read_bytes()
    assert data.startswith(MAGIC[suffix]), (path, data[:20])
    return data


# --- each command writes its file -------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".svg", ".png", ".pdf", ".dot"])
def test_diagram_writes_the_format_of_the_suffix(saved, tmp_path, capsys, suffix):
    out = tmp_path / f"diagram{suffix}"
    code, stdout, stderr = run(capsys, "diagram", saved, "-o", out)
    assert (code, stderr) == (0, "")
    assert stdout == f"teachtls: wrote the sequence diagram to {out}\n"
    assert_written(out, suffix)


def test_diagram_detail_and_title(saved, tmp_path, capsys):
    out = tmp_path / "keys.svg"
    assert run(capsys, "diagram", saved, "-o", out, "--detail", "keys", "--title", "Section 3")[0] == 0
    text = assert_written(out, ".svg").decode()
    assert "client_handshake_traffic_secret" in text and "Section 3" in text


def test_keyschedule_of_either_role(saved, tmp_path, capsys):
    for role in ("client", "server"):
        out = tmp_path / f"{role}.svg"
        code, stdout, _ = run(capsys, "keyschedule", saved, "-o", out, "--role", role)
        assert code == 0 and f"the {role}'s key schedule" in stdout
        assert "master_secret" in assert_written(out, ".svg").decode()


def test_statechart_with_and_without_a_trace(saved, tmp_path, capsys):
    bare, traced = tmp_path / "bare.dot", tmp_path / "traced.dot"
    assert run(capsys, "statechart", "--role", "client", "-o", bare)[0] == 0
    assert run(capsys, "statechart", "--role", "client", "--trace", saved, "-o", traced)[0] == 0
    assert "WAIT_SH" in assert_written(bare, ".dot").decode()
    assert bare.read_text() != traced.read_text()  # the trace's path is drawn
    assert run(capsys, "statechart", "--role", "server", "--trace", saved, "-o", tmp_path / "s.svg")[0] == 0
    assert_written(tmp_path / "s.svg", ".svg")


def test_statechart_needs_a_role(tmp_path, capsys):
    code, _, stderr = run(capsys, "statechart", "-o", tmp_path / "s.svg")
    assert code == 2 and "--role" in stderr


@pytest.mark.parametrize(("suffix", "marker"), [(".html", "<!DOCTYPE html>"), (".md", "# "), (".rst", "====")])
def test_explain_writes_the_page_in_the_format_of_the_suffix(saved, tmp_path, capsys, suffix, marker):
    out = tmp_path / f"page{suffix}"
    code, stdout, _ = run(capsys, "explain", saved, "-o", out)
    assert code == 0 and stdout == f"teachtls: wrote the annotated page to {out}\n"
    text = out.read_text(encoding="utf-8")
    assert marker in text and "legacy_session_id" in text


def test_explain_title(saved, tmp_path, capsys):
    out = tmp_path / "page.html"
    assert run(capsys, "explain", saved, "-o", out, "--title", "RFC 8448, section 3")[0] == 0
    assert "<h1>RFC 8448, section 3</h1>" in out.read_text(encoding="utf-8")


def test_keylog_writes_nss_key_log_lines(saved, tmp_path, capsys):
    out = tmp_path / "keys.txt"
    code, stdout, _ = run(capsys, "keylog", saved, "-o", out)
    assert code == 0 and "wrote the key log" in stdout
    lines = out.read_text().splitlines()
    labels = {line.split()[0] for line in lines}
    assert {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"} <= labels
    client_random = next(e for e in load_jsonl(saved) if isinstance(e, trace.MessageSent)).raw[6:38]
    assert all(line.split()[1] == client_random.hex() for line in lines)
    assert os.stat(out).st_mode & 0o077 == 0  # secrets: readable by the owner only


def test_pcap_writes_a_pcapng_capture(saved, tmp_path, capsys):
    out = tmp_path / "capture.pcapng"
    code, stdout, _ = run(capsys, "pcap", saved, "-o", out)
    assert code == 0 and "wrote the capture" in stdout
    data = assert_written(out, ".pcapng")
    assert len(data) > 1452  # every record of the trace, and then some


def test_a_scenario_name_instead_of_a_trace_file(saved, tmp_path, capsys):
    by_name, by_file = tmp_path / "a.dot", tmp_path / "b.dot"
    assert run(capsys, "diagram", "--scenario", "rfc8448-simple", "-o", by_name)[0] == 0
    assert run(capsys, "diagram", saved, "-o", by_file)[0] == 0
    assert by_name.read_text() == by_file.read_text()
    out = tmp_path / "bad.svg"
    assert run(capsys, "diagram", "--scenario", "bad-certificate", "-o", out)[0] == 0
    assert "bad_certificate" in out.read_text()


# --- mistakes -----------------------------------------------------------------------------------


def assert_usage_error(result: tuple[int, str, str], *words: str) -> None:
    code, stdout, stderr = result
    assert code == 2 and stdout == ""
    assert stderr.startswith("teachtls: ") and stderr.count("\n") == 1, stderr
    assert all(word in stderr for word in words), stderr


def test_a_missing_trace_file_is_a_usage_error(tmp_path, capsys):
    for command in ("diagram", "keyschedule", "explain", "keylog", "pcap"):
        out = tmp_path / ("x.html" if command == "explain" else "x.svg")
        assert_usage_error(run(capsys, command, tmp_path / "missing.jsonl", "-o", out), "missing.jsonl")
        assert not out.exists()
    result = run(capsys, "statechart", "--role", "client", "--trace", tmp_path / "missing.jsonl", "-o", out)
    assert_usage_error(result, "missing.jsonl")


def test_a_file_that_is_not_a_trace_is_a_usage_error(tmp_path, capsys):
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("hello\n")
    assert_usage_error(run(capsys, "diagram", garbage, "-o", tmp_path / "x.svg"), "not a teachtls trace")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    assert_usage_error(run(capsys, "explain", binary, "-o", tmp_path / "x.html"), "not a teachtls trace")


@pytest.mark.parametrize(
    ("command", "output"),
    [("diagram", "x.jpeg"), ("keyschedule", "x.txt"), ("explain", "x.pdf"), ("diagram", "no-suffix")],
)
def test_an_output_format_no_renderer_writes_is_a_usage_error(saved, tmp_path, capsys, command, output):
    assert_usage_error(run(capsys, command, saved, "-o", tmp_path / output), "use one of")
    assert not (tmp_path / output).exists()


def test_give_a_trace_or_a_scenario_exactly_once(saved, tmp_path, capsys):
    out = tmp_path / "x.svg"
    assert_usage_error(run(capsys, "diagram", "-o", out), "--scenario")
    assert_usage_error(run(capsys, "diagram", saved, "--scenario", "rfc8448-hrr", "-o", out), "--scenario")
    code, _, stderr = run(capsys, "diagram", "--scenario", "rfc8448-nope", "-o", out)
    assert code == 2 and "invalid choice" in stderr  # argparse lists the names


def test_output_is_required(saved, capsys):
    code, _, stderr = run(capsys, "diagram", saved)
    assert code == 2 and "-o" in stderr


def test_keylog_refuses_a_redacted_trace(tmp_path, capsys):
    redacted = tmp_path / "redacted.jsonl"
    dump_jsonl(run_scenario("rfc8448-simple"), redacted, redact=True)
    assert_usage_error(run(capsys, "keylog", redacted, "-o", tmp_path / "keys.txt"), "redacted")
    assert not (tmp_path / "keys.txt").exists()


def test_an_unwritable_output_exits_1(saved, tmp_path, capsys):
    code, stdout, stderr = run(capsys, "diagram", saved, "-o", tmp_path / "no" / "such" / "dir.svg")
    assert (code, stdout) == (1, "")
    assert stderr.startswith("teachtls: cannot write") and stderr.count("\n") == 1


def test_without_graphviz_drawing_exits_1_and_says_why(saved, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` to be found
    code, _, stderr = run(capsys, "diagram", saved, "-o", tmp_path / "x.svg")
    assert code == 1 and "install Graphviz" in stderr
    assert run(capsys, "explain", saved, "-o", tmp_path / "x.html")[0] == 0  # the page does without


def test_help_lists_the_trace_commands(capsys):
    code, stdout, _ = run(capsys, "--help")
    assert code == 0
    for command in ("diagram", "keyschedule", "statechart", "explain", "keylog", "pcap"):
        assert command in stdout


# --- teachtls demo ---------------------------------------------------------------------------------


def test_demo_writes_the_trace_the_diagram_and_the_page_and_says_where(tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, _ = run(capsys, "demo", "--out", out)
    assert code == 0
    trace_path, diagram, page = out / "trace.jsonl", out / "diagram.svg", out / "page.html"
    assert load_jsonl(trace_path)
    assert_written(diagram, ".svg")
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    for path in (trace_path, diagram, page):
        assert str(path) in stdout


def test_demo_defaults_to_demo_output(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, _ = run(capsys, "demo")
    assert code == 0
    for name in ("trace.jsonl", "diagram.svg", "page.html"):
        assert (tmp_path / "demo-output" / name).is_file()
        assert os.path.join("demo-output", name) in stdout


def test_demo_without_graphviz_still_writes_the_page(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, stdout, stderr = run(capsys, "demo", "--out", tmp_path / "out")
    assert code == 0
    assert "install Graphviz" in stderr
    assert not (tmp_path / "out" / "diagram.svg").exists()
    assert (tmp_path / "out" / "page.html").is_file() and "page.html" in stdout
