"""TLS 1.2 beside TLS 1.3: what became of each message.

Most of TLS 1.3 is TLS 1.2 rearranged, and the rearrangement is the lesson.
This module draws a TLS 1.2 handshake and a TLS 1.3 handshake side by side,
two sequence diagrams in one figure, and marks for every TLS 1.2 message
what it became:

* the ClientHello and ServerHello stay, but now carry the key shares
  (RFC 8446 §4.2.8) -- the key exchange moved into the hellos;
* ServerKeyExchange splits: its ECDHE share goes to the ServerHello, its
  signature becomes CertificateVerify, now over the whole transcript (§4.4.3);
* ClientKeyExchange moves into the ClientHello, a round trip earlier;
* ServerHelloDone and ChangeCipherSpec are gone (the server's Finished ends
  its flight; keys change at fixed points, §5 and §D.4);
* Certificate stays, but is encrypted; the server's Finished moves up into
  its first flight; NewSessionTicket moves after the handshake (§4.6.1).

Two consequences are drawn as well: the round trips before the client may
send data (two for a full TLS 1.2 handshake, RFC 5246 §7.3; one for TLS 1.3,
RFC 8446 §2), bracketed beside each client; and what travels encrypted,
shown by the line styles every teachtls diagram uses (`teachtls.render.style`).

The correspondences live in ONE table, `CORRESPONDENCES`: a list of
`Correspondence(sender, tls12_message, tls13_message, becomes, explanation,
rfc)`. The figure draws its boxes and arrows from it, and the pages
(`compare_html`, `compare_markdown`) print it as their table, so the two
cannot disagree. `KEY_SCHEDULE_DIFFERENCES` does the same for the key
schedules (the TLS 1.2 PRF and key block against the TLS 1.3 HKDF ladder).

How the figure is laid out. Like `teachtls.render.sequence`, it is a grid of
Graphviz ranks, but with both diagrams in the same rows::

    RTT | client  TLS 1.2  server | what it became | client  TLS 1.3  server | RTT

The two message lists are *aligned* the way `diff` aligns two files: a
TLS 1.2 message and the TLS 1.3 message it became share a row when their
order allows (the longest chain of correspondences that keeps both orders,
`align`), so most correspondence arrows are horizontal. The rest -- the
client's key share travelling up into the ClientHello, the server's Finished
moving up into its first flight -- slope, and the slope is the point. A
message that is gone gets a grey "removed" box and no arrow.

The figure stops at the client's first application data: the handshake is
what differs. Renderers only read: this module sees two traces, never a
connection.
"""

from __future__ import annotations

import html
import itertools
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs
import graphviz

from teachtls.render import common, style
from teachtls.render.pages import NOT_FOR_PRODUCTION
from teachtls.render.sequence import POINT, UNCLIPPED, Arrow, rows
from teachtls.trace import events as trace

# --- the correspondence table: the one place that says what became of what ---------------


@attrs.frozen(kw_only=True)
class Correspondence:
    """What one TLS 1.2 message became in TLS 1.3.

    `tls12_message` and `tls13_message` are spelled as the sequence diagrams
    name them ("ClientHello", "ChangeCipherSpec", "Application Data");
    `tls13_message` is None when the message is gone. `also` names further
    TLS 1.3 messages that took over part of it (ServerKeyExchange's signature
    became CertificateVerify). `becomes` is the short text of the figure's
    box; `explanation` the longer why of the page. `optional` marks messages
    that only some handshakes send (client authentication, OCSP stapling)."""

    sender: str  # "client" or "server", in both versions
    tls12_message: str
    tls13_message: str | None
    becomes: str
    explanation: str
    rfc: str
    also: tuple[str, ...] = ()
    optional: bool = False

    @property
    def kind(self) -> str:
        """ "kept" (the same message, changed), "moved" (into another one) or "removed"."""
        if self.tls13_message is None:
            return "removed"
        return "kept" if self.tls13_message == self.tls12_message else "moved"

    @property
    def targets(self) -> tuple[str, ...]:
        """Every TLS 1.3 message that took over part of this one, the main one first."""
        main = (self.tls13_message,) if self.tls13_message is not None else ()
        return main + self.also

    @property
    def anchor(self) -> str:
        """The id of this correspondence's row in the pages ("row_server_ServerKeyExchange")."""
        return f"row_{self.sender}_{_slug(self.tls12_message)}"


_CHANGE_CIPHER_SPEC_WHY = (
    "In TLS 1.2 a ChangeCipherSpec record -- not a handshake message -- announces that the sender's "
    "next records use the new keys. TLS 1.3 switches keys at points fixed by the protocol, so it needs "
    "no announcement. In middlebox compatibility mode each side may still send one dummy "
    "ChangeCipherSpec, which the peer ignores: it only makes the TLS 1.3 handshake look like a TLS 1.2 "
    "resumption to old middleboxes."
)
_APPLICATION_DATA_WHY = (
    "TLS 1.2 protects data with keys cut from the key_block (the PRF over the master secret, RFC 5246 "
    "§6.3). TLS 1.3 uses keys from the application traffic secrets, which KeyUpdate can replace; every "
    "protected record shows the outer type application_data, and the real content type travels "
    "encrypted inside, optionally padded."
)

