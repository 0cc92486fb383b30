"""Labs about the server's certificate: when, for whom, from whom, and still good?

The client accepts a certificate only if all of these hold (RFC 8446
§4.4.2.4 hands the details to RFC 5280 and RFC 9525; `teachtls.pki.verify`
and `teachtls.pki.ocsp` do the work):

* ``expired-certificate`` -- valid *now*, by the client's clock (RFC 5280 §4.1.2.5);
* ``wrong-hostname``      -- issued *for the name the client asked for* (RFC 9525 §6);
* ``unknown-ca``          -- issued *by a CA the client trusts* (RFC 5280 §6);
* ``revoked-staple``      -- *not revoked*, when the server staples an OCSP
  response (RFC 6066 §8, RFC 6960).

Each lab swaps in one certificate made with `teachtls.pki.generate`, dated
around `LAB_TIME`, for the honest server's.
"""

from __future__ import annotations

import datetime
import functools

import attrs
from cryptography import x509

from teachtls.handshake.alerts import AlertError
from teachtls.handshake.client13 import ClientConnection
from teachtls.handshake.server13 import ServerConnection
from teachtls.labs.lab import Lab
from teachtls.labs.network import Network, note
from teachtls.labs.stage import LAB_TIME, SERVER_NAME, client_config, rogue_ca, rogue_leaf, server_config, trusted_ca
from teachtls.pki.generate import IssuedCertificate, issue_leaf
from teachtls.pki.ocsp import make_ocsp_response
from teachtls.trace.observer import Recorder

DAY = datetime.timedelta(days=1)


def run_with_server_certificate(
    recorder: Recorder,
    chain: tuple[IssuedCertificate, ...],
    *,
    client_time: datetime.datetime = LAB_TIME,
    **server: object,
) -> AlertError | None:
    """An honest handshake, except that the server presents `chain` (leaf first)."""
    client = ClientConnection(client_config(recorder, clock=client_time.timestamp))
    settings = server_config(recorder, leaf=chain[0], **server)
    settings = attrs.evolve(settings, certificate_chain=tuple(issued.certificate for issued in chain))
    return Network(client, ServerConnection(settings)).start()


# --- expired-certificate -----------------------------------------------------------------------


@functools.cache
def expired_leaf(days_ago: int) -> IssuedCertificate:
    """www.example.com, from the trusted CA, valid for a year that ended `days_ago` days before LAB_TIME."""
    not_after = LAB_TIME - days_ago * DAY
    return issue_leaf(
        trusted_ca(),
        SERVER_NAME,
        dns_names=[SERVER_NAME],
        key_type="ed25519",
        not_before=not_after - 365 * DAY,
        not_after=not_after,
    )


def expired_certificate(recorder: Recorder, *, days_ago: int = 30, client_days_back: int = 0) -> AlertError | None:
    """The server's certificate expired `days_ago` days ago; the client's clock runs `client_days_back` days late."""
    leaf = expired_leaf(days_ago)
    note(
        recorder,
        "server",
        f"the server presents a certificate for {SERVER_NAME} that expired {days_ago} days ago "
        f"(notAfter {leaf.certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC)",
    )
    if client_days_back:
        note(recorder, "client", f"the client's clock runs {client_days_back} days behind")
    return run_with_server_certificate(recorder, (leaf,), client_time=LAB_TIME - client_days_back * DAY)


EXPIRED_CERTIFICATE = Lab(
    name="expired-certificate",
    title="The server's certificate expired a month ago",
    explanation=(
        "A certificate vouches for a key only from its notBefore to its notAfter (RFC 5280 §4.1.2.5). Here the "
        "server presents a certificate for www.example.com, issued by the trusted CA, that expired 30 days "
        "before the lab's clock. Expiry bounds how long a stolen key or a mis-issued certificate stays "
        "useful, and how long a CA must keep answering revocation questions about it: without it, whoever "
        "once stole an old certificate's key could impersonate the site forever. The client checks every "
        "certificate's validity period against its own clock (RFC 8446 §4.4.2.4 leaves the details to "
        'RFC 5280) and sends certificate_expired: "A certificate has expired or is not currently valid" '
        "(RFC 8446 §6.2)."
    ),
    exercise=(
        "Set the client's clock back 60 days, to when the certificate was still valid: "
        'LABS["expired-certificate"].run(client_days_back=60). What happens? What does that tell you about a '
        "device with a wrong clock -- or one whose clock an attacker can set, through unauthenticated NTP?"
    ),
    answer=(
        "The handshake completes: validity is judged by the client's clock alone. A client whose clock is "
        "behind accepts expired (possibly compromised) certificates; one whose clock is ahead refuses valid "
        "ones -- in practice the most common cause of certificate_expired errors."
    ),
    expected_check="certificate_verification",
    expected_role="client",
    expected_alert="certificate_expired",
    expected_reason="expired",
    rule="RFC 8446 §4.4.2.4, RFC 5280 §4.1.2.5",
    scenario=expired_certificate,
)


