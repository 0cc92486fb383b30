"""The span-recording codec: TLS presentation language <-> Python objects.

RFC 8446 §3 defines a small "presentation language" for every message:
fixed-size integers (`uint8`, `uint16`, `uint24`, `uint32`), fixed-length
opaque arrays (`opaque Random[32]`), variable-length vectors with a length
prefix whose size follows from their ceiling (`opaque legacy_session_id<0..32>`
has a 1-byte length; `CipherSuite cipher_suites<2..2^16-2>` a 2-byte one) and
structs that are simply their fields one after another.

teachtls describes every message *declaratively* with those same shapes: each
field of a message's attrs class carries a `wire=` type from this module
(`U16`, `Fixed(32)`, `Opaque(1, max=32)`, `VectorOf(2, U16(...))`,
`StructOf(...)`), and one generic walker (`read_struct` / `write_struct`)
turns bytes into objects and back. Nothing message-specific lives in the
walker; nothing byte-level lives in the message classes.

While it reads, the walker records a `FieldSpan` for every leaf it consumes,
including each vector's length prefix. For any message those spans are in
byte order and cover the message exactly once -- no gaps, no overlaps -- which
is what lets a renderer colour every byte of a hexdump. Two properties always
hold and are tested with Hypothesis:

* `build(parse(b)) == b` for every well-formed message, and
* the recorded leaf spans tile `b` exactly.

Any inconsistency -- a length running past its enclosing block, bytes left
over inside a block, a vector outside its `<floor..ceiling>` bounds -- raises
`DecodeError`, which the connection turns into the `decode_error` alert in one
place (RFC 8446 §6.2: "A message could not be decoded because some field was
out of the specified range or the length of the message was incorrect").
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol, TypeVar

import attrs

from teachtls.wire.enums import name_of, to_enum

T = TypeVar("T")


class DecodeError(Exception):
    """Bytes that do not follow the presentation language (-> decode_error)."""

    def __init__(self, reason: str, *, path: str = "", offset: int = 0) -> None:
        self.reason = reason
        self.path = path
        self.offset = offset
        where = f" in {path}" if path else ""
        super().__init__(f"{reason}{where} at byte {offset}")


@attrs.frozen
class Span:
    """A half-open byte range `[start, end)` inside the parsed bytes."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


@attrs.frozen(kw_only=True)
class FieldSpan:
    """One leaf field that was read: where it sits and what it decoded to."""

    path: str  # "ClientHello.cipher_suites[0]"
    start: int
    end: int
    value: str  # readable decoded value, e.g. "TLS_AES_128_GCM_SHA256"


# --------------------------------------------------------------------------
# Reader and Writer
# --------------------------------------------------------------------------


class Reader:
    """Reads presentation-language values from `data`, recording spans.

    `block()` is a context manager for a length-prefixed region (as aioquic's
    `pull_block`): inside it, reads may not pass the region's end, and on
    leaving it every byte of the region must have been consumed.
    """

    def __init__(self, data: bytes, root: str, *, record: bool = True) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.record = record
        self.spans: list[FieldSpan] = []
        self._path: list[str] = [root]

    # -- paths ------------------------------------------------------------
    @property
    def path(self) -> str:
        return ".".join(self._path).replace(".[", "[")

    def field(self, name: str) -> _InField:
        """`with reader.field(name):` -- what is read inside lies under `name`."""
        return _InField(self._path, name)

    def _leaf(self, start: int, value: str, suffix: str | None = None) -> None:
        path = self.path if suffix is None else f"{self.path}.{suffix}"
        self.spans.append(FieldSpan(path=path, start=start, end=self.pos, value=value))

    # -- primitives -------------------------------------------------------
    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise DecodeError(f"needs {n} bytes, {self.end - self.pos} left", path=self.path, offset=self.pos)
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def uint(self, size: int, *, describe: Callable[[int], str] = str, suffix: str | None = None) -> int:
        start = self.pos
        value = int.from_bytes(self.take(size), "big")
        if self.record:  # describing a value costs more than reading it
            self._leaf(start, describe(value), suffix)
        return value

    def opaque(self, n: int) -> bytes:
        start = self.pos
        value = self.take(n)
        if self.record:
            self._leaf(start, value.hex())
        return value

    def length_prefix(self, size: int) -> int:
        return self.uint(size, describe=lambda n: f"{n} bytes", suffix="length")

    def block(self, length_bytes: int, *, floor: int = 0, ceiling: int | None = None) -> _InVector:
        """A `<floor..ceiling>` vector: read its length, confine reads to it.

        `with reader.block(2) as length:` -- on leaving, every byte of the
        vector must have been read."""
        length = self.length_prefix(length_bytes)
        ceiling = (1 << (8 * length_bytes)) - 1 if ceiling is None else ceiling
        if not floor <= length <= ceiling:
            raise DecodeError(f"vector length {length} outside <{floor}..{ceiling}>", path=self.path, offset=self.pos)
        if self.pos + length > self.end:
            raise DecodeError(f"vector of {length} bytes runs past its container", path=self.path, offset=self.pos)
        return _InVector(self, length)

    def at_end(self) -> bool:
        return self.pos >= self.end

    def expect_end(self) -> None:
        if self.pos != len(self.data):
            raise DecodeError(f"{len(self.data) - self.pos} trailing bytes", path=self.path, offset=self.pos)


