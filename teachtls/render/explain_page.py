"""The page of `teachtls serve --explain`: the visitor's own handshake, explained.

A browser that opens `teachtls serve --explain` receives a page about the
connection that carries it. The server records that connection's trace (a
`Recorder` as its Config's observer), reads the HTTP request, and hands the
trace so far to `render_explain_page`, which shows, in this order:

* **what was agreed**: version, cipher suite, key exchange group, signature
  scheme, ALPN protocol, server name -- and, for the hybrid group
  X25519MLKEM768, what "hybrid" means;
* **what the browser offered**: its ClientHello taken apart -- cipher
  suites, supported groups, key shares with their sizes (a hybrid share is
  1216 bytes: an ML-KEM-768 encapsulation key and an X25519 public key),
  signature algorithms, versions, ALPN protocols and every extension in the
  order sent. Values the server chose are marked; GREASE values (RFC 8701)
  are shown as GREASE; code points teachtls does not implement are named
  where a browser is known to send them (`FOREIGN_NAMES`), and marked as
  ignored;
* **the conversation**: the sequence diagram (`teachtls.render.sequence`);
* **the server's key schedule** (`teachtls.render.keyschedule`; for TLS 1.2,
  the PRF steps as a list, since TLS 1.2 has no ladder to draw);
* **every byte**: the annotated page (`teachtls.render.pages.render_html`)
  in an ``<iframe srcdoc>``, which keeps its stylesheet, script and element
  ids apart from this page's. Clicking a message in the diagram scrolls the
  frame to its bytes.

What the page cannot show is itself. It is rendered after the handshake
and after the request arrived; the records that carry it are encrypted
after it was written, so they are not in the trace, and neither is the
close_notify that ends the connection. The page says so.

The ClientHello is read from the trace's `FieldSpan`s (paths and values, as
the codec recorded them), like every other renderer: nothing here parses
bytes or touches a connection. Everything the client sent -- its server
name, its ALPN strings, its User-Agent -- is escaped before it reaches the
page.

Not for production: the page shows the connection's secrets, on purpose.
"""

from __future__ import annotations

import enum
import html
import re
from collections.abc import Iterable, Sequence

import attrs

from teachtls.render.common import TraceLike, load
from teachtls.trace import events as trace
from teachtls.wire.codec import FieldSpan
from teachtls.wire.enums import CipherSuite, ExtensionType, NamedGroup, ProtocolVersion, SignatureScheme, is_grease

TITLE = "Your browser's TLS handshake"

MAX_RECORDS_DRAWN = 64
"""Records the diagram and the annotated bytes show at most. A browser's
handshake and request take about ten; a client that cuts its messages into
one-byte records could otherwise make every page cost seconds to draw."""

# Code points that browsers send and teachtls does not implement, by registry:
# (name, what it is). teachtls's enums (teachtls.wire.enums) name only what
# teachtls speaks; these names are here so the page can say what the rest is.
# A server MUST ignore what it does not understand (RFC 8446 §4.2, §4.2.7,
# §4.2.3), and teachtls does.
FOREIGN_NAMES: dict[str, dict[int, tuple[str, str]]] = {
    "cipher_suite": {
        0x000A: ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "RFC 5246: triple DES, kept by some browsers for very old servers"),
        0x0035: ("TLS_RSA_WITH_AES_256_CBC_SHA", "RFC 5246: static RSA, no forward secrecy"),
        0xC00A: ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "RFC 8422: AES-CBC with HMAC-SHA1"),
        0xC014: ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "RFC 8422: AES-CBC with HMAC-SHA1"),
    },
    "group": {
        0x11EB: ("SecP256r1MLKEM768", "draft-ietf-tls-ecdhe-mlkem: P-256 with ML-KEM-768"),
        0x11ED: ("SecP384r1MLKEM1024", "draft-ietf-tls-ecdhe-mlkem: P-384 with ML-KEM-1024"),
        0x6399: ("X25519Kyber768Draft00", "the pre-standard hybrid, before ML-KEM (FIPS 203) was final"),
    },
    "signature_scheme": {
        0x0904: ("mldsa44", "draft-ietf-tls-mldsa: post-quantum signatures, ML-DSA-44 (FIPS 204)"),
        0x0905: ("mldsa65", "draft-ietf-tls-mldsa: ML-DSA-65 (FIPS 204)"),
        0x0906: ("mldsa87", "draft-ietf-tls-mldsa: ML-DSA-87 (FIPS 204)"),
    },
    "extension": {
        0x001B: ("compress_certificate", "RFC 8879: the server may send its certificate chain compressed"),
        0x0022: ("delegated_credential", "RFC 9345: short-lived credentials signed by the certificate's key"),
        0x4469: ("application_settings (old)", "ALPS, draft-vvv-tls-alps: HTTP/2 settings inside the handshake"),
        0x44CD: ("application_settings", "ALPS, draft-vvv-tls-alps: HTTP/2 settings inside the handshake"),
        0xCA34: (
            "trust_anchors",
            "draft-ietf-tls-trust-anchor-ids (experimental code point): short IDs of the root CAs the client trusts",
        ),
        0xFE0D: (
            "encrypted_client_hello",
            "draft-ietf-tls-esni (ECH). Knowing no ECH key for this server, a browser sends a fake one "
            '("GREASE ECH") so that real ECH does not stand out',
        ),
    },
}

