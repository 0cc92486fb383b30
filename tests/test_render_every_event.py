"""Every event type of the trace schema has a rendering of its own.

A new event class must be taught to the renderers; these tests fail until
it is (the walkthrough has its own such test in tests/test_walkthrough.py).
The samples come from tests/test_trace_jsonl.py, which must hold one
instance of every class in EVENT_TYPES.
"""

from __future__ import annotations

import pytest

from teachtls.render import pages
from teachtls.render.walkthrough import render_walkthrough
from teachtls.trace.events import EVENT_TYPES, MessageEvent, RecordEvent, TranscriptUpdated
from tests.test_trace_jsonl import SAMPLE_EVENTS

# Shown on the page through the record and message layout, not as items:
# records and messages become hexdumps, transcript hashes appear where used.
SHOWN_THROUGH_LAYOUT = (RecordEvent, MessageEvent, TranscriptUpdated)


def sample(name: str) -> object:
    return next(event for event in SAMPLE_EVENTS if type(event).__name__ == name)


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_the_page_renders_every_event_type_specifically(name: str) -> None:
    event = sample(name)
    item = pages._Items().item(0, event)  # type: ignore[arg-type]
    if isinstance(event, SHOWN_THROUGH_LAYOUT):
        assert item is None
        return
    assert item is not None
    # The generic fallback titles an item with the bare class name.
    assert item.title != name, f"{name} has no rendering of its own on the page"


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_the_walkthrough_mentions_every_event_type(name: str) -> None:
    text = render_walkthrough([sample(name)])  # type: ignore[list-item]
    assert text.strip()