class Writer:
    """The mirror image of `Reader`: appends values, back-fills lengths."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def put(self, data: bytes) -> None:
        self._parts.append(data)

    def uint(self, size: int, value: int) -> None:
        self._parts.append(value.to_bytes(size, "big"))

    def block(self, length_bytes: int) -> _LengthPrefixed:
        """`with writer.block(2):` -- what is written inside gets a 2-byte length prefix."""
        return _LengthPrefixed(self, length_bytes)

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


# The three context managers behind `Reader.field`, `Reader.block` and
# `Writer.block`. They are small classes rather than `@contextlib.contextmanager`
# generators because the walker enters a few hundred of them per handshake,
# and a generator-based one costs several times as much to enter and leave.


class _InField:
    """Push a field name onto the reader's path; pop it on the way out."""

    def __init__(self, path: list[str], name: str) -> None:
        self.path = path
        self.name = name

    def __enter__(self) -> None:
        self.path.append(self.name)

    def __exit__(self, *exc_info: object) -> None:
        self.path.pop()


class _InVector:
    """Confine a reader to one vector's bytes; check they were all read."""

    def __init__(self, reader: Reader, length: int) -> None:
        self.reader = reader
        self.length = length
        self.outer_end = reader.end

    def __enter__(self) -> int:
        self.reader.end = self.reader.pos + self.length
        return self.length

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        reader = self.reader
        if exc_type is None and reader.pos != reader.end:
            left = reader.end - reader.pos
            raise DecodeError(f"{left} bytes left over inside vector", path=reader.path, offset=reader.pos)
        reader.end = self.outer_end


class _LengthPrefixed:
    """Collect what is written inside; emit its length, then it."""

    def __init__(self, writer: Writer, length_bytes: int) -> None:
        self.writer = writer
        self.length_bytes = length_bytes
        self.outer: list[bytes] = []

    def __enter__(self) -> None:
        self.outer, self.writer._parts = self.writer._parts, []

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        body = b"".join(self.writer._parts)
        self.writer._parts = self.outer
        if exc_type is None:
            self.writer.put(len(body).to_bytes(self.length_bytes, "big"))
            self.writer.put(body)


# --------------------------------------------------------------------------
# Wire types: the declarative vocabulary
# --------------------------------------------------------------------------


class WireType(Protocol):
    def read(self, reader: Reader, parsed: Mapping[str, Any]) -> Any: ...

    def write(self, writer: Writer, value: Any) -> None: ...


@attrs.frozen
class UInt:
    """`uintN`, optionally decoded into an IntEnum (unknown values stay int)."""

    size: int
    enum_class: type[enum.IntEnum] | None = None

    def read(self, reader: Reader, parsed: Mapping[str, Any]) -> Any:
        if self.enum_class is None:
            return reader.uint(self.size)
        enum_class = self.enum_class
        value = reader.uint(self.size, describe=lambda v: name_of(to_enum(enum_class, v)))
        return to_enum(enum_class, value)

    def write(self, writer: Writer, value: Any) -> None:
        writer.uint(self.size, int(value))


def U8(enum_class: type[enum.IntEnum] | None = None) -> UInt:
    return UInt(1, enum_class)


def U16(enum_class: type[enum.IntEnum] | None = None) -> UInt:
    return UInt(2, enum_class)


def U24(enum_class: type[enum.IntEnum] | None = None) -> UInt:
    return UInt(3, enum_class)


def U32(enum_class: type[enum.IntEnum] | None = None) -> UInt:
    return UInt(4, enum_class)