# The registry of each list in a ClientHello, for turning traced names back into numbers.
REGISTRIES: dict[str, type[enum.IntEnum]] = {
    "cipher_suite": CipherSuite,
    "group": NamedGroup,
    "signature_scheme": SignatureScheme,
    "extension": ExtensionType,
    "version": ProtocolVersion,
}

# What the bytes of a key share are (RFC 8446 §4.2.8.2, draft-ietf-tls-ecdhe-mlkem §4).
KEY_SHARE_CONTENTS: dict[int, str] = {
    NamedGroup.X25519MLKEM768: "ML-KEM-768 encapsulation key (1184 B) ‖ X25519 public key (32 B)",
    NamedGroup.x25519: "X25519 public key (RFC 7748)",
    NamedGroup.x448: "X448 public key (RFC 7748)",
    NamedGroup.secp256r1: "uncompressed P-256 point: 04 ‖ X ‖ Y",
    NamedGroup.secp384r1: "uncompressed P-384 point: 04 ‖ X ‖ Y",
    NamedGroup.secp521r1: "uncompressed P-521 point: 04 ‖ X ‖ Y",
}

HYBRID_NOTE = (
    "X25519MLKEM768 is a hybrid: your browser sent both an ML-KEM-768 encapsulation key (the post-quantum "
    "key encapsulation mechanism of FIPS 203) and an X25519 public key. The server encapsulated a fresh secret "
    "to the first and did X25519 with the second; the shared secret is the two results side by side, so it "
    "stays secret as long as either problem stays hard — even against a future quantum computer recording "
    "today's traffic."
)

GREASE_NOTE = (
    "GREASE (RFC 8701): reserved values of the form 0x?A?A that a browser mixes into its lists at random. A "
    "server that chokes on an unknown value is caught at once, instead of the day a real new value ships; "
    "teachtls ignores them, as RFC 8446 asks."
)

SELF_NOTE = (
    "This page was rendered after the handshake and after your request arrived, from the trace recorded so "
    "far. The records that carry this very response were encrypted after the page was written, so they "
    "cannot be in it — nor can the close_notify alerts that end the connection. Reload the page and you get "
    "a new connection: new randoms, new key shares, new secrets."
)

NOT_FOR_PRODUCTION = (
    "teachtls is a teaching implementation: it shows every secret on purpose (the key schedule below holds "
    "the keys of this very connection) and has not been reviewed for production use."
)


# =============================================================================
# The ClientHello, taken apart
# =============================================================================


@attrs.frozen(kw_only=True)
class Offer:
    """One code point in one of the ClientHello's lists."""

    code: int | None  # None: the trace holds a value that is not a number (should not happen)
    name: str  # "x25519", "GREASE", "mldsa65", "0x1234"
    grease: bool = False
    known: bool = True  # teachtls implements it; otherwise the server ignored it
    chosen: bool = False  # the server picked it (or, for an extension, answered it)
    about: str = ""  # a tooltip: what an unimplemented code point is


