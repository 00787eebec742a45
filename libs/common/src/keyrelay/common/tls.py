"""A local certificate authority and one certificate per service, for gRPC mutual TLS.

The launcher calls `ensure_certificates(tls_dir, names)` on every start: it creates the CA
once and issues any missing certificate. A service's identity is its certificate's common
name (`keyvault`, `router`, `rag`, `portal`, `launcher`); keyvault-svc decides per RPC which
identities may call it. In production the platform's own CA issues the same files.

Layout: `ca.pem`, `ca-key.pem`, `<name>.pem`, `<name>-key.pem`; private keys are 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# Hostnames each service has in docker-compose, besides localhost.
COMPOSE_HOSTNAMES = {
    "keyvault": "keyvault-svc",
    "router": "llm-router-svc",
    "rag": "rag-svc",
    "portal": "portal-api",
    "vault": "openbao",
}
_VALIDITY = dt.timedelta(days=825)


@dataclass(frozen=True)
class TlsMaterial:
    ca: bytes
    cert: bytes
    key: bytes


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _create_ca(tls_dir: Path, cn: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + 2 * _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    _write_private(tls_dir / "ca-key.pem", _key_pem(key))
    (tls_dir / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def issue_certificate(tls_dir: Path, name: str) -> None:
    """Issue `<name>.pem` signed by the CA in tls_dir, valid as server and client."""
    ca_key = serialization.load_pem_private_key((tls_dir / "ca-key.pem").read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes())
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    dns = ["localhost", name] + ([COMPOSE_HOSTNAMES[name]] if name in COMPOSE_HOSTNAMES else [])
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1"))]
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(tls_dir / f"{name}-key.pem", _key_pem(key))
    (tls_dir / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure_certificates(tls_dir: Path, names: list[str], ca_name: str = "keyrelay local CA") -> None:
    tls_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(tls_dir, 0o700)
    if not (tls_dir / "ca.pem").exists():
        _create_ca(tls_dir, ca_name)
    for name in names:
        if not (tls_dir / f"{name}.pem").exists():
            issue_certificate(tls_dir, name)


def load_material(tls_dir: Path, name: str) -> TlsMaterial:
    try:
        return TlsMaterial(
            ca=(tls_dir / "ca.pem").read_bytes(),
            cert=(tls_dir / f"{name}.pem").read_bytes(),
            key=(tls_dir / f"{name}-key.pem").read_bytes(),
        )
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"mTLS material for '{name}' is missing in {tls_dir} ({exc.filename}); "
            "`keyrelay up` creates it, or set KEYRELAY_TLS_DIR to a directory holding "
            f"ca.pem, {name}.pem and {name}-key.pem"
        ) from exc
