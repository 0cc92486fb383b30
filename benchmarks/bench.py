"""teachtls against the standard library's `ssl` module, measured in one run.

Run it from the repository root::

    .venv/bin/python benchmarks/bench.py              # a plain-text table
    .venv/bin/python benchmarks/bench.py --markdown   # the table in docs/benchmarks.md
    .venv/bin/python benchmarks/bench.py --quick      # a few repetitions (the smoke test)

What is compared. Both sides run client *and* server in this one process,
with nothing but memory between them: teachtls as two sans-I/O connections
whose `data_to_send()` is fed to the other's `receive_data()`, the `ssl`
module as two `SSLObject`s over `MemoryBIO`s. The same certificates (made by
`teachtls.pki.generate`, written as PEM for `ssl`), the same key exchange
group and the same cipher suite on both sides; the script checks that both
really negotiated what the row says before it times anything.

How it is measured. `time.perf_counter_ns` around each repetition; the two
sides alternate (A, B, A, B, ...) so that a noisy neighbour slows both
alike, and each row reports the *median* of its repetitions and the ratio
of the medians. Ratios from the same run are the result; the absolute
numbers only say what this machine did that minute. Each repetition is
also timed with `time.thread_time_ns` (CPU time): when the machine is so
busy that the longer side gets preempted more often, the two ratios part,
and the row is marked DISTURBED.

The targets (from the issue that asked for this script):

* a full TLS 1.3 handshake, client + server, within 1.5x the `ssl` module's
  time with tracing off;
* bulk throughput at least 0.7x the `ssl` module's;
* full tracing at most 2x the untraced handshake;
* rendering one handshake's trace "well under a second".

Not measured against `ssl`: X25519MLKEM768, because the OpenSSL that Python's
`ssl` module is linked against here (3.0) has no ML-KEM; that row compares
teachtls's hybrid handshake with `ssl`'s x25519 handshake, and says so.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import itertools
import os
import platform
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import cryptography
from cryptography import x509
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.verification import DNSName, PolicyBuilder, Store

# Run as a script from anywhere: make the repository's package importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from teachtls import ApplicationData, ClientConnection, Config, HandshakeCompleted, ServerConnection
from teachtls.pki.generate import IssuedCertificate, KeyType, issue_leaf, make_ca
from teachtls.render.pages import render_html
from teachtls.render.sequence import sequence_svg
from teachtls.sessions import StatelessTickets
from teachtls.trace.jsonl import JsonlWriter
from teachtls.trace.observer import Observer, Recorder, ignore
from teachtls.wire.enums import CipherSuite, NamedGroup, ProtocolVersion

SERVER_NAME = "localhost"
RECORD_SIZE = 16 * 1024  # one full TLS record of application data (RFC 8446 §5.1: 2^14)
DISTURBED = 0.15  # how far wall-clock and CPU-time ratios may differ in an undisturbed run

# The labels of every row, in the order they are printed. The smoke test
# (tests/test_benchmark_script.py) checks that each one appears.
ROW_HANDSHAKE_ECDSA = "TLS 1.3 full handshake, ECDSA P-256, x25519"
ROW_HANDSHAKE_RSA = "TLS 1.3 full handshake, RSA-2048, x25519"
ROW_CRYPTO_FLOOR = "Its calls into cryptography alone (ECDSA P-256, x25519)"
ROW_HANDSHAKE_MLKEM = "TLS 1.3 full handshake, ECDSA P-256, X25519MLKEM768"
ROW_RESUMPTION = "TLS 1.3 PSK resumption (psk_dhe_ke, x25519)"
ROW_TLS12 = "TLS 1.2 ECDHE handshake, ECDSA P-256, x25519"
ROW_BULK = "Bulk transfer, 16 KiB records, AES-256-GCM"
ROW_TRACE_RECORDER = "Handshake traced to memory (Recorder)"
ROW_TRACE_JSONL = "Handshake traced to JSON Lines (JsonlWriter)"
ROW_RENDER = "Render one handshake trace: sequence_svg + render_html"
ROWS = (
    ROW_HANDSHAKE_ECDSA,
    ROW_HANDSHAKE_RSA,
    ROW_CRYPTO_FLOOR,
    ROW_HANDSHAKE_MLKEM,
    ROW_RESUMPTION,
    ROW_TLS12,
    ROW_BULK,
    ROW_TRACE_RECORDER,
    ROW_TRACE_JSONL,
    ROW_RENDER,
)


# =====================================================================
# timing
# =====================================================================


def time_once(run: Callable[[], object]) -> int:
    """Nanoseconds one call of `run` takes."""
    start = time.perf_counter_ns()
    run()
    return time.perf_counter_ns() - start


@attrs.frozen
class Samples:
    """Nanoseconds of every repetition of each run, by run name, on two clocks."""

    wall: dict[str, list[int]]  # time.perf_counter_ns: the numbers reported and judged
    cpu: dict[str, list[int]]  # time.thread_time_ns: blind to time spent waiting for a core


def interleaved(repetitions: int, **runs: Callable[[], object]) -> Samples:
    """Time each run `repetitions` times, taking turns: A, B, A, B, ...

    One untimed round first, so that lazy imports and caches warm up
    on both sides before anything is counted."""
    for run in runs.values():
        run()
    samples = Samples({name: [] for name in runs}, {name: [] for name in runs})
    for _ in range(repetitions):
        for name, run in runs.items():
            wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
            run()
            samples.cpu[name].append(time.thread_time_ns() - cpu)
            samples.wall[name].append(time.perf_counter_ns() - wall)
    return samples


def medians(times: dict[str, list[int]]) -> dict[str, float]:
    return {name: statistics.median(values) for name, values in times.items()}


def cpu_check(samples: Samples, name: str, baseline: str) -> tuple[str, bool]:
    """The ratio of medians on the CPU-time clock, and whether the run looks disturbed.

    On a busy machine the longer of two runs is more often preempted, which
    inflates its wall-clock time but not its CPU time. When the two ratios
    disagree by more than 15%, the wall-clock one says more about the
    neighbours than about the code."""
    wall, cpu = medians(samples.wall), medians(samples.cpu)
    wall_ratio, cpu_ratio = wall[name] / wall[baseline], cpu[name] / cpu[baseline]
    disturbed = abs(wall_ratio / cpu_ratio - 1) > DISTURBED
    note = f"CPU-time ratio {cpu_ratio:.2f}"
    if disturbed:
        note = f"DISTURBED RUN: {note}, the wall-clock ratio is not reliable"
    return note, disturbed


def spread(times: list[int]) -> str:
    """The middle half of the repetitions (first to third quartile), in ms."""
    if len(times) < 4:
        return "n/a (too few repetitions)"
    first, _, third = statistics.quantiles(times, n=4)
    return f"{first / 1e6:.2f}–{third / 1e6:.2f} ms"


# =====================================================================
# certificates
# =====================================================================


@attrs.frozen
class Identity:
    """A CA and a server leaf of one key type, as objects and as PEM files."""

    ca: IssuedCertificate
    leaf: IssuedCertificate
    ca_file: str
    cert_file: str
    key_file: str


def make_identity(key_type: KeyType, directory: str) -> Identity:
    ca = make_ca(key_type=key_type)
    leaf = issue_leaf(ca, SERVER_NAME, dns_names=[SERVER_NAME], key_type=key_type)
    ca_file = os.path.join(directory, f"{key_type}-ca.pem")
    cert_file = os.path.join(directory, f"{key_type}-leaf.pem")
    key_file = os.path.join(directory, f"{key_type}-leaf.key")
    Path(ca_file).write_bytes(ca.certificate_pem())
    leaf.write(cert_file, key_file)
    return Identity(ca, leaf, ca_file, cert_file, key_file)


# =====================================================================
# the teachtls side
# =====================================================================


@attrs.frozen
class TeachtlsSetup:
    client: Config
    server: Config


def teachtls_setup(
    identity: Identity,
    *,
    group: int = NamedGroup.x25519,
    tls12: bool = False,
    tickets: int = 0,
) -> TeachtlsSetup:
    """Configs matching what the `ssl` side negotiates (checked in `check_same`)."""
    common = Config(
        versions=(ProtocolVersion.TLS1_2,) if tls12 else (ProtocolVersion.TLS1_3,),
        # OpenSSL's first choice in both versions; Python 3.11 cannot change
        # its TLS 1.3 suites, so teachtls follows it.
        cipher_suites=(CipherSuite.TLS_AES_256_GCM_SHA384,),
        cipher_suites_12=(CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,),
        # One group, as the ssl side's set_ecdh_curve: no HelloRetryRequest.
        # TLS 1.2 also needs the certificate's curve (RFC 8422 §5.1).
        supported_groups=(group, NamedGroup.secp256r1) if tls12 else (group,),
    )
    client = attrs.evolve(
        common,
        server_name=SERVER_NAME,
        trusted_certificates=(identity.ca.certificate,),
        key_share_groups=(group,),
    )
    server = attrs.evolve(
        common,
        certificate_chain=(identity.leaf.certificate,),
        private_key=identity.leaf.private_key,
        session_tickets=tickets,
        session_store=StatelessTickets(os.urandom, time.time) if tickets else None,
    )
    return TeachtlsSetup(client, server)


def teachtls_pump(client: ClientConnection, server: ServerConnection) -> list[object]:
    """Move bytes both ways until both sides are quiet; the client's events."""
    client_events: list[object] = []
    while True:
        to_server = client.data_to_send()
        if to_server:
            server.receive_data(to_server)
        to_client = server.data_to_send()
        if to_client:
            client_events += client.receive_data(to_client)
        if not to_server and not to_client:
            return client_events


