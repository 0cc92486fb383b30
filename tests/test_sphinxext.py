"""The Sphinx extension (`extensions = ["teachtls.sphinxext"]`), proven by building tiny projects.

Each test writes a conf.py and a page or two into tmp_path and runs
`sphinx-build -W` in-process (warnings are errors, as a docs build should
run). HTML builds must hold the inline SVG and the annotated page's fields;
other builders must get the plain-text versions instead, without a warning.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("sphinx")  # the [docs] extra

from sphinx.cmd.build import build_main

import teachtls
import teachtls.sphinxext
from teachtls.render import pages, sphinxext
from teachtls.scenarios.named import run_scenario
from teachtls.trace.jsonl import dump_jsonl

ALL_DIRECTIVES = """\
Handshakes
==========

.. teachtls-diagram:: rfc8448-simple

.. teachtls-diagram:: rfc8448-hrr
   :detail: keys
   :title: A HelloRetryRequest

.. teachtls-diagram::
   :trace: traces/simple.jsonl
   :detail: records

.. teachtls-keyschedule:: rfc8448-resumed-0rtt
   :role: server

.. teachtls-statechart:: client
   :scenario: bad-certificate

.. teachtls-statechart:: server

.. teachtls-statechart:: client
   :trace: traces/simple.jsonl

.. teachtls-bytes:: rfc8448-simple

.. teachtls-walkthrough:: rfc8448-client-auth
"""


def make_project(root: Path, pages_by_name: dict[str, str]) -> Path:
    """A Sphinx source directory: conf.py, the pages, and RFC 8448 §3's trace under traces/."""
    source = root / "src"
    (source / "traces").mkdir(parents=True)
    (source / "conf.py").write_text('project = "teachtls test"\nextensions = ["teachtls.sphinxext"]\n')
    dump_jsonl(run_scenario("rfc8448-simple"), source / "traces" / "simple.jsonl")
    for name, text in pages_by_name.items():
        (source / f"{name}.rst").parent.mkdir(parents=True, exist_ok=True)
        (source / f"{name}.rst").write_text(text, encoding="utf-8")
    return source


def build(source: Path, builder: str, *extra: str) -> tuple[int, Path]:
    out = source.parent / f"out-{builder}"
    code = build_main(["-W", "-q", "-b", builder, *extra, str(source), str(out)])
    return code, out


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("docs"), {"index": ALL_DIRECTIVES})


@pytest.fixture(scope="module")
def html_page(project: Path) -> str:
    code, out = build(project, "html")
    assert code == 0
    return (out / "index.html").read_text(encoding="utf-8")


# --- the HTML builder --------------------------------------------------------------------------


def test_every_directive_builds_without_a_warning(html_page: str) -> None:
    assert "Handshakes" in html_page


def test_diagrams_are_inline_svg(html_page: str) -> None:
    # 3 sequence diagrams, 1 key schedule, 3 state charts, and the one in the annotated page.
    assert html_page.count("<svg") == 8
    assert html_page.count('class="teachtls-figure teachtls-sequence"') == 3
    assert html_page.count('class="teachtls-figure teachtls-keyschedule"') == 1
    assert html_page.count('class="teachtls-figure teachtls-statechart"') == 3
    assert "A HelloRetryRequest" in html_page  # :title:
    assert "client_handshake_traffic_secret" in html_page  # :detail: keys
    assert "early_secret" in html_page  # the 0-RTT key schedule
    assert "bad_certificate" in html_page  # the failed path of the state chart


def test_the_annotated_page_is_embedded_with_its_fields(html_page: str) -> None:
    assert html_page.count('<div class="teachtls-page">') == 1
    for field in ("legacy_session_id", "cipher_suites", "key_share", "Record content type", "RFC 8446 §4.1.2"):
        assert field in html_page, field
    assert pages.SCRIPT in html_page  # click a field, see its bytes
    assert "<!DOCTYPE html>" not in html_page.split("<body", 1)[1]  # the body only, not a nested document


def test_the_walkthrough_is_a_literal_block(html_page: str) -> None:
    assert re.search(
        r'<div class="highlight-text notranslate"><div class="highlight"><pre>.*CertificateRequest', html_page, re.S
    )


def test_html_builds_carry_no_plain_text_fallback(html_page: str) -> None:
    assert "client ──▶ server" not in html_page
    assert "0000-0001  TLSPlaintext.type" not in html_page


# --- other builders ----------------------------------------------------------------------------


def test_the_text_builder_gets_plain_text_versions(project: Path) -> None:
    code, out = build(project, "text")
    assert code == 0
    text = (out / "index.txt").read_text(encoding="utf-8")
    assert "<svg" not in text and "teachtls-page" not in text
    assert "client ──▶ server  ClientHello" in text  # the sequence diagram
    assert "client ◀── server  HelloRetryRequest" in text or "client ◀── server  ServerHello" in text
    assert "handshake_secret = HKDF-Extract(" in text  # the key schedule
    assert "--ServerHello--> WAIT_EE" in text  # a state chart
    assert "0000-0001  TLSPlaintext.type = handshake" in text  # the annotated bytes
    assert "ClientHello.legacy_session_id" in text
    assert "CertificateRequest" in text  # the walkthrough


@pytest.mark.parametrize("builder", ["latex", "man", "singlehtml"])
def test_other_builders_build_without_a_warning(project: Path, builder: str) -> None:
    code, _ = build(project, builder)
    assert code == 0


