"""The lab's TLS material: each TLS server makes its own certificate at start.

A server (the fake ZPA broker) writes a self-signed certificate for its name
and addresses into the lab's trust folder (`<run>/pki`); clients in the lab
trust exactly the certificates in that folder. Nothing is shared with the
host's trust store, and nothing lives longer than the lab's run folder.
The certificate file appears atomically (written aside, then renamed), so a
client never reads half of one.
"""

from __future__ import annotations

import os
import ssl
import subprocess
from ipaddress import IPv4Address
from pathlib import Path


def make_server_certificate(trust_dir: Path, name: str, addresses: list[IPv4Address]
                            ) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate, published in `trust_dir`."""
    trust_dir.mkdir(parents=True, exist_ok=True)
    key, cert = trust_dir / f"{name}.key", trust_dir / f"{name}.pem"
    aside = trust_dir / f".{name}.pem.new"
    san = ",".join([f"DNS:{name}", *(f"IP:{a}" for a in addresses)])
    done = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "3", "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}",
         "-addext", "basicConstraints=critical,CA:TRUE", "-keyout", str(key), "-out", str(aside)],
        capture_output=True, text=True, check=False, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"openssl could not make the certificate: {done.stderr.strip()}")
    os.replace(aside, cert)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def client_context(trust_dir: Path) -> ssl.SSLContext | None:
    """A context trusting the lab's servers, or None while none has published yet."""
    certificates = sorted(trust_dir.glob("*.pem"))
    if not certificates:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies peer and name; no system CAs
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cadata="".join(c.read_text() for c in certificates))
    return context
