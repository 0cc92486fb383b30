"""JSON Lines traces: a recorded connection as a file, one event per line.

A trace is the list of `TraceEvent`s a connection emitted (see `events.py`).
Written as JSON Lines (https://jsonlines.org) it becomes a file that the
renderers, the golden-trace tests and any other tool can read without
running a connection, and that reviews well as a diff. The format is
documented for readers in `docs/trace-schema.md`:

    {"schema": "teachtls-trace", "version": 1, "redacted": false, ...metadata}
    {"event": "MessageSent", "role": "client", "rfc": "", "name": "ClientHello", ...}
    {"event": "SecretDerived", "role": "client", "rfc": "RFC 8446 §7.1", ...}

The first line is a header; every later line is one event: its class name
under "event", then its attrs fields in declaration order.

Nothing in this module knows any particular event. The conversion follows
each field's type annotation, and `events.py` keeps those to a small
vocabulary:

    str, int, bool       the JSON string, number or boolean
    bytes                a lowercase hex string ("" for b"")
    X | None             null, or X
    tuple[str, ...]      a list of strings
    tuple[FieldSpan, ...]  a list of {"path", "start", "end", "value"} objects

Because the annotation, not the value, decides the JSON form, loading can
turn hex back into bytes and lists back into tuples, and
`loads_jsonl(dumps_jsonl(events)) == events` holds exactly. A new event
type needs no code here. A value of the wrong type (an `int` in a `str`
field, a `bytearray`) is refused with `TypeError` when it is written rather
than turned into something that would not load back.

Redaction. Secret material is traced in full -- it is the point of a
teaching tool -- but a trace meant for publication can be written with
`redact=True`. Every field whose attrs metadata has `"secret": True` is then
written as "" (empty bytes), the event's object lists those fields under
"redacted", and the header says `"redacted": true`. A redacted trace loads
back with those fields empty.

Versioning. The header carries `SCHEMA_VERSION` (defined in `events.py`,
next to the classes it describes). It is bumped for every incompatible
change: removing or renaming an event or a field, changing a field's type
or meaning, or adding a field without a default. Adding an event type or a
field with a default needs no bump: older traces still load, and the new
field takes its default. This loader reads exactly its own version; it
refuses other versions, unknown event names and unknown fields with
`TraceFormatError`, so a mismatch is loud rather than silently lossy.
"""

from __future__ import annotations

import functools
import json
import os
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any

import attrs

from teachtls.trace.events import EVENT_TYPES, SCHEMA_VERSION, TraceEvent

SCHEMA_NAME = "teachtls-trace"

PathOrFile = str | os.PathLike[str] | IO[str]
"""A file name, or a text file opened by the caller (left open for them)."""

# Keys with a fixed meaning; an event field or a metadata entry may not reuse them.
_HEADER_KEYS = ("schema", "version", "redacted")
_EVENT_KEYS = ("event", "redacted")


class TraceFormatError(ValueError):
    """A JSON Lines trace that this version of teachtls cannot read."""


# --------------------------------------------------------------------------
# Values <-> JSON, driven by annotations
# --------------------------------------------------------------------------


_resolved_annotations: dict[type, dict[str, Any]] = {}


def _field_types(cls: type) -> dict[str, Any]:
    """The resolved annotations of an attrs class (events.py uses string annotations)."""
    if cls not in _resolved_annotations:
        _resolved_annotations[cls] = typing.get_type_hints(cls)
    return _resolved_annotations[cls]


# The two helpers below take a field's annotation apart, of which a trace has
# a few dozen different ones: cached, a loader does not do it again for every
# value of every event.


