"""Annotated pages: layout of bytes, the explanations catalogue, and HTML/Markdown/RST output.

Real traces come from the deterministic RFC 8448 scenarios (a single Recorder
traces both roles), from handshakes made to fail (certificate verification
on against the RFC's expired certificate; a server whose CertificateVerify
signature is garbage; a record corrupted in flight, seen by the client alone),
from a handshake with a real CA, ALPN, a ticket and a KeyUpdate
(tests/handshake_pair.py), and from redacted JSON Lines.

Golden files: tests/golden/pages/rfc8448-simple.{html,md,rst}, generated here
from RFC 8448 §3. Run with UPDATE_GOLDEN=1 to rewrite them after an intended
change, and review the diff like documentation. The inline sequence diagram
is drawn by the Graphviz binary, whose SVG varies between versions, so the
comparison ignores the SVG's inside (its own golden test compares DOT source).
"""

from __future__ import annotations

import ast
import functools
import html.parser
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from teachtls import ClientConnection, ServerConnection
from teachtls.render import catalogue, layout, pages
from teachtls.render.layout import tiles
from teachtls.scenarios import memory, rfc8448
from teachtls.trace import events as trace
from teachtls.trace.jsonl import dumps_jsonl, loads_jsonl
from teachtls.trace.observer import Recorder
from teachtls.wire.enums import AlertDescription, ExtensionType
from teachtls.wire.messages import MESSAGE_CLASSES
from tests.handshake_pair import HandshakePair, client_config, server_config

GOLDEN = Path(__file__).parent / "golden" / "pages"
SCENARIOS = list(rfc8448.SECTIONS)
RENDER = Path(__file__).parent.parent / "teachtls" / "render"


# --- traces ------------------------------------------------------------------------------


@functools.cache
def scenario_trace(scenario: str) -> tuple[trace.TraceEvent, ...]:
    recorder = Recorder()
    client = ClientConnection(rfc8448.client_config(scenario, recorder))
    server = ServerConnection(rfc8448.server_config(scenario, recorder))
    memory.run(
        client,
        server,
        client_data=rfc8448.application_data(scenario, "client"),
        server_data=rfc8448.application_data(scenario, "server"),
    )
    return tuple(recorder.events)


def simple() -> list[trace.TraceEvent]:
    return list(scenario_trace("simple_1rtt"))


def failed_trace(client_changes: dict[str, Any], server_changes: dict[str, Any]) -> list[trace.TraceEvent]:
    recorder = Recorder()
    client = ClientConnection(attrs.evolve(rfc8448.client_config("simple_1rtt", recorder), **client_changes))
    server = ServerConnection(attrs.evolve(rfc8448.server_config("simple_1rtt", recorder), **server_changes))
    with pytest.raises(Exception):  # noqa: B017 - the alert class is not what these tests are about
        memory.run(client, server)
    return recorder.events


@functools.cache
def bad_certificate() -> tuple[trace.TraceEvent, ...]:
    """The client verifies the RFC's certificate (expired, no subjectAltName): certificate_expired."""
    return tuple(failed_trace({"verify_peer": True}, {}))


@functools.cache
def bad_signature() -> tuple[trace.TraceEvent, ...]:
    """The server's CertificateVerify carries a signature of zeros: decrypt_error."""
    return tuple(failed_trace({}, {"signer": lambda scheme, content: bytes(128)}))


@functools.cache
def corrupted_record() -> tuple[trace.TraceEvent, ...]:
    """One bit of the server's encrypted flight flipped in flight; only the client is traced."""
    recorder = Recorder()
    client = ClientConnection(rfc8448.client_config("simple_1rtt", recorder))
    server = ServerConnection(rfc8448.server_config("simple_1rtt"))
    client.start_handshake()
    server.receive_data(client.data_to_send())
    records = memory.split_records(server.data_to_send())
    flipped = bytearray(records[1])
    flipped[-20] ^= 1
    records[1] = bytes(flipped)
    with pytest.raises(Exception):  # noqa: B017
        client.receive_data(b"".join(records))
    return tuple(recorder.events)


@functools.cache
def fragmented() -> tuple[trace.TraceEvent, ...]:
    """RFC 8448 §3 with 100-byte records: messages span records, records hold several messages."""
    recorder = Recorder()
    client = ClientConnection(rfc8448.client_config("simple_1rtt", recorder))
    server = ServerConnection(attrs.evolve(rfc8448.server_config("simple_1rtt", recorder), max_fragment_length=100))
    memory.run(client, server)
    return tuple(recorder.events)