@attrs.frozen(kw_only=True)
class KeyShareOffer:
    """A KeyShareEntry of the ClientHello (RFC 8446 §4.2.8)."""

    group: Offer
    size: int  # bytes of key_exchange
    contents: str  # what those bytes are


@attrs.frozen(kw_only=True)
class ClientHelloSummary:
    size: int  # bytes of the whole message, header included
    cipher_suites: tuple[Offer, ...]
    supported_groups: tuple[Offer, ...]
    key_shares: tuple[KeyShareOffer, ...]
    signature_algorithms: tuple[Offer, ...]
    versions: tuple[Offer, ...]
    alpn: tuple[Offer, ...]
    extensions: tuple[Offer, ...]
    server_name: str


def _fields(message: trace.MessageEvent, pattern: str) -> list[FieldSpan]:
    """The message's leaf fields whose path (without the message name) matches `pattern` entirely."""
    compiled = re.compile(pattern)
    prefix = message.name + "."
    return [field for field in message.fields if compiled.fullmatch(field.path.removeprefix(prefix))]


def _extension_fields(message: trace.MessageEvent, extension: str, pattern: str) -> list[FieldSpan]:
    """Fields of the extension named `extension` (its first occurrence) whose path inside it matches `pattern`.

    Needed where two extensions share a field name: signature_algorithms and
    signature_algorithms_cert both hold `supported_signature_algorithms`."""
    for field in _fields(message, r"extensions\[\d+\]\.extension_type"):
        if field.value == extension:
            where = field.path.removesuffix("extension_type") + "extension_data."
            return [
                f for f in message.fields if f.path.startswith(where) and re.fullmatch(pattern, f.path[len(where) :])
            ]
    return []


def _number(value: str, registry: type[enum.IntEnum]) -> int | None:
    """A traced value back to its code point: "x25519" -> 0x001d, "0x5a5a" -> 0x5a5a."""
    if value.startswith("0x"):
        return int(value, 16)
    try:
        return int(registry[value])
    except KeyError:
        return int(value) if value.isdigit() else None


def _offer(value: str, kind: str, chosen: Iterable[str] = ()) -> Offer:
    """One traced value of registry `kind`, named and marked."""
    registry = REGISTRIES[kind]
    code = _number(value, registry)
    if code is None:
        return Offer(code=None, name=value, known=False)
    if is_grease(code):
        return Offer(code=code, name="GREASE", grease=True, about=GREASE_NOTE)
    try:
        name = registry(code).name
    except ValueError:
        name, about = FOREIGN_NAMES.get(kind, {}).get(code, (f"0x{code:04x}", "a code point teachtls does not know"))
        return Offer(code=code, name=name, known=False, about=f"{about}. Not implemented by teachtls: ignored.")
    return Offer(code=code, name=name, chosen=_same(name, chosen))


def _same(name: str, chosen: Iterable[str]) -> bool:
    """Whether `name` is one of `chosen`, however spelled ("TLS1_3" is "TLS 1.3")."""
    folded = re.sub(r"[\s_.]", "", name).lower()
    return any(re.sub(r"[\s_.]", "", other).lower() == folded for other in chosen if other)


def _text(hex_value: str) -> str:
    """Traced opaque bytes (hex) as text: an ALPN protocol, a host name."""
    try:
        return bytes.fromhex(hex_value).decode("ascii", "replace")
    except ValueError:
        return hex_value