def teachtls_handshake(
    setup: TeachtlsSetup, *, observer: Observer = ignore, session: bytes | None = None
) -> tuple[ClientConnection, ServerConnection, HandshakeCompleted]:
    """One handshake (and, with tickets on, the tickets that follow it)."""
    client_config, server_config = setup.client, setup.server
    if observer is not ignore:
        client_config = attrs.evolve(client_config, observer=observer)
        server_config = attrs.evolve(server_config, observer=observer)
    client = ClientConnection(client_config)
    server = ServerConnection(server_config)
    if session is not None:
        client.set_session_data(session)
    client.start_handshake()
    events = teachtls_pump(client, server)
    assert client.handshake_complete and server.handshake_complete
    completed = next(e for e in events if isinstance(e, HandshakeCompleted))
    return client, server, completed


# =====================================================================
# the floor: what a handshake asks of `cryptography`, and nothing else
# =====================================================================

# What one untraced TLS 1.3 handshake (both roles, ECDSA P-256, x25519,
# TLS_AES_256_GCM_SHA384, no tickets) calls in `cryptography`, counted with
# cProfile; tests/test_benchmark_script.py checks the counts still match.
FLOOR_CALLS = {
    "x25519 key generation": 2,
    "x25519 exchange": 2,
    "ECDSA signature (CertificateVerify)": 1,
    "ECDSA verification (CertificateVerify)": 1,
    "certificate parsing": 1,
    "chain verification (x509.verification)": 1,
    "HKDF-Expand": 36,
    "HKDF-Extract": 6,
    "HMAC (Finished)": 4,
    "AES-256-GCM keys": 8,
    "AES-256-GCM seal or open": 4,
}


