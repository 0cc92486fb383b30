"""`teachtls serve --tickets N --early-data BYTES --ocsp FILE`, as a user runs them.

The server runs as a real subprocess (`python -m teachtls serve`), and the
real `openssl s_client` is its client: it saves a session and resumes it
(`-sess_out`, `-sess_in`), sends 0-RTT data (`-early_data`) and asks for a
stapled OCSP response (`-status`). Every process started here is stopped in a
`finally`; everything listens on 127.0.0.1.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import attrs
import pytest

from teachtls.cli import main
from teachtls.pki.ocsp import make_ocsp_response
from tests.interop import OPENSSL, Pki, SClientResult, make_pki, run_s_client
from tests.test_cli import teachtls_serve

REQUEST = b"GET / HTTP/1.0\r\n\r\n"
NEW_TICKET = "Post-Handshake New Session Ticket arrived"

requires_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl binary is not installed")


@attrs.frozen
class Files:
    pki: Pki
    cert: Path  # the ECDSA leaf for "localhost"
    key: Path
    good_ocsp: Path  # a DER OCSP response saying the leaf is good, signed by the CA


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    directory = tmp_path_factory.mktemp("cli-lifecycle")
    pki = make_pki(directory)
    leaf = pki.servers["ecdsa-p256"]
    now = datetime.datetime.now(datetime.UTC)
    response = make_ocsp_response(
        certificate=leaf.issued,
        issuer=pki.ca,
        responder=pki.ca,
        this_update=now - datetime.timedelta(hours=1),
        next_update=now + datetime.timedelta(days=1),
    )
    (directory / "good.der").write_bytes(response)
    return Files(pki, leaf.cert_file, leaf.key_file, directory / "good.der")


def s_client(files: Files, port: int, *extra: str | Path, stdin: bytes = REQUEST) -> SClientResult:
    """`openssl s_client` verifying the server, sending `stdin`, reading until the server closes."""
    args = ["-CAfile", files.pki.ca_file, "-servername", "localhost", "-verify_return_error", "-ign_eof", *extra]
    result = run_s_client(port, args, stdin=stdin)
    assert result.returncode == 0, result.output
    assert "HTTP/1.0 200 OK" in result.stdout
    return result


# --- bad usage: nothing is started --------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        ["--tickets", "-1"],
        ["--tickets", "many"],
        ["--tickets", "17"],
        ["--early-data", "-1"],
        ["--early-data", str(2**32)],
    ],
    ids=["negative-tickets", "word", "too-many-tickets", "negative-early-data", "early-data-over-uint32"],
)
def test_bad_numbers_are_usage_errors(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--cert", "c.pem", "--key", "k.pem", *arguments]) == 2
    assert "teachtls serve: error: argument" in capsys.readouterr().err


def test_early_data_needs_tickets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--cert", "c.pem", "--key", "k.pem", "--tickets", "0", "--early-data", "1024"]) == 2
    assert capsys.readouterr().err == "teachtls: --early-data needs session tickets (--tickets 1 or more)\n"


def test_a_missing_ocsp_response(files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.der"
    arguments = ["serve", "--port", "0", "--cert", str(files.cert), "--key", str(files.key), "--ocsp", str(missing)]
    assert main(arguments) == 1
    assert capsys.readouterr().err == f"teachtls: cannot read the OCSP response {missing}: No such file or directory\n"


def test_an_empty_ocsp_response(files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.der"
    empty.write_bytes(b"")
    arguments = ["serve", "--port", "0", "--cert", str(files.cert), "--key", str(files.key), "--ocsp", str(empty)]
    assert main(arguments) == 1
    assert "must hold 1 to 16777215 bytes of DER" in capsys.readouterr().err


# --- with openssl s_client ---------------------------------------------------------------


@pytest.mark.interop
@requires_openssl
@pytest.mark.parametrize(("extra", "tickets"), [([], 2), (["--tickets", "3"], 3), (["--tickets", "0"], 0)])
def test_tickets_per_handshake(files: Files, tmp_path: Path, extra: list[str], tickets: int) -> None:
    with teachtls_serve(files, tmp_path, *extra) as server:
        result = s_client(files, server.port)
    assert result.stdout.count(NEW_TICKET) == tickets
    # no --early-data: the tickets do not offer 0-RTT
    assert result.stdout.count("Max Early Data: 0") == tickets


@pytest.mark.interop
@requires_openssl
def test_a_ticket_resumes_on_a_later_connection(files: Files, tmp_path: Path) -> None:
    """One ticket store for the whole server: connection 1's ticket opens on connection 2."""
    session = tmp_path / "session.pem"
    with teachtls_serve(files, tmp_path) as server:
        first = s_client(files, server.port, "-sess_out", session)
        second = s_client(files, server.port, "-sess_in", session)
    assert "New, TLSv1.3" in first.stdout
    assert "Reused, TLSv1.3" in second.stdout


@pytest.mark.interop
@requires_openssl
def test_early_data_carries_the_request(files: Files, tmp_path: Path) -> None:
    """`--early-data`: the whole HTTP request travels as 0-RTT data (RFC 8446 §2.3)."""
    session, early = tmp_path / "session.pem", tmp_path / "early.txt"
    early.write_bytes(b"GET /sent-as-0-rtt HTTP/1.0\r\n\r\n")
    with teachtls_serve(files, tmp_path, "--early-data", "16384") as server:
        first = s_client(files, server.port, "-sess_out", session)
        zero_rtt = s_client(files, server.port, "-sess_in", session, "-early_data", early, stdin=b"")
    assert "Max Early Data: 16384" in first.stdout
    assert "Reused, TLSv1.3" in zero_rtt.stdout
    assert "Early data was accepted" in zero_rtt.stdout
    # the page names the request it answered: the one sent before the handshake finished
    assert "GET /sent-as-0-rtt HTTP/1.0" in zero_rtt.stdout


@pytest.mark.interop
@requires_openssl
@pytest.mark.parametrize("ask", [True, False], ids=["status", "no-status"])
def test_ocsp_staple(files: Files, tmp_path: Path, ask: bool) -> None:
    with teachtls_serve(files, tmp_path, "--ocsp", files.good_ocsp) as server:
        result = s_client(files, server.port, *(["-status"] if ask else []))
    if ask:
        assert "OCSP Response Status: successful" in result.stdout
        assert "Cert Status: good" in result.stdout
    else:
        assert "OCSP response" not in result.stdout
