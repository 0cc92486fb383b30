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

Writing as it happens. `JsonlWriter` is an observer that writes a trace
while the connection runs. It turns each event into its line at once (so a
value of the wrong type raises at the event that holds it), keeps the lines,
and writes them in one go on `flush()` -- which the connection calls each
time it returns from `receive_data()` or `data_to_send()` (see
`observer.py`) -- and on `close()`. So a trace of a connection that hangs waiting for its peer, or
fails with an exception, is complete; only a process killed in the middle of
one step loses that step's events. One write per step instead of one per
line: a system call per line cost about a fifth of an untraced handshake.

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
import itertools
import json
import operator
import os
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


# Writing. A traced handshake writes about a hundred events holding some
# 1,700 values while the connection runs, so each annotation is worked out
# once into a *writer*: a function that checks a value against it and
# returns the value's JSON text. Each attrs class is worked out once into a
# template with a "%s" for each field (`_ObjectWriter`), so an event is one
# writer call per field and one `%`.
#
# The writers make the JSON text themselves, exactly as `json` would write
# the same values with ensure_ascii=False (strings are escaped by the json
# module's own function, numbers written as it writes them). Building a dict
# per event for `json` to walk took longer than making the whole text does.

Writer = Callable[[Any], str]

# How `json` escapes a string when ensure_ascii=False: the quoted JSON string.
_json_string: Callable[[str], str] = json.encoder.encode_basestring


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


def _write_str(value: Any) -> str:
    if not isinstance(value, str):
        raise _WrongType("str", value)
    return _json_string(value)


def _write_int(value: Any) -> str:
    # bool is a subclass of int in Python, but not a number in a trace.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _WrongType("int", value)
    return int.__repr__(value)  # as `json` writes it: an IntEnum as its number


def _write_bool(value: Any) -> str:
    if not isinstance(value, bool):
        raise _WrongType("bool", value)
    return "true" if value else "false"


def _write_bytes(value: Any) -> str:
    if not isinstance(value, bytes):
        raise _WrongType("bytes", value)
    return f'"{value.hex()}"'  # hex digits need no escaping


_PLAIN_WRITERS: dict[Any, Writer] = {str: _write_str, int: _write_int, bool: _write_bool, bytes: _write_bytes}

# The text of a value known to be exactly a str or an int. Both are C
# functions, so a whole column of such values (see `_column_writer`) is
# written without a Python call per value.
_TEXT_OF_EXACTLY: dict[Any, Writer] = {str: _json_string, int: int.__repr__}


@functools.cache
def _writer(annotation: Any) -> Writer:
    """The writer for fields declared as `annotation` (see the module docstring's table)."""
    if annotation in _PLAIN_WRITERS:
        return _PLAIN_WRITERS[annotation]
    optional = _optional_type(annotation)
    if optional is not None:
        write_present = _writer(optional)
        return lambda value: "null" if value is None else write_present(value)
    item_type = _item_type(annotation)
    if item_type is not None:
        if attrs.has(item_type):
            return _object_writer(item_type).write_array
        return _array_writer(_writer(item_type))
    if attrs.has(annotation):
        return _object_writer(annotation).write_one
    raise TypeError(f"no JSON form for fields of type {annotation!r}")


def _array_writer(write_item: Writer) -> Writer:
    """The writer for a tuple whose items `write_item` writes."""

    def write_array(value: Any) -> str:
        if not isinstance(value, tuple):
            raise _WrongType("a tuple", value)
        items = []
        for index, item in enumerate(value):
            try:
                items.append(write_item(item))
            except _WrongType as error:
                raise error.inside(f"[{index}]") from None
        return "[" + ", ".join(items) + "]"

    return write_array


ColumnWriter = Callable[[tuple[Any, ...]], Iterable[str]]


@functools.cache
def _column_writer(annotation: Any) -> ColumnWriter:
    """Writes one field of many objects at once: the paths of all a message's field spans, say."""
    write = _writer(annotation)
    text_of_exactly = _TEXT_OF_EXACTLY.get(annotation)
    exactly = {annotation}

    def write_column(values: tuple[Any, ...]) -> Iterable[str]:
        # The usual case: every value is exactly of the declared type, which
        # one pass over their types shows, and `map` of a C function writes.
        if text_of_exactly is not None and set(map(type, values)) <= exactly:
            return map(text_of_exactly, values)
        return map(write, values)

    return write_column