@functools.cache
def verified() -> tuple[trace.TraceEvent, ...]:
    """A real CA and certificate, ALPN, a session ticket, a KeyUpdate and data both ways."""
    recorder = Recorder()
    pair = HandshakePair(
        ClientConnection(client_config(observer=recorder, alpn_protocols=(b"h2", b"http/1.1"))),
        ServerConnection(server_config(observer=recorder, alpn_protocols=(b"h2",), session_tickets=1)),
    )
    pair.handshake()
    pair.client.send_application_data(b"GET / HTTP/1.1\r\n\r\n")
    pair.pump()
    pair.client.key_update()
    pair.pump()
    pair.server.send_application_data(b"HTTP/1.1 200 OK\r\n\r\nhello")
    pair.pump()
    pair.client.close()
    pair.pump()
    return tuple(recorder.events)


def redacted(events: list[trace.TraceEvent]) -> list[trace.TraceEvent]:
    return loads_jsonl(dumps_jsonl(events, redact=True))


ALL_TRACES: dict[str, Callable[[], tuple[trace.TraceEvent, ...]]] = {
    **{name: functools.partial(scenario_trace, name) for name in SCENARIOS},
    "bad_certificate": bad_certificate,
    "bad_signature": bad_signature,
    "corrupted_record": corrupted_record,
    "fragmented": fragmented,
    "verified": verified,
}


def events_of(name: str) -> list[trace.TraceEvent]:
    return list(ALL_TRACES[name]())


# --- layout: every byte of every record exactly once -----------------------------------------------


@pytest.mark.parametrize("name", list(ALL_TRACES))
@pytest.mark.parametrize("redact", [False, True])
def test_annotations_tile_every_record_exactly_once(name: str, redact: bool) -> None:
    events = events_of(name)
    if redact:
        events = redacted(events)
    result = layout.layout(events)
    assert result.records
    assert result.problems == ()
    for record in result.records:
        assert tiles(record.wire, len(record.record.raw)), record.index
        if record.inner_plaintext is not None:
            assert tiles(record.inner, len(record.inner_plaintext)), record.index
        else:
            assert record.inner == ()
        if record.protected:
            kinds = [a.kind for a in record.wire]
            assert kinds == ["header", "header", "header", "ciphertext", "tag"]
            assert record.wire[-1].length == 16


@pytest.mark.parametrize("name", list(ALL_TRACES))
def test_each_message_is_found_whole_in_its_records(name: str) -> None:
    result = layout.layout(events_of(name))
    for i in range(len(result.messages)):
        pieces = []
        for j in result.message_records[i]:
            record = result.records[j]
            data = record.inner_plaintext if record.protected else record.record.raw
            annotations = record.inner if record.protected else record.wire
            assert data is not None
            pieces += [data[a.start : a.end] for a in annotations if a.message == i]
        if result.message_records[i]:
            assert b"".join(pieces) == result.message(i).raw


def test_messages_spanning_records_and_records_holding_several_messages() -> None:
    result = layout.layout(events_of("fragmented"))
    spans = [where for where in result.message_records if len(where) > 1]
    assert spans, "the Certificate (and more) must span several 100-byte records"
    shared = [record for record in result.records if len({f.message for f in record.fragments}) > 1]
    assert shared, "some record must hold the end of one message and the start of the next"
    partial = [a for record in result.records for a in record.inner if a.partial]
    assert partial, "a field cut by a record boundary is marked partial"
    assert all(record.content_type is not None for record in result.records)


def test_padding_and_content_type_of_a_protected_record() -> None:
    """A synthetic application data record with 3 bytes of padding (RFC 8446 §5.4)."""
    header = bytes([23, 3, 3, 0, 2 + 1 + 3 + 16])
    record = trace.RecordSent(
        role="client",
        content_type=23,
        raw=header + bytes(range(22)),
        protection="application",
        sequence_number=7,
        inner_content_type=23,
        plaintext=b"hi",
        padding_length=3,
        nonce=bytes(12),
        keys="client_application_traffic_secret_0",
    )
    keys = trace.KeysInstalled(
        role="client",
        direction="write",
        protection="application",
        secret_name="client_application_traffic_secret_0",
        cipher_suite="TLS_AES_128_GCM_SHA256",
        key=bytes(16),
        iv=bytes(12),
    )
    (result,) = layout.layout([keys, record]).records
    assert result.keys == keys
    assert result.inner_plaintext == b"hi" + bytes([23]) + bytes(3)
    assert [(a.path, a.start, a.end) for a in result.inner] == [
        ("ApplicationData", 0, 2),
        ("TLSInnerPlaintext.type", 2, 3),
        ("TLSInnerPlaintext.zeros", 3, 6),
    ]
    assert "'hi'" in result.inner[0].value


