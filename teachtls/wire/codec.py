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
`StructOf(...)`), and one generic walker (`read_struct` / `build_struct`)
turns bytes into objects and back. Nothing message-specific lives in the
walker; nothing byte-level lives in the message classes.

Reading needs a cursor (`Reader`): where a vector ends is only known once its
length has been read. Writing does not: each wire type `encode`s a value to
bytes by itself, and a vector is simply its length followed by its items.

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
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

import attrs

from teachtls.wire.enums import name_of

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


# A dict-backed class that may be built from positional arguments: a traced
# parse makes one FieldSpan per field, and attrs builds these about twice as
# fast as the usual slotted, keyword-only classes.
@attrs.frozen(slots=False)
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

    `block()` opens a length-prefixed region (as aioquic's `pull_block`):
    inside `with reader.block(2) as length:`, reads may not pass the region's
    end, and on leaving it every byte of the region must have been consumed.

    `paths` is the stack of field paths being read, innermost last:
    `["ClientHello", "ClientHello.cipher_suites", "ClientHello.cipher_suites[0]"]`.
    The walker pushes a field's path before reading it and pops it after, so
    a `DecodeError` can name the field that broke even when no spans are
    recorded.
    """

    def __init__(self, data: bytes, root: str, *, record: bool = True) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.record = record
        self.spans: list[FieldSpan] = []
        self.paths: list[str] = [root]
        self._outer_ends: list[int] = []  # the `end` of each enclosing block, to restore on leaving

    @property
    def path(self) -> str:
        """The path of the field being read: `ClientHello.cipher_suites[0]`."""
        return self.paths[-1]

    def leaf(self, start: int, value: str, suffix: str | None = None) -> None:
        """Record the bytes from `start` to here as one field, described as `value`."""
        path = self.paths[-1] if suffix is None else f"{self.paths[-1]}.{suffix}"
        self.spans.append(FieldSpan(path, start, self.pos, value))

    # -- primitives -------------------------------------------------------
    # `take` and `uint` only read. The wire type that called them records the
    # span (it knows whether a number is a count or an enum name), and only
    # when `record` is set: describing a value costs more than reading it.
    def take(self, n: int) -> bytes:
        start = self.pos
        end = start + n
        if n < 0 or end > self.end:
            raise DecodeError(f"needs {n} bytes, {self.end - start} left", path=self.path, offset=start)
        self.pos = end
        return self.data[start:end]

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def opaque(self, n: int) -> bytes:
        start = self.pos
        value = self.take(n)
        if self.record:
            self.leaf(start, value.hex())
        return value

    def vector_length(self, length_bytes: int, *, floor: int = 0, ceiling: int | None = None) -> int:
        """Read a `<floor..ceiling>` vector's length prefix and check it."""
        start = self.pos
        length = self.uint(length_bytes)
        if self.record:
            self.leaf(start, f"{length} bytes", "length")
        if ceiling is None:
            ceiling = (1 << (8 * length_bytes)) - 1
        if not floor <= length <= ceiling:
            raise DecodeError(f"vector length {length} outside <{floor}..{ceiling}>", path=self.path, offset=self.pos)
        if self.pos + length > self.end:
            raise DecodeError(f"vector of {length} bytes runs past its container", path=self.path, offset=self.pos)
        return length

    def block(self, length_bytes: int, *, floor: int = 0, ceiling: int | None = None) -> Reader:
        """A `<floor..ceiling>` vector: read its length, confine reads to it.

        `with reader.block(2) as length:` -- on leaving, every byte of the
        vector must have been read."""
        length = self.vector_length(length_bytes, floor=floor, ceiling=ceiling)
        self._outer_ends.append(self.end)
        self.end = self.pos + length
        return self

    # The reader is itself the context manager that `block()` returns: the
    # walker opens a block for every vector, and keeping the enclosing ends on
    # a stack is cheaper than making a new object for each one.
    def __enter__(self) -> int:
        return self.end - self.pos  # the length of the block just opened

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if exc_type is None and self.pos != self.end:
            left = self.end - self.pos
            raise DecodeError(f"{left} bytes left over inside vector", path=self.path, offset=self.pos)
        self.end = self._outer_ends.pop()

    def at_end(self) -> bool:
        return self.pos >= self.end

    def expect_end(self) -> None:
        if self.pos != len(self.data):
            raise DecodeError(f"{len(self.data) - self.pos} trailing bytes", path=self.path, offset=self.pos)


class Writer:
    """Collects the bytes of values written one after another.

    Writing needs no cursor: every wire type can `encode` a value to bytes
    by itself (a vector is its length, then its encoded items), so a Writer
    only appends. `shape.write(writer, value)` is `writer.put(shape.encode(value))`."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def put(self, data: bytes) -> None:
        self._parts.append(data)

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


# --------------------------------------------------------------------------
# Wire types: the declarative vocabulary
# --------------------------------------------------------------------------


class WireType:
    """Base of the wire types below: each reads a value and encodes one."""

    __slots__ = ()

    def read(self, reader: Reader, parsed: Mapping[str, Any]) -> Any:
        """Read a value at `reader`'s position; `parsed` holds the struct's fields read so far."""
        raise NotImplementedError

    def encode(self, value: Any) -> bytes:
        """The bytes of `value` on the wire."""
        raise NotImplementedError

    def write(self, writer: Writer, value: Any) -> None:
        writer.put(self.encode(value))


# What a wire type inside a vector gets as "the fields parsed so far": none.
NO_FIELDS: Mapping[str, Any] = MappingProxyType({})


@attrs.frozen
class UInt(WireType):
    """`uintN`, optionally decoded into an IntEnum (unknown values stay int)."""

    size: int
    enum_class: type[enum.IntEnum] | None = None
    # The enum's members by value, made once: `members.get(value, value)` is
    # `to_enum(enum_class, value)` without a function call per number read.
    members: Mapping[int, enum.IntEnum] = attrs.field(init=False, eq=False, repr=False)

    @members.default
    def _members_by_value(self) -> Mapping[int, enum.IntEnum]:
        return {} if self.enum_class is None else {member.value: member for member in self.enum_class}

    def read(self, reader: Reader, parsed: Mapping[str, Any]) -> Any:
        start = reader.pos
        value = reader.uint(self.size)
        if self.enum_class is None:
            if reader.record:
                reader.leaf(start, str(value))
            return value
        member = self.members.get(value, value)
        if reader.record:
            reader.leaf(start, name_of(member))
        return member

    def encode(self, value: int) -> bytes:
        return value.to_bytes(self.size, "big")


def U8(enum_class: type[enum.IntEnum] | None = None) -> UInt:
    return UInt(1, enum_class)


def U16(enum_class: type[enum.IntEnum] | None = None) -> UInt:
    return UInt(2, enum_class)


def U24(enum_class: type[enum.IntEnum] | None = None) -> UInt:
    return UInt(3, enum_class)


def U32(enum_class: type[enum.IntEnum] | None = None) -> UInt:
    return UInt(4, enum_class)


@attrs.frozen
class Fixed(WireType):
    """`opaque X[n]`: exactly n bytes."""

    size: int

    def read(self, reader: Reader, parsed: Mapping[str, Any]) -> bytes:
        return reader.opaque(self.size)

    def encode(self, value: bytes) -> bytes:
        if len(value) != self.size:
            raise ValueError(f"expected {self.size} bytes, got {len(value)}")
        return value


@attrs.frozen
class Opaque(WireType):
    """`opaque X<floor..ceiling>`: a length prefix of `length_bytes`, then bytes."""

    length_bytes: int
    floor: int = 0
    ceiling: int | None = None

    # No `with reader.block(...)` here: the bytes are read in one piece, so
    # there is nothing that could be left over inside the vector.
    def read(self, reader: Reader, parsed: Mapping[str, Any]) -> bytes:
        length = reader.vector_length(self.length_bytes, floor=self.floor, ceiling=self.ceiling)
        if length == 0:
            return b""
        return reader.opaque(length)

    def encode(self, value: bytes) -> bytes:
        return len(value).to_bytes(self.length_bytes, "big") + value


@attrs.frozen
class Rest(WireType):
    """All remaining bytes of the enclosing block (unknown extension bodies)."""

    def read(self, reader: Reader, parsed: Mapping[str, Any]) -> bytes:
        if reader.at_end():
            return b""
        return reader.opaque(reader.end - reader.pos)

    def encode(self, value: bytes) -> bytes:
        return value


@attrs.frozen
class VectorOf(WireType):
    """`T items<floor..ceiling>`: a length prefix, then items until it is used up."""

    length_bytes: int
    item: WireType
    floor: int = 0
    ceiling: int | None = None

    def read(self, reader: Reader, parsed: Mapping[str, Any]) -> tuple[Any, ...]:
        items: list[Any] = []
        paths = reader.paths
        with reader.block(self.length_bytes, floor=self.floor, ceiling=self.ceiling):
            vector_path = paths[-1]
            while reader.pos < reader.end:
                paths.append(f"{vector_path}[{len(items)}]")  # the item's path, as in read_struct
                items.append(self.item.read(reader, NO_FIELDS))
                paths.pop()
        return tuple(items)

    def encode(self, value: tuple[Any, ...]) -> bytes:
        body = b"".join([self.item.encode(item) for item in value])
        return len(body).to_bytes(self.length_bytes, "big") + body


@attrs.frozen
class StructOf(WireType):
    """A nested struct: the fields of another wire class, one after another."""

    cls: type[Any]

    def read(self, reader: Reader, parsed: Mapping[str, Any]) -> Any:
        return read_struct(reader, self.cls)

    def encode(self, value: Any) -> bytes:
        return build_struct(value)


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
    fields = _WIRE_FIELDS.get(cls)
    if fields is None:
        attrs_fields = attrs.fields(cls)  # type: ignore[arg-type]  # every WireStruct is an attrs class
        fields = tuple((field.name, field.metadata["wire"]) for field in attrs_fields if "wire" in field.metadata)
        _WIRE_FIELDS[cls] = fields
    return fields


def read_struct(reader: Reader, cls: type[S]) -> S:
    """The generic walker: read each `wire(...)` field of `cls` in order."""
    values: dict[str, Any] = {}
    paths = reader.paths
    struct_path = paths[-1]
    for name, wire_type in wire_fields(cls):
        # What is read now lies under `name`. No try/finally is needed to pop
        # it again: a DecodeError takes its path when raised and ends the parse.
        paths.append(f"{struct_path}.{name}")
        values[name] = wire_type.read(reader, values)
        paths.pop()
    return cls(**values)


def parse_struct(data: bytes, cls: type[S], *, record: bool = True) -> tuple[S, list[FieldSpan]]:
    """Parse exactly `data` as `cls`; return the object and its leaf spans."""
    reader = Reader(data, cls.wire_name or cls.__name__, record=record)
    obj = read_struct(reader, cls)
    reader.expect_end()
    return obj, reader.spans


def build_struct(obj: WireStruct) -> bytes:
    """The generic walker's other half: the bytes of each `wire(...)` field, in order."""
    return b"".join([wire_type.encode(getattr(obj, name)) for name, wire_type in wire_fields(type(obj))])