CORRESPONDENCES: tuple[Correspondence, ...] = (
    Correspondence(
        sender="client",
        tls12_message="ClientHello",
        tls13_message="ClientHello",
        becomes="+ supported_versions and key_share: the client guesses a group and sends its share at once",
        explanation=(
            "The TLS 1.3 ClientHello still says legacy_version 0x0303 (TLS 1.2), for the sake of old "
            "middleboxes; the real offer is in supported_versions. It already carries the client's (EC)DHE "
            "key share for the group it expects the server to choose -- that is the round trip saved. A "
            "wrong guess costs a HelloRetryRequest."
        ),
        rfc="RFC 8446 §4.1.2, §4.2.1, §4.2.8",
    ),
    Correspondence(
        sender="server",
        tls12_message="ServerHello",
        tls13_message="ServerHello",
        also=("EncryptedExtensions",),
        becomes="+ key_share: the key exchange moved here; other extensions → EncryptedExtensions",
        explanation=(
            "A TLS 1.2 ServerHello picks the version and the cipher suite; the key exchange follows in "
            "ServerKeyExchange. The TLS 1.3 ServerHello carries the server's key share itself, so both "
            "sides derive handshake traffic keys right after it and everything the server says next is "
            "encrypted. Only what key derivation needs stays in the clear (key_share, supported_versions, "
            "pre_shared_key); the other extensions move into EncryptedExtensions."
        ),
        rfc="RFC 8446 §4.1.3, §4.3.1",
    ),
    Correspondence(
        sender="server",
        tls12_message="Certificate",
        tls13_message="Certificate",
        becomes="now encrypted, under the handshake traffic keys",
        explanation=(
            "A TLS 1.2 Certificate crosses the network in plaintext: an eavesdropper sees the server's "
            "whole chain, and so which site the client visits. In TLS 1.3 it follows the ServerHello and is "
            "encrypted; each certificate entry also gains its own extensions (an OCSP response, SCTs)."
        ),
        rfc="RFC 8446 §4.4.2; RFC 5246 §7.4.2",
    ),
    Correspondence(
        sender="server",
        tls12_message="CertificateStatus",
        tls13_message="Certificate",
        becomes="the status_request extension of the leaf's certificate entry, encrypted",
        explanation=(
            "A stapled OCSP response was a handshake message of its own in TLS 1.2. TLS 1.3 puts it in the "
            "status_request extension of the leaf's CertificateEntry, inside the encrypted Certificate."
        ),
        rfc="RFC 8446 §4.4.2.1; RFC 6066 §8",
        optional=True,
    ),
    Correspondence(
        sender="server",
        tls12_message="ServerKeyExchange",
        tls13_message="ServerHello",
        also=("CertificateVerify",),
        becomes="split: the ECDHE share → ServerHello's key_share; the signature → CertificateVerify",
        explanation=(
            "In TLS 1.2 the server signs its ECDHE public key and the two randoms -- nothing else of the "
            "handshake (and with RSA key transport there is no ServerKeyExchange at all, and no forward "
            "secrecy). In TLS 1.3 the share moves into the ServerHello and the signature into "
            "CertificateVerify, which signs the hash of the whole transcript so far, binding every "
            "negotiated parameter. RSA must sign with RSA-PSS there; PKCS#1 v1.5 is no longer allowed in "
            "handshake signatures."
        ),
        rfc="RFC 8446 §4.4.3, §4.2.3; RFC 5246 §7.4.3",
    ),
    Correspondence(
        sender="server",
        tls12_message="CertificateRequest",
        tls13_message="CertificateRequest",
        becomes="encrypted; its parameters become extensions",
        explanation=(
            "The TLS 1.3 CertificateRequest is encrypted, carries a certificate_request_context and states "
            "its wishes as extensions (signature_algorithms, certificate_authorities). It may also come "
            "after the handshake (post-handshake authentication)."
        ),
        rfc="RFC 8446 §4.3.2, §4.6.2",
        optional=True,
    ),
    Correspondence(
        sender="server",
        tls12_message="ServerHelloDone",
        tls13_message=None,
        becomes="the server's Finished ends its flight instead",
        explanation=(
            "The server's first TLS 1.2 flight has no Finished, so an empty ServerHelloDone tells the "
            "client that it is its turn. In TLS 1.3 the server's first flight already ends with its Finished."
        ),
        rfc="RFC 5246 §7.4.5; RFC 8446 §4.4.4",
    ),
    Correspondence(
        sender="client",
        tls12_message="Certificate",
        tls13_message="Certificate",
        becomes="encrypted, under the handshake traffic keys",
        explanation=(
            "The client's certificate, sent in plaintext in TLS 1.2, is encrypted in TLS 1.3: an "
            "eavesdropper no longer learns who the client is."
        ),
        rfc="RFC 8446 §4.4.2",
        optional=True,
    ),
    Correspondence(
        sender="client",
        tls12_message="ClientKeyExchange",
        tls13_message="ClientHello",
        becomes="moved a round trip earlier: the client's share rides in ClientHello's key_share",
        explanation=(
            "TLS 1.2 needs its second round trip because the client first learns the server's parameters "
            "and only then sends its share (or the RSA-encrypted pre-master secret). TLS 1.3 sends the "
            "share in the first message. Static RSA key transport is gone altogether: every TLS 1.3 key "
            "exchange is ephemeral, hence forward secret."
        ),
        rfc="RFC 8446 §4.2.8, §1.2; RFC 5246 §7.4.7",
    ),
    Correspondence(
        sender="client",
        tls12_message="CertificateVerify",
        tls13_message="CertificateVerify",
        becomes="encrypted; signs the transcript hash with a context string",
        explanation=(
            "The TLS 1.2 client signs all handshake messages so far; TLS 1.3 signs 64 spaces, the context "
            '"TLS 1.3, client CertificateVerify" and the transcript hash, so a signature from one '
            "context can never be replayed in another."
        ),
        rfc="RFC 8446 §4.4.3; RFC 5246 §7.4.8",
        optional=True,
    ),
    Correspondence(
        sender="client",
        tls12_message="ChangeCipherSpec",
        tls13_message=None,
        also=("ChangeCipherSpec",),
        becomes="keys change at fixed points; at most a dummy for middleboxes",
        explanation=_CHANGE_CIPHER_SPEC_WHY,
        rfc="RFC 8446 §5, §D.4; RFC 5246 §7.1",
    ),
    Correspondence(
        sender="client",
        tls12_message="Finished",
        tls13_message="Finished",
        becomes="an HMAC over the transcript, under the handshake traffic keys",
        explanation=(
            'TLS 1.2: verify_data = PRF(master_secret, "client finished", Hash(handshake messages)), 12 '
            "bytes, the first message under the new keys. TLS 1.3: HMAC(finished_key, Transcript-Hash), as "
            "long as the hash, with finished_key derived from the handshake traffic secret. Same purpose: "
            "proof that both sides saw the same handshake."
        ),
        rfc="RFC 8446 §4.4.4; RFC 5246 §7.4.9",
    ),
    Correspondence(
        sender="server",
        tls12_message="NewSessionTicket",
        tls13_message="NewSessionTicket",
        becomes="after the handshake, encrypted; names a PSK for resumption",
        explanation=(
            "A TLS 1.2 ticket (RFC 5077) comes before the server's ChangeCipherSpec, in the clear, and "
            "seals the master secret itself. TLS 1.3 tickets come after the handshake, under the "
            "application traffic keys, any number at any time; each names a PSK derived from the "
            "resumption_master_secret and its ticket_nonce, and may allow 0-RTT data."
        ),
        rfc="RFC 8446 §4.6.1; RFC 5077 §3.3",
    ),
    Correspondence(
        sender="server",
        tls12_message="ChangeCipherSpec",
        tls13_message=None,
        also=("ChangeCipherSpec",),
        becomes="keys change at fixed points; at most a dummy for middleboxes",
        explanation=_CHANGE_CIPHER_SPEC_WHY,
        rfc="RFC 8446 §5, §D.4; RFC 5246 §7.1",
    ),
    Correspondence(
        sender="server",
        tls12_message="Finished",
        tls13_message="Finished",
        becomes="moved up: it ends the server's first flight",
        explanation=(
            "In a full TLS 1.2 handshake the server's Finished comes last, in the second round trip. In "
            "TLS 1.3 it ends the server's first flight, right after CertificateVerify, so the client can "
            "send application data together with its own Finished: one round trip."
        ),
        rfc="RFC 8446 §2, §4.4.4; RFC 5246 §7.3",
    ),
    Correspondence(
        sender="client",
        tls12_message="Application Data",
        tls13_message="Application Data",
        becomes="keys from the application traffic secret; the content type hidden",
        explanation=_APPLICATION_DATA_WHY,
        rfc="RFC 8446 §5.2, §7.3; RFC 5246 §6.3",
    ),
    Correspondence(
        sender="server",
        tls12_message="Application Data",
        tls13_message="Application Data",
        becomes="keys from the application traffic secret; the content type hidden",
        explanation=_APPLICATION_DATA_WHY,
        rfc="RFC 8446 §5.2, §7.3; RFC 5246 §6.3",
    ),
    Correspondence(
        sender="server",
        tls12_message="HelloRequest",
        tls13_message="KeyUpdate",
        becomes="renegotiation is gone: KeyUpdate and post-handshake authentication replace it",
        explanation=(
            "TLS 1.2 renegotiates -- a whole new handshake inside the connection -- to refresh keys or to "
            "ask for a client certificate, and needed RFC 5746 to make that safe. TLS 1.3 removed "
            "renegotiation: KeyUpdate refreshes the traffic keys, a post-handshake CertificateRequest asks "
            "for a certificate."
        ),
        rfc="RFC 8446 §4.6.2, §4.6.3; RFC 5246 §7.4.1.1",
        optional=True,
    ),
)
"""Every TLS 1.2 message and what it became, in TLS 1.2 handshake order."""