def summarize_client_hello(
    message: trace.MessageEvent,
    negotiated: trace.ParametersNegotiated | None = None,
    answered_extensions: Sequence[str] = (),
) -> ClientHelloSummary:
    """The offers of a traced ClientHello, with what the server chose marked.

    `answered_extensions` names the extensions the server sent back (in
    ServerHello, EncryptedExtensions, ...): they are marked as chosen."""
    chosen = negotiated or trace.ParametersNegotiated(role="server", version="", cipher_suite="")
    extension_types = _fields(message, r"extensions\[\d+\]\.extension_type")
    key_shares = []
    groups = _fields(message, r"extensions\[\d+\]\.extension_data\.client_shares\[\d+\]\.group")
    for group_field in groups:
        exchange_path = group_field.path.removesuffix(".group") + ".key_exchange"
        size = sum(f.end - f.start for f in message.fields if f.path == exchange_path)
        group = _offer(group_field.value, "group", [chosen.group])
        if group.grease:
            contents = "any bytes: a GREASE share the server must ignore (RFC 8701 §3.1)"
        else:
            contents = KEY_SHARE_CONTENTS.get(group.code or 0, "")
        key_shares.append(KeyShareOffer(group=group, size=size, contents=contents))
    host_names = _extension_fields(message, "server_name", r"server_name_list\[\d+\]\.host_name")
    alpn = []
    for field in _extension_fields(message, "application_layer_protocol_negotiation", r"protocol_name_list\[\d+\]"):
        name = _text(field.value)
        # RFC 8701 §3.1: GREASE ALPN identifiers are two bytes, 0x?A?A
        grease = re.fullmatch(r"([0-9a-f])a\1a", field.value) is not None
        alpn.append(Offer(code=None, name="GREASE" if grease else name, grease=grease, chosen=name == chosen.alpn))
    return ClientHelloSummary(
        size=len(message.raw),
        cipher_suites=tuple(
            _offer(f.value, "cipher_suite", [chosen.cipher_suite]) for f in _fields(message, r"cipher_suites\[\d+\]")
        ),
        supported_groups=tuple(
            _offer(f.value, "group", [chosen.group])
            for f in _extension_fields(message, "supported_groups", r"named_group_list\[\d+\]")
        ),
        key_shares=tuple(key_shares),
        signature_algorithms=tuple(
            _offer(f.value, "signature_scheme", [chosen.signature_scheme])
            for f in _extension_fields(message, "signature_algorithms", r"supported_signature_algorithms\[\d+\]")
        ),
        versions=tuple(
            _offer(f.value, "version", [chosen.version])
            for f in _extension_fields(message, "supported_versions", r"versions\[\d+\]")
        ),
        alpn=tuple(alpn),
        extensions=tuple(_offer(f.value, "extension", answered_extensions) for f in extension_types),
        server_name=", ".join(_text(f.value) for f in host_names),
    )


def _answered_extensions(events: Sequence[trace.TraceEvent]) -> list[str]:
    """Extension types the server sent back in its handshake messages."""
    answered: list[str] = []
    for event in events:
        if isinstance(event, trace.MessageSent) and event.role == "server" and event.name != "NewSessionTicket":
            answered += [f.value for f in _fields(event, r".*extensions\[\d+\]\.extension_type")]
    return answered


# =============================================================================
# HTML
# =============================================================================

