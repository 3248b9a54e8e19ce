"""TLS for the fake exchange: a local CA and a server certificate for 127.0.0.1/localhost, made with trustme."""

from __future__ import annotations

import os
import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Any

import trio

__all__ = ["FakeTls", "TLS_HINT"]

#: Names the server certificate is valid for (the fake listens on loopback).
SERVER_NAMES = ("127.0.0.1", "localhost", "::1")
TLS_HINT = "TLS for the fake exchange needs trustme: pip install 'upbit-stream[fake-tls]'"
CA_FILE = "ca.pem"


class FakeTls:
    """A fresh CA and a server context whose certificate it signed; ``keep_files`` writes them out.

    Files written to a directory: ``ca.pem`` (the CA certificate a client trusts, e.g. with
    ``SSL_CERT_FILE``), ``server.pem`` (the server's key and certificate chain). Nothing secret is
    reused: every instance makes a new CA, whose key never leaves memory.
    """

    def __init__(self) -> None:
        try:
            import trustme
        except ImportError as exc:  # an optional dependency: say how to get it
            raise RuntimeError(TLS_HINT) from exc
        self._ca: Any = trustme.CA(organization_name="upbit_stream fake exchange")
        self._cert: Any = self._ca.issue_cert(*SERVER_NAMES)
        self.server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(self.server_context)

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only this CA (verifying the hostname)."""
        return ssl.create_default_context(cadata=self._ca.cert_pem.bytes().decode("ascii"))

    def write(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``ca.pem`` and ``server.pem`` into ``directory`` (made if missing); return the CA's path."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        ca_path = folder / CA_FILE
        self._ca.cert_pem.write_to_path(str(ca_path))
        server_path = folder / "server.pem"
        server_path.touch(mode=0o600)
        server_path.chmod(0o600)  # holds the server's private key
        self._cert.private_key_and_cert_chain_pem.write_to_path(str(server_path))
        return ca_path

    async def keep_files(self, directory: str | os.PathLike[str] | None, *,
                         task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Write the files (into a new temporary directory when ``directory`` is None), report the
        CA's path, and wait; when cancelled, remove the temporary directory (a given one is kept)."""
        folder = Path(tempfile.mkdtemp(prefix="upbit-fake-tls-")) if directory is None else Path(directory)
        try:
            ca_path = self.write(folder)  # two small files
            task_status.started(str(ca_path))
            await trio.sleep_forever()
        finally:
            if directory is None:
                shutil.rmtree(folder, ignore_errors=True)