# --- wrong-hostname ----------------------------------------------------------------------------

ATTACKER_NAME = "attacker.example"


@functools.cache
def attackers_leaf(common_name: str) -> IssuedCertificate:
    """A genuine certificate for attacker.example, from the CA the client trusts."""
    return issue_leaf(trusted_ca(), common_name, dns_names=[ATTACKER_NAME], key_type="ed25519", now=LAB_TIME)


def wrong_hostname(recorder: Recorder, *, common_name: str = ATTACKER_NAME) -> AlertError | None:
    """The server presents a trusted certificate whose subjectAltName is attacker.example."""
    note(
        recorder,
        "server",
        f"the server presents a certificate from the trusted CA for {ATTACKER_NAME} "
        f"(common name {common_name}) to a client that wants {SERVER_NAME}",
    )
    return run_with_server_certificate(recorder, (attackers_leaf(common_name),))


WRONG_HOSTNAME = Lab(
    name="wrong-hostname",
    title="A trusted certificate, for someone else's name",
    explanation=(
        "Mallory owns attacker.example and got an honest certificate for it from the very CA the client "
        "trusts. She intercepts a connection to www.example.com and presents that certificate. The chain is "
        "fine, the signatures are fine, the dates are fine; the name is wrong. Without the name check any "
        "certificate from any trusted CA would open any site to whoever holds one. The client compares the "
        "name it asked for (the one it sent in server_name, RFC 6066 §3) with the names in the leaf's "
        "subjectAltName (RFC 9525 §6) and, finding no match, aborts the handshake with bad_certificate "
        '("hostname mismatch"). RFC 8446 §4.4.2.4 leaves certificate validation to these rules but is clear '
        "that a handshake with a certificate that fails them must not go on."
    ),
    exercise=(
        "Give Mallory's certificate the common name www.example.com while its subjectAltName still lists only "
        'attacker.example: LABS["wrong-hostname"].run(common_name="www.example.com"). Is it accepted? Why?'
    ),
    answer=(
        "No: still bad_certificate, hostname mismatch. Verifiers do not match names against the subject's "
        "common name (RFC 9525 §6.3); only subjectAltName counts. A CA validates the names it puts into "
        "subjectAltName; a common name is just a label."
    ),
    expected_check="certificate_verification",
    expected_role="client",
    expected_alert="bad_certificate",
    expected_reason="hostname mismatch",
    rule="RFC 8446 §4.4.2.4, RFC 9525 §6",
    scenario=wrong_hostname,
)


# --- unknown-ca ---------------------------------------------------------------------------------


def unknown_ca(recorder: Recorder, *, send_rogue_ca: bool = False) -> AlertError | None:
    """The server presents a certificate for www.example.com from a CA nobody trusts."""
    chain = (rogue_leaf(), rogue_ca()) if send_rogue_ca else (rogue_leaf(),)
    also = ", and sends that CA's certificate along" if send_rogue_ca else ""
    note(
        recorder,
        "server",
        f"the server presents a certificate for {SERVER_NAME} issued by {rogue_ca().subject}, "
        f"a CA the client does not trust{also}",
    )
    return run_with_server_certificate(recorder, chain)


UNKNOWN_CA = Lab(
    name="unknown-ca",
    title="A certificate from a CA the client does not trust",
    explanation=(
        "Anyone can make a CA: a key pair and a self-signed certificate, which is all "
        "teachtls.pki.generate.make_ca does. Mallory makes one, issues herself a certificate for "
        "www.example.com and presents it. Everything about it is well formed -- the right name, the right "
        "dates, a valid signature -- except that its chain ends at a root the client has never heard of. "
        "Trust comes only from the client's own store of trust anchors (RFC 5280 §6), so the client aborts "
        'with unknown_ca: "A valid certificate chain or partial chain was received, but the certificate was '
        "not accepted because the CA certificate could not be located or could not be matched with a known "
        'trust anchor" (RFC 8446 §6.2). Without this rule a certificate would prove nothing at all.'
    ),
    exercise=(
        "Let the server send Mallory's CA certificate along with the leaf: "
        'LABS["unknown-ca"].run(send_rogue_ca=True). Does that help? What would Mallory need instead?'
    ),
    answer=(
        "No: still unknown_ca. Certificates the server sends are only candidate links of the chain; its end "
        "must be a root the client already trusts. Mallory would need her CA in the client's trust store -- "
        "installing a root on the victim's machine is exactly what TLS-inspecting proxies and some malware do."
    ),
    expected_check="certificate_verification",
    expected_role="client",
    expected_alert="unknown_ca",
    rule="RFC 8446 §4.4.2.4, RFC 5280 §6",
    scenario=unknown_ca,
)


