"""Compute TLS 1.2 PRF known answers with OpenSSL's TLS1-PRF (`openssl kdf`).

Regenerates `openssl-kdf.json` (see README.md in this folder). Every value is
produced by the `openssl` binary, never by teachtls, with::

    openssl kdf -keylen LENGTH -kdfopt digest:DIGEST -kdfopt hexsecret:SECRET \\
        -kdfopt seed:LABEL -kdfopt hexseed:SEED TLS1-PRF

(OpenSSL's TLS1-PRF concatenates its seed parameters, so this is
PRF(secret, label, seed) of RFC 5246 §5.) The first two cases are the
published IETF TLS mailing-list vectors; the script refuses to write the file
unless OpenSSL reproduces them exactly. The others feed the inputs of the
master secret (RFC 5246 §8.1), extended master secret (RFC 7627 §4), key
block (RFC 5246 §6.3) and Finished (RFC 5246 §7.4.9) computations, with the
seed laid out as those sections say. Run from the repository root::

    .venv/bin/python tests/vectors/tls12/kdf_openssl.py
"""

from __future__ import annotations

import json
import pathlib
import subprocess

HERE = pathlib.Path(__file__).parent
OUTPUT = HERE / "openssl-kdf.json"

CLIENT_RANDOM = bytes(range(0x00, 0x20)).hex()
SERVER_RANDOM = bytes(range(0x20, 0x40)).hex()
# An RSA pre_master_secret has the form client_version (03 03) || 46 random bytes.
PRE_MASTER_SECRET = "0303" + bytes(range(0x40, 0x40 + 46)).hex()
SESSION_HASH_SHA256 = bytes(range(0xA0, 0xC0)).hex()
SESSION_HASH_SHA384 = bytes(range(0xA0, 0xD0)).hex()

PUBLISHED = {
    # IETF TLS WG mailing list, "Test vectors for TLS 1.2 PRF"
    # (https://www.ietf.org/mail-archive/web/tls/current/msg03416.html).
    "prf_sha256_published": (
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
        "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
        "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
        "87347b66"
    ),
    "prf_sha384_published": (
        "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd"
        "e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd"
        "8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425"
        "9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6"
        "91c8f3a26854308d5eaa3be85e0990703d73e56f"
    ),
}


def openssl_prf(digest: str, secret: str, label: str, seed: str, length: int) -> tuple[str, str]:
    command = [
        "openssl", "kdf", "-keylen", str(length), "-kdfopt", f"digest:{digest}",
        "-kdfopt", f"hexsecret:{secret}", "-kdfopt", f"seed:{label}", "-kdfopt", f"hexseed:{seed}", "TLS1-PRF",
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    printable = " ".join(f"'{part}'" if " " in part else part for part in command)
    return output.strip().replace(":", "").lower(), printable


def main() -> None:
    cases = [
        # id, what, digest, secret, label, seed, length
        ("prf_sha256_published", "PRF", "SHA256", "9bbe436ba940f017b17652849a71db35", "test label",
         "a0ba9f936cda311827a6f796ffd5198c", 100),
        ("prf_sha384_published", "PRF", "SHA384", "b80b733d6ceefcdc71566ea48e5567df", "test label",
         "cd665cf6a8447dd6ff8b27555edb7465", 148),
        ("master_secret_sha256", "master_secret", "SHA256", PRE_MASTER_SECRET, "master secret",
         CLIENT_RANDOM + SERVER_RANDOM, 48),
        ("master_secret_sha384", "master_secret", "SHA384", PRE_MASTER_SECRET, "master secret",
         CLIENT_RANDOM + SERVER_RANDOM, 48),
        ("extended_master_secret_sha256", "extended_master_secret", "SHA256", PRE_MASTER_SECRET,
         "extended master secret", SESSION_HASH_SHA256, 48),
        ("extended_master_secret_sha384", "extended_master_secret", "SHA384", PRE_MASTER_SECRET,
         "extended master secret", SESSION_HASH_SHA384, 48),
    ]  # fmt: skip
    vectors = []
    for case_id, what, digest, secret, label, seed, length in cases:
        output, command = openssl_prf(digest, secret, label, seed, length)
        if case_id in PUBLISHED and output != PUBLISHED[case_id]:
            raise SystemExit(f"OpenSSL does not reproduce the published {case_id}")
        vectors.append({"id": case_id, "function": what, "digest": digest, "secret": secret, "label": label,
                        "seed": seed, "length": length, "output": output, "command": command})  # fmt: skip
    # The key block and Finished use the SHA-256 master secret computed above.
    master = next(v["output"] for v in vectors if v["id"] == "master_secret_sha256")
    for case_id, what, label, seed, length in (
        ("key_block_sha256", "key_block", "key expansion", SERVER_RANDOM + CLIENT_RANDOM, 104),
        ("client_finished_sha256", "finished_verify_data", "client finished", SESSION_HASH_SHA256, 12),
        ("server_finished_sha256", "finished_verify_data", "server finished", SESSION_HASH_SHA256, 12),
    ):
        output, command = openssl_prf("SHA256", str(master), label, seed, length)
        vectors.append({"id": case_id, "function": what, "digest": "SHA256", "secret": master, "label": label,
                        "seed": seed, "length": length, "output": output, "command": command})  # fmt: skip
    version = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=True).stdout.strip()
    document = {
        "source": "computed by tests/vectors/tls12/kdf_openssl.py with openssl kdf TLS1-PRF (see README.md)",
        "openssl_version": version,
        "inputs": {
            "client_random": CLIENT_RANDOM,
            "server_random": SERVER_RANDOM,
            "pre_master_secret": PRE_MASTER_SECRET,
            "session_hash_sha256": SESSION_HASH_SHA256,
            "session_hash_sha384": SESSION_HASH_SHA384,
        },
        "vectors": vectors,
    }
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(vectors)} vectors to {OUTPUT}")


if __name__ == "__main__":
    main()