CSS = """
:root{--ink:#1a1a1a;--soft:#5b6168;--line:#d9dde3;--client:#0b5cad;--server:#b35900;--ok:#2e7d32;
--accent:#0b5cad;--mono:"DejaVu Sans Mono",Menlo,Consolas,monospace}
*{box-sizing:border-box}
body{margin:0;font:15px/1.55 "DejaVu Sans",Helvetica,Arial,sans-serif;color:var(--ink);background:#f4f5f7}
main,.hero>div{max-width:1280px;margin:0 auto;padding:0 28px 60px}
.hero{background:linear-gradient(120deg,#0b3d73,#0b5cad 60%,#1b7fbd);color:#fff;padding:30px 0 26px;margin-bottom:10px}
.hero>div{padding-bottom:0}
.hero .kicker{font-family:var(--mono);font-size:13px;opacity:.8;margin:0 0 4px}
.hero h1{font-size:32px;margin:0 0 8px}
.hero p{margin:0;max-width:860px;opacity:.95}
h2{font-size:21px;margin:36px 0 10px;border-bottom:2px solid var(--line);padding-bottom:4px}
h2 small{font-weight:400;color:var(--soft);font-size:14px;margin-left:8px}
code,.mono{font-family:var(--mono);font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:12px;margin:0}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:10px 16px;
border-top:4px solid var(--c,#90a4ae)}
.card dt{color:var(--soft);font-size:13px;text-transform:uppercase;letter-spacing:.05em}
.card dd{margin:2px 0 0;font-family:var(--mono);font-size:16px;font-weight:700;overflow-wrap:anywhere}
.card.key{--c:var(--accent)}
.card .sub{display:block;font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;font-size:12.5px;font-weight:400;
color:var(--soft);margin-top:2px}
.note{background:#e8f1fb;border-left:4px solid var(--accent);border-radius:4px;padding:8px 14px;margin:12px 0;
max-width:1000px}
.admonition{border-left:4px solid #e0a800;background:#fff8e1;padding:8px 14px;border-radius:4px;margin:12px 0;
max-width:1000px}
.request{color:var(--soft);font-size:13.5px;margin:10px 0 0}
.request code{color:var(--ink);overflow-wrap:anywhere}
.offers{display:grid;grid-template-columns:210px minmax(0,1fr);gap:0;background:#fff;border:1px solid var(--line);
border-radius:10px;margin:10px 0}
.offers dt,.offers dd{padding:9px 14px;border-top:1px solid #eceef1;margin:0}
.offers dt:first-of-type,.offers dd:first-of-type{border-top:0}
.offers dt{font-weight:700}.offers dt small{display:block;font-weight:400;color:var(--soft);font-size:12.5px}
ul.chips{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:5px}
.chip{font-family:var(--mono);font-size:12.5px;background:#eef1f5;border:1px solid #d5dbe2;border-radius:12px;
padding:1px 9px;white-space:nowrap}
.chip small{color:#8a9099;margin-left:5px;font-size:11px}
.chip.chosen{background:#e3f4e5;border-color:var(--ok);color:#1b5e20;font-weight:700}
.chip.chosen::before{content:"✓ "}
.chip.grease{background:repeating-linear-gradient(45deg,#f6f6f6,#f6f6f6 4px,#ececec 4px,#ececec 8px);
border-style:dashed;color:#777}
.chip.foreign{background:#fff;border-style:dotted;color:#6d5d4b;font-style:italic}
.legend{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;font-size:13px;color:var(--soft);margin:6px 0}
table.shares{border-collapse:collapse;font-size:13.5px;width:100%}
.shares th,.shares td{text-align:left;padding:3px 10px 3px 0;vertical-align:top}
.shares th{font-size:12px;color:var(--soft);font-weight:600}
.shares td.size{font-family:var(--mono);white-space:nowrap;text-align:right;padding-right:18px}
.shares tr.used td{font-weight:700}
.bar{display:inline-block;height:9px;background:var(--accent);border-radius:2px;vertical-align:0;margin-right:6px;
opacity:.6}
.shares tr.grease .bar{background:#aaa}
figure.diagram{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px;margin:10px 0;
overflow:auto;text-align:center}
figure.diagram svg{max-width:100%;height:auto}
figure.diagram a{cursor:pointer}
.problem{color:#c62828;font-weight:600}
ol.prf{background:#fff;border:1px solid var(--line);border-radius:10px;padding:10px 14px 10px 34px}
ol.prf li{margin:3px 0}
iframe.bytes{width:100%;height:85vh;border:1px solid var(--line);border-radius:10px;background:#fff}
footer{margin-top:36px;color:var(--soft);font-size:13px}
"""

