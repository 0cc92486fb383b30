"""JSON Lines traces: a recorded connection as a file, one event per line.

A trace is the list of `TraceEvent`s a connection emitted (see `events.py`).
Written as JSON Lines (https://jsonlines.org) it becomes a file that the
renderers, the golden-trace tests and any other tool can read without
running a connection, and that reviews well as a diff. The format is
documented for readers in `docs/trace-schema.md`:

    {"schema":"teachtls-trace","version":1,"redacted":false,...metadata}
    {"event":"MessageSent","role":"client","rfc":"RFC 8446 §4.1.2","name":"ClientHello",...}
    {"event":"SecretDerived","role":"client","rfc":"RFC 8446 §7.1",...}

The first line is a header; every later line is one event: its class name
under "event", then its attrs fields in declaration order. The lines are
compact JSON written by orjson (see "Writing" below); any JSON parser
reads them, and the loader also reads the spaced lines of older traces.

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
import orjson

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
# 1,700 values while the connection runs, so writing has two parts, each
# worked out once per event class:
#
# * the check: every value against its field's annotation, so that a value
#   of the wrong type fails here, naming its field, and not later in a
#   loader. A *checker* (`_checker`) does it exactly, with isinstance;
#   `_EventForm.check` first tries a shortcut made of a few C calls per
#   event (see there) and calls the checkers only when that fails;
# * the text: the event's fields as a dict, written by orjson, a JSON
#   library written in Rust. It writes str, int, bool, None and tuples
#   itself and asks `_json_form` for the rest: bytes become hex, a
#   `FieldSpan` the dict of its fields. (A writer in Python, one function
#   per value, took twice as long: see docs/benchmarks.md.)

Checker = Callable[[Any], None]


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


_PLAIN_TYPES = (str, int, bool, bytes)


def _plain_checker(expected: type) -> Checker:
    def check(value: Any) -> None:
        if not _is_a(value, expected):
            raise _WrongType(expected.__name__, value)

    return check


@functools.cache
def _checker(annotation: Any) -> Checker:
    """The checker for fields declared as `annotation` (see the module docstring's table)."""
    if annotation in _PLAIN_TYPES:
        return _plain_checker(annotation)
    optional = _optional_type(annotation)
    if optional is not None:
        check_present = _checker(optional)

        def check_optional(value: Any) -> None:
            if value is not None:
                check_present(value)

        return check_optional
    item_type = _item_type(annotation)
    if item_type is not None:
        check_item = _checker(item_type)

        def check_tuple(value: Any) -> None:
            if not isinstance(value, tuple):
                raise _WrongType("a tuple", value)
            for index, item in enumerate(value):
                try:
                    check_item(item)
                except _WrongType as error:
                    raise error.inside(f"[{index}]") from None

        return check_tuple
    if attrs.has(annotation):
        check_fields = _fields_checker(annotation)

        def check_object(value: Any) -> None:
            if not isinstance(value, annotation):
                raise _WrongType(annotation.__name__, value)
            check_fields(value)

        return check_object
    raise TypeError(f"no JSON form for fields of type {annotation!r}")


def _fields_checker(cls: type, names: Iterable[str] | None = None) -> Checker:
    """Checks the fields `names` (all, by default) of an instance of the attrs class `cls`."""
    annotations = _field_types(cls)
    checks = [(name, _checker(annotations[name])) for name in names or [field.name for field in attrs.fields(cls)]]

    def check_fields(obj: Any) -> None:
        for name, check in checks:
            try:
                check(getattr(obj, name))
            except _WrongType as error:
                raise error.inside(f".{name}") from None

    return check_fields


@functools.cache
def _items_fit(item_type: Any) -> Callable[[tuple[Any, ...]], bool]:
    """A shortcut for the items of a `tuple[X, ...]` field: True when every
    item's type is exactly X -- for `tuple[FieldSpan, ...]`, when every
    span is a `FieldSpan` and each of its fields exactly its declared type.
    False means "ask the checker", not "wrong": an IntEnum fits an int, but
    not exactly. Each is a few passes of C over the items, no Python per item."""
    if attrs.has(item_type):
        names = [field.name for field in attrs.fields(item_type)]
        declared = tuple(_field_types(item_type)[name] for name in names)
        if len(names) < 2 or not set(declared) <= set(_PLAIN_TYPES):
            return lambda items: False  # not in the vocabulary the shortcut knows: the checker decides
        fields_of = operator.attrgetter(*names)

        def objects_fit(items: tuple[Any, ...]) -> bool:
            # (path, start, end, value, path, start, ...) must have the types
            # (str, int, int, str, str, int, ...), compared in one go.
            return set(map(type, items)) <= {item_type} and tuple(
                map(type, itertools.chain.from_iterable(map(fields_of, items)))
            ) == declared * len(items)

        return objects_fit
    return lambda items: set(map(type, items)) <= {item_type}


class _EventForm:
    """How the events of one class are checked and written (redacted or not)."""

    def __init__(self, cls: type, redact: bool) -> None:
        annotations = _field_types(cls)
        self.name = cls.__name__
        secret = [field.name for field in attrs.fields(cls) if redact and field.metadata.get("secret")]
        names = [field.name for field in attrs.fields(cls) if field.name not in secret]
        # Redacted: each secret field is written as "" (the JSON form of b"")
        # in its place, and the object ends with the list of their names.
        self.redacted: dict[str, Any] = dict.fromkeys(secret, "")
        if secret:
            self.redacted["redacted"] = secret
        # The shortcut: the types of an event's values, in field order, form
        # its signature -- (str, str, int, bytes, ...) for most events of a
        # class, or with a NoneType or an IntEnum in some field. A signature
        # the checker has passed once is known to fit, so the next event with
        # it costs one tuple and one set lookup, in C. Only the items of
        # tuple fields, which the signature does not show, are looked at
        # every time. (The values are read from the event's `__dict__`,
        # which holds exactly its fields, in order: see events.py.)
        self.fitting_signatures: set[tuple[type, ...]] = set()
        self.items_fit = [
            (name, _items_fit(item_type))
            for name in names
            if (item_type := _item_type(_optional_type(annotations[name]) or annotations[name])) is not None
        ]
        self.check_exactly = _fields_checker(cls, names)

    def check(self, event: TraceEvent) -> None:
        """Raise `_WrongType`, naming the field, unless every value fits its annotation."""
        values = event.__dict__
        signature = tuple(map(type, values.values()))
        if signature in self.fitting_signatures:
            for name, items_fit in self.items_fit:
                if values[name] is not None and not items_fit(values[name]):
                    break
            else:
                return
        self.check_exactly(event)  # raises, or finds that every value fits after all
        self.fitting_signatures.add(signature)

    def line(self, event: TraceEvent) -> bytes:
        """The event's line: its JSON text and a newline, in UTF-8."""
        self.check(event)
        obj = {"event": self.name, **event.__dict__, **self.redacted}
        try:
            return orjson.dumps(obj, default=_json_form, option=orjson.OPT_APPEND_NEWLINE)
        except orjson.JSONEncodeError:
            # What orjson refuses but a trace may hold: a lone surrogate (a
            # peer's invalid UTF-8 decoded with errors="surrogateescape"),
            # an int beyond 64 bits. `json` writes both, and `_line` the
            # surrogate as the JSON escape \udcff, which loads back as the
            # same character.
            return _line(_JSON_ENCODER.encode(_json_tree(obj)))


def _json_form(value: Any) -> Any:
    """What orjson writes for a value it does not know: bytes as hex, a `FieldSpan` as its fields.

    After the check, nothing else gets here; and every attrs class a trace
    holds keeps its fields in `__dict__` (slots=False, see events.py)."""
    if isinstance(value, bytes):
        return value.hex()  # lowercase, "" for b""
    return value.__dict__


def _json_tree(value: Any) -> Any:
    """`value` with `_json_form` applied all the way down, for `json`."""
    if isinstance(value, dict):
        return {key: _json_tree(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_json_tree(item) for item in value]
    if isinstance(value, bytes) or attrs.has(type(value)):
        return _json_tree(_json_form(value))
    return value


# Written as orjson writes: no spaces after "," and ":", non-ASCII as it is.
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _from_json(annotation: Any, value: Any, where: str) -> Any:
    """The Python value of a field declared as `annotation`; the mirror of `_checker` and `_json_form`."""
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

def _line(json_text: str) -> bytes:
    """A line of the file as it is written: the JSON text and a newline, in UTF-8."""
    # ensure_ascii=False keeps "RFC 8446 §7.1" readable in a diff.
    return (json_text + "\n").encode("utf-8", "backslashreplace")


def _header_line(redact: bool, metadata: Mapping[str, Any] | None) -> bytes:
    # The header's metadata may hold any JSON value, so `json` writes it.
    header: dict[str, Any] = {"schema": SCHEMA_NAME, "version": SCHEMA_VERSION, "redacted": redact}
    for key, value in (metadata or {}).items():
        if key in _HEADER_KEYS:
            raise ValueError(f"metadata may not set the header's {key!r}")
        header[key] = value
    return _line(_JSON_ENCODER.encode(header))


_event_forms: dict[tuple[type, bool], _EventForm] = {}


def _event_form(cls: type, redact: bool) -> _EventForm:
    """How one event class's lines are checked and written, redacted or not; worked out once."""
    form = _event_forms.get((cls, redact))
    if form is None:
        if EVENT_TYPES.get(cls.__name__) is not cls:
            raise TypeError(f"{cls.__name__} is not in EVENT_TYPES, so a loader could not read it back")
        form = _event_forms[cls, redact] = _EventForm(cls, redact)
    return form


def _event_line(event: TraceEvent, redact: bool) -> bytes:
    try:
        return _event_form(type(event), redact).line(event)
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