@functools.cache
def _optional_type(annotation: Any) -> Any | None:
    """For `X | None` return X; for any other annotation, None."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None
    others = [option for option in typing.get_args(annotation) if option is not type(None)]
    if len(others) != 1:
        raise TypeError(f"trace fields may only be unions with None, not {annotation!r}")
    return others[0]


@functools.cache
def _item_type(annotation: Any) -> Any | None:
    """For `tuple[X, ...]` return X; for any other annotation, None."""
    if typing.get_origin(annotation) is not tuple:
        return None
    arguments = typing.get_args(annotation)
    if len(arguments) != 2 or arguments[1] is not Ellipsis:
        raise TypeError(f"trace fields may only be tuple[X, ...], not {annotation!r}")
    return arguments[0]


def _is_a(value: Any, expected: type) -> bool:
    # bool is a subclass of int in Python, but not a number in a trace.
    if expected is int and isinstance(value, bool):
        return False
    return isinstance(value, expected)


# Writing: each annotation is worked out once into a converter, a function
# that checks a value against it and returns the value's JSON form. A trace
# has a few dozen different annotations and thousands of values, so
# writing an event is then one converter call per field, not a walk through
# its annotation.

Converter = Callable[[Any], Any]


class _WrongType(TypeError):
    """A value that does not match its annotation. `where` is filled in on the
    way out -- ".fields", "[3]", ".start" -- so the message names the exact spot."""

    def __init__(self, expected: str, value: Any) -> None:
        self.problem = f"expected {expected}, got {type(value).__name__}"
        self.where = ""
        super().__init__(self.problem)

    def inside(self, step: str) -> _WrongType:
        self.where = step + self.where
        self.args = (f"{self.where}: {self.problem}",)
        return self


@functools.cache
def _converter(annotation: Any) -> Converter:
    """The converter for fields declared as `annotation` (see the module docstring's table)."""
    if annotation is bytes:

        def to_hex(value: Any) -> str:
            if not isinstance(value, bytes):
                raise _WrongType("bytes", value)
            return value.hex()

        return to_hex
    if annotation is int:

        def to_number(value: Any) -> int:
            # bool is a subclass of int in Python, but not a number in a trace.
            if not isinstance(value, int) or isinstance(value, bool):
                raise _WrongType("int", value)
            return value

        return to_number
    if annotation in (str, bool):

        def as_is(value: Any) -> Any:
            if not isinstance(value, annotation):
                raise _WrongType(annotation.__name__, value)
            return value

        return as_is
    optional = _optional_type(annotation)
    if optional is not None:
        convert_present = _converter(optional)
        return lambda value: None if value is None else convert_present(value)
    item_type = _item_type(annotation)
    if item_type is not None:
        convert_item = _converter(item_type)

        def to_list(value: Any) -> list[Any]:
            if not isinstance(value, tuple):
                raise _WrongType("a tuple", value)
            items = []
            for index, item in enumerate(value):
                try:
                    items.append(convert_item(item))
                except _WrongType as error:
                    raise error.inside(f"[{index}]") from None
            return items

        return to_list
    if attrs.has(annotation):
        fields = _field_converters(annotation)

        def to_object(value: Any) -> dict[str, Any]:
            if not isinstance(value, annotation):
                raise _WrongType(annotation.__name__, value)
            return _attrs_to_json(value, fields)

        return to_object
    raise TypeError(f"no JSON form for fields of type {annotation!r}")


FieldConverters = tuple[tuple[str, Converter, bool], ...]
_converters_of_fields: dict[type, FieldConverters] = {}


def _field_converters(cls: type) -> FieldConverters:
    """(name, converter, is secret) for each field of an attrs class, in order; worked out once per class."""
    if cls not in _converters_of_fields:
        types_ = _field_types(cls)
        _converters_of_fields[cls] = tuple(
            (field.name, _converter(types_[field.name]), bool(field.metadata.get("secret")))
            for field in attrs.fields(cls)
        )
    return _converters_of_fields[cls]


def _attrs_to_json(obj: Any, fields: FieldConverters) -> dict[str, Any]:
    """Any attrs instance (a `FieldSpan`, say) as an object of its fields."""
    json_object = {}
    for name, convert, _ in fields:
        try:
            json_object[name] = convert(getattr(obj, name))
        except _WrongType as error:
            raise error.inside(f".{name}") from None
    return json_object


def _from_json(annotation: Any, value: Any, where: str) -> Any:
    """The Python value of a field declared as `annotation`; the mirror of `_converter`."""
    optional = _optional_type(annotation)
    if optional is not None:
        return None if value is None else _from_json(optional, value, where)
    item_type = _item_type(annotation)
    if item_type is not None:
        if not isinstance(value, list):
            raise TraceFormatError(f"{where}: expected a list, got {value!r}")
        return tuple(_from_json(item_type, item, f"{where}[{index}]") for index, item in enumerate(value))
    if annotation is bytes:
        if not isinstance(value, str):
            raise TraceFormatError(f"{where}: expected a hex string, got {value!r}")
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise TraceFormatError(f"{where}: not a hex string: {value!r}") from None
    if annotation in (str, int, bool):
        if not _is_a(value, annotation):
            raise TraceFormatError(f"{where}: expected {annotation.__name__}, got {value!r}")
        return value
    if attrs.has(annotation):
        if not isinstance(value, dict):
            raise TraceFormatError(f"{where}: expected an object, got {value!r}")
        return _attrs_from_json(annotation, value, where)
    raise TypeError(f"{where}: no JSON form for fields of type {annotation!r}")


def _attrs_from_json(cls: type[Any], obj: Mapping[str, Any], where: str) -> Any:
    """Build `cls` from an object of its fields; missing fields take their default."""
    fields = attrs.fields(cls)
    unknown = set(obj) - {field.name for field in fields}
    if unknown:
        raise TraceFormatError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    types_ = _field_types(cls)
    values: dict[str, Any] = {}
    for field in fields:
        if field.name in obj:
            values[field.name] = _from_json(types_[field.name], obj[field.name], f"{where}.{field.name}")
        elif field.default is attrs.NOTHING:
            raise TraceFormatError(f"{where}: missing field {field.name!r}")
    return cls(**values)


# --------------------------------------------------------------------------
# Lines
# --------------------------------------------------------------------------

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


# Made once: json.dumps(obj, ensure_ascii=False) would make a new encoder for every line.
_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _json_line(obj: Mapping[str, Any]) -> str:
    # ensure_ascii=False keeps "RFC 8446 §7.1" readable in a diff. A lone
    # surrogate (a peer's invalid UTF-8 decoded with errors="surrogateescape")
    # cannot be written as UTF-8, so it alone is written as a \uXXXX escape.
    text = _ENCODER.encode(obj)
    try:
        text.encode("utf-8")  # the quick test: UTF-8 refuses only lone surrogates
    except UnicodeEncodeError:
        text = _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
    return text + "\n"


def _header_line(redact: bool, metadata: Mapping[str, Any] | None) -> str:
    header: dict[str, Any] = {"schema": SCHEMA_NAME, "version": SCHEMA_VERSION, "redacted": redact}
    for key, value in (metadata or {}).items():
        if key in _HEADER_KEYS:
            raise ValueError(f"metadata may not set the header's {key!r}")
        header[key] = value
    return _json_line(header)


def _event_line(event: TraceEvent, redact: bool) -> str:
    cls = type(event)
    name = cls.__name__
    if EVENT_TYPES.get(name) is not cls:
        raise TypeError(f"{name} is not in EVENT_TYPES, so a loader could not read it back")
    obj: dict[str, Any] = {"event": name}
    redacted: list[str] = []
    for field_name, convert, secret in _field_converters(cls):
        value = getattr(event, field_name)
        if redact and secret:
            value = b""
            redacted.append(field_name)
        try:
            obj[field_name] = convert(value)
        except _WrongType as error:
            raise error.inside(f"{name}.{field_name}") from None
    if redacted:
        obj["redacted"] = redacted
    return _json_line(obj)


def _check_header(obj: Mapping[str, Any], line_number: int) -> dict[str, Any]:
    if obj.get("schema") != SCHEMA_NAME:
        raise TraceFormatError(
            f'line {line_number}: not a teachtls trace (the first line must be a header with "schema": "{SCHEMA_NAME}")'
        )
    version = obj.get("version")
    if not _is_a(version, int) or version != SCHEMA_VERSION:
        raise TraceFormatError(
            f"line {line_number}: trace schema version {version!r} is not supported; "
            f"this teachtls reads version {SCHEMA_VERSION} (see docs/trace-schema.md)"
        )
    return dict(obj)


def _event_from_json(obj: Mapping[str, Any], line_number: int) -> TraceEvent:
    name = obj.get("event")
    cls = EVENT_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise TraceFormatError(f"line {line_number}: unknown event {name!r}; known events: {', '.join(EVENT_TYPES)}")
    where = f"line {line_number}: {name}"
    redacted = obj.get("redacted", [])
    secret_fields = {field.name for field in attrs.fields(cls) if field.metadata.get("secret")}
    if not isinstance(redacted, list) or not set(redacted) <= secret_fields:
        raise TraceFormatError(f"{where}: 'redacted' must list secret fields of {name}, got {redacted!r}")
    fields = {key: value for key, value in obj.items() if key not in _EVENT_KEYS}
    event: TraceEvent = _attrs_from_json(cls, fields, where)
    return event


def _parse_lines(lines: Iterable[str]) -> tuple[dict[str, Any], list[TraceEvent]]:
    header: dict[str, Any] | None = None
    events: list[TraceEvent] = []
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            raise TraceFormatError(f"line {line_number}: not JSON ({error})") from None
        if not isinstance(obj, dict):
            raise TraceFormatError(f"line {line_number}: expected a JSON object, got {obj!r}")
        if header is None:
            header = _check_header(obj, line_number)
        else:
            events.append(_event_from_json(obj, line_number))
    if header is None:
        raise TraceFormatError("empty trace: no header line")
    return header, events


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def _open_for_writing(path_or_file: PathOrFile) -> tuple[IO[str], bool]:
    """The file to write to, and whether we opened it (and so must close it)."""
    if isinstance(path_or_file, (str, os.PathLike)):
        # newline="\n": the same bytes on every platform, for golden traces.
        return open(path_or_file, "w", encoding="utf-8", newline="\n"), True
    return path_or_file, False


def _read_text(path_or_file: PathOrFile) -> str:
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, encoding="utf-8") as file:
            return file.read()
    return path_or_file.read()