@attrs.frozen
class Fixed:
    """`opaque X[n]`: exactly n bytes."""

    size: int

    def read(self, reader: Reader, parsed: Mapping[str, Any]) -> bytes:
        return reader.opaque(self.size)

    def write(self, writer: Writer, value: bytes) -> None:
        if len(value) != self.size:
            raise ValueError(f"expected {self.size} bytes, got {len(value)}")
        writer.put(value)


@attrs.frozen
class Opaque:
    """`opaque X<floor..ceiling>`: a length prefix of `length_bytes`, then bytes."""

    length_bytes: int
    floor: int = 0
    ceiling: int | None = None

    def read(self, reader: Reader, parsed: Mapping[str, Any]) -> bytes:
        with reader.block(self.length_bytes, floor=self.floor, ceiling=self.ceiling) as length:
            if length == 0:
                return b""
            return reader.opaque(length)

    def write(self, writer: Writer, value: bytes) -> None:
        with writer.block(self.length_bytes):
            writer.put(value)


@attrs.frozen
class Rest:
    """All remaining bytes of the enclosing block (unknown extension bodies)."""

    def read(self, reader: Reader, parsed: Mapping[str, Any]) -> bytes:
        if reader.at_end():
            return b""
        return reader.opaque(reader.end - reader.pos)

    def write(self, writer: Writer, value: bytes) -> None:
        writer.put(value)


@attrs.frozen
class VectorOf:
    """`T items<floor..ceiling>`: a length prefix, then items until it is used up."""

    length_bytes: int
    item: WireType
    floor: int = 0
    ceiling: int | None = None

    def read(self, reader: Reader, parsed: Mapping[str, Any]) -> tuple[Any, ...]:
        items: list[Any] = []
        with reader.block(self.length_bytes, floor=self.floor, ceiling=self.ceiling):
            while not reader.at_end():
                with reader.field(f"[{len(items)}]"):
                    items.append(self.item.read(reader, {}))
        return tuple(items)

    def write(self, writer: Writer, value: tuple[Any, ...]) -> None:
        with writer.block(self.length_bytes):
            for item in value:
                self.item.write(writer, item)


@attrs.frozen
class StructOf:
    """A nested struct: the fields of another wire class, one after another."""

    cls: type[Any]

    def read(self, reader: Reader, parsed: Mapping[str, Any]) -> Any:
        return read_struct(reader, self.cls)

    def write(self, writer: Writer, value: Any) -> None:
        write_struct(writer, value)


def wire(wire_type: WireType, **kwargs: Any) -> Any:
    """Declare an attrs field together with its wire shape."""
    metadata = dict(kwargs.pop("metadata", {}))
    metadata["wire"] = wire_type
    return attrs.field(metadata=metadata, **kwargs)


class WireStruct:
    """Base of every struct described with `wire(...)` fields.

    `wire_name` is the RFC's struct name, used as the root of field paths.
    Subclasses may override `check(parsed)` to add semantic decode checks.
    """

    wire_name: ClassVar[str] = ""


S = TypeVar("S", bound=WireStruct)


_WIRE_FIELDS: dict[type, tuple[tuple[str, WireType], ...]] = {}


def wire_fields(cls: type[WireStruct]) -> tuple[tuple[str, WireType], ...]:
    """The `wire(...)` fields of `cls` in order, as (name, wire type); looked up once per class."""
    if cls not in _WIRE_FIELDS:
        fields = attrs.fields(cls)  # type: ignore[arg-type]  # every WireStruct is an attrs class
        _WIRE_FIELDS[cls] = tuple((field.name, field.metadata["wire"]) for field in fields if "wire" in field.metadata)
    return _WIRE_FIELDS[cls]


def read_struct(reader: Reader, cls: type[S]) -> S:
    """The generic walker: read each `wire(...)` field of `cls` in order."""
    values: dict[str, Any] = {}
    for name, wire_type in wire_fields(cls):
        with reader.field(name):
            values[name] = wire_type.read(reader, values)
    return cls(**values)


def write_struct(writer: Writer, obj: WireStruct) -> None:
    """The generic walker's other half: write each `wire(...)` field in order."""
    for name, wire_type in wire_fields(type(obj)):
        wire_type.write(writer, getattr(obj, name))


def parse_struct(data: bytes, cls: type[S], *, record: bool = True) -> tuple[S, list[FieldSpan]]:
    """Parse exactly `data` as `cls`; return the object and its leaf spans."""
    reader = Reader(data, cls.wire_name or cls.__name__, record=record)
    obj = read_struct(reader, cls)
    reader.expect_end()
    return obj, reader.spans


def build_struct(obj: WireStruct) -> bytes:
    writer = Writer()
    write_struct(writer, obj)
    return writer.getvalue()
