"""Break-it labs: one deliberate fault per handshake, and the rule that catches it.

Reading that a TLS 1.3 client "MUST verify" a Finished message is one thing;
watching it refuse a Finished with one flipped bit is another. Each lab runs
a teachtls client against a teachtls server, in memory and deterministically
(`teachtls.labs.stage`), with exactly one thing wrong, and records both sides'
trace. The trace then shows which check caught the fault and which alert was
sent, in the walkthrough, the sequence diagram and the annotated page:

    $ teachtls lab                          # the list below
    $ teachtls lab corrupted-finished       # explanation, outcome, exercise; files in lab-output/

or from Python (a notebook, a test):

    >>> from teachtls.labs import LABS
    >>> result = LABS["corrupted-finished"].run()
    >>> result.caught.check, result.alert.description, result.alert.sent_by
    ('server_finished', 'decrypt_error', 'client')

==============================  ====================================  ==============================
lab                             caught by (check)                     alert
==============================  ====================================  ==============================
tampered-server-hello           client (record_authentication)        bad_record_mac
corrupted-finished              client (server_finished)              decrypt_error
wrong-certificate-verify-key    client (certificate_verify_signature) decrypt_error
expired-certificate             client (certificate_verification)     certificate_expired
wrong-hostname                  client (certificate_verification)     bad_certificate
unknown-ca                      client (certificate_verification)     unknown_ca
revoked-staple                  client (ocsp_staple)                  certificate_revoked
downgrade-attempt               client (downgrade_sentinel)           illegal_parameter
replayed-0rtt                   server (early_data: rejected)         none: 0-RTT data is skipped
truncated-record                client (message_decoding)             decode_error
wrong-record-mac                server (record_authentication)        bad_record_mac
==============================  ====================================  ==============================

Where the fault goes. A man in the middle can only touch what crosses the
wire: plaintext hellos freely, encrypted records blindly. Those labs edit
records with a *tap* on the in-memory wire (`teachtls.labs.network`), using
the codec to find the field to change. Faults a man in the middle cannot
make -- a Finished inside an encrypted record, a server without its
certificate's key, a certificate from another CA -- are made by a small
subclass or configuration of the honest server. Nothing in the core is
changed for a lab: the checks that fire are the ones every connection runs.

Every lab has an `explanation` (what the fault is, what an attacker would
gain, which RFC rule stops it), an `exercise` (a variation to run, with a
question) and, for teachers, the exercise's `answer`, which
tests/test_labs.py checks by running the variation.

Modules: `lab` (Lab, LabResult, reading the outcome from a trace), `stage`
(time, PKI, configurations), `network` (the wire and its taps), the labs
themselves in `handshake`, `certificates`, `records` and `replay`, and
`command` (the `teachtls lab` command).

Not for production: labs make broken TLS on purpose.
"""

from __future__ import annotations

from teachtls.labs.certificates import EXPIRED_CERTIFICATE, REVOKED_STAPLE, UNKNOWN_CA, WRONG_HOSTNAME
from teachtls.labs.handshake import (
    CORRUPTED_FINISHED,
    DOWNGRADE_ATTEMPT,
    TAMPERED_SERVER_HELLO,
    WRONG_CERTIFICATE_VERIFY_KEY,
)
from teachtls.labs.lab import AlertOutcome, Caught, Lab, LabResult
from teachtls.labs.records import TRUNCATED_RECORD, WRONG_RECORD_MAC
from teachtls.labs.replay import REPLAYED_0RTT

LABS: dict[str, Lab] = {
    lab.name: lab
    for lab in (
        TAMPERED_SERVER_HELLO,
        CORRUPTED_FINISHED,
        WRONG_CERTIFICATE_VERIFY_KEY,
        EXPIRED_CERTIFICATE,
        WRONG_HOSTNAME,
        UNKNOWN_CA,
        REVOKED_STAPLE,
        DOWNGRADE_ATTEMPT,
        REPLAYED_0RTT,
        TRUNCATED_RECORD,
        WRONG_RECORD_MAC,
    )
}
"""Every lab, by name, in the order of the table above."""


def run_lab(name: str) -> LabResult:
    """Run the lab called `name`. Raises `KeyError` for an unknown name, listing the known ones."""
    if name not in LABS:
        raise KeyError(f"unknown lab {name!r}; choose one of {', '.join(LABS)}")
    return LABS[name].run()


__all__ = ["LABS", "AlertOutcome", "Caught", "Lab", "LabResult", "run_lab"]