def test_ccm_8_has_an_8_byte_tag() -> None:
    assert layout.tag_length_of("TLS_AES_128_CCM_8_SHA256") == 8
    assert layout.tag_length_of("TLS_CHACHA20_POLY1305_SHA256") == 16


def test_change_cipher_spec_and_alerts_are_annotated() -> None:
    result = layout.layout(events_of("compatibility_mode"))
    paths = {a.path for record in result.records for a in record.wire + record.inner}
    assert {"ChangeCipherSpec.type", "Alert.level", "Alert.description", "TLSInnerPlaintext.type"} <= paths


def test_a_record_that_failed_to_decrypt_has_no_inner_plaintext() -> None:
    result = layout.layout(events_of("corrupted_record"))
    failed = [record for record in result.records if record.decryption_failed]
    assert len(failed) == 1
    assert failed[0].inner == () and failed[0].inner_plaintext is None


# --- the catalogue ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", [*SCENARIOS, "verified"])
def test_every_field_of_the_rfc_8448_traces_is_explained(scenario: str) -> None:
    events = events_of(scenario)
    missing = set()
    for event in events:
        if isinstance(event, trace.MessageEvent):
            if catalogue.explain_message(event.name) is None:
                missing.add(event.name)
            missing |= {f.path for f in event.fields if catalogue.explain_field(f.path) is None}
    for record in layout.layout(events).records:
        for annotation in record.wire + record.inner:
            if not pages.explain(annotation).text and annotation.path != "ApplicationData":
                missing.add(annotation.path)
    assert not missing


@pytest.mark.parametrize("scenario", [*SCENARIOS, "verified"])
def test_every_secret_and_check_of_the_rfc_8448_traces_is_explained(scenario: str) -> None:
    events = events_of(scenario)
    secrets = {e.name for e in events if isinstance(e, trace.SecretDerived)}
    checks = {e.check for e in events if isinstance(e, trace.CheckPerformed)}
    assert {s for s in secrets if catalogue.explain_secret(s) is None} == set()
    assert {c for c in checks if catalogue.explain_check(c) is None} == set()


def test_every_check_the_handshake_code_performs_is_explained() -> None:
    """Every `self.check(condition, "name", ...)` in teachtls/ has a catalogue entry."""
    names = set()
    for path in (RENDER.parent).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "check"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
            ):
                names.add(node.args[1].value)
    assert names
    assert names - set(catalogue.CHECKS) == set()


def test_every_message_alert_and_extension_type_is_explained() -> None:
    assert {cls.wire_name for cls in MESSAGE_CLASSES.values()} - set(catalogue.MESSAGES) == set()
    assert {a.name for a in AlertDescription if not a.name.endswith("_RESERVED")} - set(catalogue.ALERTS) == set()
    assert catalogue.explain_alert("no_certificate_RESERVED").rfc == "RFC 8446 §B.2"
    assert {e.name for e in ExtensionType} - set(catalogue.EXTENSIONS) == set()


def test_field_paths_are_matched_by_normalized_index_and_suffix() -> None:
    key_share = "ClientHello.extensions[4].extension_data.client_shares[0].key_exchange"
    assert catalogue.explain_field(key_share).key == "KeyShareEntry.key_exchange"  # type: ignore[union-attr]
    assert catalogue.explain_field("ServerHello.extensions[0].extension_data.server_share.key_exchange") == (
        catalogue.explain_field(key_share)
    )
    assert catalogue.explain_field("ClientHello.cipher_suites[2]").key == "ClientHello.cipher_suites[*]"  # type: ignore[union-attr]
    length = catalogue.explain_field("ClientHello.cipher_suites.length")
    assert length is not None and length.rfc == "RFC 8446 §3.4" and "cipher suites" in length.title
    assert catalogue.explain_field("Finished.length").key == "Handshake.length"  # type: ignore[union-attr]
    padding = catalogue.explain_field("ClientHello.extensions[9].extension_data.data", extension="padding")
    assert padding is not None and padding.rfc == "RFC 7685 §3"
    assert catalogue.explain_field("ClientHello.no_such_field") is None
    assert catalogue.explain_secret("client_application_traffic_secret_3") is not None
    assert catalogue.explain_secret("resumption_psk[0001]") is not None