def test_parallel_builds(tmp_path: Path) -> None:
    source = make_project(
        tmp_path,
        {
            "index": "Index\n=====\n\n.. toctree::\n\n   one\n   two\n",
            "one": "One\n===\n\n.. teachtls-diagram:: rfc8448-simple\n",
            "two": "Two\n===\n\n.. teachtls-bytes:: rfc8448-compat\n",
        },
    )
    code, out = build(source, "html", "-j", "2")
    assert code == 0
    assert "<svg" in (out / "one.html").read_text(encoding="utf-8")
    assert "teachtls-page" in (out / "two.html").read_text(encoding="utf-8")


# --- :trace: files -----------------------------------------------------------------------------------


def test_a_trace_path_is_relative_to_the_page_or_to_the_source_directory(tmp_path: Path) -> None:
    page = "Sub\n===\n\n.. teachtls-diagram::\n   :trace: ../traces/simple.jsonl\n\n" + (
        ".. teachtls-keyschedule::\n   :trace: /traces/simple.jsonl\n"
    )
    source = make_project(tmp_path, {"index": "Index\n=====\n\n.. toctree::\n\n   sub/page\n", "sub/page": page})
    code, out = build(source, "html")
    assert code == 0
    assert (out / "sub" / "page.html").read_text(encoding="utf-8").count("<svg") == 2


def test_a_changed_trace_file_rebuilds_the_page(tmp_path: Path) -> None:
    page = "Index\n=====\n\n.. teachtls-diagram::\n   :trace: traces/simple.jsonl\n"
    source = make_project(tmp_path, {"index": page})
    assert build(source, "html")[0] == 0
    dump_jsonl(run_scenario("bad-certificate"), source / "traces" / "simple.jsonl")
    code, out = build(source, "html")
    assert code == 0
    assert "bad_certificate" in (out / "index.html").read_text(encoding="utf-8")


# --- mistakes are errors at the directive's line ---------------------------------------------------------


@pytest.mark.parametrize(
    ("directive", "message"),
    [
        (".. teachtls-diagram:: rfc8448-nope", "unknown scenario 'rfc8448-nope'"),
        (".. teachtls-diagram::", "give a scenario name or a :trace: file"),
        (".. teachtls-bytes:: rfc8448-simple\n   :trace: traces/simple.jsonl", "not both"),
        (".. teachtls-keyschedule::\n   :trace: missing.jsonl", "cannot read the trace missing.jsonl"),
        (".. teachtls-walkthrough::\n   :trace: conf.py", "is not a teachtls trace"),
        (".. teachtls-diagram:: rfc8448-simple\n   :detail: everything", "invalid option value"),
        (".. teachtls-keyschedule:: rfc8448-simple\n   :role: middlebox", "invalid option value"),
        (".. teachtls-statechart:: middlebox", "client or server"),
        (".. teachtls-statechart:: client\n   :scenario: nope", "unknown scenario"),
    ],
)
def test_a_mistake_fails_the_build_and_says_where(tmp_path, capsys, directive, message):
    source = make_project(tmp_path, {"index": f"Index\n=====\n\nBefore.\n\n{directive}\n"})
    code, _ = build(source, "html")
    assert code != 0
    stderr = capsys.readouterr().err
    assert message in stderr and "index.rst:6" in stderr, stderr


# --- the pieces ------------------------------------------------------------------------------------------


def test_setup_registers_the_directives_and_is_parallel_safe() -> None:
    registered: dict[str, object] = {}

    class App:
        def add_directive(self, name: str, directive: object) -> None:
            registered[name] = directive

    metadata = sphinxext.setup(App())  # type: ignore[arg-type]
    assert metadata == {"version": teachtls.__version__, "parallel_read_safe": True, "parallel_write_safe": True}
    assert set(registered) == {
        "teachtls-diagram",
        "teachtls-keyschedule",
        "teachtls-statechart",
        "teachtls-bytes",
        "teachtls-walkthrough",
    }


def test_the_extension_is_teachtls_dot_sphinxext() -> None:
    assert teachtls.sphinxext.setup is sphinxext.setup


def test_the_page_stylesheet_is_confined_to_the_embedded_page() -> None:
    scoped = sphinxext.scoped_css(pages.CSS)
    selectors = [s.strip() for rule in re.findall(r"([^{}]+)\{", scoped) for s in rule.split(",")]
    assert selectors and all(s.startswith(".teachtls-page") for s in selectors)
    assert ".teachtls-page{--ink:" in scoped  # :root's variables now live on the <div>
    assert not re.search(r"(^|[\s,}])(body|main|:root)\s*[{,]", scoped)
    with pytest.raises(ValueError, match="at-rules"):
        sphinxext.scoped_css("@media print{h1{color:red}}")


def test_page_fragment_is_the_page_body_without_the_document_around_it() -> None:
    fragment = sphinxext.page_fragment(run_scenario("rfc8448-simple"), title="Simple")
    assert fragment.startswith('<div class="teachtls-page"><style>') and fragment.endswith("</script></div>")
    for tag in ("<!DOCTYPE", "<html", "<head>", "<body", "<main>"):
        assert tag not in fragment
    assert "<h1>Simple</h1>" in fragment


def test_plain_text_versions() -> None:
    events = run_scenario("bad-certificate")
    assert "✗" in sphinxext.sequence_text(events)
    schedule = sphinxext.keyschedule_text(events, "client")
    assert "handshake_secret = HKDF-Extract(" in schedule
    assert "client_application_traffic_secret_0" not in schedule  # the client gave up before
    assert sphinxext.keyschedule_text([], "client") == "(the trace holds no secret derived by the client)"
    assert sphinxext.statechart_text("client", events).startswith("1. START --")
    assert "WAIT_SH" in sphinxext.statechart_text("client")
    assert sphinxext.bytes_text(events).startswith("Record 0 · client → server · handshake")