# --- revoked-staple ------------------------------------------------------------------------------


@functools.cache
def stapled_leaf(must_staple: bool) -> IssuedCertificate:
    """www.example.com from the trusted CA, optionally OCSP must-staple (RFC 7633)."""
    return issue_leaf(
        trusted_ca(), SERVER_NAME, dns_names=[SERVER_NAME], key_type="ed25519", now=LAB_TIME, must_staple=must_staple
    )


def ocsp_response(leaf: IssuedCertificate, status: str) -> bytes:
    """The CA's own OCSP answer about `leaf`, produced an hour before LAB_TIME, good for a week."""
    revoked = status == "revoked"
    return make_ocsp_response(
        certificate=leaf,
        issuer=trusted_ca(),
        responder=trusted_ca(),
        status="revoked" if revoked else "good",
        this_update=LAB_TIME - datetime.timedelta(hours=1),
        next_update=LAB_TIME + 7 * DAY,
        revocation_time=LAB_TIME - 2 * DAY if revoked else None,
        revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
    )


def revoked_staple(recorder: Recorder, *, staple: str = "revoked", must_staple: bool = False) -> AlertError | None:
    """The server staples an OCSP response: "revoked", "good", or none at all ("none")."""
    if staple not in ("revoked", "good", "none"):
        raise ValueError(f"staple must be 'revoked', 'good' or 'none', not {staple!r}")
    leaf = stapled_leaf(must_staple)
    response = None if staple == "none" else ocsp_response(leaf, staple)
    kind = " (a must-staple certificate)" if must_staple else ""
    what = "no OCSP response" if response is None else f'an OCSP response from the CA saying "{staple}"'
    note(recorder, "server", f"the server staples {what} to its certificate{kind}")
    return run_with_server_certificate(recorder, (leaf,), ocsp_response=response)


REVOKED_STAPLE = Lab(
    name="revoked-staple",
    title='The server staples an OCSP response that says "revoked"',
    explanation=(
        "A certificate may have to die before its notAfter: its key leaked, or it was issued by mistake. The "
        "CA then revokes it and says so in short-lived, signed OCSP responses (RFC 6960). With OCSP stapling "
        "the server fetches the response for its own certificate and sends it in the handshake, in the "
        "status_request extension of its Certificate entry (RFC 6066 §8, RFC 8446 §4.4.2.1). Here the CA has "
        "revoked www.example.com's certificate (reason keyCompromise) and that is the answer stapled. The "
        "client checks the staple -- signed by the CA, about this certificate, fresh -- and reads "
        '"revoked": certificate_revoked, "A certificate was revoked by its signer" (RFC 8446 §6.2). Without '
        "revocation, whoever stole the key could impersonate the site until the certificate expires. (An "
        "honest server would stop using a revoked certificate; the lab shows the client's side of the rule.)"
    ),
    exercise=(
        "An attacker holding the stolen key is less helpful: he staples nothing. Run "
        'LABS["revoked-staple"].run(staple="none"). What does the client do? Then make the certificate '
        'must-staple (RFC 7633): run(staple="none", must_staple=True).'
    ),
    answer=(
        "With no staple the handshake completes: clients soft-fail when no revocation information arrives, "
        "or a blocked OCSP responder would take every site down with it. OCSP must-staple closes that gap: a "
        "certificate whose TLS Feature extension lists status_request promises a staple, and its absence is "
        "fatal -- check ocsp_staple, bad_certificate_status_response (RFC 7633 §4.2.3.1)."
    ),
    expected_check="ocsp_staple",
    expected_role="client",
    expected_alert="certificate_revoked",
    rule="RFC 6066 §8, RFC 6960 §4.2.1",
    scenario=revoked_staple,
)


__all__ = [
    "EXPIRED_CERTIFICATE",
    "REVOKED_STAPLE",
    "UNKNOWN_CA",
    "WRONG_HOSTNAME",
    "expired_certificate",
    "revoked_staple",
    "run_with_server_certificate",
    "unknown_ca",
    "wrong_hostname",
]
