"""Errors are alerts (RFC 8446 §6).

Every way a TLS 1.3 connection can fail ends in exactly one alert, so every
error teachtls raises carries one. There are two families, mirroring h11's
LocalProtocolError / RemoteProtocolError:

* `LocalAlert` -- *we* detected a problem. The connection has already queued
  the fatal alert record for the peer (collect it with `data_to_send()`),
  traced it, and closed. The exception names the check that failed, in plain
  English, and the RFC clause that demands it.
* `RemoteAlert` -- the *peer* sent us a fatal alert (or close_notify ended the
  stream abruptly); we only report it.

`LocalAlert` has one subclass per alert description (`DecodeError`,
`IllegalParameter`, `UnexpectedMessage`, ...) so callers and tests can catch
precisely what they expect:

    with pytest.raises(IllegalParameter, match="legacy_session_id_echo"):
        client.receive_data(tampered_server_hello)

RFC 8446 §6.2: "Upon transmission or receipt of a fatal alert message, both
parties MUST immediately close the connection."
"""

from __future__ import annotations

from teachtls.wire.enums import AlertDescription, AlertLevel


class TLSError(Exception):
    """Base class of every error teachtls raises on purpose."""


class ConnectionClosed(TLSError):
    """An operation on a connection that has already closed."""


class AlertError(TLSError):
    """An error that is (or was announced by) a TLS alert."""

    description: AlertDescription = AlertDescription.internal_error

    def __init__(self, reason: str, *, rfc: str = "", description: AlertDescription | None = None) -> None:
        if description is not None:
            self.description = description
        self.reason = reason
        self.rfc = rfc
        where = f" ({rfc})" if rfc else ""
        super().__init__(f"{self.description.name}: {reason}{where}")

    @property
    def level(self) -> AlertLevel:
        return AlertLevel.fatal


class LocalAlert(AlertError):
    """We found a problem; the fatal alert has been sent (queued) to the peer."""


class RemoteAlert(AlertError):
    """The peer sent a fatal alert."""

    def __init__(self, description: AlertDescription | int, level: AlertLevel | int = AlertLevel.fatal) -> None:
        self.remote_level = level
        name = description.name if isinstance(description, AlertDescription) else str(description)
        known = description if isinstance(description, AlertDescription) else AlertDescription.internal_error
        super().__init__(f"the peer sent a fatal {name} alert", rfc="RFC 8446 §6", description=known)
        self.raw_description = int(description)


# One class per alert description we can raise locally.
class UnexpectedMessage(LocalAlert):
    description = AlertDescription.unexpected_message


class BadRecordMac(LocalAlert):
    description = AlertDescription.bad_record_mac


class RecordOverflow(LocalAlert):
    description = AlertDescription.record_overflow


class HandshakeFailure(LocalAlert):
    description = AlertDescription.handshake_failure


class BadCertificate(LocalAlert):
    description = AlertDescription.bad_certificate


class UnsupportedCertificate(LocalAlert):
    description = AlertDescription.unsupported_certificate


class CertificateRevoked(LocalAlert):
    description = AlertDescription.certificate_revoked


class CertificateExpired(LocalAlert):
    description = AlertDescription.certificate_expired


class CertificateUnknown(LocalAlert):
    description = AlertDescription.certificate_unknown


class IllegalParameter(LocalAlert):
    description = AlertDescription.illegal_parameter


class UnknownCA(LocalAlert):
    description = AlertDescription.unknown_ca


class DecodeError(LocalAlert):
    description = AlertDescription.decode_error


class DecryptError(LocalAlert):
    description = AlertDescription.decrypt_error


class ProtocolVersionAlert(LocalAlert):
    description = AlertDescription.protocol_version


class InsufficientSecurity(LocalAlert):
    description = AlertDescription.insufficient_security


class InternalError(LocalAlert):
    description = AlertDescription.internal_error


class MissingExtension(LocalAlert):
    description = AlertDescription.missing_extension


class UnsupportedExtension(LocalAlert):
    description = AlertDescription.unsupported_extension


class UnrecognizedName(LocalAlert):
    description = AlertDescription.unrecognized_name


class BadCertificateStatusResponse(LocalAlert):
    description = AlertDescription.bad_certificate_status_response


class CertificateRequired(LocalAlert):
    description = AlertDescription.certificate_required


class NoApplicationProtocol(LocalAlert):
    description = AlertDescription.no_application_protocol


class HandshakeTimeout(TLSError):
    """The handshake did not finish within `Config.handshake_timeout_ms`.

    Like GNUTLS_E_TIMEDOUT: no alert is sent, no further handshake bytes
    leave, and the connection is closed."""


class KeyUpdateFlood(LocalAlert):
    """The peer sent more KeyUpdates than `Config.key_update_limit` allows."""

    description = AlertDescription.unexpected_message


LOCAL_ALERTS: dict[AlertDescription, type[LocalAlert]] = {
    cls.description: cls
    for cls in (
        UnexpectedMessage,
        BadRecordMac,
        RecordOverflow,
        HandshakeFailure,
        BadCertificate,
        UnsupportedCertificate,
        CertificateRevoked,
        CertificateExpired,
        CertificateUnknown,
        IllegalParameter,
        UnknownCA,
        DecodeError,
        DecryptError,
        ProtocolVersionAlert,
        InsufficientSecurity,
        InternalError,
        MissingExtension,
        UnsupportedExtension,
        UnrecognizedName,
        BadCertificateStatusResponse,
        CertificateRequired,
        NoApplicationProtocol,
    )
}


def local_alert(description: AlertDescription, reason: str, *, rfc: str = "") -> LocalAlert:
    """The LocalAlert subclass for `description` (LocalAlert itself if none)."""
    cls = LOCAL_ALERTS.get(description)
    if cls is None:
        return LocalAlert(reason, rfc=rfc, description=description)
    return cls(reason, rfc=rfc)
