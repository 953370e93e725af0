"""Settings: read config/digitize.toml, apply DIGITIZE_* environment overrides, validate.

Every setting has a type, a default, a range where one makes sense and a description.
Secrets (the key passphrase) never live in the TOML: only the name of the environment
variable or file that holds them does.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from digitize.errors import ConfigError

__all__ = ["DEFAULT_CONFIG", "Settings", "WatchFolder", "load_settings"]

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "digitize.toml"


def _setting(default: Any, help: str, lo: float | None = None, hi: float | None = None):
    from dataclasses import field

    return field(default=default, metadata={"help": help, "lo": lo, "hi": hi})


@dataclass(frozen=True)
class WatchFolder:
    """One watched folder; timings left at None use the watch_* settings."""

    path: Path
    """The folder scanning staff drop files into."""
    mode: str = ""
    """events (inotify, via watchdog) or polling (network shares); empty = default."""
    settle_s: float | None = None
    """Quiet period before a file is taken (SMB scanners: 30-120 s)."""
    rescan_s: float | None = None
    """Full rescan interval in event mode."""
    young_s: float | None = None
    """Age below which a file that does not parse yet is retried, not failed."""


_FOLDER_MODES = ("", "events", "polling")


def _watch_folders(raw: Any, origin: str) -> tuple[WatchFolder, ...]:
    """Parse [[watch.folders]] tables (or their JSON in DIGITIZE_WATCH_FOLDERS)."""
    items = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise ValueError("expected a list of tables")
    known = {f.name for f in fields(WatchFolder)}
    folders = []
    for item in items:
        unknown = set(item) - known if isinstance(item, dict) else {"?"}
        if unknown or "path" not in item:
            raise ConfigError(
                f"watch.folders entry {item!r} from {origin}: needs 'path', "
                f"unknown keys {sorted(unknown)}"
            )
        if item.get("mode", "") not in _FOLDER_MODES:
            raise ConfigError(f"watch.folders mode from {origin}: events or polling")
        timings = {k: float(v) for k, v in item.items() if k.endswith("_s")}
        if any(v < 0 for v in timings.values()):
            raise ConfigError(f"watch.folders timings from {origin} must be >= 0")
        folders.append(
            WatchFolder(Path(item["path"]), str(item.get("mode", "")), **timings)
        )
    return tuple(folders)


@dataclass(frozen=True)
class Settings:
    """All of digitize's settings; see config/digitize.toml for each one's meaning."""

    home: Path = _setting(Path("digitize-data"), "folder holding all state")
    ocr_lang: str = _setting("vie", "Tesseract language(s), e.g. vie or vie+eng")
    ocr_dpi: int = _setting(300, "raster resolution for PDF pages", 100, 600)
    ocr_workers: int = _setting(0, "pages OCR'd in parallel; 0 = one per core", 0, 64)
    ocr_timeout_s: float = _setting(
        180.0, "wall-clock limit per Tesseract run", 5, 3600
    )
    osd_below_conf: float = _setting(
        70.0,
        "run orientation detection when mean word confidence is below this",
        0,
        100,
    )
    osd_min_conf: float = _setting(
        1.5, "minimum OSD confidence needed to turn a page", 0, 100
    )
    max_pages: int = _setting(2000, "refuse documents with more pages", 1, 100000)
    max_pixels: int = _setting(
        200_000_000, "pixel budget per page image for every decoder", 1_000_000, 2**31
    )
    max_file_mb: int = _setting(2000, "refuse input files larger than this", 1, 100000)
    sign_pkcs12: str = _setting(
        "", "PKCS#12 signing key; empty = the development key under home/keys"
    )
    sign_passphrase_env: str = _setting(
        "DIGITIZE_SIGN_PASSPHRASE", "environment variable holding the key passphrase"
    )
    sign_passphrase_file: str = _setting("", "file holding the key passphrase")
    sign_trust_roots: str = _setting(
        "", "PEM file(s) of trusted roots, comma-separated; empty = the dev root"
    )
    sign_agency: str = _setting(
        "UBND huyện Đức Cơ (thử nghiệm)", "converting agency named on the stamp"
    )
    sign_copy_type: str = _setting("SAO Y", "copy type printed on the stamp")
    sign_reason: str = _setting("Số hóa hồ sơ", "reason recorded in the signature")
    sign_location: str = _setting(
        "Bộ phận một cửa", "location recorded in the signature"
    )
    sign_source: str = _setting(
        "pkcs12", "where the key lives: pkcs12, pkcs11 (token/HSM) or remote"
    )
    sign_level: str = _setting(
        "auto", "PAdES level: auto (B-LTA with a TSA, else B-B), B-B, B-T, B-LT, B-LTA"
    )
    sign_tsa_url: str = _setting("", "RFC 3161 timestamp authority URL; empty = none")
    sign_network_timeout_s: float = _setting(
        20.0, "time limit per TSA, OCSP, CRL or remote-signer request", 1, 600
    )
    sign_pkcs11_module: str = _setting("", "PKCS#11 module (.so) of the token or HSM")
    sign_pkcs11_token: str = _setting("", "PKCS#11 token label")
    sign_pkcs11_key_id: str = _setting("", "CKA_ID of the signing key, hex")
    sign_pkcs11_cert_id: str = _setting(
        "", "CKA_ID of the signing certificate, hex; empty = the key id"
    )
    sign_pkcs11_pin_env: str = _setting(
        "DIGITIZE_SIGN_PIN", "environment variable holding the token PIN"
    )
    sign_remote_url: str = _setting(
        "", "remote signer endpoint (https, or http on loopback only)"
    )
    sign_remote_cert: str = _setting(
        "", "PEM file: the remote signer's certificate, then its chain"
    )
    sign_remote_token_env: str = _setting(
        "DIGITIZE_SIGN_REMOTE_TOKEN", "environment variable holding a bearer token"
    )
    sign_extend_within_days: int = _setting(
        365, "extend archive timestamps whose certificates expire within this", 1, 3650
    )
    record_url_base: str = _setting(
        "digitize:doc/", "QR code target on page 1: this prefix + the document id"
    )
    mark_text: str = _setting(
        "Bản số hóa từ bản giấy", "'converted from paper' mark drawn on page 1"
    )
    watch_settle_s: float = _setting(
        2.0, "quiet period before a file in the inbox is taken", 0, 3600
    )
    watch_poll_s: float = _setting(1.0, "scan interval of the watcher loop", 0.1, 3600)
    watch_polling: bool = _setting(False, "poll instead of using file events (SMB)")
    watch_rescan_s: float = _setting(
        300.0, "full rescan interval in event mode (missed events)", 1, 86400
    )
    watch_young_s: float = _setting(
        60.0, "a file newer than this that does not parse yet is retried", 0, 86400
    )
    watch_workers: int = _setting(2, "files processed at the same time", 1, 32)
    watch_retries: int = _setting(
        5, "retries of a transient error (EBUSY, EACCES, ...) before quarantine", 0, 100
    )
    watch_retry_s: float = _setting(
        2.0, "first retry delay; doubles each time, at most 10 minutes", 0.01, 600
    )
    watch_max_crashes: int = _setting(
        3, "worker crashes on one file before it is quarantined", 1, 100
    )
    watch_folders: tuple[WatchFolder, ...] = _setting(
        (), "watched folders, each with its own mode and timings; empty = home/inbox"
    )
    log_level: str = _setting("INFO", "DEBUG, INFO, WARNING or ERROR")
    web_session_idle_min: int = _setting(
        30, "minutes without a request that end a page session", 1, 1440
    )
    web_session_max_h: float = _setting(
        12.0, "hours after login that end a page session anyway", 0.1, 168
    )
    web_token_days: int = _setting(30, "days an API bearer token lasts", 1, 365)
    web_max_upload_mb: int = _setting(
        50, "largest scan or PDF accepted by an upload", 1, 2000
    )
    scale_mode: str = _setting(
        "embedded", "embedded (SQLite, local folder) or scaled (PostgreSQL, Celery)"
    )
    scale_database_url: str = _setting(
        "", "PostgreSQL URL without password (PGPASSWORD or ~/.pgpass supplies it)"
    )
    scale_broker_url: str = _setting(
        "", "Celery broker, redis://host:6379/0 or amqp://host:5672//"
    )
    scale_blob_store: str = _setting(
        "local", "local (home/repository, may be a shared mount) or s3"
    )
    scale_s3_endpoint: str = _setting("", "S3 endpoint URL; empty = AWS default")
    scale_s3_bucket: str = _setting("digitize", "S3 bucket holding every blob")
    scale_s3_region: str = _setting("us-east-1", "S3 region name")
    scale_s3_key_env: str = _setting(
        "DIGITIZE_S3_ACCESS_KEY", "environment variable holding the S3 access key id"
    )
    scale_s3_secret_env: str = _setting(
        "DIGITIZE_S3_SECRET_KEY", "environment variable holding the S3 secret key"
    )
    scale_task_time_limit_s: float = _setting(
        1800.0, "hard limit per task: the worker child is killed past it", 10, 86400
    )
    scale_visibility_timeout_s: float = _setting(
        7200.0, "Redis redelivers an unacknowledged task after this", 60, 604800
    )
    scale_heartbeat_s: float = _setting(
        10.0, "a running step marks its job alive this often", 0.2, 600
    )
    scale_stale_s: float = _setting(
        60.0, "a started step silent this long is sent again", 1, 86400
    )
    scale_requeue_s: float = _setting(
        900.0, "a queued job untouched this long is sent again", 1, 86400
    )
    scale_sweep_s: float = _setting(
        30.0, "how often the ingest node looks for stale jobs", 0.2, 3600
    )
    scale_max_retries: int = _setting(5, "retries of a failed step", 0, 100)
    scale_retry_backoff_s: float = _setting(
        10.0, "delay before the first retry; doubles each time", 0.1, 3600
    )
    scale_worker_concurrency: int = _setting(
        0, "task processes per worker; 0 = one per core", 0, 256
    )
    scale_worker_max_memory_mb: int = _setting(
        1500, "a worker child past this resident size is replaced", 100, 65536
    )

    @property
    def inbox(self) -> Path:
        """Default watched folder."""
        return self.home / "inbox"

    @property
    def processed(self) -> Path:
        """Inbox files that were stored."""
        return self.home / "processed"

    @property
    def quarantine(self) -> Path:
        """Inbox files that failed, each beside a reason file."""
        return self.home / "quarantine"

    @property
    def duplicates(self) -> Path:
        """Inbox files whose bytes were already stored."""
        return self.home / "duplicates"

    @property
    def repository(self) -> Path:
        """Content-addressed blobs: originals and signed PDFs."""
        return self.home / "repository"

    @property
    def catalog(self) -> Path:
        """The SQLite catalog file."""
        return self.home / "catalog.sqlite3"

    @property
    def work(self) -> Path:
        """Private work area for copies in progress."""
        return self.home / "work"

    @property
    def keys(self) -> Path:
        """Development key material created by `digitize keys`."""
        return self.home / "keys"

    def passphrase(self) -> bytes | None:
        """The signing key passphrase from the environment or its file, if any."""
        if self.sign_passphrase_file:
            return Path(self.sign_passphrase_file).read_bytes().strip()
        value = os.environ.get(self.sign_passphrase_env)
        return value.encode() if value else None


def _coerce(name: str, raw: Any, kind: Any, origin: str) -> Any:
    try:
        if kind is bool or kind == "bool":
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() in ("1", "true", "yes", "on"):
                return True
            if str(raw).lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if kind in (int, "int"):
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        if kind in (Path, "Path"):
            return Path(str(raw))
        if kind == "tuple[WatchFolder, ...]":
            return _watch_folders(raw, origin)
        return str(raw)
    except (TypeError, ValueError, AttributeError) as err:
        raise ConfigError(
            f"setting '{name}' from {origin} has a bad value {raw!r}; expected {kind}"
        ) from err


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}_{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(_flatten(value, name))
        else:
            flat[name] = value
    return flat


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from TOML, then DIGITIZE_* variables, then keyword overrides.

    Raises:
        ConfigError: unknown key, bad type or a value out of range.
    """
    path = path or Path(os.environ.get("DIGITIZE_CONFIG", DEFAULT_CONFIG))
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, tuple[Any, str]] = {}
    if path.exists():
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path} is not valid TOML: {err}") from err
        for key, value in _flatten(table).items():
            if key not in known:
                raise ConfigError(f"unknown setting '{key}' in {path}")
            values[key] = (value, str(path))
    for env_key, value in os.environ.items():
        if not env_key.startswith("DIGITIZE_"):
            continue
        key = env_key.removeprefix("DIGITIZE_").lower()
        if key in known:
            values[key] = (value, f"${env_key}")
    for key, value in overrides.items():
        if key not in known:
            raise ConfigError(f"unknown setting '{key}'")
        values[key] = (value, "arguments")
    return Settings(**{k: _checked(k, v, o, known[k]) for k, (v, o) in values.items()})


def _checked(name: str, raw: Any, origin: str, spec: Any) -> Any:
    value = _coerce(name, raw, spec.type, origin)
    lo, hi = spec.metadata["lo"], spec.metadata["hi"]
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(
            f"setting '{name}' from {origin} is {value}; allowed {lo} to {hi}"
        )
    return value