def cryptography_floor(identity: Identity) -> Callable[[], None]:
    """A function making the same `cryptography` calls as one handshake, with
    inputs of the same sizes -- no parsing, no state machine, no Python of
    teachtls's: the part of a handshake no TLS stack written in Python can
    avoid, measured against the whole of `ssl`'s handshake."""
    leaf_der = identity.leaf.certificate.public_bytes(Encoding.DER)
    private_key = identity.leaf.private_key
    assert isinstance(private_key, ec.EllipticCurvePrivateKey)
    store = Store([identity.ca.certificate])
    sha384 = hashes.SHA384()
    secret, info, content = bytes(48), bytes(60), bytes(130)

    def handshake_crypto() -> None:
        client, server = x25519.X25519PrivateKey.generate(), x25519.X25519PrivateKey.generate()
        client_share = client.public_key().public_bytes_raw()
        server_share = server.public_key().public_bytes_raw()
        server.exchange(x25519.X25519PublicKey.from_public_bytes(client_share))
        client.exchange(x25519.X25519PublicKey.from_public_bytes(server_share))
        signature = private_key.sign(content, ec.ECDSA(hashes.SHA256()))
        leaf = x509.load_der_x509_certificate(leaf_der)
        leaf.subject, leaf.issuer, leaf.extensions  # noqa: B018 (as teachtls's load_certificate)
        public_key = leaf.public_key()
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        public_key.verify(signature, content, ec.ECDSA(hashes.SHA256()))
        now = datetime.datetime.now(datetime.UTC)
        PolicyBuilder().store(store).time(now).build_server_verifier(DNSName(SERVER_NAME)).verify(leaf, [])
        for _ in range(36):
            HKDFExpand(sha384, 48, info).derive(secret)
        for _ in range(6):
            HKDF.extract(sha384, secret, secret)
        for _ in range(4):
            mac = hmac.HMAC(secret, sha384)
            mac.update(secret)
            mac.finalize()
        keys = [AESGCM(bytes(32)) for _ in range(8)]
        nonce = bytes(12)
        flight = keys[0].encrypt(nonce, bytes(700), b"")  # the server's encrypted flight, one record
        keys[1].decrypt(nonce, flight, b"")
        finished = keys[2].encrypt(nonce, bytes(53), b"")  # the client's Finished
        keys[3].decrypt(nonce, finished, b"")
        for _ in range(2):  # the two transcript hashes
            transcript = hashes.Hash(sha384)
            for _ in range(7):
                transcript.update(content)
                transcript.copy().finalize()

    return handshake_crypto


