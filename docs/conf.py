"""Sphinx configuration of the teachtls documentation.

Build it (warnings are errors, as `tests/test_docs_build.py` runs it)::

    .venv/bin/sphinx-build -W -b html docs docs/_build/html

What is particular to teachtls here:

* **Figures are made while the site builds.** The `teachtls.sphinxext`
  directives (``teachtls-diagram``, ``teachtls-keyschedule``,
  ``teachtls-statechart``, ``teachtls-bytes``, ``teachtls-walkthrough``) run a
  named deterministic scenario (`teachtls.scenarios.named`) and draw it as
  inline SVG. No picture is committed; the same trace always gives the same
  picture.
* **The tutorials live in tutorials/ at the top of the repository** (where a
  student finds them first). Each reaches the site through a one-line page
  in docs/tutorials/ that includes it (``{include}``), so that links
  between tutorials and to the other pages resolve inside the site. (A
  symbolic link would not do: Sphinx resolves links through it to paths
  outside the source directory.) `tests/test_tutorials.py` runs their code.
* **Every page says "not for production"**, as pyca/cryptography's hazmat
  pages do: `add_not_for_production_notice` puts the same admonition under
  the title of every page while it is read, so no page can forget it; the
  pages Sphinx generates without a source (index, search, highlighted
  code) carry it in Furo's announcement bar (`notice_on_generated_pages`).
* **Docstrings are read as they are written** (for people reading the
  source); `docstring_as_rest` turns their indented examples into the
  literal blocks reStructuredText expects, for the API reference.
* **Pages another part of the project contributes** (`OPTIONAL_PAGES`) are
  in the index's toctree but may be missing from a checkout; the toctree
  leaves them out until they exist. Any *other* new page must be added to
  a toctree, or -W fails the build ("document isn't included in any
  toctree"), on purpose.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from docutils import nodes

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # teachtls itself, even when it is not installed

import teachtls  # noqa: E402

# --- project ------------------------------------------------------------------------------

project = "teachtls"
author = "the teachtls authors"
copyright = "the teachtls authors"
version = release = teachtls.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "teachtls.sphinxext",
]

highlight_language = "none"  # a fence without a language (RFC structs, diagrams) stays plain
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# trace-schema.md shows a JSON event with "..." standing for omitted fields,
# which Pygments cannot lex as JSON; Sphinx then highlights it leniently,
# which is what we want, but says so in a warning.
suppress_warnings = ["misc.highlighting_failure"]

# Pages listed in index.md's toctree that may not exist yet: dropped from it
# (see `drop_missing_optional_pages`) until their file does, so that the site
# builds with -W meanwhile.
OPTIONAL_PAGES = ("benchmarks", "labs", "rfc-audit", "dtls")

# --- MyST -----------------------------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "deflist", "fieldlist", "attrs_block", "attrs_inline"]
myst_heading_anchors = 3  # [text](page.md#a-heading) links
# `text` in docstrings (reST) means code, as it does in Markdown.
default_role = "code"

# --- autodoc (docs/api.md) --------------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# No default :members: -- each directive in api.md lists what it shows.
autodoc_class_signature = "mixed"
toc_object_entries = False  # the page's table of contents lists sections, not every function


# teachtls's docstrings are written for people reading the source: plain text
# with `code` in backticks, examples indented under a sentence ending in ":".
# reStructuredText wants "::" before an indented example and a blank line
# around it. Rather than write every docstring for Sphinx, these rules make
# such text valid reST as autodoc reads it (the source stays as it is).

BULLET = re.compile(r"(\s*)([*+-]|\d+\.|#\.)\s+")


def content_indent(line: str) -> int:
    """Where the text of `line` starts: after its indentation and any list marker."""
    bullet = BULLET.match(line)
    return bullet.end() if bullet else len(line) - len(line.lstrip())


def indent(line: str) -> int:
    return len(line) - len(line.lstrip()) if line.strip() else 1_000_000


def next_text(lines: list[str], start: int) -> int | None:
    """The index of the first non-blank line at or after `start`."""
    return next((i for i in range(start, len(lines)) if lines[i].strip()), None)


def block_end(lines: list[str], start: int, deeper_than: int) -> int:
    """The end of the block starting at `start` whose lines (blank ones aside) are indented more than `deeper_than`."""
    end = start
    while end < len(lines) and (not lines[end].strip() or indent(lines[end]) > deeper_than):
        end += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return end


def literal_block(lines: list[str], start: int, end: int, extra_indent: int) -> list[str]:
    """Lines `start:end` as the body of a literal block: blank line, the lines, blank line."""
    body = [" " * extra_indent + line if line.strip() else "" for line in lines[start:end]]
    return ["", *body, ""]


def docstring_as_rest(lines: list[str]) -> list[str]:
    """The rules, applied line by line:

    1. "text:" followed by a more indented block: the block is an example, so
       the line ends in "::" and the block gets blank lines around it;
    2. "text::" followed by a block at the *same* indentation: the block is
       indented, as reST wants;
    3. a paragraph followed by an indented block that itself has nested
       indentation (code, not a quotation): a "::" paragraph goes between;
    4. "name_)" is not a hyperlink reference: the underscore is escaped.
    """
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        following = next_text(lines, i + 1)
        own_indent = content_indent(line) if line.strip() else 0
        indented_below = following is not None and indent(lines[following]) > own_indent
        # rules 1 and 2
        if following is not None and (line.endswith("::") or (line.endswith(":") and indented_below)):
            out.append(line if line.endswith("::") else line + ":")
            if indented_below:
                end = block_end(lines, following, own_indent)
                out += literal_block(lines, following, end, 0)
            else:
                end = following
                while end < len(lines) and lines[end].strip():
                    end += 1
                out += literal_block(lines, following, end, own_indent + 4)
            i = end
            continue
        # rule 3
        if not line.strip() and following is not None and out and out[-1].strip():
            paragraph_indent = content_indent(next(text for text in reversed(out) if text.strip()))
            if indent(lines[following]) > paragraph_indent and BULLET.match(lines[following]) is None:
                end = block_end(lines, following, paragraph_indent)
                block = [text for text in lines[following:end] if text.strip()]
                if any(indent(text) > indent(block[0]) for text in block):
                    out += ["", "::", *literal_block(lines, following, end, 0)]
                    i = end
                    continue
        # rule 4
        out.append(re.sub(r"(?<=\w)_(?=\))", r"\\_", line))
        i += 1
    return out


def rest_docstring(app: object, what: str, name: str, obj: object, options: object, lines: list[str]) -> None:
    lines[:] = docstring_as_rest(lines)


# --- HTML -------------------------------------------------------------------------------------

html_theme = "furo"
html_title = f"teachtls {release}"
html_static_path = ["_static"]
html_css_files = ["teachtls.css"]
html_js_files = ["teachtls.js"]
html_favicon = "_static/favicon.svg"
html_logo = "_static/logo.svg"
html_show_sourcelink = False
pygments_style = "friendly"
pygments_dark_style = "monokai"
html_theme_options = {
    "sidebar_hide_name": False,
    "navigation_with_keys": True,
    "light_css_variables": {
        "color-brand-primary": "#1f6f8b",
        "color-brand-content": "#1f6f8b",
        "color-admonition-title--danger": "#b3261e",
        "font-stack--monospace": '"JetBrains Mono", "SFMono-Regular", Menlo, Consolas, monospace',
    },
    "dark_css_variables": {
        "color-brand-primary": "#6cc4e0",
        "color-brand-content": "#6cc4e0",
    },
}

# --- "not for production", on every page --------------------------------------------------------

NOT_FOR_PRODUCTION_CLASS = "teachtls-not-for-production"
NOT_FOR_PRODUCTION_TITLE = "Not for production"
NOT_FOR_PRODUCTION_TEXT = (
    "teachtls is a teaching implementation of TLS 1.3 and TLS 1.2: it exists to be read, traced "
    "and taken apart in a classroom. It prints every secret on purpose and makes no attempt at "
    "constant-time code, side-channel resistance or hardened parsing. Never use it to protect real "
    "data; use your platform's TLS library (OpenSSL, BoringSSL, rustls, or Python's ssl module)."
)


def not_for_production_notice() -> nodes.admonition:
    """The admonition, built as docutils nodes (so every builder shows it)."""
    notice = nodes.admonition(classes=["danger", NOT_FOR_PRODUCTION_CLASS])
    notice += nodes.title(NOT_FOR_PRODUCTION_TITLE, NOT_FOR_PRODUCTION_TITLE)
    notice += nodes.paragraph(NOT_FOR_PRODUCTION_TEXT, NOT_FOR_PRODUCTION_TEXT)
    return notice


def add_not_for_production_notice(app: object, doctree: nodes.document) -> None:
    """Put the notice right under the page's title (or first, on a page without one)."""
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is not None and section.children and isinstance(section.children[0], nodes.title):
        section.insert(1, not_for_production_notice())
    else:
        doctree.insert(0, not_for_production_notice())


def notice_on_generated_pages(
    app: object, pagename: str, templatename: str, context: dict[str, object], doctree: nodes.document | None
) -> None:
    """Pages Sphinx makes without a source (index, search, highlighted source code)
    have no doctree to put the admonition in: they show it in Furo's announcement bar."""
    if doctree is None:
        context["theme_announcement"] = (
            f'<span class="{NOT_FOR_PRODUCTION_CLASS}"><strong>{NOT_FOR_PRODUCTION_TITLE}.</strong> '
            f"{NOT_FOR_PRODUCTION_TEXT}</span>"
        )


def drop_missing_optional_pages(app: object, docname: str, source: list[str]) -> None:
    """Leave pages of `OPTIONAL_PAGES` that do not exist yet out of the index's toctree."""
    if docname != root_doc:
        return

    def exists(page: str) -> bool:
        return any((DOCS / f"{page}{suffix}").exists() for suffix in source_suffix)

    missing = {page for page in OPTIONAL_PAGES if not exists(page)}
    source[0] = "".join(line for line in source[0].splitlines(keepends=True) if line.strip() not in missing)


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("source-read", drop_missing_optional_pages)
    app.connect("autodoc-process-docstring", rest_docstring)
    app.connect("doctree-read", add_not_for_production_notice)
    app.connect("html-page-context", notice_on_generated_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
