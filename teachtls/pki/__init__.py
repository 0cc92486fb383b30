"""Certificates for teachtls: making them (`generate`) and checking them (`verify`).

TLS 1.3 itself only carries certificates (RFC 8446 §4.4.2) and proves that the
peer holds the leaf's private key (CertificateVerify, §4.4.3). Whether the
certificate chain deserves trust is left to X.509 path validation (RFC 5280
§6) and service-identity matching (RFC 9525, formerly RFC 6125): "detailed
certificate validation procedures are out of scope for TLS" (RFC 8446
§4.4.2.4). This package is where teachtls does that work:

* `teachtls.pki.generate` makes small demo and test PKIs -- a CA and leaf
  certificates for servers and clients -- with `cryptography.x509`, so that
  demos, tests and interop runs against `openssl` never need files from
  elsewhere.
* `teachtls.pki.verify` validates a received chain with
  `cryptography.x509.verification` and turns every failure into the RFC 8446
  §6.2 alert a TLS endpoint sends, with a plain-English reason.

* `teachtls.pki.ocsp` checks stapled OCSP responses (RFC 6960, RFC 6066 §8,
  RFC 8446 §4.4.2.1) -- signer, certificate ID, freshness, status -- and
  enforces must-staple (RFC 7633); it also makes responses for tests.

CRLs are not consulted.
"""
