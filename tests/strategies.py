"""Hypothesis strategies for every TLS 1.3 handshake message.

Not a test module: `tests/test_codec.py` imports it. The strategies are
derived from the same declarations the codec walks: every message class
lists its fields with a `wire=` shape (`U16`, `Opaque(1, ceiling=32)`,
`VectorOf(2, ...)`, `ExtensionList(context)`), and `values_for(shape)` below
turns each shape into a strategy. So a field added to a message is generated
without touching this file, and the `<floor..ceiling>` bounds a strategy
respects are exactly the ones the codec enforces.

Extensions are generated per message context, as the codec reads them
(RFC 8446 §4.2): a known type gets a body of the class `BODIES[(type,
context)]` names; GREASE values (RFC 8701) and unknown types get a `RawBody`.

Sizes are kept small (a few items per vector, a few dozen bytes per opaque
field) so that examples stay readable when Hypothesis shrinks a failure.
"""

from __future__ import annotations

import enum
import itertools
from typing import Any

import attrs
from hypothesis import strategies as st

from teachtls.wire.codec import Fixed, Opaque, Rest, StructOf, UInt, VectorOf, Writer
from teachtls.wire.enums import ExtensionType, to_enum
from teachtls.wire.extensions import (
    BODIES,
    CERTIFICATE,
    CERTIFICATE_REQUEST,
    CLIENT_HELLO,
    ENCRYPTED_EXTENSIONS,
    HELLO_RETRY_REQUEST,
    NEW_SESSION_TICKET,
    SERVER_HELLO,
    Extension,
    ExtensionList,
    RawBody,
)
from teachtls.wire.messages import (
    HELLO_RETRY_REQUEST_RANDOM,
    MESSAGE_CLASSES,
    ClientHello,
    EndOfEarlyData,
    Finished,
    HandshakeMessage,
    ServerHello,
)

MAX_OPAQUE = 48  # bytes in a generated opaque field
MAX_ITEMS = 4  # items in a generated vector
MAX_EXTENSIONS = 6  # extensions in a generated extension block

# RFC 8701 §2: the sixteen GREASE extension types 0x0A0A, 0x1A1A, ..., 0xFAFA.
GREASE_VALUES = tuple(0x0A0A + 0x1010 * i for i in range(16))


def encoded_size(shape: Any, value: Any) -> int:
    """How many bytes `value` takes on the wire when written as `shape`."""
    writer = Writer()
    shape.write(writer, value)
    return len(writer.getvalue())


def code_points(size: int, enum_class: type[enum.IntEnum] | None) -> st.SearchStrategy[int]:
    """A `uintN`: mostly named code points, sometimes any value (kept as int)."""
    any_value = st.integers(0, (1 << (8 * size)) - 1)
    if enum_class is None:
        return any_value
    named = [member for member in enum_class if int(member) < (1 << (8 * size))]
    return st.one_of(st.sampled_from(named), any_value.map(lambda value: to_enum(enum_class, value)))


def values_for(shape: Any, context: str | None = None) -> st.SearchStrategy[Any]:
    """A strategy for values of one wire shape from teachtls.wire.codec.

    `context` is the extension context of an `ExtensionList` whose context is
    computed from the message (the ServerHello / HelloRetryRequest case)."""
    if isinstance(shape, UInt):
        return code_points(shape.size, shape.enum_class)
    if isinstance(shape, Fixed):
        return st.binary(min_size=shape.size, max_size=shape.size)
    if isinstance(shape, Rest):
        return st.binary(max_size=MAX_OPAQUE)
    if isinstance(shape, Opaque):
        ceiling = (1 << (8 * shape.length_bytes)) - 1 if shape.ceiling is None else shape.ceiling
        return st.binary(min_size=shape.floor, max_size=min(ceiling, MAX_OPAQUE))
    if isinstance(shape, VectorOf):
        return vectors(shape)
    if isinstance(shape, StructOf):
        return structs(shape.cls)
    if isinstance(shape, ExtensionList):
        resolved = context if context is not None else shape.resolve({})
        return extension_lists(resolved, floor=shape.floor)
    raise TypeError(f"no strategy for wire shape {shape!r}")


def vectors(shape: VectorOf) -> st.SearchStrategy[tuple[Any, ...]]:
    """`T items<floor..ceiling>`: the floor and ceiling count bytes, not items."""
    ceiling = (1 << (8 * shape.length_bytes)) - 1 if shape.ceiling is None else shape.ceiling
    items = st.lists(values_for(shape.item), min_size=1 if shape.floor else 0, max_size=MAX_ITEMS)
    return items.map(tuple).filter(
        lambda value: shape.floor <= encoded_size(shape, value) - shape.length_bytes <= ceiling
    )


def structs(cls: type[Any], context: str | None = None) -> st.SearchStrategy[Any]:
    """Any WireStruct (extension body or message), field by field."""
    fields = {
        field.name: values_for(field.metadata["wire"], context)
        for field in attrs.fields(cls)
        if "wire" in field.metadata
    }
    return st.builds(cls, **fields)


# --- extensions -----------------------------------------------------------------


def known_extensions(context: str) -> st.SearchStrategy[Extension]:
    """An extension teachtls decodes in `context`, with a generated body."""
    types = sorted(extension_type for extension_type, where in BODIES if where == context)
    return st.sampled_from(types).flatmap(
        lambda extension_type: structs(BODIES[(extension_type, context)]).map(
            lambda body: Extension(extension_type=to_enum(ExtensionType, extension_type), extension_data=body)
        )
    )