def _values_getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function returning an object's attributes `names` as a tuple."""
    if len(names) > 1:
        return operator.attrgetter(*names)  # one C call for all of them
    return lambda obj: tuple(getattr(obj, name) for name in names)


class _ObjectWriter:
    """Writes instances of one attrs class -- an event, a `FieldSpan` -- as JSON objects.

    Worked out once per class: `template` is the object's text with a "%s"
    for the value of each field in `names`, in declaration order:
    '{"path": %s, "start": %s, "end": %s, "value": %s}'. An event's template
    starts with its "event" key; a redacted event's has "" for each secret
    field and ends with its "redacted" key."""

    def __init__(self, cls: type, *, event: str | None = None, redact: bool = False) -> None:
        annotations = _field_types(cls)
        members = [] if event is None else [f'"event": {_json_string(event)}']
        names = []
        redacted = []
        for field in attrs.fields(cls):
            key = _json_string(field.name)
            if redact and field.metadata.get("secret"):
                members.append(f'{key}: ""')  # the JSON form of b""
                redacted.append(field.name)
            else:
                members.append(f"{key}: %s")  # field names are identifiers: no other "%"
                names.append(field.name)
        if redacted:
            members.append(f'"redacted": [{", ".join(map(_json_string, redacted))}]')
        self.cls = cls
        self.template = "{" + ", ".join(members) + "}"
        self.names = tuple(names)
        field_types = [annotations[name] for name in names]
        self.writers = tuple(map(_writer, field_types))
        # The same, but `_json_string` itself for str fields (most fields of
        # most events): a C function that refuses anything but a str with a
        # TypeError, so a string costs no Python call of ours.
        self.quick_writers = tuple(_json_string if type_ is str else _writer(type_) for type_ in field_types)
        self.column_writers = tuple(map(_column_writer, field_types))
        self.values_of = _values_getter(self.names)
        self.write_each = _array_writer(self.write_one)

    def write(self, obj: Any) -> str:
        """The JSON text of `obj`, an instance of the class."""
        values = self.values_of(obj)
        try:
            return self.template % tuple(map(operator.call, self.quick_writers, values))
        except TypeError:  # a _WrongType, or `_json_string` given something else
            self._name_the_wrong_field(values)
            raise

    def _name_the_wrong_field(self, values: tuple[Any, ...]) -> None:
        # Writes the values again one at a time, to say which one is wrong
        # and how (`_json_string` would not say).
        for name, write_value, value in zip(self.names, self.writers, values, strict=True):
            try:
                write_value(value)
            except _WrongType as error:
                raise error.inside(f".{name}") from None

    def write_one(self, value: Any) -> str:
        """The writer for fields declared as the class."""
        if not isinstance(value, self.cls):
            raise _WrongType(self.cls.__name__, value)
        return self.write(value)

    def write_array(self, value: Any) -> str:
        """The writer for fields declared as a tuple of the class, such as a message's field spans.

        The objects are written column by column -- every path, then every
        start, ... -- which takes 30% less time than one by one (a message
        has 14 spans on average). Should any value be wrong, they are written
        again one by one, to say where."""
        if not isinstance(value, tuple):
            raise _WrongType("a tuple", value)
        if value and self.names and all(map(isinstance, value, itertools.repeat(self.cls))):
            columns = zip(*map(self.values_of, value), strict=True)  # (every path), (every start), ...
            texts = [write_column(column) for write_column, column in zip(self.column_writers, columns, strict=True)]
            try:
                return "[" + ", ".join(map(self.template.__mod__, zip(*texts, strict=True))) + "]"
            except _WrongType:
                pass
        return self.write_each(value)


@functools.cache
def _object_writer(cls: type) -> _ObjectWriter:
    return _ObjectWriter(cls)


def _from_json(annotation: Any, value: Any, where: str) -> Any:
    """The Python value of a field declared as `annotation`; the mirror of `_writer`."""
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

# The header's metadata may hold any JSON value, so the header is written by
# `json` itself. Made once: json.dumps would make a new encoder every time.
_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _line(json_text: str) -> bytes:
    """A line of the file as it is written: the JSON text and a newline, in UTF-8."""
    # ensure_ascii=False keeps "RFC 8446 §7.1" readable in a diff. A lone
    # surrogate (a peer's invalid UTF-8 decoded with errors="surrogateescape")
    # cannot be written as UTF-8; "backslashreplace" writes it as the JSON
    # escape \udcff, which loads back as the same character.
    return (json_text + "\n").encode("utf-8", "backslashreplace")