def floor_row(identity: Identity, repetitions: int) -> Row:
    calls = ", ".join(f"{what} ×{count}" for what, count in FLOOR_CALLS.items())
    return comparison_row(
        ROW_CRYPTO_FLOOR,
        cryptography_floor(identity),
        functools.partial(ssl_handshake, ssl_setup(identity)),
        repetitions,
        target=None,
        note=f"the calls one teachtls handshake makes, both roles: {calls};"
        " the ssl side is its whole handshake, as in the first row",
    )


# =====================================================================
# the ssl side
# =====================================================================


@attrs.frozen
class SslSetup:
    client: ssl.SSLContext
    server: ssl.SSLContext


def ssl_setup(identity: Identity, *, tls12: bool = False, tickets: int = 0) -> SslSetup:
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(identity.ca_file)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(identity.cert_file, identity.key_file)
    for context in (client, server):
        if tls12:
            # OpenSSL's default groups (x25519 first): an ECDSA P-256 certificate
            # needs P-256 among them in TLS 1.2 (RFC 8422 §5.1).
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        else:
            context.set_ecdh_curve("X25519")
            context.minimum_version = ssl.TLSVersion.TLSv1_3
    # teachtls sends no tickets unless asked; make OpenSSL's server match.
    server.num_tickets = tickets
    if not tickets:
        server.options |= ssl.OP_NO_TICKET
    return SslSetup(client, server)