@attrs.frozen(kw_only=True)
class KeyScheduleDifference:
    """One aspect of the key schedule, in each version."""

    aspect: str
    tls12: str
    tls13: str
    rfc: str


KEY_SCHEDULE_DIFFERENCES: tuple[KeyScheduleDifference, ...] = (
    KeyScheduleDifference(
        aspect="the function",
        tls12="the PRF: P_SHA256, a chain of HMACs stretched to any length",
        tls13="HKDF: HKDF-Extract concentrates input keying material, HKDF-Expand-Label stretches it",
        rfc="RFC 5246 §5; RFC 8446 §7.1, RFC 5869",
    ),
    KeyScheduleDifference(
        aspect="the master secret",
        tls12=(
            'master_secret = PRF(pre_master_secret, "extended master secret", session_hash)[0..47] '
            '(or "master secret" and the two randoms, without RFC 7627)'
        ),
        tls13=(
            "a ladder: early_secret (PSK or zeros) → handshake_secret ((EC)DHE mixed in) → master_secret; "
            'each rung HKDF-Extract(Derive-Secret(previous, "derived", ""), new input)'
        ),
        rfc="RFC 5246 §8.1, RFC 7627 §4; RFC 8446 §7.1",
    ),
    KeyScheduleDifference(
        aspect="traffic keys",
        tls12=(
            'one key_block = PRF(master_secret, "key expansion", server_random + client_random), cut into '
            "client/server write keys and IVs; used from the first Finished to the end"
        ),
        tls13=(
            "a secret per phase and direction, each bound to the transcript: handshake traffic secrets "
            "(protect the rest of the handshake), application traffic secrets (data); key and iv = "
            'HKDF-Expand-Label(secret, "key" / "iv")'
        ),
        rfc="RFC 5246 §6.3; RFC 8446 §7.1, §7.3",
    ),
    KeyScheduleDifference(
        aspect="what protects the handshake",
        tls12="nothing until ChangeCipherSpec: only the Finished messages are encrypted",
        tls13="everything after the ServerHello, under the handshake traffic keys",
        rfc="RFC 5246 §7.3; RFC 8446 §2",
    ),
    KeyScheduleDifference(
        aspect="Finished",
        tls12='PRF(master_secret, "client finished" / "server finished", Hash(handshake messages))[0..11]',
        tls13='HMAC(finished_key, Transcript-Hash), finished_key = HKDF-Expand-Label(traffic secret, "finished")',
        rfc="RFC 5246 §7.4.9; RFC 8446 §4.4.4",
    ),
    KeyScheduleDifference(
        aspect="resumption",
        tls12="the same master_secret again, found by session ID or sealed in a ticket",
        tls13=(
            'a fresh PSK per ticket: HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce), '
            "normally combined with a new (EC)DHE for forward secrecy"
        ),
        rfc="RFC 5246 §7.3, RFC 5077; RFC 8446 §4.6.1, §2.2",
    ),
    KeyScheduleDifference(
        aspect="updating keys",
        tls12="only by renegotiating: a whole new handshake",
        tls13='KeyUpdate: application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd")',
        rfc="RFC 5746; RFC 8446 §4.6.3, §7.2",
    ),
)
"""The two key schedules side by side, aspect by aspect."""


def correspondence_of(sender: str, tls12_message: str) -> Correspondence | None:
    """The entry of `CORRESPONDENCES` for a TLS 1.2 message, if there is one."""
    for entry in CORRESPONDENCES:
        if entry.sender == sender and entry.tls12_message == tls12_message:
            return entry
    return None


# --- the two handshakes ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Handshake:
    """One side of the comparison: a trace, reduced to what the figure draws."""

    version: str  # "TLS 1.2" or "TLS 1.3"
    events: tuple[trace.TraceEvent, ...]
    arrows: tuple[Arrow, ...]  # up to and including the client's first application data
    negotiated: trace.ParametersNegotiated | None
    round_trips: tuple[tuple[int, int], ...]  # (first, last) arrow index of each round trip

    @property
    def prefix(self) -> str:
        """ "tls12" or "tls13": the start of every id this side gets in the figure."""
        return "tls" + self.version.removeprefix("TLS ").replace(".", "")

    def arrow_id(self, index: int) -> str:
        """A stable id for the figure's arrow label: "tls12_server_Finished" (+ "_2", "_3" on repeats).

        Underscores, not hyphens: Graphviz writes a hyphen in an SVG id as "&#45;"."""
        arrow = self.arrows[index]
        earlier = sum(1 for other in self.arrows[:index] if other.sender == arrow.sender and other.title == arrow.title)
        suffix = f"_{earlier + 1}" if earlier else ""
        return f"{self.prefix}_{arrow.sender}_{_slug(arrow.title)}{suffix}"

    def first(self, sender: str, title: str) -> int | None:
        """The index of the first arrow `sender` sent titled `title`."""
        return next((i for i, arrow in enumerate(self.arrows) if arrow.sender == sender and arrow.title == title), None)

    @property
    def messages(self) -> list[Arrow]:
        """The handshake messages among the arrows (not records: no ChangeCipherSpec, no data)."""
        return [arrow for arrow in self.arrows if arrow.href.startswith("#msg-")]

    @property
    def plaintext_messages(self) -> list[Arrow]:
        return [arrow for arrow in self.messages if arrow.line is style.PROTECTIONS["plaintext"]]


