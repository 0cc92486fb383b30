"""The `teachtls` command line: demo, serve and connect, as a user runs them.

`teachtls serve` and `teachtls connect` run as real subprocesses
(`python -m teachtls ...`) talking over 127.0.0.1, and against the real
`openssl` binary. Every process started here is stopped in a `finally`.
"""

from __future__ import annotations

import contextlib
import re
import selectors
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from teachtls.cli import main, split_address
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.trace import ParametersNegotiated, load_jsonl

PROCESS_TIMEOUT = 30  # seconds any one command may take
OPENSSL = shutil.which("openssl")


@attrs.frozen
class Files:
    ca: Path  # the CA that issued the server's certificate
    other_ca: Path  # a CA that did not
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    directory = tmp_path_factory.mktemp("pki")
    ca = make_ca("teachtls test CA")
    other_ca = make_ca("some other CA")
    leaf = issue_leaf(ca, "localhost", dns_names=["localhost"])
    (directory / "ca.pem").write_bytes(ca.certificate_pem())
    (directory / "other-ca.pem").write_bytes(other_ca.certificate_pem())
    leaf.write(directory / "cert.pem", directory / "key.pem")
    return Files(directory / "ca.pem", directory / "other-ca.pem", directory / "cert.pem", directory / "key.pem")