@attrs.define
class SslPair:
    client: ssl.SSLObject
    server: ssl.SSLObject
    client_in: ssl.MemoryBIO
    client_out: ssl.MemoryBIO
    server_in: ssl.MemoryBIO
    server_out: ssl.MemoryBIO

    def to_server(self) -> bool:
        data = self.client_out.read()
        self.server_in.write(data)
        return bool(data)

    def to_client(self) -> bool:
        data = self.server_out.read()
        self.client_in.write(data)
        return bool(data)


def ssl_pair(setup: SslSetup, session: ssl.SSLSession | None = None) -> SslPair:
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client = setup.client.wrap_bio(client_in, client_out, server_hostname=SERVER_NAME, session=session)
    server = setup.server.wrap_bio(server_in, server_out, server_side=True)
    return SslPair(client, server, client_in, client_out, server_in, server_out)


def _step(handshaking: ssl.SSLObject) -> bool:
    """One do_handshake() call; True once the handshake is done."""
    try:
        handshaking.do_handshake()
    except ssl.SSLWantReadError:
        return False
    return True


def ssl_handshake(setup: SslSetup, session: ssl.SSLSession | None = None, *, tickets: bool = False) -> SslPair:
    """One handshake (and, with `tickets`, the client reading the tickets that follow it)."""
    pair = ssl_pair(setup, session)
    client_done = server_done = False
    while not (client_done and server_done):
        if not client_done:
            client_done = _step(pair.client)
        pair.to_server()
        if not server_done:
            server_done = _step(pair.server)
        pair.to_client()
    if tickets:
        # TLS 1.3 tickets come after the handshake: the client reads them.
        with contextlib.suppress(ssl.SSLWantReadError):
            pair.client.read()
    return pair


# =====================================================================
# checks: both sides negotiate the same thing
# =====================================================================


def check_same(completed: HandshakeCompleted, pair: SslPair, *, group: str = "x25519") -> str:
    """Raise unless both negotiated the same version and suite; a description."""
    ssl_suite, ssl_version, _ = pair.client.cipher() or ("", "", 0)
    assert ssl_version == completed.version.replace(" ", "v"), (ssl_version, completed.version)  # TLSv1.3
    # OpenSSL names TLS 1.2 suites differently (ECDHE-ECDSA-AES256-GCM-SHA384).
    expected = {
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    }.get(completed.cipher_suite, completed.cipher_suite)
    assert ssl_suite == expected, (ssl_suite, completed.cipher_suite)
    assert completed.group == group, completed.group
    negotiated = (completed.version, completed.cipher_suite, completed.group, completed.signature_scheme)
    return " ".join(part for part in negotiated if part)


# =====================================================================
# the rows
# =====================================================================


@attrs.frozen
class Row:
    label: str
    teachtls: str  # what teachtls measured, with its unit
    ssl: str  # what ssl measured, or why nothing
    ratio: float | None  # teachtls / ssl time (or, for throughput, teachtls / ssl MB/s)
    ratio_meaning: str
    target: str
    met: bool | None
    note: str = ""
    disturbed: bool = False  # other load on the machine skewed the wall-clock ratio


def ms(nanoseconds: float) -> str:
    return f"{nanoseconds / 1e6:.2f} ms"


def comparison_row(
    label: str,
    teachtls: Callable[[], object],
    ssl_side: Callable[[], object],
    repetitions: int,
    *,
    target: float | None,
    note: str,
    ssl_label: str = "",
) -> Row:
    """teachtls against ssl, the same work on both sides: medians and their ratio."""
    samples = interleaved(repetitions, teachtls=teachtls, ssl=ssl_side)
    median = medians(samples.wall)
    ratio = median["teachtls"] / median["ssl"]
    cpu_note, disturbed = cpu_check(samples, "teachtls", "ssl")
    note += (
        f"; middle half of the repetitions: teachtls {spread(samples.wall['teachtls'])},"
        f" ssl {spread(samples.wall['ssl'])}; {cpu_note}"
    )
    return Row(
        label,
        ms(median["teachtls"]),
        ms(median["ssl"]) + ssl_label,
        ratio,
        "time, teachtls / ssl",
        f"≤ {target}×" if target else "",
        ratio <= target if target else None,
        note,
        disturbed,
    )