def _slug(text: str) -> str:
    """ "Application Data" -> "Application_Data": safe in an id."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def _version_of(events: Sequence[trace.TraceEvent]) -> str | None:
    negotiated = next((e for e in events if isinstance(e, trace.ParametersNegotiated)), None)
    return negotiated.version if negotiated is not None else None


def handshake(events: common.TraceLike, version: str) -> Handshake:
    """Read one trace for the comparison; `version` is "TLS 1.2" or "TLS 1.3".

    Raises `ValueError` when the trace negotiated the other version."""
    loaded = common.load(events)
    found = _version_of(loaded)
    if found is not None and found != version:
        raise ValueError(f"the {version} side of the comparison is a {found} trace")
    arrows: list[Arrow] = []
    for row in rows(loaded, "messages"):
        if isinstance(row, Arrow) and not row.title.startswith(("Alert", f"{style.FAILURE_MARK} Alert")):
            arrows.append(row)
            if row.sender == "client" and row.title == "Application Data":
                break  # the handshake is over and data flows: the rest is alike
    negotiated = next((e for e in loaded if isinstance(e, trace.ParametersNegotiated)), None)
    return Handshake(
        version=version,
        events=tuple(loaded),
        arrows=tuple(arrows),
        negotiated=negotiated,
        round_trips=round_trips(arrows),
    )


def round_trips(arrows: Sequence[Arrow]) -> tuple[tuple[int, int], ...]:
    """The round trips before the client may send data, as (first, last) arrow indexes.

    A round trip is a client flight and the server flight that answers it;
    they are counted until the server's Finished, after which the client has
    everything it needs (RFC 5246 §7.3, RFC 8446 §2)."""
    flights: list[tuple[str, int, int]] = []  # (sender, first, last)
    for index, arrow in enumerate(arrows):
        if flights and flights[-1][0] == arrow.sender:
            flights[-1] = (arrow.sender, flights[-1][1], index)
        else:
            flights.append((arrow.sender, index, index))
    server_finished = next(
        (i for i, a in enumerate(arrows) if a.sender == "server" and a.title == "Finished"), len(arrows)
    )
    found: list[tuple[int, int]] = []
    for number, (sender, first, last) in enumerate(flights):
        if sender != "client" or first > server_finished:
            continue
        answer = flights[number + 1] if number + 1 < len(flights) else None
        found.append((first, answer[2] if answer is not None else last))
    return tuple(found)


# --- aligning the two message lists ------------------------------------------------------

# How much a TLS 1.2 message and a TLS 1.3 message sharing a row is worth:
# most for the message it mainly became, less for one that took part of it.
MAIN_TARGET, PART_TARGET = 3, 2


def _weight(tls12: Arrow, tls13: Arrow) -> int:
    entry = correspondence_of(tls12.sender, tls12.title)
    if entry is None or tls13.sender != tls12.sender:
        return 0
    if tls13.title == entry.tls13_message:
        return MAIN_TARGET
    return PART_TARGET if tls13.title in entry.also else 0


def align(tls12: Sequence[Arrow], tls13: Sequence[Arrow]) -> list[tuple[int | None, int | None]]:
    """Rows of (TLS 1.2 arrow index, TLS 1.3 arrow index), either None.

    The heaviest chain of corresponding pairs that keeps both orders (a
    weighted longest common subsequence) shares rows; between them, the
    TLS 1.3 arrows come first, so each TLS 1.3 flight stays together."""
    n, m = len(tls12), len(tls13)
    best = [[0] * (m + 1) for _ in range(n + 1)]  # best[i][j]: the suffixes from i and j
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            weight = _weight(tls12[i], tls13[j])
            best[i][j] = max(best[i + 1][j], best[i][j + 1], weight + best[i + 1][j + 1] if weight else 0)
    lines: list[tuple[int | None, int | None]] = []
    i = j = 0
    while i < n or j < m:
        weight = _weight(tls12[i], tls13[j]) if i < n and j < m else 0
        if weight and best[i][j] == weight + best[i + 1][j + 1]:
            lines.append((i, j))
            i, j = i + 1, j + 1
        elif j < m and (i == n or best[i][j] == best[i][j + 1]):
            lines.append((None, j))
            j += 1
        else:
            lines.append((i, None))
            i += 1
    return lines


# --- the figure ----------------------------------------------------------------------------

KEPT = "#51677d"  # a message that stayed (changed): slate arrow, blue-grey box
MOVED = "#b4518f"  # content that moved into another message (Okabe-Ito reddish purple, darkened)
REMOVED = "#9e9e9e"
ROUND_TRIP = "#e69f00"  # Okabe-Ito orange
BOX_FILL = {"kept": "#edf2f7", "moved": "#f9eaf3", "removed": "#f4f4f4"}
BOX_BORDER = {"kept": "#8ea3b8", "moved": MOVED, "removed": "#bdbdbd"}
EDGE_COLOUR = {"kept": KEPT, "moved": MOVED, "removed": REMOVED}

HEADER_FONT_SIZE = 18
MESSAGE_FONT_SIZE = 13
DETAIL_FONT_SIZE = 10
BOX_FONT_SIZE = 11
BOX_WIDTH = 290  # points: every box as wide, so the arrows leaving them start in one line
BOX_WRAP = 48  # characters per line in a box
PNG_DPI = "150"

# Lines of a message's details worth showing beside the other version.
SHOWN_DETAILS = (
    "key_share",
    "curve",
    "signed with",
    "algorithm",
    "selected_version",
    "ECDH public key",
    "encrypted pre-master secret",
    "next records",  # a TLS 1.2 ChangeCipherSpec
    "middlebox",  # a TLS 1.3 one
)

COLUMNS = (
    "rtt12_text",
    "rtt12",
    "tls12_client",
    "tls12_middle",
    "tls12_server",
    "before_became",
    "became",
    "after_became",
    "tls13_client",
    "tls13_middle",
    "tls13_server",
    "rtt13",
    "rtt13_text",
)
# Columns with a point in every row, chained top to bottom so they stay straight;
# the round-trip labels float beside their brackets instead.
CHAINED = tuple(column for column in COLUMNS if not column.endswith("_text"))
# Invisible spacers, so the connectors and the correspondence arrows have room to show.
SPACERS = {"before_became": "0.3", "after_became": "1.3"}


SPACER = {"shape": "box", "style": "invis", "height": "0.01", "fixedsize": "true", "label": ""}


class _Grid:
    """Rows of column points (see `teachtls.render.sequence` for the idea)."""

    def __init__(self, graph: graphviz.Digraph) -> None:
        self.graph = graph
        self.count = 0

    def row(self, cells: dict[str, dict[str, str]] | None = None) -> int:
        cells = cells or {}
        number = self.count
        self.count += 1
        with self.graph.subgraph(name=f"row{number}") as rank:
            rank.attr(rank="same")
            for column in COLUMNS:
                if column in cells:
                    rank.node(self.name(number, column), **cells[column])
                elif column in SPACERS:
                    rank.node(self.name(number, column), **SPACER, width=SPACERS[column])
                elif column in CHAINED:
                    rank.node(self.name(number, column), **POINT)
        if number > 0:
            for column in CHAINED:
                self.graph.edge(self.name(number - 1, column), self.name(number, column), weight="1000", style="invis")
        present = [column for column in COLUMNS if column in CHAINED or column in cells]
        for left, right in itertools.pairwise(present):
            self.graph.edge(self.name(number, left), self.name(number, right), style="invis")
        return number

    @staticmethod
    def name(number: int, column: str) -> str:
        return f"r{number}_{column}"


def _text(text: str, *, size: int, colour: str = style.INK, bold: bool = False) -> str:
    body = style.font(style.escape(text), size=size, colour=colour)
    return f"<B>{body}</B>" if bold else body


def _header_label(side: Handshake) -> str:
    rfc = "RFC 5246" if side.version == "TLS 1.2" else "RFC 8446"
    lines = [
        _text(f"{side.version}", size=HEADER_FONT_SIZE, bold=True) + _text(f"  ({rfc})", size=11, colour=style.SOFT_INK)
    ]
    if side.negotiated is not None:
        lines.append(_text(side.negotiated.cipher_suite, size=11, colour=style.SOFT_INK))
    trips = len(side.round_trips)
    count = f"{trips} round trip{'s' if trips != 1 else ''} before the client sends data"
    lines.append(_text(count, size=12, colour=ROUND_TRIP, bold=True))
    clear, total = len(side.plaintext_messages), len(side.messages)
    lines.append(_text(f"{clear} of {total} handshake messages in plaintext", size=11, colour=style.SOFT_INK))
    return style.html_label("<BR/>".join(lines))


def _participant(role: str) -> dict[str, str]:
    return {
        "shape": "box",
        "style": "rounded,filled",
        "fillcolor": style.PARTICIPANT_FILL,
        "color": style.LIFELINE,
        "label": style.html_label(f"<B>{role.capitalize()}</B>"),
        "fontsize": str(MESSAGE_FONT_SIZE),
        "width": "1.0",
        "height": "0.38",
    }


def _shown_details(arrow: Arrow, *, new: bool) -> list[str]:
    """The few details worth showing beside the other version (HTML-like, one per line)."""
    shown = [line for line in arrow.details if line.startswith(SHOWN_DETAILS)]
    if arrow.title == "Application Data":
        shown = list(arrow.details[:1])
    lines = [_text(line, size=DETAIL_FONT_SIZE, colour=style.SOFT_INK) for line in shown]
    if new:
        lines.append(_text("new in TLS 1.3", size=DETAIL_FONT_SIZE, colour=MOVED, bold=True))
    return lines


def _arrow_label(arrow: Arrow, details: list[str], lines_in_row: int) -> str:
    """Title and details; blank lines on top, so that every title in a row sits as low as the tallest."""
    colour = style.FAILURE if arrow.failed else style.INK
    padding = [_text(" ", size=DETAIL_FONT_SIZE)] * (lines_in_row - len(details))
    title = _text(arrow.title, size=MESSAGE_FONT_SIZE, colour=colour, bold=True)
    return style.html_label("<BR/>".join([*padding, title, *details]))


def _box_label(entry: Correspondence) -> str:
    """The box: "→ ClientHello" (or "removed") in bold, then what changed, wrapped."""
    if entry.kind == "removed":
        heading, colour, ink = "removed:", style.SOFT_INK, style.SOFT_INK
    else:
        heading, colour, ink = "→ " + " + ".join(entry.targets), EDGE_COLOUR[entry.kind], style.INK
    lines = style.wrap(f"{heading} {entry.becomes}", BOX_WRAP)
    if not lines[0].startswith(heading):  # a heading longer than a line gets one of its own
        lines = [heading, *style.wrap(entry.becomes, BOX_WRAP)]
    # (a no-break space after the heading: SVG viewers drop a plain leading one)
    rest = lines[0][len(heading) :].lstrip()
    first = _text(heading, size=BOX_FONT_SIZE, colour=colour, bold=True) + _text(
        "\u00a0" + rest if rest else "", size=BOX_FONT_SIZE, colour=ink
    )
    body = "<BR/>".join([first, *(_text(line, size=BOX_FONT_SIZE, colour=ink) for line in lines[1:])])
    cell = (
        f'<TD WIDTH="{BOX_WIDTH}" BGCOLOR="{BOX_FILL[entry.kind]}" COLOR="{BOX_BORDER[entry.kind]}" '
        f'ALIGN="LEFT" BALIGN="LEFT" CELLPADDING="4" STYLE="rounded">{body}</TD>'
    )
    return style.html_label(f'<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0"><TR>{cell}</TR></TABLE>')


def _column_of(side: Handshake, role: str) -> str:
    return f"{side.prefix}_{role}"


def compare_graph(tls12: common.TraceLike, tls13: common.TraceLike, *, title: str | None = None) -> graphviz.Digraph:
    """The side-by-side figure, as a `graphviz.Digraph`.

    `tls12` and `tls13` are lists of trace events or JSON Lines paths, of a
    TLS 1.2 and a TLS 1.3 conversation. Raises `ValueError` if either
    trace negotiated the other version."""
    left, right = handshake(tls12, "TLS 1.2"), handshake(tls13, "TLS 1.3")
    graph = graphviz.Digraph(name="compare")
    graph.attr(
        **style.graph_attributes(
            rankdir="TB",
            splines="false",
            nodesep="0.1",
            ranksep="0.06",
            newrank="true",
            label=style.html_label(_text(title or "TLS 1.2 → TLS 1.3: what each message became", size=22, bold=True)),
            labelloc="t",
        )
    )
    graph.attr("node", **style.node_attributes())
    graph.attr("edge", **style.edge_attributes(arrowsize="0.8"))
    grid = _Grid(graph)

    lines = align(left.arrows, right.arrows)
    targets_of = _targets(left, right, lines)

    grid.row(
        {
            "tls12_middle": {"shape": "plaintext", "label": _header_label(left)},
            "became": {
                "shape": "plaintext",
                "label": style.html_label(
                    _text("what it became", size=14, bold=True)
                    + "<BR/>"
                    + _text("in TLS 1.3", size=11, colour=style.SOFT_INK)
                ),
            },
            "tls13_middle": {"shape": "plaintext", "label": _header_label(right)},
        }
    )
    roles = ("client", "server")
    top = grid.row({_column_of(side, role): _participant(role) for side in (left, right) for role in roles})

    arrow_row: dict[tuple[str, int], int] = {}  # (prefix, arrow index) -> its grid row
    box_row: dict[int, int] = {}  # TLS 1.2 arrow index -> the row of its box
    for tls12_index, tls13_index in lines:
        label_cells: dict[str, dict[str, str]] = {}
        details = {
            side.prefix: _shown_details(side.arrows[index], new=side is right and _is_new(side.arrows[index]))
            for side, index in ((left, tls12_index), (right, tls13_index))
            if index is not None
        }
        for side, index in ((left, tls12_index), (right, tls13_index)):
            if index is not None:
                arrow = side.arrows[index]
                link = _link(side, index)
                label_cells[f"{side.prefix}_middle"] = {
                    "shape": "plaintext",
                    "label": _arrow_label(arrow, details[side.prefix], max(map(len, details.values()))),
                    "margin": "0.03,0.02",
                    "id": side.arrow_id(index),
                    **link,
                }
        grid.row(label_cells)
        cells: dict[str, dict[str, str]] = {}
        entry = (
            correspondence_of(left.arrows[tls12_index].sender, left.arrows[tls12_index].title)
            if (tls12_index is not None)
            else None
        )
        if entry is not None and tls12_index is not None:
            cells["became"] = {
                "shape": "plain",
                "label": _box_label(entry),
                "href": f"#{entry.anchor}",
                "tooltip": entry.explanation,
                "id": f"became_{entry.sender}_{_slug(entry.tls12_message)}",
            }
        number = grid.row(cells)
        for side, index in ((left, tls12_index), (right, tls13_index)):
            if index is not None:
                arrow_row[(side.prefix, index)] = number
                _draw_arrow(grid, side, index, number)
        if entry is not None and tls12_index is not None:
            box_row[tls12_index] = number
            # a thin connector from the TLS 1.2 arrow's end to its box
            graph.edge(
                grid.name(number, "tls12_server"),
                grid.name(number, "became"),
                color=BOX_BORDER[entry.kind],
                style="dotted",
                penwidth="1.4",
                arrowhead="none",
                tailclip="false",
            )
    bottom = grid.row({_column_of(side, role): _participant(role) for side in (left, right) for role in roles})
    for side in (left, right):
        for role in roles:
            graph.edge(
                grid.name(top, _column_of(side, role)),
                grid.name(bottom, _column_of(side, role)),
                color=style.LIFELINE,
                penwidth="1.5",
                arrowhead="none",
                constraint="false",
            )

    # what each TLS 1.2 message became: from its box to the TLS 1.3 arrows
    for tls12_index, found in targets_of.items():
        entry = correspondence_of(left.arrows[tls12_index].sender, left.arrows[tls12_index].title)
        assert entry is not None
        for tls13_index in found:
            target = right.arrows[tls13_index]
            main = target.title == entry.tls13_message
            graph.edge(
                grid.name(box_row[tls12_index], "became"),
                grid.name(arrow_row[(right.prefix, tls13_index)], "tls13_client"),
                color=EDGE_COLOUR[entry.kind] if main or entry.kind != "removed" else REMOVED,
                penwidth="2.2" if main else "1.6",
                style="solid" if main else "dashed",
                arrowhead="dot",
                arrowsize="0.6",
                tailport="e",
                headclip="false",
                constraint="false",
                tooltip=f"{left.arrows[tls12_index].title} → {target.title}",
            )

    for side, column, text_column in ((left, "rtt12", "rtt12_text"), (right, "rtt13", "rtt13_text")):
        _round_trip_brackets(grid, side, arrow_row, column, text_column)
    _legend(graph, grid.name(bottom, "became"))
    return graph


def _is_new(arrow: Arrow) -> bool:
    """A TLS 1.3 message that no TLS 1.2 message became (HelloRetryRequest, EndOfEarlyData)."""
    return not any(arrow.sender == entry.sender and arrow.title in entry.targets for entry in CORRESPONDENCES)


def _link(side: Handshake, index: int) -> dict[str, str]:
    """The page's table row for an arrow (TLS 1.3 arrows: the row of the first message they came from)."""
    arrow = side.arrows[index]
    tooltip = arrow.tooltip
    if side.version == "TLS 1.2":
        entry = correspondence_of(arrow.sender, arrow.title)
    else:
        entry = next(
            (e for e in CORRESPONDENCES if e.sender == arrow.sender and arrow.title in e.targets and not e.optional),
            None,
        )
    return {"href": f"#{entry.anchor}", "tooltip": tooltip} if entry is not None else {"tooltip": tooltip}


