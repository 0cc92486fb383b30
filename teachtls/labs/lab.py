"""A lab, and what running it showed: which check caught the fault, which alert followed.

A `Lab` is text plus one function. The text -- `explanation` and `exercise`
-- is for students; the function (`scenario`) runs a client and a server
against each other with one deliberate fault and records every trace event
of both sides into the `Recorder` it is given. `Lab.run()` then reads the
trace, and only the trace, to say what happened (`LabResult`):

* **which check caught it** (`Caught`): the first RFC rule that failed. Most
  checks announce themselves in the trace -- `CheckPerformed(passed=False)`
  names the check (``server_finished``, ``downgrade_sentinel``),
  `CertificateChecked(ok=False)` is the certificate verification
  (``certificate_verification``) or the OCSP staple (``ocsp_staple``).
  The record layer and the codec raise their alert directly, without a
  check event; those checks are named after the alert they send
  (`IMPLICIT_CHECKS`: bad_record_mac is ``record_authentication``,
  decode_error ``message_decoding``). A fault may also be caught without an
  alert at all: a server that refuses replayed 0-RTT data says so in a
  `ChoiceMade` (``early_data``: rejected) and carries on with the handshake.
* **which alert was sent, by whom** (`AlertOutcome`): the first fatal
  `AlertSent` of the trace.
* **the exception** the catching side raised (a `LocalAlert` subclass).

A result is "as expected" when the check, the side that caught it and the
alert are the lab's `expected_*` values (and the reason mentions
`expected_reason`). `teachtls lab NAME` exits 0 exactly then.

A scenario takes keyword options with defaults, which is how the exercises
vary a lab without editing it:

    from teachtls.labs import LABS
    result = LABS["tampered-server-hello"].run(field="ServerHello.cipher_suite")
    result.caught.check, result.alert.description  # ('cipher_suite_offered', 'illegal_parameter')
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from teachtls.handshake.alerts import AlertError
from teachtls.trace.events import AlertSent, CertificateChecked, CheckPerformed, ChoiceMade, Note, TraceEvent
from teachtls.trace.observer import Recorder

FAULT_PREFIX = "LAB FAULT: "
"""How the Notes that describe a lab's fault begin (see `teachtls.labs.network.note`)."""

Scenario = Callable[..., AlertError | None]
"""`scenario(recorder, **options)`: run the faulty handshake, tracing into
`recorder`; return the exception the side that caught the fault raised (None
when it was caught without an alert)."""

IMPLICIT_CHECKS: dict[str, str] = {
    # RFC 8446 §5.2: the AEAD tag of a record did not verify.
    "bad_record_mac": "record_authentication",
    # RFC 8446 §6.2: a message (or a length in it) could not be decoded.
    "decode_error": "message_decoding",
    # RFC 8446 §5, §5.1, Appendix A: a record or message that may not come now.
    "unexpected_message": "message_expected",
    # RFC 8446 §5.1, §5.2: a record longer than the limits.
    "record_overflow": "record_length",
}
"""Checks the record layer and the codec make without a CheckPerformed event,
named after the alert they end in."""


@attrs.frozen(kw_only=True)
class Caught:
    """The check that caught a lab's fault, as the trace tells it."""

    check: str  # "server_finished", "certificate_verification", "record_authentication", "early_data"
    role: str  # the side that caught it: "client" or "server"
    reason: str  # the core's own sentence
    rfc: str


@attrs.frozen(kw_only=True)
class AlertOutcome:
    """The fatal alert that ended the connection."""

    description: str  # "decrypt_error"
    sent_by: str  # "client" or "server"
    reason: str
    rfc: str