def handshake_rows(identities: dict[str, Identity], repetitions: int) -> list[Row]:
    rows = []
    ecdsa, rsa = identities["ecdsa-p256"], identities["rsa-2048"]
    for label, identity in ((ROW_HANDSHAKE_ECDSA, ecdsa), (ROW_HANDSHAKE_RSA, rsa)):
        teachtls, ssl_side = teachtls_setup(identity), ssl_setup(identity)
        note = check_same(teachtls_handshake(teachtls)[2], ssl_handshake(ssl_side))
        rows.append(
            comparison_row(
                label,
                functools.partial(teachtls_handshake, teachtls),
                functools.partial(ssl_handshake, ssl_side),
                repetitions,
                target=1.5,
                note=note,
            )
        )

    rows.append(floor_row(ecdsa, repetitions))

    hybrid, classic = teachtls_setup(ecdsa, group=NamedGroup.X25519MLKEM768), ssl_setup(ecdsa)
    note = check_same(teachtls_handshake(hybrid)[2], ssl_handshake(classic), group="X25519MLKEM768")
    rows.append(
        comparison_row(
            ROW_HANDSHAKE_MLKEM,
            functools.partial(teachtls_handshake, hybrid),
            functools.partial(ssl_handshake, classic),
            repetitions,
            target=None,
            note=note + "; the ssl side uses x25519: the OpenSSL 3.0 of Python's ssl module has no ML-KEM",
            ssl_label=" (x25519)",
        )
    )

    rows.append(resumption_row(ecdsa, repetitions))

    teachtls12, ssl12 = teachtls_setup(ecdsa, tls12=True), ssl_setup(ecdsa, tls12=True)
    note = check_same(teachtls_handshake(teachtls12)[2], ssl_handshake(ssl12))
    rows.append(
        comparison_row(
            ROW_TLS12,
            functools.partial(teachtls_handshake, teachtls12),
            functools.partial(ssl_handshake, ssl12),
            repetitions,
            target=None,
            note=note,
        )
    )
    return rows


def resumption_row(identity: Identity, repetitions: int) -> Row:
    """A resumed handshake, including the one new ticket each server sends after it."""
    teachtls = teachtls_setup(identity, tickets=1)
    ssl_side = ssl_setup(identity, tickets=1)
    client, _, _ = teachtls_handshake(teachtls)
    teachtls_session = client.get_session_data()
    ssl_session = ssl_handshake(ssl_side, tickets=True).client.session
    assert ssl_session is not None

    _, _, completed = teachtls_handshake(teachtls, session=teachtls_session)
    pair = ssl_handshake(ssl_side, ssl_session, tickets=True)
    assert completed.resumed and pair.client.session_reused
    return comparison_row(
        ROW_RESUMPTION,
        functools.partial(teachtls_handshake, teachtls, session=teachtls_session),
        functools.partial(ssl_handshake, ssl_side, ssl_session, tickets=True),
        repetitions,
        target=None,
        note=check_same(completed, pair) + "; the server sends one new ticket on both sides",
    )