# Links in the diagrams point at anchors of the annotated page ("#msg-3",
# "#rec-2"), which lives in the frame: scroll the frame there instead.
SCRIPT = """
document.addEventListener('click', function (e) {
  var link = e.target.closest('figure.diagram a');
  if (!link) return;
  var target = (link.getAttribute('href') || link.getAttribute('xlink:href') || '');
  var frame = document.getElementById('every-byte');
  if (target.charAt(0) !== '#' || !frame || !frame.contentDocument) return;
  var there = frame.contentDocument.getElementById(target.slice(1));
  if (!there) return;
  e.preventDefault();
  frame.scrollIntoView({behavior: 'smooth'});
  there.scrollIntoView({block: 'start'});
});
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _chip(offer: Offer, tag: str = "li") -> str:
    classes = ["chip"]
    if offer.grease:
        classes.append("grease")
    elif not offer.known:
        classes.append("foreign")
    if offer.chosen:
        classes.append("chosen")
    code = f"<small>0x{offer.code:04x}</small>" if offer.code is not None else ""
    tooltip = f' title="{_e(offer.about)}"' if offer.about else ""
    return f'<{tag} class="{" ".join(classes)}"{tooltip}>{_e(offer.name)}{code}</{tag}>'


def _chips(offers: Sequence[Offer]) -> str:
    if not offers:
        return '<span class="mono">(none)</span>'
    return '<ul class="chips">' + "".join(_chip(offer) for offer in offers) + "</ul>"


def _count(offers: Sequence[Offer]) -> str:
    grease = sum(offer.grease for offer in offers)
    return f"{len(offers)} offered" + (f", {grease} GREASE" if grease else "")


def _key_share_table(shares: Sequence[KeyShareOffer], server_share: tuple[str, int] | None) -> str:
    largest = max((share.size for share in shares), default=1) or 1
    rows = []
    for share in shares:
        used = server_share is not None and share.group.name == server_share[0]
        classes = " ".join(c for c in ("used" if used else "", "grease" if share.group.grease else "") if c)
        answer = f" — used: the server answered with {server_share[1]} bytes" if used and server_share else ""
        width = max(2, round(220 * share.size / largest))
        rows.append(
            f'<tr class="{classes}"><td>{_chip(share.group, "span")}</td>'
            f'<td class="size"><span class="bar" style="width:{width}px"></span>{share.size} B</td>'
            f"<td>{_e(share.contents)}{_e(answer)}</td></tr>"
        )
    head = "<tr><th>group</th><th>key_exchange</th><th>what the bytes are</th></tr>"
    return f'<table class="shares">{head}{"".join(rows)}</table>'


def _server_share(events: Sequence[trace.TraceEvent]) -> tuple[str, int] | None:
    """(group, bytes) of the key share in the server's ServerHello, if it sent one."""
    for event in events:
        if isinstance(event, trace.MessageSent) and event.role == "server" and event.name == "ServerHello":
            groups = _fields(event, r".*\.server_share\.group")
            exchanges = _fields(event, r".*\.server_share\.key_exchange")
            if groups and exchanges:
                return groups[0].value, exchanges[0].end - exchanges[0].start
    return None


def _client_hello_section(events: Sequence[trace.TraceEvent], negotiated: trace.ParametersNegotiated | None) -> str:
    hellos = [e for e in events if isinstance(e, trace.MessageReceived) and e.name == "ClientHello"]
    if not hellos:
        return '<p class="problem">The trace holds no ClientHello.</p>'
    summary = summarize_client_hello(hellos[0], negotiated, _answered_extensions(events))
    shares = _key_share_table(summary.key_shares, _server_share(events) if len(hellos) == 1 else None)
    if len(hellos) > 1:
        second = summarize_client_hello(hellos[-1], negotiated)
        shares += (
            '<p class="note">teachtls preferred a group your browser offered but sent no key share for, so it '
            "answered with a HelloRetryRequest (RFC 8446 §4.1.4). The second ClientHello carried: "
            + ", ".join(f"<b>{_e(s.group.name)}</b> ({s.size} B)" for s in second.key_shares)
            + ".</p>"
        )
    rows = [
        ("Cipher suites", _count(summary.cipher_suites), _chips(summary.cipher_suites)),
        ("Supported groups", _count(summary.supported_groups), _chips(summary.supported_groups)),
        ("Key shares", f"{len(summary.key_shares)} sent", shares),
        ("Signature algorithms", _count(summary.signature_algorithms), _chips(summary.signature_algorithms)),
        ("Versions", "supported_versions", _chips(summary.versions)),
        ("ALPN", "application protocols", _chips(summary.alpn)),
        ("Server name", "server_name (SNI)", f"<code>{_e(summary.server_name or '(none)')}</code>"),
        ("Extensions", f"{_count(summary.extensions)}, in the order sent", _chips(summary.extensions)),
    ]
    legend = (
        '<div class="legend"><span><span class="chip chosen">chosen</span> what teachtls picked or answered</span>'
        '<span><span class="chip grease">GREASE</span> a reserved value sent to keep servers honest</span>'
        '<span><span class="chip foreign">not in teachtls</span> unknown to teachtls, so ignored '
        "(hover for what it is)</span></div>"
    )
    body = "".join(f"<dt>{_e(name)}<small>{_e(note)}</small></dt><dd>{content}</dd>" for name, note, content in rows)
    return (
        f"<h2>What your browser offered <small>its ClientHello, {summary.size} bytes</small></h2>"
        f'{legend}<dl class="offers" id="client-hello">{body}</dl>'
        f'<p class="note">{_e(GREASE_NOTE)} Reload and compare: Chromium also shuffles the order of its '
        "extensions on every connection, for the same reason (only pre_shared_key must come last, "
        "RFC 8446 §4.2.11).</p>"
    )


