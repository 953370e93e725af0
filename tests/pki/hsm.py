"""A SoftHSMv2 token holding the test signer's key and chain, and a remote signer.

`SoftToken` makes a token in a temporary folder (SOFTHSM2_CONF points there) and
imports signer1's key and certificates with python-pkcs11. `RemoteSignerServer` is a
tiny HTTP signing service on 127.0.0.1 for the remote key-source tests.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from tests.pki.server import TestPki

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
TOKEN = "vntoken"
PIN = "1234"
KEY_ID = b"\x01"


def has_softhsm() -> bool:
    """True when SoftHSMv2 (Debian package softhsm2) is installed."""
    return MODULE.is_file() and shutil.which("softhsm2-util") is not None


@dataclass
class SoftToken:
    """An initialised SoftHSMv2 token with signer1's key under CKA_ID 01."""

    folder: Path

    def create(self, pki: TestPki) -> None:
        """Initialise the token and import the key, its certificate and chain."""
        tokens = self.folder / "tokens"
        tokens.mkdir(parents=True)
        conf = self.folder / "softhsm2.conf"
        conf.write_text(
            f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
        )
        os.environ["SOFTHSM2_CONF"] = str(conf)
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", TOKEN,
             "--pin", PIN, "--so-pin", "5678"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        self._import(pki)

    def _import(self, pki: TestPki) -> None:
        import pkcs11
        from pkcs11 import Attribute, ObjectClass
        from pkcs11.util.rsa import decode_rsa_private_key
        from pkcs11.util.x509 import decode_x509_certificate

        lib = pkcs11.lib(str(MODULE))
        token = lib.get_token(token_label=TOKEN)
        with token.open(rw=True, user_pin=PIN) as session:
            key = serialization.load_der_private_key(pki.key_der("signer1"), None)
            traditional = key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
            attrs = decode_rsa_private_key(traditional)
            attrs.update(
                {Attribute.ID: KEY_ID, Attribute.TOKEN: True, Attribute.SIGN: True}
            )
            session.create_object(attrs)
            for index, label in enumerate(("signer1", "interm", "root")):
                from cryptography import x509

                der = x509.load_pem_x509_certificate(pki.cert_pem(label)).public_bytes(
                    serialization.Encoding.DER
                )
                cert = decode_x509_certificate(der)
                cert[Attribute.ID] = bytes([index + 1])
                cert[Attribute.LABEL] = label
                cert[Attribute.TOKEN] = True
                cert[Attribute.CLASS] = ObjectClass.CERTIFICATE
                session.create_object(cert)


class RemoteSignerServer:
    """A signing service on 127.0.0.1: signs posted digests with one RSA key."""

    def __init__(self, key_der: bytes, token: str = "bi-mat") -> None:
        """Load the key; `token` is the bearer token it demands."""
        key = serialization.load_der_private_key(key_der, None)
        assert isinstance(key, rsa.RSAPrivateKey)
        self.key, self.token = key, token
        self.requests: list[dict[str, object]] = []
        self.fail_with: int | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="remote-signer", daemon=True
        )

    @property
    def url(self) -> str:
        """The endpoint."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/sign"

    def start(self) -> None:
        """Serve in a thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(body)
                if owner.fail_with is not None:
                    self._answer(owner.fail_with, {"error": "down"})
                elif self.headers.get("Authorization") != f"Bearer {owner.token}":
                    self._answer(401, {"error": "token"})
                else:
                    digest = base64.b64decode(body["digest"])
                    signature = owner.key.sign(
                        digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
                    )
                    self._answer(
                        200, {"signature": base64.b64encode(signature).decode()}
                    )

            def _answer(self, status: int, payload: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler
