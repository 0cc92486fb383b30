"""Every tutorial's code runs, and prints what the tutorial says it prints.

The tutorials (tutorials/NN-*.md) and the pages of the documentation that
show code (quickstart, concepts, teaching) are MyST Markdown. This module
reads each one as a little program, so that a page can never rot:

* Every ```` ```python ```` fence is run, in page order, in **one namespace
  per page** (a later block sees the names of an earlier one, as a reader
  following along in one Python session would), with the working directory
  set to a fresh temporary directory.
* A ```` ```text ```` fence that comes right after a python fence (nothing
  but blank lines between them) is that block's **expected output**: what
  the block prints must match it. ``...`` matches anything, as doctest's
  ELLIPSIS option does, for values that change from run to run (random
  keys, port numbers). A python block with no text fence after it must print
  nothing, so a page never hides output from its reader.
* An HTML comment right before a fence (invisible on the site) can say more:

  ``<!-- tutorial-test: skip -->``
      the next fence is only shown, never run;
  ``<!-- tutorial-test: requires PROGRAM -->``
      the next fence needs PROGRAM (say ``openssl`` or ``tshark``). Without
      it on the PATH, that fence and every later python fence of the page
      are not run, and the test is reported as skipped after the blocks
      before it have passed. On a ```` ```console ```` fence the marker also
      means "run me": each ``$ command`` line is run (no shell), and its
      output compared with the lines under it, ELLIPSIS allowed.

  Other ```` ```console ```` / ```` ```sh ```` fences are never run.

Processes a page starts (``subprocess.Popen`` objects left in its namespace,
such as tutorial 13's ``openssl s_server``) are killed after the page, even
when a block failed before the page could stop them.

Run one page: ``.venv/bin/pytest tests/test_tutorials.py -k 04``.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

MarkdownIt = pytest.importorskip(
    "markdown_it", reason="the [docs] extra (myst-parser) brings markdown-it-py"
).MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
DOCS = ROOT / "docs"

# The pages whose code is run: the tutorials, and the documentation pages that show code.
PAGES = [
    *sorted(TUTORIALS.glob("[0-9][0-9]-*.md")),
    DOCS / "quickstart.md",
    *sorted((DOCS / "concepts").glob("*.md")),
    DOCS / "teaching.md",
]

# Console commands find the programs of this virtual environment (`teachtls`) first.
SEARCH_PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

MARKER = re.compile(r"<!--\s*tutorial-test:\s*(?P<what>skip|requires\s+(?P<program>[\w.+-]+))\s*-->")
FIGURE_DIRECTIVES = ("{teachtls-diagram}", "{teachtls-keyschedule}", "{teachtls-statechart}", "{teachtls-bytes}")
CHECKER = doctest.OutputChecker()


# --- reading a page -------------------------------------------------------------------


@attrs.frozen
class Block:
    """One fence of a page: its language, code, first line (1-based) and markers."""

    language: str
    code: str
    line: int
    expected: str | None = None  # a python block's expected output (the text fence after it)
    skip: bool = False
    requires: str | None = None


def read_blocks(path: Path) -> list[Block]:
    """The python and console fences of a page, each python fence with its expected output."""
    tokens = [token for token in MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8")) if token.level == 0]
    blocks: list[Block] = []
    marker: re.Match[str] | None = None
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token.type == "html_block":
            marker = MARKER.search(token.content) or marker
            continue
        if token.type != "fence":
            marker = None  # a marker reaches only the fence right after it
            continue
        language = token.info.split()[0] if token.info.strip() else ""
        line = token.map[0] + 2 if token.map else 0  # the first line of code, 1-based
        skip = bool(marker and marker["what"] == "skip")
        requires = marker["program"] if marker and marker["program"] else None
        marker = None
        if language == "python":
            expected = None
            following = tokens[index] if index < len(tokens) else None
            if following is not None and following.type == "fence" and following.info.strip() == "text":
                expected = following.content
                index += 1
            blocks.append(Block("python", token.content, line, expected, skip, requires))
        elif language == "console" and requires:
            blocks.append(Block("console", token.content, line, None, skip, requires))
    return blocks


# --- running it -------------------------------------------------------------------------


def without_trailing_spaces(text: str) -> str:
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


def check_output(path: Path, block: Block, expected: str, got: str) -> None:
    """`got` must match `expected` (ELLIPSIS allowed; trailing spaces, which editors strip, ignored)."""
    expected, got = without_trailing_spaces(expected), without_trailing_spaces(got)
    if not CHECKER.check_output(expected, got, doctest.ELLIPSIS):
        example = doctest.Example(source=block.code, want=expected)
        difference = CHECKER.output_difference(example, got, doctest.ELLIPSIS)
        pytest.fail(f"{path.relative_to(ROOT)}:{block.line}: the output differs from the page.\n{difference}")


def run_python(path: Path, block: Block, namespace: dict[str, object]) -> None:
    # Pad with blank lines so that a traceback names the line of the page.
    code = compile("\n" * (block.line - 1) + block.code, str(path), "exec")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exec(code, namespace)
    check_output(path, block, block.expected or "", stdout.getvalue())


def run_console(path: Path, block: Block) -> None:
    """`$ command` lines, each followed by its expected output."""
    commands: list[tuple[str, list[str]]] = []
    for text_line in block.code.splitlines():
        if text_line.startswith("$ "):
            commands.append((text_line[2:], []))
        elif commands:
            commands[-1][1].append(text_line)
    for command, expected_lines in commands:
        result = subprocess.run(
            shlex.split(command),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "PATH": SEARCH_PATH},
        )
        assert result.returncode == 0, f"{path.relative_to(ROOT)}:{block.line}: `{command}` failed:\n{result.stderr}"
        expected = "".join(line + "\n" for line in expected_lines)
        check_output(path, block, expected, result.stdout)


def stop_processes(namespace: dict[str, object]) -> None:
    for value in namespace.values():
        if isinstance(value, subprocess.Popen) and value.poll() is None:
            value.kill()
            value.wait(timeout=10)


@pytest.mark.parametrize("path", PAGES, ids=[page.stem for page in PAGES])
def test_page_code_runs_and_prints_what_the_page_says(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    namespace: dict[str, object] = {"__name__": "__tutorial__"}
    missing: str | None = None
    try:
        for block in read_blocks(path):
            if block.skip:
                continue
            if block.requires and shutil.which(block.requires, path=SEARCH_PATH) is None:
                missing = missing or f"{block.requires} is not installed (needed from line {block.line} on)"
            if block.language == "console":
                if missing is None:
                    run_console(path, block)
            elif missing is None:
                run_python(path, block, namespace)
    finally:
        stop_processes(namespace)
        sys.stdout.flush()
    if missing:
        pytest.skip(f"{path.name}: {missing}")


# --- the tutorials as a course ---------------------------------------------------------------


def tutorial_pages() -> list[Path]:
    return sorted(TUTORIALS.glob("[0-9][0-9]-*.md"))


def test_at_least_thirteen_tutorials_numbered_in_order():
    numbers = [int(page.name[:2]) for page in tutorial_pages()]
    assert len(numbers) >= 13
    assert numbers == list(range(1, len(numbers) + 1)), "tutorials are numbered 01, 02, ... without gaps"


def test_the_tutorial_index_lists_every_tutorial_in_order():
    index = (TUTORIALS / "index.md").read_text(encoding="utf-8")
    toctree = re.search(r"```\{toctree\}\n(.*?)```", index, flags=re.DOTALL)
    assert toctree is not None, "tutorials/index.md has a toctree"
    entries = [line.strip() for line in toctree.group(1).splitlines() if line.strip() and not line.startswith(":")]
    assert entries == [page.stem for page in tutorial_pages()]


@pytest.mark.parametrize("path", tutorial_pages(), ids=[page.stem for page in tutorial_pages()])
def test_each_tutorial_has_code_with_checked_output_and_a_generated_figure(path: Path):
    text = path.read_text(encoding="utf-8")
    blocks = read_blocks(path)
    assert any(block.language == "python" and block.expected for block in blocks), "runnable code with stated output"
    assert any(directive in text for directive in FIGURE_DIRECTIVES), "a figure drawn by the teachtls extension"
    assert text.startswith("# "), "a title on the first line"


def test_markers_are_understood():
    """A misspelt marker would silently run (or not run) a block: every marker must parse."""
    for path in PAGES:
        for comment in re.findall(r"<!--\s*tutorial-test:.*?-->", path.read_text(encoding="utf-8")):
            assert MARKER.fullmatch(comment), f"{path.name}: unknown marker {comment}"
