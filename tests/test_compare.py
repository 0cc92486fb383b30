"""`teachtls compare`: a TLS 1.2 and a TLS 1.3 handshake side by side (teachtls.render.compare).

What is checked:

* the correspondence table itself (one entry per TLS 1.2 message and
  sender, names as the sequence diagrams spell them, an RFC for each);
* the reading of the two traces: the alignment of the two message lists,
  the round trips (2 against 1, and 2 again after a HelloRetryRequest);
* the figure's DOT source: both versions' messages, a box per TLS 1.2
  message, an arrow for each correspondence;
* the pages: the message table, links between table and figure, the key
  schedules;
* the command: each format, explicit traces, and the usage errors (exit 2);
* the default TLS 1.2 scenario, tls12-rfc8448-simple: deterministic, and
  RFC 8448 §3's server and key shares speaking TLS 1.2.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from teachtls.cli import COMPARE_SCENARIOS, main
from teachtls.render import compare
from teachtls.render.compare import CORRESPONDENCES, align, compare_dot, compare_html, compare_markdown, handshake
from teachtls.scenarios.named import run_scenario
from teachtls.trace import events as trace
from teachtls.trace.jsonl import dump_jsonl, dumps_jsonl

MAGIC = {".svg": b"<svg", ".png": b"\x89PNG", ".pdf": b"%PDF", ".dot": b"digraph", ".html": b"<!DOCTYPE html>"}

# Names as `teachtls.render.sequence` titles its arrows: handshake messages
# (RFC 5246 §7.4, RFC 8446 §4) and the two kinds of record drawn as arrows.
TLS12_NAMES = {
    "HelloRequest", "ClientHello", "ServerHello", "Certificate", "CertificateStatus", "ServerKeyExchange",
    "CertificateRequest", "ServerHelloDone", "ClientKeyExchange", "CertificateVerify", "NewSessionTicket",
    "Finished", "ChangeCipherSpec", "Application Data",
}  # fmt: skip
TLS13_NAMES = {
    "ClientHello", "ServerHello", "HelloRetryRequest", "EncryptedExtensions", "Certificate", "CertificateRequest",
    "CertificateVerify", "Finished", "NewSessionTicket", "EndOfEarlyData", "KeyUpdate", "ChangeCipherSpec",
    "Application Data",
}  # fmt: skip


@pytest.fixture(scope="module")
def tls12() -> list[trace.TraceEvent]:
    return run_scenario("tls12-rfc8448-simple")


@pytest.fixture(scope="module")
def tls13() -> list[trace.TraceEvent]:
    return run_scenario("rfc8448-simple")


def has_id(dot: str, identifier: str) -> bool:
    """Does a node of the DOT source carry this id (quoted or not)?"""
    return re.search(rf'\bid="?{identifier}"?[ \]]', dot) is not None


def titles(side: compare.Handshake, index: int | None) -> str:
    return "-" if index is None else f"{side.arrows[index].sender} {side.arrows[index].title}"


# --- the table ------------------------------------------------------------------------------


def test_one_entry_per_tls12_message_and_sender():
    keys = [(entry.sender, entry.tls12_message) for entry in CORRESPONDENCES]
    assert len(keys) == len(set(keys))
    assert {sender for sender, _ in keys} == {"client", "server"}
    for entry in CORRESPONDENCES:
        assert entry.tls12_message in TLS12_NAMES, entry
        assert set(entry.targets) <= TLS13_NAMES, entry
        assert entry.becomes and entry.explanation and entry.rfc.startswith("RFC "), entry


def test_what_the_brief_promises_is_in_the_table():
    def entry(sender: str, name: str) -> compare.Correspondence:
        found = compare.correspondence_of(sender, name)
        assert found is not None, name
        return found

    assert entry("client", "ClientHello").targets == ("ClientHello",)
    assert entry("server", "ServerKeyExchange").targets == ("ServerHello", "CertificateVerify")
    assert entry("client", "ClientKeyExchange").targets == ("ClientHello",)
    assert entry("server", "ServerHelloDone").kind == "removed"
    assert entry("client", "ChangeCipherSpec").kind == "removed"
    assert "middlebox" in entry("client", "ChangeCipherSpec").becomes
    assert "encrypted" in entry("server", "Certificate").becomes
    assert entry("server", "ServerKeyExchange").kind == "moved"
    assert entry("server", "Finished").kind == "kept"
    assert "after the handshake" in entry("server", "NewSessionTicket").becomes


# --- reading the traces ------------------------------------------------------------------------


def test_the_two_message_lists_are_aligned_by_correspondence(tls12, tls13):
    left, right = handshake(tls12, "TLS 1.2"), handshake(tls13, "TLS 1.3")
    rows = [(titles(left, i), titles(right, j)) for i, j in align(left.arrows, right.arrows)]
    assert rows == [
        ("client ClientHello", "client ClientHello"),
        ("server ServerHello", "server ServerHello"),
        ("-", "server EncryptedExtensions"),
        ("server Certificate", "server Certificate"),
        ("server ServerKeyExchange", "server CertificateVerify"),
        ("-", "server Finished"),
        ("server ServerHelloDone", "-"),
        ("client ClientKeyExchange", "-"),
        ("client ChangeCipherSpec", "-"),
        ("client Finished", "client Finished"),
        ("server NewSessionTicket", "server NewSessionTicket"),
        ("server ChangeCipherSpec", "-"),
        ("server Finished", "-"),
        ("client Application Data", "client Application Data"),
    ]


def test_round_trips(tls12, tls13):
    left, right = handshake(tls12, "TLS 1.2"), handshake(tls13, "TLS 1.3")
    assert len(left.round_trips) == 2  # RFC 5246 §7.3: a full handshake
    assert len(right.round_trips) == 1  # RFC 8446 §2
    first, last = left.round_trips[0]
    assert (left.arrows[first].title, left.arrows[last].title) == ("ClientHello", "ServerHelloDone")
    first, last = left.round_trips[1]
    assert (left.arrows[first].title, left.arrows[last].title) == ("ClientKeyExchange", "Finished")
    assert len(handshake(run_scenario("rfc8448-hrr"), "TLS 1.3").round_trips) == 2  # the HelloRetryRequest


def test_what_is_sent_in_the_clear(tls12, tls13):
    left, right = handshake(tls12, "TLS 1.2"), handshake(tls13, "TLS 1.3")
    assert [a.title for a in right.plaintext_messages] == ["ClientHello", "ServerHello"]
    assert "Certificate" in [a.title for a in left.plaintext_messages]
    assert "Finished" not in [a.title for a in left.plaintext_messages]


def test_a_trace_of_the_wrong_version_is_refused(tls12, tls13):
    with pytest.raises(ValueError, match=r"TLS 1\.3 side of the comparison is a TLS 1\.2 trace"):
        compare_dot(tls12, tls12)
    with pytest.raises(ValueError, match=r"TLS 1\.2 side"):
        compare_dot(tls13, tls13)


# --- the figure -------------------------------------------------------------------------------


def test_the_figure_holds_both_handshakes_and_the_correspondences(tls12, tls13):
    dot = compare_dot(tls12, tls13)
    for name in ("ClientHello", "ServerKeyExchange", "ServerHelloDone", "ClientKeyExchange"):
        assert has_id(dot, f"tls12_{'client' if 'Client' in name else 'server'}_{name}"), name
    for name in ("EncryptedExtensions", "CertificateVerify", "NewSessionTicket"):
        assert has_id(dot, f"tls13_server_{name}"), name
    assert "TLS 1.2" in dot and "TLS 1.3" in dot
    assert "2 round trips before the client sends data" in dot
    assert "1 round trip before the client sends data" in dot
    # a box for every TLS 1.2 message drawn; "removed" ones for ServerHelloDone and both ChangeCipherSpecs
    assert len(re.findall(r'\bid="?became_', dot)) == len(handshake(tls12, "TLS 1.2").arrows)
    assert dot.count("removed:") == 3
    assert "→ ServerHello + CertificateVerify" in dot
    # one arrow per correspondence that reaches a drawn TLS 1.3 message
    arrows = re.findall(r'tooltip="([A-Za-z ]+) → ([A-Za-z ]+)"', dot)
    assert ("ServerKeyExchange", "ServerHello") in arrows
    assert ("ServerKeyExchange", "CertificateVerify") in arrows
    assert ("ClientKeyExchange", "ClientHello") in arrows
    assert ("ServerHello", "EncryptedExtensions") in arrows
    assert ("Finished", "Finished") in arrows
    assert not any(source in ("ServerHelloDone", "ChangeCipherSpec") for source, _ in arrows)
    assert len(arrows) == 11  # 8 kept in place or moved, + EncryptedExtensions, CertificateVerify, ClientHello


def test_a_middlebox_compatibility_dummy_is_linked_and_a_new_message_marked():
    compat = compare_dot(run_scenario("tls12-ecdhe"), run_scenario("rfc8448-compat"))
    assert ("ChangeCipherSpec", "ChangeCipherSpec") in re.findall(r'tooltip="([A-Za-z ]+) → ([A-Za-z ]+)"', compat)
    hrr = compare_dot(run_scenario("tls12-ecdhe"), run_scenario("rfc8448-hrr"))
    assert hrr.count("new in TLS 1.3") == 1  # the HelloRetryRequest, not the second ClientHello


def test_a_one_sided_trace_can_be_compared(tls12, tls13):
    client_only = [event for event in tls12 if event.role == "client"]
    assert has_id(compare_dot(client_only, tls13), "tls12_server_ServerKeyExchange")


# --- the pages -------------------------------------------------------------------------------


def test_the_html_page(tls12, tls13):
    page = compare_html(tls12, tls13)
    assert page.startswith("<!DOCTYPE html>") and "Not for production" in page
    assert "<th>TLS 1.2</th><th>becomes in TLS 1.3</th><th>why</th><th>RFC</th>" in page
    for entry in CORRESPONDENCES:  # a row per message, with its explanation
        assert f'<tr id="{entry.anchor}">' in page
    assert page.count('<tr id="row_') == len(CORRESPONDENCES)
    # the figure is inline, and every link of the table leads into it
    assert "<svg" in page and "http://" not in page.split("<svg", 1)[1].split("</svg>")[0][:200]
    links = set(re.findall(r'<a href="#(tls1[23]_[^"]+)"', page))
    assert {"tls12_server_ServerKeyExchange", "tls13_server_CertificateVerify"} <= links
    for target in links:
        assert f'id="{target}"' in page, target
    # ... and the figure's messages lead back to the table
    assert 'href="#row_server_ServerKeyExchange"' in page
    # the key schedules side by side, from the traces
    assert "key_block" in page and "client_handshake_traffic_secret" in page and "HKDF-Extract" in page
    assert "the same (EC)DHE shared secret" in page  # the same RFC 8448 key shares on both sides


def test_the_markdown_page(tls12, tls13):
    page = compare_markdown(tls12, tls13, figure="compare.svg")
    assert page.startswith("# TLS 1.2 and TLS 1.3, side by side")
    assert "| TLS 1.2 | becomes in TLS 1.3 | why | RFC | in the figure |" in page
    assert "](compare.svg)" in page
    assert "| `ServerHelloDone` (server) | **removed**:" in page
    assert "](" not in compare_markdown(tls12, tls13)  # no figure named, none shown


# --- teachtls compare -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".svg", ".png", ".pdf", ".dot", ".html"])
def test_compare_writes_each_format(tmp_path, capsys, suffix):
    out = tmp_path / f"compare{suffix}"
    assert main(["compare", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == f"teachtls: wrote the TLS 1.2 / TLS 1.3 comparison to {out}\n"
    assert out.read_bytes().startswith(MAGIC[suffix])


def test_compare_markdown_writes_its_figure_beside_it(tmp_path, capsys):
    out = tmp_path / "compare.md"
    assert main(["compare", "-o", str(out)]) == 0
    assert "its figure" in capsys.readouterr().out
    assert "](compare.svg)" in out.read_text()
    assert (tmp_path / "compare.svg").read_bytes().startswith(b"<svg")


def test_compare_two_saved_traces(tmp_path, capsys):
    tls12, tls13 = tmp_path / "tls12.jsonl", tmp_path / "tls13.jsonl"
    dump_jsonl(run_scenario("tls12-ecdhe"), tls12)
    dump_jsonl(run_scenario("tls13-ecdhe"), tls13)
    out = tmp_path / "mine.html"
    assert main(["compare", str(tls12), str(tls13), "-o", str(out), "--title", "Same client, two servers"]) == 0
    page = out.read_text()
    assert "<h1>Same client, two servers</h1>" in page and "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" in page


def test_compare_usage_errors(tmp_path, capsys):
    tls12 = tmp_path / "tls12.jsonl"
    dump_jsonl(run_scenario("tls12-ecdhe"), tls12)
    assert main(["compare", str(tls12), "-o", str(tmp_path / "x.svg")]) == 2
    assert "give two traces" in capsys.readouterr().err
    assert main(["compare", str(tls12), str(tls12), "-o", str(tmp_path / "x.svg")]) == 2
    assert "TLS 1.3 side of the comparison is a TLS 1.2 trace" in capsys.readouterr().err
    assert main(["compare", str(tls12), str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "x.svg")]) == 2
    assert "cannot read the trace" in capsys.readouterr().err
    assert main(["compare", "-o", str(tmp_path / "x.txt")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["compare", "-o", str(tmp_path / "no" / "such" / "dir.svg")]) == 1
    assert not list(tmp_path.glob("x.*"))


# --- the default TLS 1.2 scenario --------------------------------------------------------------------


def test_the_default_scenarios():
    assert COMPARE_SCENARIOS == ("tls12-rfc8448-simple", "rfc8448-simple")


def test_tls12_rfc8448_simple_is_deterministic_and_rfc8448s_server():
    first = run_scenario("tls12-rfc8448-simple")
    assert dumps_jsonl(first) == dumps_jsonl(compare_module_fresh_run())
    negotiated = [e for e in first if isinstance(e, trace.ParametersNegotiated)]
    assert {(e.version, e.cipher_suite, e.group, e.signature_scheme) for e in negotiated} == {
        ("TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "x25519", "rsa_pkcs1_sha256")
    }
    sent = [e.name for e in first if isinstance(e, trace.MessageSent) and e.role == "server"]
    assert sent == [
        "ServerHello",
        "Certificate",
        "ServerKeyExchange",
        "ServerHelloDone",
        "NewSessionTicket",
        "Finished",
    ]

    def shared_secret(events: list[trace.TraceEvent]) -> bytes:
        return next(e.shared_secret for e in events if isinstance(e, trace.KeyExchangeComputed))

    # RFC 8448 §3's x25519 private keys: the same shared secret as the TLS 1.3 handshake
    assert shared_secret(first) == shared_secret(run_scenario("rfc8448-simple"))


def compare_module_fresh_run() -> list[trace.TraceEvent]:
    """The scenario run again, not from `run_scenario`'s cache."""
    from teachtls.scenarios.named import SCENARIOS

    return SCENARIOS["tls12-rfc8448-simple"]()


def test_render_compare_refuses_an_unknown_suffix(tls12, tls13, tmp_path):
    with pytest.raises(ValueError, match="unsupported format"):
        compare.render_compare(tls12, tls13, Path(tmp_path / "x.txt"))
