"""The golden traces in tests/golden/traces/: one deterministic scenario each.

`check_golden_trace(events, name)` compares a scenario's events with
tests/golden/traces/<name>.jsonl, event by event, so that a failure names
the first event that differs. With UPDATE_GOLDEN=1 in the environment it
first rewrites the file from the events: review the diff before committing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from teachtls.trace.events import TraceEvent
from teachtls.trace.jsonl import dumps_jsonl, loads_jsonl

TRACES = Path(__file__).parent / "golden" / "traces"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def golden_trace_file(name: str) -> Path:
    return TRACES / f"{name}.jsonl"


def check_golden_trace(events: Sequence[TraceEvent], name: str) -> tuple[str, list[TraceEvent]]:
    """Assert that `events` are the golden trace `name`; return the text they make and the golden events.

    The text is written with the metadata {"scenario": name}, as the file was."""
    golden_file = golden_trace_file(name)
    text = dumps_jsonl(events, metadata={"scenario": name})
    if UPDATE:
        golden_file.parent.mkdir(parents=True, exist_ok=True)
        golden_file.write_text(text, encoding="utf-8")
    assert golden_file.exists(), f"{golden_file} is missing: run with UPDATE_GOLDEN=1 to create it"
    golden = loads_jsonl(golden_file.read_text(encoding="utf-8"))
    for index, (got, expected) in enumerate(zip(events, golden, strict=False)):
        assert got == expected, f"event {index} differs from {golden_file.name} (UPDATE_GOLDEN=1 rewrites):\n{got}"
    assert len(events) == len(golden), f"{len(events)} events, the golden trace has {len(golden)}"
    return text, golden
