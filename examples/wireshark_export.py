"""Export a handshake for Wireshark: a pcapng capture and an NSS key log.

Shows: a TLS 1.3 handshake in memory carrying an HTTP request and response,
recorded, then written two ways (teachtls.trace.pcap, teachtls.trace.keylog):

* capture.pcapng -- the records in invented TCP packets, with the secrets in
  a Decryption Secrets Block, so Wireshark decrypts it with no other file;
* keys.log -- the same secrets as an SSLKEYLOGFILE, for captures of your own.

If tshark is installed, it then reads the capture and lists the handshake
messages it decrypted.

Run:  python examples/wireshark_export.py [--out DIR]
Not for production: teachtls is for reading, not for protecting data.
"""

import argparse
import shutil
import subprocess
from pathlib import Path

from teachtls import ClientConnection, Config, ServerConnection
from teachtls.pki.generate import issue_leaf, make_ca
from teachtls.scenarios.memory import run
from teachtls.trace.keylog import write_keylog
from teachtls.trace.observer import Recorder
from teachtls.trace.pcap import write_pcapng

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=Path("."), help="where the two files go (default: here)")
args = parser.parse_args()
args.out.mkdir(parents=True, exist_ok=True)

ca = make_ca()
leaf = issue_leaf(ca, "localhost", dns_names=["localhost"])
recorder = Recorder()
client = ClientConnection(Config(server_name="localhost", trusted_certificates=(ca.certificate,), observer=recorder))
server = ServerConnection(
    Config(certificate_chain=(leaf.certificate,), private_key=leaf.private_key, observer=recorder)
)
run(
    client,
    server,
    client_data=b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    server_data=b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\nhello, wireshark!",
)

capture, keys = args.out / "capture.pcapng", args.out / "keys.log"
write_pcapng(recorder.events, capture)  # 127.0.0.1:50000 -> 127.0.0.1:443, secrets inside
write_keylog(recorder.events, keys)
print(f"wrote {capture} (with its Decryption Secrets Block) and {keys}")
print("open it with:")
print(f"  wireshark {capture}")
print(f"  tshark -r {capture} -Y tls.handshake")
print(f"  tshark -r {capture} -Y http -O http        (the decrypted request and response)")
print(f"  or, for a capture without secrets inside: tshark -r CAPTURE -o tls.keylog_file:{keys}")

tshark = shutil.which("tshark")
if tshark is None:
    print("tshark is not installed: nothing decrypted here")
else:
    # Encrypted Extensions, Certificate, ... and HTTP travel encrypted: seeing them means tshark decrypted them.
    command = [tshark, "-r", str(capture), "-Y", "tls.handshake or http", "-T", "fields", "-e", "_ws.col.Info"]
    output = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout
    print(f"tshark, decrypting with the secrets inside {capture.name}:")
    for line in output.splitlines():
        print(f"  {line.strip()}")
