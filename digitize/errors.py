"""Every exception digitize raises on purpose, with a stable code and exit code.

Catch only at the edges: the CLI maps `exit_code`, the watcher writes `code` into the
quarantine reason file, the API uses `http_status`.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "DependencyError",
    "DigitizeError",
    "ExtractionError",
    "InputError",
    "NotFoundError",
    "OcrError",
    "PermissionDeniedError",
    "QueryError",
    "SigningError",
    "SigningUnavailableError",
    "StorageError",
    "ToolTimeoutError",
]


class DigitizeError(Exception):
    """Base class: a failure we expected and can explain to the operator."""

    code = "digitize.error"
    exit_code = 1
    http_status = 500
    stage = "unknown"
    transient = False
    """True when the same input may succeed later (a service was down): retry it."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        """Keep the message; `code` overrides the class code for this instance."""
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """The human message, without the code."""
        return str(self.args[0]) if self.args else self.code


class ConfigError(DigitizeError):
    """A setting is unknown, malformed or out of range."""

    code = "config.invalid"
    exit_code = 2
    stage = "config"


class DependencyError(DigitizeError):
    """A program or data file we need is missing or too old (Tesseract, `vie`)."""

    code = "dependency.missing"
    exit_code = 3
    stage = "setup"


class InputError(DigitizeError):
    """The file handed in cannot be processed as it is (empty, not a scan, ...)."""

    code = "input.invalid"
    exit_code = 4
    http_status = 422
    stage = "ingest"


class OcrError(DigitizeError):
    """Tesseract failed on a page."""

    code = "ocr.failed"
    exit_code = 5
    stage = "ocr"


class ToolTimeoutError(OcrError):
    """An external program ran past its time limit and was killed."""

    code = "tool.timeout"


class ExtractionError(DigitizeError):
    """Identity fields could not be extracted."""

    code = "extract.failed"
    exit_code = 6
    stage = "extract"


class SigningError(DigitizeError):
    """The PDF could not be signed, or its signature did not validate."""

    code = "sign.failed"
    exit_code = 7
    stage = "sign"


class SigningUnavailableError(SigningError):
    """A configured signing service (TSA, OCSP/CRL, token, remote signer) is down.

    Never downgraded to a lower signature level: the job fails and is retried later.
    """

    code = "sign.unavailable"
    http_status = 503
    transient = True


class StorageError(DigitizeError):
    """The repository or catalog could not be written or read."""

    code = "store.failed"
    exit_code = 8
    stage = "store"


class QueryError(DigitizeError):
    """A lookup was malformed (bad ID number, empty query, ...)."""

    code = "query.invalid"
    exit_code = 9
    http_status = 400
    stage = "query"


class NotFoundError(QueryError):
    """The person, document or file asked for does not exist."""

    code = "query.not_found"
    exit_code = 10
    http_status = 404


class AuthError(DigitizeError):
    """No valid session or token: not logged in, wrong password, expired session."""

    code = "auth.required"
    exit_code = 11
    http_status = 401
    stage = "auth"


class PermissionDeniedError(DigitizeError):
    """Logged in, but the role or unit does not allow this (or a CSRF check failed)."""

    code = "auth.forbidden"
    exit_code = 12
    http_status = 403
    stage = "auth"