def _targets(left: Handshake, right: Handshake, lines: Sequence[tuple[int | None, int | None]]) -> dict[int, list[int]]:
    """TLS 1.2 arrow index -> the TLS 1.3 arrows it became (its row partner first)."""
    partner = {i: j for i, j in lines if i is not None and j is not None}
    found: dict[int, list[int]] = {}
    for index, arrow in enumerate(left.arrows):
        entry = correspondence_of(arrow.sender, arrow.title)
        if entry is None:
            continue
        chosen: list[int] = []
        if index in partner:
            chosen.append(partner[index])
        for title in entry.targets:
            candidates = [
                j for j, other in enumerate(right.arrows) if other.sender == arrow.sender and other.title == title
            ]
            if candidates and not any(right.arrows[j].title == title for j in chosen):
                chosen.append(candidates[0])
        found[index] = chosen
    return found


def _draw_arrow(grid: _Grid, side: Handshake, index: int, number: int) -> None:
    arrow = side.arrows[index]
    line = {**arrow.line.edge_attributes(), **UNCLIPPED, "tooltip": arrow.tooltip}
    if arrow.href:
        line["href"] = _link(side, index).get("href", "")
    grid.graph.edge(
        grid.name(number, _column_of(side, "client")),
        grid.name(number, _column_of(side, "server")),
        **line,
        dir="forward" if arrow.sender == "client" else "back",
        constraint="false",
    )


