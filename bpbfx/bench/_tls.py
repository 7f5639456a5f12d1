"""A throw-away self-signed certificate for TLS on 127.0.0.1 (benchmarks and tests).

Generated with the ``cryptography`` package (already a dependency) each time it is asked for:
an ECDSA P-256 key and a certificate valid for one day for ``127.0.0.1`` and ``localhost``.
Nothing is written anywhere but the temporary directory the caller owns.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["LoopbackTLS", "loopback_tls"]


@dataclass(frozen=True)
class LoopbackTLS:
    """Paths of a self-signed loopback certificate and contexts that use it."""

    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """Server-side context presenting the certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """Client-side context that verifies the peer against this certificate only (host name
        checked: connect to ``127.0.0.1`` or ``localhost``)."""
        ctx = ssl.create_default_context(cafile=str(self.cert_file))
        return ctx


def loopback_tls(directory: Path) -> LoopbackTLS:
    """Write ``cert.pem`` and ``key.pem`` for 127.0.0.1 into ``directory`` (any thread)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bpbfx loopback")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "cert.pem"
    key_file = directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return LoopbackTLS(cert_file, key_file)