@attrs.frozen(kw_only=True)
class LabResult:
    """What running a lab showed."""

    lab: Lab
    trace: list[TraceEvent]
    caught: Caught | None
    alert: AlertOutcome | None
    exception: AlertError | None = attrs.field(eq=False)

    @property
    def as_expected(self) -> bool:
        """The fault was caught by the expected check, side and alert."""
        lab = self.lab
        return (
            self.caught is not None
            and self.caught.check == lab.expected_check
            and self.caught.role == lab.expected_role
            and lab.expected_reason in self.caught.reason
            and (self.alert.description if self.alert is not None else None) == lab.expected_alert
        )

    @property
    def summary(self) -> str:
        """The walkthrough's closing line: the outcome and the counts."""
        from teachtls.render.walkthrough import summarize_trace

        summary: str = summarize_trace(self.trace)["summary"]
        return summary

    def what_happened(self) -> list[str]:
        """A few lines for a reader: the fault, the check that caught it, the alert, the summary."""
        lines = [
            "The fault: " + event.text.removeprefix(FAULT_PREFIX)
            for event in self.trace
            if isinstance(event, Note) and event.text.startswith(FAULT_PREFIX)
        ]
        caught, alert = self.caught, self.alert
        if caught is None:
            lines.append("Nothing caught the fault: no check failed.")
        else:
            lines.append(f"✗ Caught by the {caught.role}: check {caught.check} ({caught.rfc}): {caught.reason}")
        if alert is not None:
            lines.append(f"✗ Alert: the {alert.sent_by} sent a fatal {alert.description} alert.")
        elif caught is not None:
            lines.append("No alert was sent: the connection was not torn down for it.")
        lines.append(f"Summary: {self.summary}")
        return lines

    def diagram_title(self) -> str | None:
        """The sequence diagram's title when no alert marks the failure (else None: the default title)."""
        if self.alert is not None or self.caught is None:
            return None
        caught = self.caught
        return f"{self.lab.title}\n✗ caught by the {caught.role} ({caught.check}), without an alert: {caught.reason}"

    def page_title(self) -> str:
        """'Lab NAME: title — caught by the client: check, alert' (the page's own title says less)."""
        caught = f" — caught by the {self.caught.role}: {self.caught.check}" if self.caught else ""
        alert = f", {self.alert.description} alert" if self.alert else ""
        return f"Lab {self.lab.name}: {self.lab.title}{caught}{alert}"

    def diagram(self, detail: str = "messages") -> str:
        """The sequence diagram as SVG text (needs Graphviz's `dot`)."""
        from teachtls.render.sequence import sequence_svg

        return sequence_svg(self.trace, detail=detail, title=self.diagram_title())

    def page(self) -> str:
        """The annotated HTML page: every byte explained, the failure first."""
        from teachtls.render.pages import render_html

        return render_html(self.trace, title=self.page_title())

    def write(self, directory: str | os.PathLike[str]) -> dict[str, Path]:
        """Write trace.jsonl, page.html and diagram.svg into `directory`; return their paths.

        Raises `OSError` if a file cannot be written, and `RuntimeError`
        (graphviz.ExecutableNotFound) without Graphviz's `dot` -- by then the
        trace and the page (which says why it has no diagram) are written."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        return {
            "trace": self.write_trace(folder / "trace.jsonl"),
            "page": self.write_page(folder / "page.html"),
            "diagram": self.write_diagram(folder / "diagram.svg"),
        }

    def write_trace(self, path: str | os.PathLike[str]) -> Path:
        """The trace as JSON Lines, its header naming the lab."""
        from teachtls.trace.jsonl import dump_jsonl

        dump_jsonl(self.trace, path, metadata={"lab": self.lab.name})
        return Path(path)

    def write_page(self, path: str | os.PathLike[str]) -> Path:
        """The annotated page (.html, .md or .rst)."""
        from teachtls.render.pages import write_page

        return write_page(self.trace, path, title=self.page_title())

    def write_diagram(self, path: str | os.PathLike[str]) -> Path:
        """The sequence diagram (.svg, .png, .pdf or .dot)."""
        from teachtls.render.sequence import render_sequence

        return render_sequence(self.trace, path, title=self.diagram_title())


@attrs.frozen(kw_only=True)
class Lab:
    """One deliberate fault, explained, with an exercise."""

    name: str  # kebab-case: "tampered-server-hello"
    title: str  # one line
    explanation: str  # what the fault is, what an attacker would gain, which RFC rule stops it
    exercise: str  # a short task with a question
    expected_check: str  # what should catch it (see `Caught.check`)
    expected_role: str  # who should catch it: "client" or "server"
    expected_alert: str | None  # the alert description, or None when no alert is due
    rule: str  # the RFC rule that stops the fault, e.g. "RFC 8446 §4.4.4"
    scenario: Scenario = attrs.field(repr=False)
    expected_reason: str = ""  # a phrase the check's reason must contain
    answer: str = ""  # for teachers: the exercise's answer, checked by tests/test_labs.py

    def run(self, **options: Any) -> LabResult:
        """Run the faulty handshake and read the trace. `options` go to the scenario."""
        recorder = Recorder()
        exception = self.scenario(recorder, **options)
        events = list(recorder.events)
        return LabResult(
            lab=self,
            trace=events,
            caught=find_caught(events),
            alert=find_alert(events),
            exception=exception,
        )


# --- reading a trace ------------------------------------------------------------------------


def find_alert(events: Sequence[TraceEvent]) -> AlertOutcome | None:
    """The first fatal alert sent, or None."""
    for event in events:
        if isinstance(event, AlertSent) and event.level == "fatal":
            return AlertOutcome(description=event.description, sent_by=event.role, reason=event.reason, rfc=event.rfc)
    return None


def find_caught(events: Sequence[TraceEvent]) -> Caught | None:
    """The check that caught the fault: the failed check behind the first fatal alert,
    or the first rejection of 0-RTT data when no alert was sent."""
    failed: dict[str, Caught] = {}  # per role, the latest failed check
    for event in events:
        if isinstance(event, CheckPerformed) and not event.passed:
            failed[event.role] = Caught(check=event.check, role=event.role, reason=event.detail, rfc=event.rfc)
        elif isinstance(event, CertificateChecked) and not event.ok:
            check = "ocsp_staple" if event.rfc.startswith("RFC 6066") else "certificate_verification"
            failed[event.role] = Caught(check=check, role=event.role, reason=event.reason, rfc=event.rfc)
        elif isinstance(event, AlertSent) and event.level == "fatal":
            if event.role in failed:
                return failed[event.role]
            check = IMPLICIT_CHECKS.get(event.description, event.description)
            return Caught(check=check, role=event.role, reason=event.reason, rfc=event.rfc)
    for event in events:
        if isinstance(event, ChoiceMade) and event.subject == "early_data" and event.choice == "rejected":
            return Caught(check="early_data", role=event.role, reason=event.reason, rfc=event.rfc or "RFC 8446 §4.2.10")
    return None


__all__ = [
    "FAULT_PREFIX",
    "IMPLICIT_CHECKS",
    "AlertOutcome",
    "Caught",
    "Lab",
    "LabResult",
    "Scenario",
    "find_alert",
    "find_caught",
]
