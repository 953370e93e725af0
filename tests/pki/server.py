"""A throwaway test PKI served on 127.0.0.1: root, issuing CA, OCSP, CRL and a TSA.

Keys are generated with cryptography at every run (certomancer never makes keys); the
certificates come from tests/pki/certomancer.yml with the URLs pointed at a free
loopback port. `TestPki.start()` / `stop()` run certomancer's WSGI app in a thread.
"""

from __future__ import annotations

import shutil
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import CertLabel, CertomancerConfig, KeyLabel, PKIArchitecture
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

CONFIG = Path(__file__).with_name("certomancer.yml")
ARCH = "vn-test"
KEYS = ("root", "interm", "interm-ocsp", "tsa", "signer1", "signer2")
PASSPHRASE = b"mat-khau-thu"


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        return


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_keys(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for label in KEYS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        (folder / f"{label}.key.pem").write_bytes(pem)


@dataclass
class TestPki:
    """Certificates, keys and (when started) the live OCSP/CRL/TSA services."""

    folder: Path
    port: int = field(default_factory=_free_port)
    arch: PKIArchitecture = field(init=False)
    _server: BaseWSGIServer | None = field(default=None, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    __test__ = False  # not a test class, despite the name

    def __post_init__(self) -> None:
        """Generate keys, load the architecture with URLs on our port."""
        shutil.copy(CONFIG, self.folder / CONFIG.name)
        _write_keys(self.folder / "keys")
        config = CertomancerConfig.from_file(
            str(self.folder / CONFIG.name), external_url_prefix=self.base_url
        )
        self.arch = config.get_pki_arch(ARCH)
        self._archs = config.pki_archs

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def tsa_url(self) -> str:
        """The timestamp authority's URL."""
        return f"{self.base_url}/{ARCH}/tsa/tsa"

    def start(self) -> None:
        """Serve OCSP, CRLs, certificates and the TSA on 127.0.0.1:port."""
        if self._server is not None:
            return
        app = Animator(AnimatorArchStore(self._archs), with_web_ui=False)
        self._server = make_server(
            "127.0.0.1", self.port, app, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="test-pki", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Shut the services down; the port refuses connections afterwards."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join(timeout=10)
        self._server = self._thread = None

    def cert_pem(self, label: str) -> bytes:
        """A certificate in PEM."""
        cert = self.arch.get_cert(CertLabel(label))
        return _pem(cert.dump())

    def write_root(self) -> Path:
        """The root certificate as a PEM file; the tests' only trust anchor."""
        path = self.folder / "root.pem"
        path.write_bytes(self.cert_pem("root"))
        return path

    def write_p12(self, label: str, passphrase: bytes = PASSPHRASE) -> Path:
        """Signer `label` with its key and chain (issuing CA, root) as PKCS#12."""
        key = serialization.load_der_private_key(
            self.arch.key_set.get_private_key(KeyLabel(label)).dump(), None
        )
        certs = [
            self._x509(label),
            self._x509("interm"),
            self._x509("root"),
        ]
        data = pkcs12.serialize_key_and_certificates(
            name=label.encode(),
            key=key,  # type: ignore[arg-type]
            cert=certs[0],
            cas=certs[1:],
            encryption_algorithm=serialization.BestAvailableEncryption(passphrase),
        )
        path = self.folder / f"{label}.p12"
        path.write_bytes(data)
        return path

    def key_der(self, label: str) -> bytes:
        """A private key, PKCS#8 DER."""
        return bytes(self.arch.key_set.get_private_key(KeyLabel(label)).dump())

    def _x509(self, label: str) -> Any:
        from cryptography import x509

        return x509.load_der_x509_certificate(
            self.arch.get_cert(CertLabel(label)).dump()
        )


def _pem(der: bytes) -> bytes:
    from cryptography import x509

    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