def _negotiated_section(negotiated: trace.ParametersNegotiated | None, request_line: str, user_agent: str) -> str:
    if negotiated is None:
        return '<p class="problem">The handshake did not complete: nothing was negotiated.</p>'
    hybrid = negotiated.group == NamedGroup.X25519MLKEM768.name
    cards = [
        ("version", "Protocol version", negotiated.version, ""),
        ("suite", "Cipher suite", negotiated.cipher_suite, "AEAD and hash of the key schedule"),
        (
            "group",
            "Key exchange group",
            negotiated.group or "(none)",
            "hybrid: post-quantum ML-KEM-768 + X25519" if hybrid else "",
        ),
        ("signature", "Signature scheme", negotiated.signature_scheme or "(none)", "the server's CertificateVerify"),
        ("alpn", "ALPN protocol", negotiated.alpn or "(none)", "what HTTP you are speaking"),
        ("server-name", "Server name (SNI)", negotiated.server_name or "(none)", ""),
        ("hello-retry", "HelloRetryRequest", "yes" if negotiated.hello_retry else "no", "an extra round trip?"),
    ]
    parts = []
    for key, label, value, sub in cards:
        classes = "card key" if key in ("version", "suite", "group", "signature") else "card"
        extra = f'<span class="sub">{_e(sub)}</span>' if sub else ""
        parts.append(
            f'<div class="{classes}"><dt>{_e(label)}</dt><dd id="negotiated-{key}">{_e(value)}{extra}</dd></div>'
        )
    request = f"your request: <code>{_e(request_line)}</code>" if request_line else ""
    if user_agent:
        request += f" · your browser calls itself <code>{_e(user_agent)}</code>"
    return (
        '<h2>What your browser and teachtls agreed on</h2><dl class="cards" id="negotiated">'
        + "".join(parts)
        + "</dl>"
        + (f'<p class="note">{_e(HYBRID_NOTE)}</p>' if hybrid else "")
        + (f'<p class="request">{request}</p>' if request else "")
    )


def _inline_svg(svg: str, prefix: str) -> str:
    """Graphviz SVG for inlining: no XML namespaces (HTML5 needs none), no comments,
    and element ids prefixed so two drawings on one page do not share ids ("node1")."""
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.DOTALL)
    return re.sub(r'(\s)id="', rf'\1id="{prefix}', svg).strip()


def _sequence_section(events: Sequence[trace.TraceEvent]) -> str:
    from teachtls.render.sequence import sequence_svg  # Graphviz: imported when a page is drawn

    try:
        svg = _inline_svg(sequence_svg(events, detail="messages"), "seq-")
    except (RuntimeError, OSError) as error:  # the Graphviz `dot` program is missing
        figure = f'<p class="problem">⚠ The sequence diagram could not be drawn ({_e(str(error))}).</p>'
    else:
        figure = f'<figure class="diagram" id="sequence-diagram">{svg}</figure>'
    return "<h2>The conversation <small>as the server saw it; click a message for its bytes</small></h2>" + figure


