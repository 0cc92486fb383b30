"""Cryptographic building blocks, each a thin wrapper around `cryptography`.

This is the only package in teachtls that imports `cryptography`: hashes and
HMAC (`hashes`), the record AEADs (`aead`), key exchange for every supported
group including the X25519MLKEM768 hybrid (`keyshare`) and CertificateVerify
signatures (`signature`). teachtls never implements a primitive itself; the
modules here only adapt `cryptography`'s objects to the shapes and names that
RFC 8446 uses, and turn its exceptions into teachtls ones that the
connection maps onto alerts.
"""
