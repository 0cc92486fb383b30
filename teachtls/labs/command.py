"""`teachtls lab`: list the labs, or run one and say what caught the fault.

    teachtls lab                       # the labs, one a line
    teachtls lab NAME [--out DIR]      # run NAME; files in DIR (default lab-output/NAME)

Running a lab prints its explanation, what happened (the fault, the check
that caught it, the alert and who sent it, and the walkthrough's closing
summary), and the exercise; then it writes trace.jsonl, page.html and
diagram.svg into DIR and prints their paths.

Exit codes: 0 the lab behaved as expected (the fault was caught by the
expected check, with the expected alert); 1 it did not, or a file could not
be written; 2 an unknown lab name.

`teachtls.cli` registers the command with `add_lab_command`. The renderers
(and Graphviz) are imported only when a lab's files are written.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap

from teachtls.labs import LABS
from teachtls.labs.lab import LabResult

WIDTH = 78
INDENT = "  "
DEFAULT_OUTPUT = "lab-output"


def add_lab_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `teachtls lab [NAME] [--out DIR]`."""
    parser = commands.add_parser(
        "lab", help="run a break-it lab: one deliberate fault, the check that catches it, the alert"
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="the lab to run (without it: list the labs)")
    parser.add_argument(
        "--out",
        metavar="DIR",
        help=f"where to write trace.jsonl, diagram.svg, page.html (default: {DEFAULT_OUTPUT}/NAME)",
    )
    parser.set_defaults(run=run_lab_command)


def run_lab_command(args: argparse.Namespace) -> int:
    if args.name is None:
        print(list_labs())
        return 0
    lab = LABS.get(args.name)
    if lab is None:
        print(f"teachtls: unknown lab {args.name!r}; choose one of: {', '.join(LABS)}", file=sys.stderr)
        return 2
    result = lab.run()
    print(report(result), end="", flush=True)

    directory = args.out or os.path.join(DEFAULT_OUTPUT, lab.name)
    if not write_files(result, directory):
        return 1
    if not result.as_expected:
        print(f"teachtls: lab {lab.name}: {expectation(result)}", file=sys.stderr)
        return 1
    return 0


def list_labs() -> str:
    width = max(len(name) for name in LABS) + 2
    lines = ["Labs: one deliberate fault each, and the check that catches it.", ""]
    lines += [f"{INDENT}{name:<{width}}{lab.title}" for name, lab in LABS.items()]
    lines += ["", "Run one with: teachtls lab NAME [--out DIR]"]
    return "\n".join(lines)


def report(result: LabResult) -> str:
    """The explanation, what happened, and the exercise, as plain text."""
    lab = result.lab
    out = [f"Lab {lab.name}: {lab.title}", f"The rule: {lab.rule}", ""]
    out += ["What is going on", *paragraph(lab.explanation), ""]
    out.append("What happened")
    for line in [*result.what_happened(), expectation(result)]:
        out += paragraph(line, bullet="- ")
    out += ["", "Exercise", *paragraph(lab.exercise), ""]
    return "\n".join(out) + "\n"


def expectation(result: LabResult) -> str:
    """'As expected: ...' or 'NOT as expected: expected ...; got ...'."""
    lab = result.lab
    alert = f"a {lab.expected_alert} alert" if lab.expected_alert else "no alert"
    expected = f"caught by the {lab.expected_role}'s {lab.expected_check} check, with {alert}"
    if result.as_expected:
        return f"As expected: {expected}."
    if result.caught is None:
        got = "nothing caught the fault"
    else:
        got_alert = (
            f"a {result.alert.description} alert from the {result.alert.sent_by}" if result.alert else "no alert"
        )
        got = f"caught by the {result.caught.role}'s {result.caught.check} check, with {got_alert}"
    return f"NOT as expected: expected {expected}; got {got}."


def paragraph(text: str, bullet: str = "") -> list[str]:
    """`text` wrapped to `WIDTH`, indented; with `bullet`, a hanging list item."""
    hanging = INDENT + " " * len(bullet)
    return textwrap.wrap(text, WIDTH, initial_indent=INDENT + bullet, subsequent_indent=hanging, break_on_hyphens=False)


def write_files(result: LabResult, directory: str) -> bool:
    """Write the trace, page and diagram, saying where; False if something could not be written."""
    try:
        os.makedirs(directory, exist_ok=True)
        trace = result.write_trace(os.path.join(directory, "trace.jsonl"))
        print(f"teachtls: wrote the trace ({len(result.trace)} events) to {trace}")
        page = result.write_page(os.path.join(directory, "page.html"))
        print(f"teachtls: wrote the annotated page (every byte explained) to {page}")
        diagram = result.write_diagram(os.path.join(directory, "diagram.svg"))
        print(f"teachtls: wrote the sequence diagram to {diagram}")
    except OSError as error:
        print(f"teachtls: cannot write into {directory}: {error.strerror or error}", file=sys.stderr)
        return False
    except RuntimeError as error:  # graphviz.ExecutableNotFound: no `dot` program
        print(f"teachtls: could not draw the sequence diagram ({error}); install Graphviz", file=sys.stderr)
        return False
    return True


__all__ = ["add_lab_command", "list_labs", "report", "run_lab_command"]