def _round_trip_brackets(
    grid: _Grid, side: Handshake, arrow_row: dict[tuple[str, int], int], column: str, text_column: str
) -> None:
    """A bracket beside the client for each round trip, from its first arrow to the answer's last."""
    for number, (first, last) in enumerate(side.round_trips, start=1):
        start, end = arrow_row[(side.prefix, first)], arrow_row[(side.prefix, last)]
        grid.graph.edge(
            grid.name(start, column),
            grid.name(end, column),
            color=ROUND_TRIP,
            penwidth="3",
            dir="both",
            arrowhead="tee",
            arrowtail="tee",
            arrowsize="0.9",
            constraint="false",
            **UNCLIPPED,
        )
        middle = (start + end) // 2
        label = style.html_label(
            _text("round", size=11, colour=ROUND_TRIP, bold=True)
            + "<BR/>"
            + _text(f"trip {number}", size=11, colour=ROUND_TRIP, bold=True)
        )
        with grid.graph.subgraph(name=f"row{middle}") as rank:
            rank.attr(rank="same")
            rank.node(grid.name(middle, text_column), shape="plaintext", label=label, margin="0.02")
        if text_column == "rtt12_text":
            grid.graph.edge(grid.name(middle, text_column), grid.name(middle, column), style="invis")
        else:
            grid.graph.edge(grid.name(middle, column), grid.name(middle, text_column), style="invis")


def _legend(graph: graphviz.Digraph, above: str) -> None:
    """One table under the figure: line styles, boxes and brackets."""

    def sample(text: str, colour: str) -> str:
        return style.font(style.escape(text), colour=colour, size=14)

    def swatch(kind: str) -> str:
        return (
            f'<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0"><TR><TD WIDTH="26" HEIGHT="12" '
            f'BGCOLOR="{BOX_FILL[kind]}" COLOR="{BOX_BORDER[kind]}"></TD></TR></TABLE>'
        )

    plaintext, handshake_keys, application = (style.PROTECTIONS[k] for k in ("plaintext", "handshake", "application"))
    entries = [
        (sample("────", plaintext.colour), "plaintext (thin solid line)"),
        (sample("╍╍╍╍", handshake_keys.colour), "TLS 1.3 handshake traffic keys (dashed line)"),
        (sample("━━━━", application.colour), "data keys: 1.2 key_block, 1.3 application traffic (bold line)"),
        (swatch("kept"), "the same message, changed (slate arrow)"),
        (swatch("moved"), "moved into another message (purple; dashed: in part)"),
        (swatch("removed"), "gone in TLS 1.3"),
        (sample("┣━━┫", ROUND_TRIP), "one round trip: a client flight and the server's answer"),
    ]
    cells = "".join(
        f'<TR><TD ALIGN="CENTER">{mark}</TD><TD ALIGN="LEFT">'
        f"{style.font(style.escape(text), size=11, colour=style.INK)}</TD></TR>"
        for mark, text in entries
    )
    label = style.html_label(
        f'<TABLE BORDER="1" COLOR="{style.MUTED}" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2" STYLE="rounded">'
        f'<TR><TD COLSPAN="2" ALIGN="LEFT"><B>{style.font("Legend", size=12)}</B></TD></TR>{cells}</TABLE>'
    )
    graph.node("legend", shape="plain", label=label)
    graph.edge(above, "legend", style="invis", minlen="2")


# --- figure output -------------------------------------------------------------------------


def compare_dot(tls12: common.TraceLike, tls13: common.TraceLike, *, title: str | None = None) -> str:
    """The figure's DOT source."""
    source: str = compare_graph(tls12, tls13, title=title).source
    return source


def compare_svg(tls12: common.TraceLike, tls13: common.TraceLike, *, title: str | None = None) -> str:
    """The figure as SVG text, ready to inline in HTML."""
    return style.svg_text(compare_graph(tls12, tls13, title=title))


def render_compare(
    tls12: common.TraceLike, tls13: common.TraceLike, path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Write the figure (.svg, .png, .pdf, .dot) or the page (.html, .md), by the suffix of `path`.

    A Markdown page refers to its figure: it is written beside it, as
    the same name with .svg."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in PAGES:
        if PAGES[suffix] == "markdown":
            figure = target.with_suffix(".svg")
            style.write_graph(compare_graph(tls12, tls13, title=title), figure)
            target.write_text(compare_markdown(tls12, tls13, figure=figure.name, title=title), encoding="utf-8")
        else:
            target.write_text(compare_html(tls12, tls13, title=title), encoding="utf-8")
        return target
    graph = compare_graph(tls12, tls13, title=title)
    if suffix == ".png":
        graph.attr(dpi=PNG_DPI)  # sharp enough for a projector
    return style.write_graph(graph, target)


PAGES = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}
FORMATS = sorted({*style.FORMATS, *PAGES})
"""Every suffix `render_compare` writes."""


