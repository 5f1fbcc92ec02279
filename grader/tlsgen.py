"""Self-signed certificates for the Ingress/TLS lessons: `grade tls-cert --host H [--out DIR]`.

`write_tls_secret` writes three files into a folder: `tls.key` and `tls.crt` (PEM, for openssl and
kubectl users) and `<name>.yaml`, a `kubernetes.io/tls` Secret manifest with the same key and
certificate, ready to sit in the learner's work folder. The certificate carries every host as a
subjectAltName (clients check SANs, not the CN) and is its own issuer.
"""

from __future__ import annotations

from grader.errors import GradeError

import base64
import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_DAYS = 365
_DNS_LABEL = re.compile(r"^(\*|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$")


class TLSGenError(GradeError, ValueError):
    """A host name or secret name that cannot go into a certificate or a Secret."""


@dataclass(frozen=True)
class KeyPair:
    """A PEM private key and its self-signed certificate."""

    key_pem: bytes
    cert_pem: bytes


def _check_host(host: str) -> str:
    h = host.strip().rstrip(".").lower()
    if not h:
        raise TLSGenError("an empty host name: pass --host myapp.example.com")
    try:
        ipaddress.ip_address(h)
        return h
    except ValueError:
        pass
    labels = h.split(".")
    if len(h) > 253 or not all(_DNS_LABEL.match(label) for label in labels) or "*" in labels[1:]:
        raise TLSGenError(
            f"{host!r} is not a DNS name a certificate can carry: use letters, digits and '-' in dot-separated "
            "labels (a wildcard only as the first label, e.g. *.example.com)"
        )
    return h


def secret_name_for(host: str) -> str:
    """The default Secret name for a host: `myapp.example.com` -> `myapp-tls`, `*.example.com` -> `wildcard-example-tls`."""
    labels = _check_host(host).split(".")
    if labels[0] == "*":
        return f"wildcard-{labels[1]}-tls" if len(labels) > 1 else "wildcard-tls"
    return f"{labels[0].replace('*', 'wildcard')}-tls"


def make_self_signed(hosts: Sequence[str], *, days: int = DEFAULT_DAYS) -> KeyPair:
    """A new RSA-2048 key and a self-signed certificate valid for `hosts` (all as SANs; the first is the CN)."""
    names = [_check_host(h) for h in hosts]
    if not names:
        raise TLSGenError("no host given: pass at least one --host")
    if days < 1:
        raise TLSGenError(f"days must be at least 1, got {days}")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])])
    sans: list[x509.GeneralName] = []
    for n in dict.fromkeys(names):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate small clock skew between host and cluster
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return KeyPair(key_pem=key_pem, cert_pem=cert.public_bytes(serialization.Encoding.PEM))


def cert_sans(cert_pem: bytes) -> list[str]:
    """The DNS and IP subjectAltNames of a PEM certificate, in order."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(v) for v in ext.get_values_for_type(x509.DNSName)] + [
        str(v) for v in ext.get_values_for_type(x509.IPAddress)
    ]


def secret_manifest(name: str, pair: KeyPair, *, namespace: str | None = None) -> dict:
    """A `kubernetes.io/tls` Secret holding the pair (no namespace: it goes to the lesson's namespace)."""
    meta: dict = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(pair.cert_pem).decode("ascii"),
            "tls.key": base64.b64encode(pair.key_pem).decode("ascii"),
        },
    }


def write_tls_secret(
    hosts: Sequence[str],
    out_dir: str | Path,
    *,
    name: str | None = None,
    namespace: str | None = None,
    days: int = DEFAULT_DAYS,
) -> Path:
    """Write tls.key, tls.crt and a `kubernetes.io/tls` Secret manifest for `hosts` into `out_dir`.

    Returns the manifest's path (`<out_dir>/<name>.yaml`; the name defaults to `secret_name_for(hosts[0])`).
    The Secret has no namespace unless one is given, so the grader puts it in the lesson's namespace,
    the namespace of the Ingress that uses it.
    """
    hosts = list(hosts)
    if not hosts:
        raise TLSGenError("no host given: pass at least one --host")
    name = name or secret_name_for(hosts[0])
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", name):
        raise TLSGenError(f"{name!r} is not a valid Secret name: lower-case letters, digits, '-' and '.'")
    pair = make_self_signed(hosts, days=days)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TLSGenError(f"{out} is a file, not a folder: pass --out with a folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / "tls.crt").write_bytes(pair.cert_pem)
    key_path = out / "tls.key"
    key_path.write_bytes(pair.key_pem)
    key_path.chmod(0o600)  # a private key: readable by its owner only
    manifest = out / f"{name}.yaml"
    header = (
        f"# A self-signed TLS certificate for {', '.join(hosts)}, made by `grade tls-cert`.\n"
        f"# The same key and certificate are in tls.key and tls.crt next to this file.\n"
    )
    manifest.write_text(header + yaml.safe_dump(secret_manifest(name, pair, namespace=namespace), sort_keys=False))
    return manifest