def teachtls(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m teachtls ARGS` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "teachtls", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        cwd=cwd,
    )


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@attrs.frozen
class Server:
    port: int
    process: subprocess.Popen[str]
    stderr: Path

    def log(self) -> str:
        return self.stderr.read_text()


@contextlib.contextmanager
def teachtls_serve(files: Files, tmp_path: Path, *extra: str | Path) -> Iterator[Server]:
    """`teachtls serve --port 0 ...` as a subprocess, once it says it is listening."""
    stderr_path = tmp_path / "serve.stderr"
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "teachtls", "serve", "--port", "0", "--cert", str(files.cert),
             "--key", str(files.key), *map(str, extra)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=tmp_path,
        )
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(PROCESS_TIMEOUT)
        line = process.stdout.readline() if ready else ""
        match = re.fullmatch(r"teachtls: listening on https://127\.0\.0\.1:(\d+)/\n", line)
        assert match, f"unexpected first line {line!r}; stderr: {stderr_path.read_text()}"
        yield Server(int(match.group(1)), process, stderr_path)
    finally:
        stop(process)
        if process.stdout is not None:
            process.stdout.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_listening(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listening on port {port}")


# --- teachtls demo -----------------------------------------------------------------


def test_demo_writes_one_trace_of_both_roles(tmp_path, capsys):
    trace = tmp_path / "out" / "trace.jsonl"
    assert main(["demo", "--trace", str(trace), "--out", str(tmp_path / "out")]) == 0
    output = capsys.readouterr().out

    events = load_jsonl(trace)
    assert {event.role for event in events} == {"client", "server"}
    negotiated = [event for event in events if isinstance(event, ParametersNegotiated)]
    assert sorted(event.role for event in negotiated) == ["client", "server"]
    assert all(event.version == "TLS 1.3" for event in negotiated)
    names = [getattr(event, "name", "") for event in events]
    # one ordered conversation: the client's ClientHello comes before the server's Finished
    assert names.index("ClientHello") < names.index("ServerHello") < names.index("Finished")

    for step in ("ClientHello", "ServerHello", "Finished"):
        assert step in output
    assert str(trace) in output


def test_demo_default_paths(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    assert "demo-output/trace.jsonl" in capsys.readouterr().out
    assert load_jsonl(tmp_path / "demo-output" / "trace.jsonl")


def test_python_dash_m_teachtls_demo(tmp_path):
    result = teachtls("demo", "--out", tmp_path / "d", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d" / "trace.jsonl").exists()


# --- usage errors ------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_tls_version_1_2_and_1_3_are_accepted(version, tmp_path, capsys):
    # Past the argument parser: each command fails later, for its own reason (exit 1, not 2).
    missing = str(tmp_path / "missing.pem")
    assert main(["serve", "--cert", missing, "--key", missing, "--tls-version", version]) == 1
    assert "cannot load the certificate or key" in capsys.readouterr().err
    assert main(["connect", f"127.0.0.1:{free_port()}", "--tls-version", version, "--timeout", "5"]) == 1
    assert "connection refused" in capsys.readouterr().err


def test_unknown_tls_version(capsys):
    assert main(["connect", "127.0.0.1:1", "--tls-version", "1.1"]) == 2
    assert "unknown TLS version '1.1'" in capsys.readouterr().err


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "usage: teachtls" in capsys.readouterr().err


def test_split_address():
    assert split_address("127.0.0.1:4433") == ("127.0.0.1", 4433)
    assert split_address("example.org") == ("example.org", 443)
    assert split_address("[::1]:8443") == ("::1", 8443)
    for bad in ("host:", "host:http", ":443", "host:70000"):
        with pytest.raises(ValueError):
            split_address(bad)


def test_serve_with_a_missing_certificate(tmp_path, capsys):
    assert main(["serve", "--port", "0", "--cert", str(tmp_path / "no.pem"), "--key", str(tmp_path / "no.pem")]) == 1
    assert "cannot load the certificate or key" in capsys.readouterr().err


def test_connect_refused(capsys):
    assert main(["connect", f"127.0.0.1:{free_port()}", "--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "connection refused" in err


def test_connect_with_a_missing_cafile(tmp_path, capsys):
    assert main(["connect", "127.0.0.1:1", "--cafile", str(tmp_path / "missing.pem")]) == 1
    assert "cannot load trusted certificates" in capsys.readouterr().err


def test_connect_timeout(capsys):
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        assert main(["connect", f"127.0.0.1:{port}", "--insecure", "--timeout", "0.3"]) == 1
    err = capsys.readouterr().err
    assert "timed out after 0.3 s" in err


# --- teachtls serve + teachtls connect, end to end --------------------------------------


def test_serve_and_connect(files, tmp_path):
    with teachtls_serve(files, tmp_path) as server:
        result = teachtls("connect", f"127.0.0.1:{server.port}", "--cafile", files.ca, "--servername", "localhost")
        assert result.returncode == 0, result.stderr
        for text in ("HTTP/1.0 200 OK", "teachtls", "TLS 1.3", "TLS_AES_128_GCM_SHA256", "x25519"):
            assert text in result.stdout
        assert result.stderr == ""
    assert "connection 1 from 127.0.0.1" in server.log()


def test_connect_failures_name_their_cause(files, tmp_path):
    with teachtls_serve(files, tmp_path) as server:
        address = f"127.0.0.1:{server.port}"

        wrong_name = teachtls("connect", address, "--cafile", files.ca, "--servername", "wrong.example")
        assert wrong_name.returncode == 1
        assert wrong_name.stdout == ""
        assert wrong_name.stderr.count("\n") == 1
        assert wrong_name.stderr.startswith("teachtls: certificate verify failed: hostname mismatch:")
        assert "wrong.example" in wrong_name.stderr

        unknown_ca = teachtls("connect", address, "--cafile", files.other_ca, "--servername", "localhost")
        assert unknown_ca.returncode == 1
        assert unknown_ca.stderr.count("\n") == 1
        assert "certificate verify failed: unknown CA" in unknown_ca.stderr
        assert "unknown_ca" in unknown_ca.stderr

        insecure = teachtls("connect", address, "--insecure", "--servername", "wrong.example")
        assert insecure.returncode == 0, insecure.stderr
        assert "HTTP/1.0 200 OK" in insecure.stdout
        assert "warning: --insecure" in insecure.stderr

    log = server.log()
    assert "the client sent a fatal bad_certificate alert" in log
    assert "the client sent a fatal unknown_ca alert" in log


def test_trace_dir_and_keylog(files, tmp_path):
    traces, keylog = tmp_path / "traces", tmp_path / "keys.log"
    with teachtls_serve(files, tmp_path, "--trace-dir", traces, "--keylog", keylog) as server:
        for _ in range(2):
            result = teachtls("connect", f"127.0.0.1:{server.port}", "--cafile", files.ca, "--servername", "localhost")
            assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in traces.iterdir()) == ["connection-1.jsonl", "connection-2.jsonl"]
    for path in traces.iterdir():
        events = load_jsonl(path)
        assert {event.role for event in events} == {"server"}
        assert any(isinstance(event, ParametersNegotiated) for event in events)
    lines = keylog.read_text().splitlines()
    assert len([line for line in lines if line.startswith("CLIENT_HANDSHAKE_TRAFFIC_SECRET ")]) == 2
    assert len({line.split()[1] for line in lines}) == 2  # two client randoms


def test_connect_trace_and_keylog(files, tmp_path):
    trace, keylog = tmp_path / "client.jsonl", tmp_path / "client-keys.log"
    with teachtls_serve(files, tmp_path) as server:
        result = teachtls(
            "connect", f"127.0.0.1:{server.port}", "--cafile", files.ca, "--servername", "localhost",
            "--trace", trace, "--keylog", keylog, "--path", "/index.html",
        )
    assert result.returncode == 0, result.stderr
    assert "GET /index.html HTTP/1.1" in result.stdout
    events = load_jsonl(trace)
    assert {event.role for event in events} == {"client"}
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET " in keylog.read_text()


def test_alpn_mismatch_is_the_servers_alert(files, tmp_path):
    with teachtls_serve(files, tmp_path, "--alpn", "http/1.1") as server:
        address = f"127.0.0.1:{server.port}"
        agreed = teachtls("connect", address, "--cafile", files.ca, "--servername", "localhost", "--alpn", "http/1.1")
        refused = teachtls("connect", address, "--cafile", files.ca, "--servername", "localhost", "--alpn", "h2")
    assert agreed.returncode == 0, agreed.stderr
    assert "<code>http/1.1</code>" in agreed.stdout
    assert refused.returncode == 1
    assert refused.stderr == "teachtls: the server sent a fatal no_application_protocol alert\n"


def test_server_survives_garbage(files, tmp_path):
    with teachtls_serve(files, tmp_path) as server:
        for garbage in (b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", bytes(range(255, -1, -1)) * 8):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
                raw.sendall(garbage)
                with contextlib.suppress(ConnectionResetError):
                    raw.recv(100)
        result = teachtls("connect", f"127.0.0.1:{server.port}", "--cafile", files.ca, "--servername", "localhost")
        assert result.returncode == 0, result.stderr
        assert "HTTP/1.0 200 OK" in result.stdout
        assert server.process.poll() is None
    # Connection threads may log in any order: match each line by its number.
    log = {
        int(match.group(1)): line
        for line in server.log().splitlines()
        if (match := re.search(r"connection (\d+) ", line))
    }
    assert "unexpected_message" in log[1]
    assert "unexpected_message" in log[2]
    assert "TLS 1.3" in log[3]


# --- interop with openssl ------------------------------------------------------------


@pytest.mark.interop
@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl binary")
def test_openssl_s_client_against_teachtls_serve(files, tmp_path):
    with teachtls_serve(files, tmp_path) as server:
        result = subprocess.run(
            [str(OPENSSL), "s_client", "-connect", f"127.0.0.1:{server.port}", "-tls1_3",
             "-CAfile", str(files.ca), "-servername", "localhost", "-verify_return_error", "-quiet"],
            input=b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
            capture_output=True,
            timeout=PROCESS_TIMEOUT,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"teachtls" in result.stdout and b"TLS 1.3" in result.stdout


@pytest.mark.interop
@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl binary")
def test_teachtls_connect_against_openssl_s_server(files, tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [str(OPENSSL), "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(files.cert),
         "-key", str(files.key), "-www", "-tls1_3"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_until_listening(port, server)
        result = teachtls("connect", f"127.0.0.1:{port}", "--cafile", files.ca, "--servername", "localhost")
    finally:
        stop(server)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("HTTP/1.0 200 ok")
    assert "TLSv1.3" in result.stdout
