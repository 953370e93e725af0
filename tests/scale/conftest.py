"""Real servers on loopback for the scaled mode, started and killed by the test session.

PostgreSQL 15, Redis and SeaweedFS each start once per session on free ports with their
data in temporary folders; every test gets its own database and bucket. Tiny scans (two
lines of Vietnamese drawn with DejaVu Sans) keep 100 files to about a minute.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from digitize.config import load_settings
from digitize.keys import ensure_signing_key
from digitize.scale.servers import PostgresServer, RedisServer, SeaweedServer

ROOT = Path(__file__).resolve().parents[2]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PHRASES = [
    "Giấy khai sinh của Đặng Văn Hòa",
    "Đơn đề nghị cấp căn cước công dân",
    "Sổ hộ khẩu gia đình ông Nguyễn Văn Lễ",
    "Giấy chứng nhận quyền sử dụng đất",
    "Tờ khai đăng ký kết hôn tại Đức Cơ",
    "Quyết định hỗ trợ hộ nghèo năm hai nghìn",
]
_names = itertools.count()


def make_scans(folder: Path, count: int, seed: int = 5) -> list[Path]:
    """`count` small PNG scans: a phrase from PHRASES and a numbered line each."""
    rng = random.Random(seed)
    font = ImageFont.truetype(FONT, 40)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        image = Image.new("L", (1300, 220), 255)
        draw = ImageDraw.Draw(image)
        draw.text((40, 40), rng.choice(PHRASES), font=font, fill=0)
        draw.text((40, 125), f"Hồ sơ số {1000 + n} xã Ia Kriêng", font=font, fill=0)
        unit = f"xa-{n % 3}"
        path = folder / unit / f"HS-{n // 10:02d}" / f"scan-{n:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, dpi=(300, 300))
        paths.append(path)
    return paths


def sha_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def pg():
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def seaweed():
    server = SeaweedServer().start()
    yield server
    server.stop()


@pytest.fixture
def scaled(pg, redis, seaweed, tmp_path, monkeypatch):
    """Settings of a fresh scaled deployment: own database, bucket and Redis db."""
    for key in list(os.environ):
        if key.startswith("DIGITIZE_"):
            monkeypatch.delenv(key)
    n = next(_names)
    env = {
        "DIGITIZE_HOME": str(tmp_path / "home"),
        "DIGITIZE_OCR_WORKERS": "1",
        "DIGITIZE_LOG_LEVEL": "WARNING",
        "DIGITIZE_SCALE_MODE": "scaled",
        "DIGITIZE_SCALE_DATABASE_URL": pg.create_database(f"t{os.getpid()}_{n}"),
        "DIGITIZE_SCALE_BROKER_URL": redis.url[:-1] + str(n % 15 + 1),
        "DIGITIZE_SCALE_BLOB_STORE": "s3",
        "DIGITIZE_SCALE_S3_ENDPOINT": seaweed.endpoint,
        "DIGITIZE_SCALE_S3_BUCKET": "digitize-test",
        "DIGITIZE_S3_ACCESS_KEY": "test",
        "DIGITIZE_S3_SECRET_KEY": "test",
        "DIGITIZE_SCALE_HEARTBEAT_S": "0.5",
        "DIGITIZE_SCALE_STALE_S": "3",
        "DIGITIZE_SCALE_REQUEUE_S": "8",
        "DIGITIZE_SCALE_SWEEP_S": "0.5",
        "DIGITIZE_SCALE_RETRY_BACKOFF_S": "0.5",
        "DIGITIZE_SCALE_TASK_TIME_LIMIT_S": "120",
        "DIGITIZE_SCALE_VISIBILITY_TIMEOUT_S": "3600",
        "DIGITIZE_WATCH_SETTLE_S": "0",
        "DIGITIZE_WATCH_POLL_S": "0.1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    ensure_signing_key(settings)  # made once, before the workers share it
    return settings


class Workers:
    """`digitize worker` processes, each in its own process group."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def start(self, name: str, log_dir: Path, queues: str = "ocr,sign,index") -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.logs[name] = log_dir / f"{name}.log"
        with self.logs[name].open("wb") as log:
            self.procs[name] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "digitize",
                    "worker",
                    "--queues",
                    queues,
                    "--concurrency",
                    "1",
                    "--name",
                    f"{name}@127.0.0.1",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def owns(self, name: str, pid: int) -> bool:
        try:
            return os.getpgid(pid) == self.procs[name].pid
        except ProcessLookupError:
            return False

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def workers():
    group = Workers()
    yield group
    group.stop_all()


@pytest.fixture(scope="session")
def embedded_100(tmp_path_factory):
    """The 100 scans run through the embedded pipeline (SQLite, local folder)."""
    from digitize.pipeline import process_file
    from digitize.store import Catalog

    root = tmp_path_factory.mktemp("embedded")
    scans = make_scans(root / "samples", 100)
    hashes = {p.relative_to(root / "samples").as_posix(): sha_of(p) for p in scans}
    settings = replace(
        load_settings(),
        home=root / "home",
        ocr_workers=1,
        watch_settle_s=0.0,
        watch_poll_s=0.05,
        scale_mode="embedded",
    )
    ensure_signing_key(settings)
    catalog = Catalog(settings.catalog)
    started = time.perf_counter()
    for path in scans:
        unit, dossier = path.relative_to(root / "samples").parts[:2]
        process_file(path, settings, catalog, unit=unit, dossier=dossier)
    catalog.close()
    return {
        "root": root,
        "samples": root / "samples",
        "hashes": hashes,
        "settings": settings,
        "seconds": time.perf_counter() - started,
    }
