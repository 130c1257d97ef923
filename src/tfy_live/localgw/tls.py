"""Certificates for the local gateway: a throwaway CA and a localhost certificate.

With an API key the SDK always speaks TLS, so the local gateway must too. The
CA lives in memory, and in one private temporary file only when a client in
another process needs it (via ``SSL_CERT_FILE`` or ``--ca-bundle``).
"""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

import trustme


class LocalCertificates:
    def __init__(self) -> None:
        self._ca = trustme.CA(organization_name="tfy-live local gateway")
        self._cert = self._ca.issue_cert("localhost", "127.0.0.1", "::1")
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def ca_file(self) -> Path:
        """The CA as a file, written when first asked for.

        ``talk --local`` never asks (its client trusts the CA from memory), so it
        leaves nothing on disk, whatever ends it; ``local-gateway`` and the tests do.
        """
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="tfy-live-gw-")
            path = Path(self._dir.name) / "ca.pem"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(self._ca.cert_pem.bytes())
        return Path(self._dir.name) / "ca.pem"

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Trusts this CA alone: loading the system's store too would cost 20 ms and trust nothing needed."""
        return ssl.create_default_context(cadata=self._ca.cert_pem.bytes().decode("ascii"))

    def cleanup(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