def _header_line(redact: bool, metadata: Mapping[str, Any] | None) -> bytes:
    header: dict[str, Any] = {"schema": SCHEMA_NAME, "version": SCHEMA_VERSION, "redacted": redact}
    for key, value in (metadata or {}).items():
        if key in _HEADER_KEYS:
            raise ValueError(f"metadata may not set the header's {key!r}")
        header[key] = value
    return _line(_ENCODER.encode(header))


_event_writers: dict[tuple[type, bool], _ObjectWriter] = {}


def _event_writer(cls: type, redact: bool) -> _ObjectWriter:
    """The writer of one event class's lines, redacted or not; made once."""
    writer = _event_writers.get((cls, redact))
    if writer is None:
        if EVENT_TYPES.get(cls.__name__) is not cls:
            raise TypeError(f"{cls.__name__} is not in EVENT_TYPES, so a loader could not read it back")
        writer = _event_writers[cls, redact] = _ObjectWriter(cls, event=cls.__name__, redact=redact)
    return writer


def _event_line(event: TraceEvent, redact: bool) -> bytes:
    try:
        return _line(_event_writer(type(event), redact).write(event))
    except _WrongType as error:
        raise error.inside(type(event).__name__) from None


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


def _open_for_writing(path_or_file: PathOrFile) -> tuple[Callable[[bytes], None], Callable[[], None]]:
    """How to write lines to `path_or_file` at once, and how to finish with it."""
    if isinstance(path_or_file, (str, os.PathLike)):
        # Binary and unbuffered: the lines reach the file in one system call,
        # without the text layer. They are UTF-8 with "\n" already, the same
        # on every platform.
        file = open(path_or_file, "wb", buffering=0)  # noqa: SIM115 (closed by JsonlWriter.close)

        def write_bytes(lines: bytes) -> None:
            written = file.write(lines)
            while written < len(lines):  # a pipe may take a long write in parts
                written += file.write(lines[written:])

        return write_bytes, file.close
    text_file = path_or_file  # opened by the caller, so left open for them

    def write_text(lines: bytes) -> None:
        text_file.write(lines.decode("utf-8"))
        text_file.flush()

    return write_text, text_file.flush


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
    lines = [_header_line(redact, metadata)]
    lines.extend(_event_line(event, redact) for event in events)
    return b"".join(lines).decode("utf-8")


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
    """An observer that writes a JSON Lines trace while the connection runs.

    The header is written when the writer is created. Each event becomes its
    line when it happens (a value of the wrong type raises `TypeError` right
    there), and the lines kept so far are written, in one write, by
    `flush()`. The connection calls `flush()` each time it returns from
    `receive_data()` or `data_to_send()` (see `observer.py`), so a trace of a
    connection that hangs waiting for its peer, or fails with an exception,
    is complete; only a process killed in the middle of one step loses that
    step's events. Used without a connection, call `flush()` yourself.

    The output is identical to `dump_jsonl` of the same events. Use it as a
    context manager, or call `close()`, which flushes first. A file passed in
    open is flushed after every write, and flushed, not closed, by `close()`.

        with JsonlWriter("handshake.jsonl") as writer:
            connection = ClientConnection(attrs.evolve(config, observer=writer))
    """

    def __init__(
        self, path_or_file: PathOrFile, redact: bool = False, *, metadata: Mapping[str, Any] | None = None
    ) -> None:
        header = _header_line(redact, metadata)  # check the metadata before creating a file
        self.redact = redact
        self.closed = False
        self._write, self._close_file = _open_for_writing(path_or_file)
        self._write(header)
        self._unwritten: list[bytes] = []  # lines made since the last flush()

    def __call__(self, event: TraceEvent) -> None:
        if self.closed:
            raise ValueError("JsonlWriter is closed")
        self._unwritten.append(_event_line(event, self.redact))

    def flush(self) -> None:
        """Write the lines made since the last flush, in one write."""
        if self._unwritten:
            lines = b"".join(self._unwritten)
            self._unwritten = []
            self._write(lines)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.flush()
        finally:
            self._close_file()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
