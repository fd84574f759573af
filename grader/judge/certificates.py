"""The course's own certificate authority for its Dask cluster: mutual TLS, nothing else."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

from grader.course import CourseError

__all__ = ["DEFAULT_DIR", "ROLES", "CERT_FILES", "make_cluster_certs", "cluster_security", "require_tls_address"]

# Who holds what: the scheduler machine, each grading machine, the course machine (the client).
ROLES = ("scheduler", "worker", "client")
CERT_FILES = ("ca.pem", *(f"{role}{suffix}" for role in ROLES for suffix in (".pem", "-key.pem")))
DEFAULT_DIR = "cluster-certs"  # under the course directory
VALID_DAYS = 400  # a course term and a half; a new term makes new certificates


def make_cluster_certs(out: Path, hosts: list[str] = ()) -> list[Path]:
    """Write a fresh course CA and a certificate and key for each role into `out`.

    The CA's own key is never written: nothing can be added to this cluster later, and
    running again into a fresh folder (then redistributing) is how a leaked key is revoked.
    Keys are created mode 0600; existing files are never overwritten.
    """
    from cryptography.hazmat.primitives.asymmetric import ec

    out = Path(out)
    existing = [name for name in CERT_FILES if (out / name).exists()]
    if existing:
        raise CourseError(f"{out} already holds {', '.join(existing)}; choose an empty folder")
    out.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("grader course cluster CA", ca_key.public_key(), ca_key, None, ca=True)
    written = [_write(out / "ca.pem", _pem(ca_cert), 0o644)]
    for role in ROLES:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(f"grader cluster {role}", key.public_key(), ca_key, ca_cert,
                            ca=False, role=role, hosts=list(hosts))
        written.append(_write(out / f"{role}-key.pem", _key_pem(key), 0o600))
        written.append(_write(out / f"{role}.pem", _pem(cert), 0o644))
    return written


def cluster_security(certs: Path, *roles: str):
    """A `distributed.security.Security` that requires mutual TLS with the course CA for `roles`."""
    from distributed.security import Security

    certs = Path(certs)
    missing = [name for name in _needed(roles) if not (certs / name).is_file()]
    if missing:
        raise CourseError(f"{certs} lacks {', '.join(missing)}; make them with `grader cluster-certs`")
    files = {}
    for role in roles:
        files[f"tls_{role}_cert"] = str(certs / f"{role}.pem")
        files[f"tls_{role}_key"] = str(certs / f"{role}-key.pem")
    return Security(require_encryption=True, tls_ca_file=str(certs / "ca.pem"),
                    tls_min_version=ssl.TLSVersion.TLSv1_3, **files)


def require_tls_address(address: str) -> str:
    """`address` if it is a tls:// address; the kit has no unencrypted cluster mode."""
    if not address.startswith("tls://"):
        raise CourseError(f"--cluster {address}: only tls:// addresses are accepted "
                          "(mutual TLS with `grader cluster-certs`; there is no unencrypted mode)")
    return address


def _needed(roles) -> list[str]:
    return ["ca.pem", *(f"{role}{suffix}" for role in roles for suffix in (".pem", "-key.pem"))]


def _certificate(name: str, public_key, signing_key, issuer_cert, *, ca: bool, role: str = "",
                 hosts: list[str] = ()):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
               .public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    if ca:
        usage = _key_usage(cert_sign=True)
    else:
        usage = _key_usage(cert_sign=False)
        # The client only dials out, so its certificate cannot serve as a scheduler or worker.
        purposes = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if role != "client":
            purposes.append(ExtendedKeyUsageOID.SERVER_AUTH)
        builder = builder.add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
        builder = builder.add_extension(_alt_names(hosts), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False)
    builder = builder.add_extension(usage, critical=True)
    return builder.sign(signing_key, hashes.SHA256())


def _key_usage(*, cert_sign: bool):
    from cryptography import x509

    return x509.KeyUsage(digital_signature=not cert_sign, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False,
                         decipher_only=False)


def _alt_names(hosts: list[str]):
    from cryptography import x509

    names = []
    for host in dict.fromkeys([*hosts, "localhost", "127.0.0.1"]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int) -> Path:
    """Create `path` with `mode` from the start (no moment where a key is world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)  # O_CREAT's mode is filtered by the umask
    return path
