"""Tracing: the events a connection emits, where they go, and how they are saved.

* `events`: one frozen attrs class per teachable step (`SecretDerived`, ...).
* `observer`: the `Observer` callable type, the default `ignore`, `Recorder`,
  `fan_out`, and `flush_of` for observers that buffer.
* `jsonl`: traces as JSON Lines files (`dump_jsonl`, `load_jsonl`,
  `JsonlWriter`); the format is described in docs/trace-schema.md.
* `keylog`: NSS key log (SSLKEYLOGFILE) lines for Wireshark (`keylog_lines`,
  `write_keylog`, `KeylogWriter`).
* `trace`: `Trace`, a recorded conversation as one object (load, save, draw,
  and show itself in Jupyter).
"""

from teachtls.trace.events import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    AlertReceived,
    AlertSent,
    ApplicationDataReceived,
    ApplicationDataSent,
    BinderComputed,
    BinderVerified,
    CertificateChecked,
    CheckPerformed,
    ChoiceMade,
    FinishedComputed,
    FinishedVerified,
    KeyExchangeComputed,
    KeysInstalled,
    MessageReceived,
    MessageSent,
    Note,
    ParametersNegotiated,
    RecordReceived,
    RecordSent,
    SecretDerived,
    SignatureCreated,
    SignatureVerified,
    StateChanged,
    TraceEvent,
    TranscriptUpdated,
)
from teachtls.trace.jsonl import (
    JsonlWriter,
    TraceFormatError,
    dump_jsonl,
    dumps_jsonl,
    load_jsonl,
    load_jsonl_with_header,
    loads_jsonl,
    loads_jsonl_with_header,
)
from teachtls.trace.keylog import KeylogWriter, keylog_lines, write_keylog
from teachtls.trace.observer import Observer, Recorder, fan_out, flush_of, ignore
from teachtls.trace.trace import Trace

__all__ = [
    # events
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "TraceEvent",
    "RecordSent",
    "RecordReceived",
    "MessageSent",
    "MessageReceived",
    "TranscriptUpdated",
    "SecretDerived",
    "KeysInstalled",
    "KeyExchangeComputed",
    "SignatureCreated",
    "SignatureVerified",
    "FinishedComputed",
    "FinishedVerified",
    "BinderComputed",
    "BinderVerified",
    "ChoiceMade",
    "CertificateChecked",
    "CheckPerformed",
    "ParametersNegotiated",
    "StateChanged",
    "AlertSent",
    "AlertReceived",
    "ApplicationDataSent",
    "ApplicationDataReceived",
    "Note",
    # observers
    "Observer",
    "ignore",
    "Recorder",
    "fan_out",
    "flush_of",
    # JSON Lines
    "TraceFormatError",
    "dump_jsonl",
    "dumps_jsonl",
    "load_jsonl",
    "loads_jsonl",
    "load_jsonl_with_header",
    "loads_jsonl_with_header",
    "JsonlWriter",
    # key log
    "keylog_lines",
    "write_keylog",
    "KeylogWriter",
    # the whole trace as one object
    "Trace",
]