# --- the pages -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Row:
    """One row of the message table, with where it is in the figure."""

    entry: Correspondence
    tls12_arrows: tuple[tuple[str, str], ...]  # (id in the figure, message name) of its TLS 1.2 arrows
    tls13_arrows: tuple[tuple[str, str], ...]  # and of the TLS 1.3 arrows it became


def table_rows(left: Handshake, right: Handshake) -> list[Row]:
    """Every correspondence, with the figure's arrows it concerns.

    An optional message (client authentication, stapling) that the TLS 1.2
    trace did not send points to nothing in the figure."""
    found: list[Row] = []
    for entry in CORRESPONDENCES:
        tls12_arrows = tuple(
            (left.arrow_id(i), arrow.title)
            for i, arrow in enumerate(left.arrows)
            if arrow.sender == entry.sender and arrow.title == entry.tls12_message
        )
        tls13_arrows = tuple(
            (right.arrow_id(i), arrow.title)
            for i, arrow in enumerate(right.arrows)
            if arrow.sender == entry.sender and arrow.title in entry.targets
        )
        if entry.optional and not tls12_arrows:
            tls13_arrows = ()
        found.append(Row(entry=entry, tls12_arrows=tls12_arrows, tls13_arrows=tls13_arrows))
    return found


def shared_secret_note(left: Handshake, right: Handshake) -> str:
    """A sentence when both traces computed the same (EC)DHE shared secret, else ""."""

    def shared(side: Handshake) -> bytes:
        found = [e.shared_secret for e in side.events if isinstance(e, trace.KeyExchangeComputed)]
        return found[0] if found else b""

    secret = shared(left)
    if not secret or secret != shared(right):
        return ""
    return (
        f"Both handshakes computed the same (EC)DHE shared secret, {common.short_hex(secret)} -- the same "
        "private keys on both sides -- and fed it into two different key schedules: below, the same input "
        "becomes different secrets and keys."
    )


def summary(left: Handshake, right: Handshake) -> list[tuple[str, str, str]]:
    """(aspect, TLS 1.2, TLS 1.3): what each trace negotiated and what it cost."""

    def negotiated(side: Handshake, field: str) -> str:
        return getattr(side.negotiated, field, "") or "—"

    def wire(side: Handshake) -> str:
        records = [s.event for s in common.conversation(side.events) if isinstance(s.event, trace.RecordEvent)]
        return f"{len(records)} records, {sum(len(record.raw) for record in records)} bytes"

    def clear(side: Handshake) -> str:
        names = ", ".join(dict.fromkeys(a.title for a in side.plaintext_messages))
        return f"{len(side.plaintext_messages)} of {len(side.messages)}: {names}"

    return [
        ("cipher suite", negotiated(left, "cipher_suite"), negotiated(right, "cipher_suite")),
        ("key exchange group", negotiated(left, "group"), negotiated(right, "group")),
        ("signature scheme", negotiated(left, "signature_scheme"), negotiated(right, "signature_scheme")),
        ("round trips before the client sends data", str(len(left.round_trips)), str(len(right.round_trips))),
        ("handshake messages in plaintext", clear(left), clear(right)),
        ("on the wire (whole conversation)", wire(left), wire(right)),
    ]


def key_schedule_steps(side: Handshake) -> list[tuple[str, str, str]]:
    """(name, how it was computed, value) for each secret one role derived, in order.

    The client's view when the trace has it (both roles compute the same)."""
    roles = {event.role for event in side.events}
    role = "client" if "client" in roles else "server"
    steps: list[tuple[str, str, str]] = []
    for event in side.events:
        if event.role != role:
            continue
        if isinstance(event, trace.KeyExchangeComputed):
            name = "pre_master_secret" if side.version == "TLS 1.2" else "(EC)DHE shared secret"
            steps.append((name, f"{event.group} key agreement", common.short_hex(event.shared_secret)))
        elif isinstance(event, trace.SecretDerived):
            arguments = [event.parent]
            if event.label:
                arguments.append(f'"{event.label}"')
            arguments += list(event.inputs)
            steps.append((event.name, f"{event.operation}({', '.join(arguments)})", common.short_hex(event.value)))
        elif isinstance(event, trace.KeysInstalled):
            steps.append(
                (
                    f"{event.direction} keys ({event.protection})",
                    f"from {event.secret_name}",
                    common.short_hex(event.key),
                )
            )
    return steps


def _e(text: str) -> str:
    return html.escape(text, quote=True)


CSS = """
:root{--ink:#1a1a1a;--soft:#555;--line:#d9dde3;--moved:#b4518f;--kept:#6b6b6b;--mono:"DejaVu Sans Mono",Menlo,monospace}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 "DejaVu Sans",Helvetica,Arial,sans-serif;color:var(--ink);background:#f4f5f7}
main{max-width:1500px;margin:0 auto;padding:24px 28px 80px}
h1{font-size:26px;margin:0 0 6px}
h2{font-size:20px;margin:34px 0 12px;border-bottom:2px solid var(--line);padding-bottom:4px}
code,.mono{font-family:var(--mono);font-size:12.5px}
.lede{color:var(--soft);margin:0 0 14px;max-width:70em}
.admonition{border-left:4px solid #e0a800;background:#fff8e1;padding:8px 14px;border-radius:4px;margin:10px 0}
figure{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px;margin:0;overflow:auto;
text-align:center}
figure svg{max-width:100%;height:auto}
table{border-collapse:collapse;background:#fff;border:1px solid var(--line);width:100%;font-size:14px}
th,td{text-align:left;vertical-align:top;padding:6px 10px;border-top:1px solid #eceef1}
thead th{background:#fafbfc;font-size:12.5px;color:var(--soft)}
tr:target td{background:#fff3c4}
.kind{display:inline-block;font-size:11.5px;font-weight:700;border-radius:9px;padding:0 7px;margin-right:4px}
.kind.kept{background:#edf2f7;color:#44566b}.kind.moved{background:#f9eaf3;color:var(--moved)}
.kind.removed{background:#eee;color:#777}
.rfc{font-size:12px;color:#37474f;white-space:nowrap}
.where a{display:inline-block;margin:0 6px 2px 0;font-size:12.5px;white-space:nowrap}
.absent{color:#999;font-size:12.5px}
.msg{font-weight:700;white-space:nowrap}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:18px}
.sides h3{margin:6px 0}
.steps td:first-child{font-family:var(--mono);font-size:12.5px;white-space:nowrap}
.steps td:nth-child(2){font-family:var(--mono);font-size:12px;color:#333}
.steps td:last-child{font-family:var(--mono);font-size:12px;color:#0d3c61}
footer{margin-top:40px;color:var(--soft);font-size:13px}
"""


def _html_where(arrows: Iterable[tuple[str, str]], version: str) -> str:
    links = [f'<a href="#{_e(identifier)}">{_e(title)} ↑</a>' for identifier, title in arrows]
    return f'<span class="absent">{_e(version)}:</span> ' + (" ".join(links) or '<span class="absent">—</span>')


def _html_target(entry: Correspondence) -> str:
    names = " + ".join(f'<span class="msg">{_e(name)}</span>' for name in entry.targets if name != "ChangeCipherSpec")
    label = "gone" if entry.kind == "removed" else names
    return f'<span class="kind {entry.kind}">{entry.kind}</span> {label}<br>{_e(entry.becomes)}'