def unknown_extensions(context: str) -> st.SearchStrategy[Extension]:
    """GREASE or any type not decoded in `context`: the body stays raw bytes."""
    types = st.one_of(st.sampled_from(GREASE_VALUES), st.integers(0, 0xFFFF)).filter(
        lambda extension_type: (extension_type, context) not in BODIES
    )
    return st.builds(
        lambda extension_type, data: Extension(
            extension_type=to_enum(ExtensionType, extension_type), extension_data=RawBody(data)
        ),
        types,
        st.binary(max_size=MAX_OPAQUE),
    )


def extensions(context: str) -> st.SearchStrategy[Extension]:
    """One extension for `context`: usually a known one, sometimes raw."""
    return st.one_of(known_extensions(context), unknown_extensions(context))


def extension_lists(context: str, *, floor: int = 0) -> st.SearchStrategy[tuple[Extension, ...]]:
    """`Extension extensions<floor..2^16-1>`, each type at most once (RFC 8446 §4.2)."""
    shape = ExtensionList(context, floor=floor)
    minimum = -(-floor // 4)  # an extension is at least 4 bytes
    return (
        st.lists(
            extensions(context),
            min_size=minimum,
            max_size=max(minimum, MAX_EXTENSIONS),
            unique_by=lambda extension: int(extension.extension_type),
        )
        .map(tuple)
        .filter(lambda value: encoded_size(shape, value) - 2 >= floor)
    )


# --- messages --------------------------------------------------------------------

client_hellos = structs(ClientHello)
server_hellos = structs(ServerHello, SERVER_HELLO).filter(lambda hello: not hello.is_hello_retry_request)
# RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello with the special random;
# the codec then reads its extensions in the hello_retry_request context.
hello_retry_requests = structs(ServerHello, HELLO_RETRY_REQUEST).map(
    lambda hello: attrs.evolve(hello, random=HELLO_RETRY_REQUEST_RANDOM)
)
finisheds = st.builds(
    Finished, verify_data=st.sampled_from([32, 48]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
)
end_of_early_datas = st.just(EndOfEarlyData())

# Messages whose generic strategy needs help: the ServerHello doubles as the
# HelloRetryRequest, and a realistic Finished is one hash long.
SPECIAL_MESSAGES: dict[type[HandshakeMessage], st.SearchStrategy[Any]] = {
    ClientHello: client_hellos,
    ServerHello: st.one_of(server_hellos, hello_retry_requests),
    Finished: finisheds,
    EndOfEarlyData: end_of_early_datas,
}

# One strategy per class of MESSAGE_CLASSES, derived from its wire fields
# unless it is special: a message class added later is generated too.
MESSAGES: dict[type[HandshakeMessage], st.SearchStrategy[Any]] = {
    cls: SPECIAL_MESSAGES.get(cls, structs(cls)) for cls in MESSAGE_CLASSES.values()
}

handshake_messages: st.SearchStrategy[HandshakeMessage] = st.one_of(*MESSAGES.values())

CONTEXTS = (
    CLIENT_HELLO,
    SERVER_HELLO,
    HELLO_RETRY_REQUEST,
    ENCRYPTED_EXTENSIONS,
    CERTIFICATE,
    CERTIFICATE_REQUEST,
    NEW_SESSION_TICKET,
)


# --- field-level edits of a real message ----------------------------------------------


@st.composite
def edited_hellos(draw: st.DrawFn, hello: ClientHello | ServerHello, context: str) -> ClientHello | ServerHello:
    """`hello` with a few well-formed edits: an extension's body regenerated,
    an extension inserted or deleted, or one plain field redrawn.

    The result always encodes, so it gets past the codec and reaches the
    handshake logic -- the part that byte-level mutations rarely get to."""
    extension_list = list(hello.extensions)
    plain_fields = [field for field in attrs.fields(type(hello)) if field.name != "extensions"]
    for _ in range(draw(st.integers(1, 4))):
        edit = draw(st.sampled_from(["regenerate", "insert", "delete", "field"]))
        if edit == "regenerate" and extension_list:
            index = draw(st.integers(0, len(extension_list) - 1))
            extension_type = extension_list[index].extension_type
            body_class = BODIES.get((int(extension_type), context))
            if body_class is not None:
                body = draw(structs(body_class))
                extension_list[index] = Extension(extension_type=extension_type, extension_data=body)
        elif edit == "insert":
            extension_list.insert(draw(st.integers(0, len(extension_list))), draw(extensions(context)))
        elif edit == "delete" and extension_list:
            del extension_list[draw(st.integers(0, len(extension_list) - 1))]
        elif edit == "field":
            field = draw(st.sampled_from(plain_fields))
            hello = attrs.evolve(hello, **{field.name: draw(values_for(field.metadata["wire"]))})
    return attrs.evolve(hello, extensions=tuple(extension_list))


# --- byte-level mutations ------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, data: bytes, max_mutations: int = 4) -> bytes:
    """`data` with a few bytes flipped, inserted or deleted."""
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, max_mutations))):
        kind = draw(st.sampled_from(["flip", "insert", "delete"]))
        if kind == "insert" or not buffer:
            position = draw(st.integers(0, len(buffer)))
            buffer[position:position] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "flip":
            position = draw(st.integers(0, len(buffer) - 1))
            buffer[position] ^= draw(st.integers(1, 255))
        else:
            position = draw(st.integers(0, len(buffer) - 1))
            del buffer[position : position + draw(st.integers(1, 4))]
    return bytes(buffer)


@st.composite
def split_points(draw: st.DrawFn, data: bytes, max_pieces: int = 12) -> list[bytes]:
    """`data` cut at random places into pieces that join back to `data`."""
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(data) - 1)), max_size=max_pieces - 1)))
    edges = [0, *cuts, len(data)]
    return [data[start:end] for start, end in itertools.pairwise(edges) if end > start]