def _split_lines(text: str) -> Iterator[str]:
    # Not str.splitlines(): that also splits at U+2028 and friends, which
    # json.dumps(ensure_ascii=False) leaves unescaped inside strings.
    return iter(text.split("\n"))


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def dumps_jsonl(
    events: Iterable[TraceEvent], *, redact: bool = False, metadata: Mapping[str, Any] | None = None
) -> str:
    """A whole trace as JSON Lines text: the header line, then one line per event.

    `metadata` entries (JSON-serializable) are added to the header; they may
    not be "schema", "version" or "redacted". Raises `TypeError` for an event
    whose field holds a value of the wrong type."""
    return _header_line(redact, metadata) + "".join(_event_line(event, redact) for event in events)


def dump_jsonl(
    events: Iterable[TraceEvent],
    path_or_file: PathOrFile,
    *,
    redact: bool = False,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write a trace as JSON Lines to a path (created or replaced) or an open text file."""
    with JsonlWriter(path_or_file, redact, metadata=metadata) as writer:
        for event in events:
            writer(event)


def loads_jsonl_with_header(text: str) -> tuple[dict[str, Any], list[TraceEvent]]:
    """Parse JSON Lines text into its header (with any metadata) and its events.

    Raises `TraceFormatError` for a missing or unsupported header, an unknown
    event or field, or a value of the wrong type; the message names the line."""
    return _parse_lines(_split_lines(text))


def loads_jsonl(text: str) -> list[TraceEvent]:
    """Parse JSON Lines text into events (see `loads_jsonl_with_header`)."""
    return loads_jsonl_with_header(text)[1]


def load_jsonl_with_header(path_or_file: PathOrFile) -> tuple[dict[str, Any], list[TraceEvent]]:
    """Read a JSON Lines trace from a path or an open text file: header and events."""
    return loads_jsonl_with_header(_read_text(path_or_file))


def load_jsonl(path_or_file: PathOrFile) -> list[TraceEvent]:
    """Read a JSON Lines trace from a path or an open text file.

    Raises `TraceFormatError` as `loads_jsonl_with_header` does."""
    return load_jsonl_with_header(path_or_file)[1]


class JsonlWriter:
    """An observer that writes each event to a JSON Lines trace as it happens.

    The header is written when the writer is created, and the file is flushed
    after every line, so a trace of a connection that crashes or hangs is
    complete up to that point. The output is identical to `dump_jsonl` of the
    same events. Use it as a context manager, or call `close()`. A file
    passed in open is flushed, not closed, by `close()`.

        with JsonlWriter("handshake.jsonl") as writer:
            connection = ClientConnection(config, observer=writer)
    """

    def __init__(
        self, path_or_file: PathOrFile, redact: bool = False, *, metadata: Mapping[str, Any] | None = None
    ) -> None:
        header = _header_line(redact, metadata)  # check the metadata before creating a file
        self.redact = redact
        self.closed = False
        self._file, self._owns_file = _open_for_writing(path_or_file)
        self._write(header)

    def __call__(self, event: TraceEvent) -> None:
        if self.closed:
            raise ValueError("JsonlWriter is closed")
        self._write(_event_line(event, self.redact))

    def _write(self, line: str) -> None:
        self._file.write(line)
        self._file.flush()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._owns_file:
            self._file.close()
        else:
            self._file.flush()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