# --- HTML ---------------------------------------------------------------------------------------------------------


class ByteCells(html.parser.HTMLParser):
    """Collects the hexdump's byte cells: (data-r, data-f, extra attributes, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[str, str, dict[str, str | None], str]] = []
        self._open: tuple[str, str, dict[str, str | None]] | None = None
        self.ids: set[str] = set()
        self.rows: set[tuple[str, str]] = set()

    def handle_starttag(self, tag: str, attributes: list[tuple[str, str | None]]) -> None:
        found = dict(attributes)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "b" and "data-r" in found:
            self._open = (str(found["data-r"]), str(found["data-f"]), found)
        if tag == "tr" and "data-r" in found:
            self.rows.add((str(found["data-r"]), str(found["data-f"])))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.cells.append((*self._open, data))
            self._open = None


@pytest.mark.parametrize("name", ["simple_1rtt", "fragmented", "compatibility_mode", "bad_signature", "verified"])
def test_html_byte_cells_show_every_record_byte_once_in_field_order(name: str) -> None:
    events = events_of(name)
    result = layout.layout(events)
    parser = ByteCells()
    parser.feed(pages.render_html(events))
    for record in result.records:
        for part, data, ranges in (
            ("w", record.record.raw, record.wire),
            ("i", record.inner_plaintext or b"", record.inner),
        ):
            cells = [c for c in parser.cells if c[0] == str(record.index) and c[1].startswith(part)]
            assert "".join(c[3] for c in cells) == data.hex()
            fields = [c[1] for c in cells]
            expected = [f"{part}{n}" for n, a in enumerate(ranges) for _ in range(a.length)]
            assert fields == expected  # each field's bytes are contiguous, in order
            assert {(str(record.index), f) for f in set(fields)} <= parser.rows  # each field has its table row


def test_html_anchors_match_the_sequence_diagram_links() -> None:
    events = simple()
    text = pages.render_html(events)
    parser = ByteCells()
    parser.feed(text)
    result = layout.layout(events)
    assert {f"msg-{i}" for i in range(len(result.messages))} <= parser.ids
    assert {f"rec-{j}" for j in range(len(result.records))} <= parser.ids
    links = set(re.findall(r'href="#((?:msg|rec)-\d+)"', text))
    assert links, "the inline sequence diagram links to the messages"
    assert links <= parser.ids


def test_html_is_self_contained() -> None:
    text = pages.render_html(simple())
    assert "<svg" in text  # the sequence diagram is inline
    assert not re.search(r"https?://", text)
    assert not re.search(r"<script[^>]*\ssrc=", text)
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert text.count("<script>") == 1 and text.count("<style>") == 1


def test_html_shows_keys_nonce_and_key_schedule() -> None:
    events = simple()
    text = pages.render_html(events)
    keys = next(e for e in events if isinstance(e, trace.KeysInstalled) and e.protection == "handshake")
    record = next(e for e in events if isinstance(e, trace.RecordSent) and e.protection == "handshake")
    for secret in (keys.key, keys.iv, record.nonce):
        assert secret.hex() in text
    for event in events:
        if isinstance(event, trace.SecretDerived):
            assert event.name in text and event.value.hex() in text
    assert "server_write_key (from server_handshake_traffic_secret)" in text
    assert "Decrypted: TLSInnerPlaintext" in text


# --- failures ---------------------------------------------------------------------------------------------------


def test_a_bad_certificate_is_shown_as_the_failure() -> None:
    text = pages.render_html(list(bad_certificate()))
    assert "This connection failed" in text
    assert "certificate_expired" in text
    assert "REJECTED" in text
    assert 'class="item fail"' in text
    assert "not valid before" in text


def test_a_bad_signature_is_shown_as_the_failure() -> None:
    events = list(bad_signature())
    text = pages.render_html(events)
    assert "This connection failed" in text
    assert "INVALID" in text and "decrypt_error" in text
    failing = [e for e in events if isinstance(e, trace.CheckPerformed) and not e.passed]
    assert failing and failing[0].detail in text.replace("&#x27;", "'")
    markdown = pages.render_markdown(events)
    assert "✗" in markdown and "decrypt_error" in markdown


def test_a_record_that_failed_to_decrypt_is_shown() -> None:
    text = pages.render_html(list(corrupted_record()))
    assert "could not be decrypted" in text
    assert "bad_record_mac" in text


# --- redaction ----------------------------------------------------------------------------------------------------


def secret_values(events: list[trace.TraceEvent]) -> set[str]:
    found = set()
    for event in events:
        for field in attrs.fields(type(event)):
            value = getattr(event, field.name)
            if field.metadata.get("secret") and isinstance(value, bytes) and len(value) >= 8:
                found.add(value.hex())
    # verify_data also travels inside the (encrypted) Finished message, which a redacted trace keeps
    finished = {e.raw[4:].hex() for e in events if isinstance(e, trace.MessageEvent) and e.name == "Finished"}
    return found - finished


@pytest.mark.parametrize("render", [pages.render_html, pages.render_markdown, pages.render_rst])
def test_redacted_traces_render_without_secrets(render: Callable[[list[trace.TraceEvent]], str]) -> None:
    events = simple()
    hidden = redacted(events)
    text = render(hidden)
    secrets = secret_values(events)
    assert secrets
    leaked = {s for s in secrets if s in text}
    assert not leaked
    assert pages.REDACTED in text
    assert "Redacted trace" in text


# --- Markdown and reStructuredText ----------------------------------------------------------------------------


def publish(text: str) -> None:
    """Parse with docutils, failing on any warning (docutils comes with the docs extra, Sphinx)."""
    core = pytest.importorskip("docutils.core")
    core.publish_doctree(text, settings_overrides={"report_level": 2, "halt_level": 2})


@pytest.mark.parametrize(
    "name", ["simple_1rtt", "hello_retry_request", "bad_certificate", "corrupted_record", "verified", "resumed_0rtt"]
)
def test_rst_is_valid(name: str) -> None:
    publish(pages.render_rst(events_of(name)))


def test_redacted_rst_is_valid() -> None:
    publish(pages.render_rst(redacted(simple())))


def test_markdown_has_a_hexdump_and_a_field_table_per_record() -> None:
    events = simple()
    text = pages.render_markdown(events)
    result = layout.layout(events)
    assert text.count("| Offset | Length | Field | Value | Explanation | RFC |") >= len(result.records)
    assert "0000  16 03 01 00 c4 01 00 00  c0 03 03 cb 34 ec b1 e7" in text
    for j in range(len(result.records)):
        assert f'<a id="rec-{j}"></a>' in text


def test_write_page_picks_the_format_from_the_suffix(tmp_path: Path) -> None:
    events = simple()
    for suffix, marker in ((".html", "<!DOCTYPE html>"), (".md", "# "), (".rst", "====")):
        path = pages.write_page(events, tmp_path / f"page{suffix}")
        assert marker in path.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="unsupported"):
        pages.write_page(events, tmp_path / "page.pdf")


def test_pages_read_jsonl_files(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_text(dumps_jsonl(simple()), encoding="utf-8")
    assert pages.render_markdown(str(path)) == pages.render_markdown(simple())


# --- the import boundary --------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["layout.py", "catalogue.py", "pages.py"])
def test_renderers_do_not_import_protocol_code(module: str) -> None:
    tree = ast.parse((RENDER / module).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    forbidden = {m for m in imported if m.startswith(("teachtls.connection", "teachtls.handshake", "teachtls.net"))}
    assert not forbidden


# --- golden pages --------------------------------------------------------------------------------------------------


def without_svg_inside(text: str) -> str:
    """Graphviz versions draw the same diagram slightly differently: compare around it."""
    return re.sub(r"<svg.*?</svg>", "<svg/>", text, flags=re.DOTALL)


@pytest.mark.parametrize("suffix", [".html", ".md", ".rst"])
def test_golden_pages(suffix: str) -> None:
    rendered = pages.RENDERERS[suffix](simple())
    path = GOLDEN / f"rfc8448-simple{suffix}"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), "run with UPDATE_GOLDEN=1 to create the golden pages"
    assert without_svg_inside(rendered) == without_svg_inside(path.read_text(encoding="utf-8"))