def _html_steps(side: Handshake) -> str:
    rows_html = "".join(
        f"<tr><td>{_e(name)}</td><td>{_e(how)}</td><td>{_e(value)}</td></tr>"
        for name, how, value in key_schedule_steps(side)
    )
    return (
        f'<div><h3>{_e(side.version)}</h3><table class="steps"><thead><tr><th>secret or keys</th>'
        f"<th>computed as</th><th>value</th></tr></thead><tbody>{rows_html}</tbody></table></div>"
    )


def compare_html(tls12: common.TraceLike, tls13: common.TraceLike, *, title: str | None = None) -> str:
    """One self-contained HTML page: the figure, the message table, the key schedules."""
    left, right = handshake(tls12, "TLS 1.2"), handshake(tls13, "TLS 1.3")
    heading = title or "TLS 1.2 and TLS 1.3, side by side"
    body = [f"<h1>{_e(heading)}</h1>"]
    body.append(
        '<p class="lede">A TLS 1.2 handshake on the left, a TLS 1.3 handshake on the right, and between them '
        "what became of each TLS 1.2 message. Click a message in the figure for its row in the table; the "
        "arrows ↑ in the table lead back to the figure.</p>"
    )
    body.append(f'<div class="admonition"><b>Not for production.</b> {_e(NOT_FOR_PRODUCTION)}</div>')
    body.append("<table><thead><tr><th></th><th>TLS 1.2</th><th>TLS 1.3</th></tr></thead><tbody>")
    body += [f"<tr><th>{_e(a)}</th><td>{_e(b)}</td><td>{_e(c)}</td></tr>" for a, b, c in summary(left, right)]
    body.append("</tbody></table>")

    body.append("<h2>The two handshakes</h2>")
    try:
        svg = compare_svg(left.events, right.events, title=title)
    except (RuntimeError, OSError) as error:  # the Graphviz `dot` program is missing
        body.append(f"<p>⚠ The figure could not be drawn ({_e(str(error))}).</p>")
    else:
        svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
        svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.DOTALL)
        body.append(f'<figure id="figure">{svg.strip()}</figure>')

    body.append("<h2>Message by message</h2>")
    body.append(
        "<table><thead><tr><th>TLS 1.2</th><th>becomes in TLS 1.3</th><th>why</th><th>RFC</th>"
        "<th>in the figure</th></tr></thead><tbody>"
    )
    for row in table_rows(left, right):
        entry = row.entry
        where = _html_where(row.tls12_arrows, "1.2") + "<br>" + _html_where(row.tls13_arrows, "1.3")
        body.append(
            f'<tr id="{_e(entry.anchor)}"><td><span class="msg">{_e(entry.tls12_message)}</span><br>'
            f'<span class="absent">from the {_e(entry.sender)}</span></td><td>{_html_target(entry)}</td>'
            f'<td>{_e(entry.explanation)}</td><td class="rfc">{_e(entry.rfc)}</td>'
            f'<td class="where">{where}</td></tr>'
        )
    body.append("</tbody></table>")

    body.append("<h2>Key schedule: the PRF and a key block, against the HKDF ladder</h2>")
    body.append("<table><thead><tr><th></th><th>TLS 1.2</th><th>TLS 1.3</th><th>RFC</th></tr></thead><tbody>")
    body += [
        f'<tr><th>{_e(d.aspect)}</th><td>{_e(d.tls12)}</td><td>{_e(d.tls13)}</td><td class="rfc">{_e(d.rfc)}</td></tr>'
        for d in KEY_SCHEDULE_DIFFERENCES
    ]
    body.append("</tbody></table>")
    note = shared_secret_note(left, right)
    if note:
        body.append(f"<p><b>{_e(note)}</b></p>")
    body.append("<p>What these two traces derived, in order (values shortened):</p>")
    body.append(f'<div class="sides">{_html_steps(left)}{_html_steps(right)}</div>')
    body.append(
        "<footer>Generated by teachtls from two recorded traces (teachtls.render.compare). The table of "
        "correspondences is teachtls.render.compare.CORRESPONDENCES.</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(heading)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )


def _md(text: str) -> str:
    """Text safe in a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def _md_table(header: Sequence[str], body: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def compare_markdown(
    tls12: common.TraceLike, tls13: common.TraceLike, *, figure: str | None = None, title: str | None = None
) -> str:
    """The same page in Markdown; `figure` is the path of the figure to show (as an image), if any."""
    left, right = handshake(tls12, "TLS 1.2"), handshake(tls13, "TLS 1.3")
    parts = [f"# {title or 'TLS 1.2 and TLS 1.3, side by side'}"]
    parts.append(
        "A TLS 1.2 handshake on the left, a TLS 1.3 handshake on the right, and between them what became of "
        "each TLS 1.2 message."
    )
    parts.append(f"> **Not for production.** {NOT_FOR_PRODUCTION}")
    parts.append(_md_table(["", "TLS 1.2", "TLS 1.3"], ([_md(a), _md(b), _md(c)] for a, b, c in summary(left, right))))
    if figure is not None:
        parts.append(f"![TLS 1.2 and TLS 1.3 side by side: what each message became]({figure})")
    parts.append("## Message by message")

    def target(entry: Correspondence) -> str:
        names = " + ".join(f"`{name}`" for name in entry.targets if name != "ChangeCipherSpec")
        if entry.kind == "removed":
            return f"**removed**: {_md(entry.becomes)}"
        return f"**{entry.kind}** {names}: {_md(entry.becomes)}"

    def present(arrows: tuple[tuple[str, str], ...], version: str) -> str:
        return f"{version}: {'yes' if arrows else 'no'}"

    parts.append(
        _md_table(
            ["TLS 1.2", "becomes in TLS 1.3", "why", "RFC", "in the figure"],
            (
                [
                    f"`{row.entry.tls12_message}` ({row.entry.sender})",
                    target(row.entry),
                    _md(row.entry.explanation),
                    _md(row.entry.rfc),
                    f"{present(row.tls12_arrows, '1.2')}, {present(row.tls13_arrows, '1.3')}",
                ]
                for row in table_rows(left, right)
            ),
        )
    )
    parts.append("## Key schedule: the PRF and a key block, against the HKDF ladder")
    parts.append(
        _md_table(
            ["", "TLS 1.2", "TLS 1.3", "RFC"],
            ([_md(d.aspect), _md(d.tls12), _md(d.tls13), _md(d.rfc)] for d in KEY_SCHEDULE_DIFFERENCES),
        )
    )
    note = shared_secret_note(left, right)
    if note:
        parts.append(f"**{_md(note)}**")
    for side in (left, right):
        parts.append(f"### What the {side.version} trace derived")
        parts.append(
            _md_table(
                ["secret or keys", "computed as", "value"],
                ([f"`{name}`", _md(how), f"`{value}`"] for name, how, value in key_schedule_steps(side)),
            )
        )
    return "\n\n".join(parts) + "\n"


__all__ = [
    "CORRESPONDENCES",
    "Correspondence",
    "FORMATS",
    "Handshake",
    "KEY_SCHEDULE_DIFFERENCES",
    "KeyScheduleDifference",
    "align",
    "compare_dot",
    "compare_graph",
    "compare_html",
    "compare_markdown",
    "compare_svg",
    "correspondence_of",
    "handshake",
    "key_schedule_steps",
    "render_compare",
    "round_trips",
    "shared_secret_note",
    "summary",
    "table_rows",
]