def _keyschedule_section(events: Sequence[trace.TraceEvent], negotiated: trace.ParametersNegotiated | None) -> str:
    from teachtls.render.keyschedule import keyschedule_svg

    if negotiated is not None and negotiated.version != "TLS 1.3":
        # TLS 1.2 has no ladder: one PRF call makes the master secret, one more the key block.
        steps = [e for e in events if isinstance(e, trace.SecretDerived) and e.role == "server"]
        items = "".join(
            f"<li><code>{_e(s.name)}</code> = {_e(s.operation)}({_e(s.parent)}, "
            f"&quot;{_e(s.label)}&quot;, {_e(', '.join(s.inputs))}) <small>{_e(s.rfc)}</small></li>"
            for s in steps
        )
        heading = f"<h2>The server's secrets <small>{_e(negotiated.version)}: the PRF</small></h2>"
        return f'{heading}<ol class="prf">{items}</ol>'
    try:
        svg = _inline_svg(keyschedule_svg(events, role="server"), "ks-")
    except (RuntimeError, OSError) as error:
        figure = f'<p class="problem">⚠ The key schedule could not be drawn ({_e(str(error))}).</p>'
    else:
        figure = f'<figure class="diagram" id="key-schedule">{svg}</figure>'
    return (
        "<h2>The server's key schedule <small>RFC 8446 §7.1, with this connection's values "
        "(hover a secret for all of it)</small></h2>" + figure
    )


def _bytes_section(events: Sequence[trace.TraceEvent]) -> str:
    from teachtls.render.pages import render_html

    annotated = render_html(events, title="Every byte of your handshake")
    # The annotated page opens with the sequence diagram, which this page has
    # shown already: leave it out of the frame (if the page's layout ever
    # changes, the pattern no longer matches and the diagram simply stays).
    annotated = re.sub(
        r'<h2>The conversation at a glance</h2>\s*<figure class="diagram">.*?</figure>',
        "",
        annotated,
        count=1,
        flags=re.DOTALL,
    )
    return (
        "<h2>Every byte, explained <small>the annotated page, in its own frame; click a field to highlight it"
        "</small></h2>"
        f'<iframe class="bytes" id="every-byte" title="every byte of this connection" srcdoc="{_e(annotated)}">'
        "</iframe>"
    )


def _first_records(events: Sequence[trace.TraceEvent], limit: int) -> tuple[list[trace.TraceEvent], int]:
    """The events up to the `limit`-th record, and how many records come after it."""
    records = [i for i, event in enumerate(events) if isinstance(event, trace.RecordEvent)]
    if len(records) <= limit:
        return list(events), 0
    return list(events[: records[limit - 1] + 1]), len(records) - limit


def render_explain_page(events: TraceLike, *, request_line: str = "", user_agent: str = "") -> str:
    """The `serve --explain` page for one connection's server-side trace (so far).

    `request_line` and `user_agent` come from the HTTP request and are shown
    (escaped) as they are; the caller bounds their length. The diagrams and
    the annotated bytes show the first `MAX_RECORDS_DRAWN` records."""
    events = load(events)
    negotiated = next((e for e in events if isinstance(e, trace.ParametersNegotiated)), None)
    drawn, left_out = _first_records(events, MAX_RECORDS_DRAWN)
    cut = (
        f'<p class="problem">⚠ This connection took {MAX_RECORDS_DRAWN + left_out} records; the diagrams and '
        f"the bytes below show the first {MAX_RECORDS_DRAWN}.</p>"
        if left_out
        else ""
    )
    hero = (
        '<header class="hero"><div><p class="kicker">teachtls serve --explain</p>'
        f"<h1>{_e(TITLE)}</h1>"
        "<p>This page was written a moment ago by teachtls, a teaching implementation of TLS in Python, from "
        "the trace of the very connection that brought it to you: what your browser offered, what the server "
        "chose, the secrets both sides derived, and every byte on the wire.</p></div></header>"
    )
    body = [
        _negotiated_section(negotiated, request_line, user_agent),
        f'<div class="admonition"><b>The one thing this page cannot show: itself.</b> {_e(SELF_NOTE)}</div>',
        f'<div class="admonition"><b>Not for production.</b> {_e(NOT_FOR_PRODUCTION)}</div>',
        _client_hello_section(events, negotiated),
        cut,
        _sequence_section(drawn),
        _keyschedule_section(events, negotiated),
        _bytes_section(drawn),
        f"<footer>Generated by teachtls (teachtls.render.explain_page) from {len(events)} trace events of this "
        "connection, recorded by the server.</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(TITLE)} — teachtls</title>\n<style>{CSS}</style>\n</head>\n<body>\n{hero}\n<main>\n"
        + "\n".join(body)
        + f"\n</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


__all__ = ["ClientHelloSummary", "KeyShareOffer", "Offer", "render_explain_page", "summarize_client_hello"]