def bulk_row(identity: Identity, total_bytes: int, repetitions: int) -> Row:
    """`total_bytes` from client to server in 16 KiB writes, one record each."""
    chunk = os.urandom(RECORD_SIZE)
    writes = total_bytes // RECORD_SIZE
    teachtls = teachtls_setup(identity)
    ssl_side = ssl_setup(identity)

    def teachtls_bulk() -> None:
        client, server, _ = teachtls_handshake(teachtls)
        received = 0

        def transfer() -> None:
            nonlocal received
            for _ in range(writes):
                client.send_application_data(chunk)
                for event in server.receive_data(client.data_to_send()):
                    assert isinstance(event, ApplicationData)
                    received += len(event.data)

        elapsed.append(time_once(transfer))
        assert received == writes * RECORD_SIZE

    def ssl_bulk() -> None:
        pair = ssl_handshake(ssl_side)
        received = 0

        def transfer() -> None:
            nonlocal received
            for _ in range(writes):
                pair.client.write(chunk)
                pair.to_server()
                with contextlib.suppress(ssl.SSLWantReadError):
                    while True:
                        received += len(pair.server.read(RECORD_SIZE))

        elapsed.append(time_once(transfer))
        assert received == writes * RECORD_SIZE

    # Only the transfer is timed, not the handshake before it.
    times: dict[str, list[int]] = {"teachtls": [], "ssl": []}
    elapsed: list[int] = []
    for run in (teachtls_bulk, ssl_bulk):
        run()  # warm up
    for _ in range(repetitions):
        for name, run in (("teachtls", teachtls_bulk), ("ssl", ssl_bulk)):
            elapsed = []
            run()
            times[name] += elapsed
    rate = {name: writes * RECORD_SIZE / (statistics.median(t) / 1e9) / 1e6 for name, t in times.items()}
    ratio = rate["teachtls"] / rate["ssl"]
    return Row(
        ROW_BULK,
        f"{rate['teachtls']:.0f} MB/s",
        f"{rate['ssl']:.0f} MB/s",
        ratio,
        "throughput, teachtls / ssl",
        "≥ 0.7×",
        ratio >= 0.7,
        f"{writes * RECORD_SIZE // 2**20} MiB one way per repetition, TLS 1.3 TLS_AES_256_GCM_SHA384",
    )


def tracing_rows(identity: Identity, repetitions: int, directory: str) -> list[Row]:
    """The same handshake untraced, traced to a Recorder, traced to a JSON Lines file.

    Creating the file is timed too, on its own (an empty trace: the header,
    then close), because it is work of the file system rather than of
    teachtls, and on this kind of machine it has taken anything from 0.07
    to 1 ms of CPU time, from one run to the next."""
    setup = teachtls_setup(identity)
    traces = itertools.count()

    def to_memory() -> None:
        recorder = Recorder()
        teachtls_handshake(setup, observer=recorder)

    def to_jsonl() -> None:
        # A new file each time, as a user tracing connections would write. (On
        # ext4, truncating and rewriting one file forces the previous contents
        # to disk first, which would measure the disk, not teachtls.)
        with JsonlWriter(os.path.join(directory, f"trace-{next(traces)}.jsonl")) as writer:
            teachtls_handshake(setup, observer=writer)

    def new_file() -> None:
        JsonlWriter(os.path.join(directory, f"trace-{next(traces)}.jsonl")).close()

    samples = interleaved(
        repetitions,
        untraced=lambda: teachtls_handshake(setup),
        recorder=to_memory,
        jsonl=to_jsonl,
        new_file=new_file,
    )
    median = medians(samples.wall)
    cpu = medians(samples.cpu)
    file_note = (
        f"; of which creating the file alone (an empty trace) took {ms(median['new_file'])},"
        f" {median['new_file'] / median['untraced']:.2f} of the untraced handshake"
        f" (CPU time: without it, the ratio is {(cpu['jsonl'] - cpu['new_file']) / cpu['untraced']:.2f})"
    )
    rows = []
    for label, name, what in ((ROW_TRACE_RECORDER, "recorder", "Recorder"), (ROW_TRACE_JSONL, "jsonl", "new file")):
        ratio = median[name] / median["untraced"]
        cpu_note, disturbed = cpu_check(samples, name, "untraced")
        rows.append(
            Row(
                label,
                ms(median[name]),
                "—",
                ratio,
                "time, traced / untraced teachtls",
                "≤ 2×",
                ratio <= 2,
                f"the same ECDSA P-256 handshake untraced in this run: {ms(median['untraced'])};"
                f" one {what} for both roles; middle half of the repetitions: {spread(samples.wall[name])};"
                f" {cpu_note}" + (file_note if name == "jsonl" else ""),
                disturbed,
            )
        )
    return rows


