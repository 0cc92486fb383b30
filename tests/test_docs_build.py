"""The documentation site builds, with warnings as errors, and says what it must.

`make test` runs the Sphinx build through this module (rather than as a
separate Makefile step), so a broken page, a directive that cannot draw
its scenario, or a docstring autodoc cannot read fails the test suite:

    .venv/bin/sphinx-build -W -b html docs <tmp>/html

The build runs once per session, in a subprocess (Sphinx keeps global
state, and this is exactly the command a person runs), into a temporary
directory, so the source tree is left as it was. Then the tests read the
HTML:

* every page of the site exists, the tutorials and concepts included;
* every page, generated ones too, carries the "not for production" notice;
* the figures are inline SVG, drawn at build time, on every page that has a
  teachtls directive;
* docs/tutorials/ has one page per tutorial (each includes its tutorial).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

pytest.importorskip("sphinx")  # the [docs] extra
pytest.importorskip("myst_parser")
pytest.importorskip("furo")

# The build is shared by the whole module and takes 15-30 s; give its first
# test room beyond the suite's default 120 s on a loaded machine.
pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TUTORIALS = ROOT / "tutorials"

NOTICE_CLASS = "teachtls-not-for-production"
CONCEPTS = ["records", "handshake", "key-exchange", "key-schedule", "certificates", "resumption", "key-update",
            "tls12-vs-tls13"]  # fmt: skip
KEY_PAGES = [
    "index",
    "quickstart",
    "tutorials/index",
    "concepts/index",
    *(f"concepts/{name}" for name in CONCEPTS),
    "trace-schema",
    "api",
    "gnutls-openssl-mapping",
    "teaching",
    *(f"tutorials/{page.stem}" for page in sorted(TUTORIALS.glob("[0-9][0-9]-*.md"))),
]
FIGURES = ("{teachtls-diagram}", "{teachtls-keyschedule}", "{teachtls-statechart}")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the site once: sphinx-build -W -b html docs <tmp>/html."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is needed to draw the figures")
    out = tmp_path_factory.mktemp("docs") / "html"
    sphinx_build = Path(sys.executable).parent / "sphinx-build"
    command = [str(sphinx_build), "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(out)]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    seconds = time.monotonic() - started
    assert result.returncode == 0, f"sphinx-build -W failed:\n{result.stdout}\n{result.stderr}"
    print(f"\ndocs built in {seconds:.1f} s")
    return out


def html_of(site: Path, page: str) -> str:
    return (site / f"{page}.html").read_text(encoding="utf-8")


def source_of(page: str) -> str:
    """A page's Markdown; for a tutorial, the file its docs/tutorials/ page includes."""
    if page.startswith("tutorials/") and page != "tutorials/index":
        return (TUTORIALS / f"{page.removeprefix('tutorials/')}.md").read_text(encoding="utf-8")
    path = DOCS / f"{page}.md"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def figure_directives(page: str) -> int:
    """How many figure directives a page's Markdown has (fences inside examples not counted)."""
    tokens = MarkdownIt("commonmark").parse(source_of(page))
    return sum(
        1 for token in tokens if token.type == "fence" and token.info.split()[:1] and token.info.split()[0] in FIGURES
    )


@pytest.mark.parametrize("page", KEY_PAGES)
def test_key_page_exists(site: Path, page: str):
    assert (site / f"{page}.html").exists(), f"{page}.html was not built"


def test_every_page_says_not_for_production(site: Path):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= len(KEY_PAGES)
    missing = [str(page.relative_to(site)) for page in pages if NOTICE_CLASS not in page.read_text(encoding="utf-8")]
    assert not missing, f"pages without the not-for-production notice: {missing}"


def test_the_notice_says_what_teachtls_is_for(site: Path):
    html = html_of(site, "quickstart")
    notice = re.search(rf'<div class="[^"]*{NOTICE_CLASS}[^"]*">(.*?)</div>', html, flags=re.DOTALL)
    assert notice is not None
    assert "Not for production" in notice.group(1)
    assert "teaching implementation" in notice.group(1)
    # right under the title, before anything else the page says
    assert html.index("</h1>") < notice.start() < html.index("Two commands")


@pytest.mark.parametrize("page", [page for page in KEY_PAGES if figure_directives(page)])
def test_figures_are_inline_svg_drawn_at_build_time(site: Path, page: str):
    html = html_of(site, page)
    figures = re.findall(r'<div class="teachtls-figure[^"]*"><style>[^<]*</style><svg\b', html)
    assert len(figures) == figure_directives(page), f"{page}: {len(figures)} inline SVG figures"


def test_every_tutorial_and_concept_has_a_figure():
    for page in KEY_PAGES:
        if page.startswith(("tutorials/", "concepts/")) and not page.endswith("index"):
            assert figure_directives(page) or "{teachtls-bytes}" in source_of(page), f"{page} has no figure"


def test_annotated_bytes_page_is_embedded(site: Path):
    html = html_of(site, "tutorials/02-records-and-wire-format")
    assert 'class="teachtls-page"' in html
    assert "ClientHello.cipher_suites" in html


def test_tutorial_pages_include_their_tutorial():
    tutorials = sorted(page.name for page in TUTORIALS.glob("*.md"))
    pages = sorted(page.name for page in (DOCS / "tutorials").glob("*.md"))
    assert pages == tutorials, "docs/tutorials/ has one page per tutorials/*.md"
    for name in pages:
        text = (DOCS / "tutorials" / name).read_text(encoding="utf-8")
        assert text == f"```{{include}} ../../tutorials/{name}\n```\n", (
            f"docs/tutorials/{name} only includes its tutorial"
        )


def test_api_reference_is_generated_from_docstrings(site: Path):
    html = html_of(site, "api")
    for name in ("teachtls.ClientConnection", "teachtls.config.Config", "teachtls.trace.events.SecretDerived",
                 "teachtls.net.session.TLSSession", "teachtls.keyschedule.tls13.derive_secret"):  # fmt: skip
        assert f'id="{name}"' in html, f"{name} is missing from the API reference"
