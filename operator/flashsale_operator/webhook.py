"""The validating admission webhook: kopf's WebhookServer with a self-signed certificate made at start-up for
the address the API server calls, and the validation it serves (the spec's cross-field rules)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kopf
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from flashsale_operator.config import Webhook
from flashsale_operator.spec import SpecError, parse_spec

CERT_DAYS = 365


def spec_refusal(spec: Mapping[str, Any]) -> str | None:
    """Why the API server must refuse this spec (None: admit it)."""
    try:
        parse_spec(spec)
    except SpecError as error:
        return str(error)
    return None


def _subject_names(host: str) -> list[x509.GeneralName]:
    try:
        return [x509.IPAddress(ipaddress.ip_address(host))]
    except ValueError:
        return [x509.DNSName(host)]


def self_signed(host: str, now: dt.datetime) -> tuple[bytes, bytes]:
    """A certificate for `host` (a name or an IP address) that is its own CA, and its key, both PEM. kopf hands
    the certificate to the API server as the webhook's caBundle."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(_subject_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class WebhookFiles:
    """The certificate and key in a private temporary folder, for as long as the server runs."""

    def __init__(self, host: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="flashsale-webhook-"))  # mode 0700
        cert, key = self_signed(host, dt.datetime.now(dt.UTC))
        self.certfile = self.folder / "tls.crt"
        self.keyfile = self.folder / "tls.key"
        self.certfile.write_bytes(cert)
        self.keyfile.touch(mode=0o600)
        self.keyfile.write_bytes(key)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def configure(settings: kopf.OperatorSettings, webhook: Webhook, files: WebhookFiles) -> None:
    """Serve the webhook and let kopf keep its ValidatingWebhookConfiguration pointing here."""
    settings.admission.server = kopf.WebhookServer(
        addr=webhook.addr,
        port=webhook.port,
        host=webhook.host,
        certfile=files.certfile,
        pkeyfile=files.keyfile,
    )
    settings.admission.managed = webhook.configuration