def render_row(identity: Identity, repetitions: int) -> Row:
    recorder = Recorder()
    teachtls_handshake(teachtls_setup(identity), observer=recorder)
    events = recorder.events
    median = medians(
        interleaved(
            repetitions,
            svg=lambda: sequence_svg(events),
            html=lambda: render_html(events),
        ).wall
    )
    total = median["svg"] + median["html"]
    return Row(
        ROW_RENDER,
        ms(total),
        "— (no equivalent)",
        None,
        "",
        "well under 1 s",
        total < 1e9 / 2,
        f"one ECDSA P-256 handshake, {len(events)} events; sequence_svg {ms(median['svg'])},"
        f" render_html {ms(median['html'])} (each runs Graphviz `dot`)",
    )


# =====================================================================
# output
# =====================================================================


def environment() -> list[tuple[str, str]]:
    from cryptography.hazmat.backends.openssl.backend import backend

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return [
        ("date", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("machine", f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("cryptography", f"{cryptography.__version__} ({backend.openssl_version_text()})"),
        ("ssl module", ssl.OPENSSL_VERSION),
    ]


def mark(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: ""}[met]


def plain_table(rows: list[Row], settings: str) -> str:
    lines = [f"{key}: {value}" for key, value in environment()]
    lines.append(f"settings: {settings}")
    lines.append("")
    header = ("", "teachtls", "ssl", "ratio", "target", "met")
    table = [header] + [
        (
            row.label,
            row.teachtls,
            row.ssl,
            f"{row.ratio:.2f}" if row.ratio is not None else "",
            row.target,
            mark(row.met),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    lines.append("")
    lines += [f"{row.label}: {row.note}" for row in rows if row.note]
    return "\n".join(lines)


def markdown_table(rows: list[Row], settings: str) -> str:
    lines = ["| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in environment()]
    lines.append(f"| settings | {settings} |")
    lines += [
        "",
        "| Measurement | teachtls | ssl | Ratio | Target | Met | Notes |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    for row in rows:
        ratio = f"{row.ratio:.2f} ({row.ratio_meaning})" if row.ratio is not None else ""
        lines.append(
            f"| {row.label} | {row.teachtls} | {row.ssl} | {ratio} | {row.target} | {mark(row.met)} | {row.note} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few repetitions only (for the smoke test)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--repetitions", type=int, help="handshakes per side and row (default 500; --quick 3)")
    parser.add_argument("--bulk-mib", type=int, help="MiB per bulk repetition (default 16; --quick 1)")
    args = parser.parse_args(argv)
    repetitions = args.repetitions or (3 if args.quick else 500)
    bulk_mib = args.bulk_mib or (1 if args.quick else 16)
    bulk_repetitions = 2 if args.quick else 9
    render_repetitions = 1 if args.quick else 15
    settings = (
        f"{repetitions} handshakes per side and row, {bulk_repetitions} bulk transfers of {bulk_mib} MiB,"
        f" {render_repetitions} renderings; medians, A/B interleaved"
    )

    with tempfile.TemporaryDirectory(prefix="teachtls-bench-") as directory:
        identities = {key_type: make_identity(key_type, directory) for key_type in ("ecdsa-p256", "rsa-2048")}
        rows = handshake_rows(identities, repetitions)
        rows.append(bulk_row(identities["ecdsa-p256"], bulk_mib * 2**20, bulk_repetitions))
        rows += tracing_rows(identities["ecdsa-p256"], repetitions, directory)
        rows.append(render_row(identities["ecdsa-p256"], render_repetitions))

    print(markdown_table(rows, settings) if args.markdown else plain_table(rows, settings))
    if any(row.disturbed for row in rows):
        print(
            "\nOther load on the machine disturbed this run (see DISTURBED in the notes):"
            " the wall-clock ratios of those rows are not reliable. Run it again when the machine is quieter.",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
