"""Scaled mode on this machine: pages per minute for 1, 2 and 4 Celery worker processes,
the queueing overhead per page against the embedded pipeline, and a projection of the
machines a province needs for 5 million pages a year.

Starts PostgreSQL, Redis and SeaweedFS on loopback (digitize.scale.servers), runs the
same generated scans through the embedded pipeline (SQLite, local folder, one process)
and through the scaled one, then times a few full A4 pages for the projection.

    python bench/scale.py [--files 40] [--workers 1,2,4] [--a4 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from digitize.config import load_settings  # noqa: E402
from digitize.keys import ensure_signing_key  # noqa: E402
from digitize.pipeline import process_file  # noqa: E402
from digitize.scale.backends import open_backends  # noqa: E402
from digitize.scale.servers import (  # noqa: E402
    PostgresServer,
    RedisServer,
    SeaweedServer,
)
from digitize.scale.steps import claim_file  # noqa: E402
from digitize.scale.tasks import configure, send_step, sweep  # noqa: E402
from digitize.store import Catalog  # noqa: E402

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
WORDS = (
    "giấy", "khai", "sinh", "căn", "cước", "công", "dân", "hộ", "khẩu", "quyền", "sử",
    "dụng", "đất", "đăng", "ký", "kết", "hôn", "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng",
    "Đặng", "Văn", "Thị", "Hòa", "Lễ", "xã", "huyện", "tỉnh", "Gia", "Lai",
)  # fmt: skip
PAGES_PER_YEAR = 5_000_000
WORK_HOURS_PER_YEAR = 250 * 8  # one shift on working days
PEAK_FACTOR = 3.0  # month-end and campaign peaks against the yearly average


def make_scans(folder: Path, count: int, seed: int) -> list[Path]:
    """Tiny one-page scans: two lines of Vietnamese each."""
    rng = random.Random(seed)
    font = ImageFont.truetype(FONT, 40)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        image = Image.new("L", (1300, 220), 255)
        draw = ImageDraw.Draw(image)
        draw.text((40, 40), " ".join(rng.choices(WORDS, k=6)), font=font, fill=0)
        draw.text((40, 125), f"Hồ sơ số {seed}-{n}", font=font, fill=0)
        path = folder / f"scan-{n:03d}.png"
        image.save(path, dpi=(300, 300))
        paths.append(path)
    return paths


def make_a4_pages(folder: Path, count: int) -> list[Path]:
    """Full A4 pages at 300 dpi, 40 lines of text: a realistic OCR load."""
    rng = random.Random(1)
    font = ImageFont.truetype(FONT, 34)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        image = Image.new("L", (2480, 3508), 255)
        draw = ImageDraw.Draw(image)
        for line in range(40):
            draw.text(
                (180, 200 + 78 * line),
                " ".join(rng.choices(WORDS, k=11)),
                font=font,
                fill=0,
            )
        path = folder / f"a4-{n}.png"
        image.save(path, dpi=(300, 300))
        paths.append(path)
    return paths


def _rss_mb(pid: int) -> float:
    """Peak resident size of one process (VmHWM), MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
    return pids


def run_embedded(files: list[Path], settings) -> float:
    """Seconds for the embedded pipeline, one file after the other."""
    catalog = Catalog(settings.catalog)
    started = time.perf_counter()
    for path in files:
        process_file(path, settings, catalog)
    catalog.close()
    return time.perf_counter() - started


def _wait_stored(b, total: int, started: float) -> None:
    while b.jobs.counts().get("stored", 0) < total:
        if time.perf_counter() - started > 600:
            raise SystemExit(f"jobs stuck: {b.jobs.counts()}")
        sweep(b)
        time.sleep(0.02)


def run_scaled(files: list[Path], settings, workers: int, log_dir: Path, serial):
    """Seconds from first enqueue to last document stored, worker peak RSS MB, and
    seconds per file when the `serial` files go one at a time (latency)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = []
    for n in range(workers):
        with (log_dir / f"w{workers}-{n}.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "digitize",
                        "worker",
                        "--concurrency",
                        "1",
                        "--name",
                        f"bench{n}@127.0.0.1",
                    ],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    configure(settings)
    b = open_backends(settings)
    try:
        time.sleep(4.0)  # let the workers connect: not part of the pipeline's time
        started = time.perf_counter()
        for path in files:
            _, sha = claim_file(path, b)
            send_step("read", sha)
        _wait_stored(b, len(files), started)
        seconds = time.perf_counter() - started
        one_by_one = time.perf_counter()
        for n, path in enumerate(serial, start=len(files) + 1):
            _, sha = claim_file(path, b)
            send_step("read", sha)
            _wait_stored(b, n, one_by_one)
        latency = (time.perf_counter() - one_by_one) / max(1, len(serial))
        rss = [
            max((_rss_mb(p) for p in _group_pids(proc.pid)), default=0.0)
            for proc in procs
        ]
    finally:
        b.close()
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    return seconds, max(rss), latency


def _scaled_settings(base, pg, redis, seaweed, n: int):
    os.environ["DIGITIZE_S3_ACCESS_KEY"] = os.environ["DIGITIZE_S3_SECRET_KEY"] = (
        "bench"
    )
    overrides = {
        "DIGITIZE_SCALE_MODE": "scaled",
        "DIGITIZE_SCALE_DATABASE_URL": pg.create_database(f"bench{n}"),
        "DIGITIZE_SCALE_BROKER_URL": f"{redis.url[:-1]}{n}",
        "DIGITIZE_SCALE_BLOB_STORE": "s3",
        "DIGITIZE_SCALE_S3_ENDPOINT": seaweed.endpoint,
        "DIGITIZE_SCALE_S3_BUCKET": f"bench{n}",
        "DIGITIZE_OCR_WORKERS": "1",
        "DIGITIZE_LOG_LEVEL": "WARNING",
        "DIGITIZE_HOME": str(base.home),
    }
    os.environ.update(overrides)
    return load_settings()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--a4", type=int, default=3)
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    root = Path(tempfile.mkdtemp(prefix="digitize-bench-scale-"))
    servers = [PostgresServer(), RedisServer(), SeaweedServer()]
    try:
        for server in servers:
            server.start()
        pg, redis, seaweed = servers
        base = replace(
            load_settings(), home=root / "home", ocr_workers=1, log_level="WARNING"
        )
        ensure_signing_key(base)
        result = measure(args, counts, root, base, pg, redis, seaweed)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
    report(result, args, counts)


def measure(args, counts, root, base, pg, redis, seaweed) -> dict:
    """Run every measurement; return the figures."""
    embedded_files = make_scans(root / "embedded", args.files, seed=1)
    embedded_s = run_embedded(embedded_files, replace(base, home=root / "emb"))
    scaled = {}
    for n, workers in enumerate(counts, start=1):
        files = make_scans(root / f"w{workers}", args.files, seed=10 + n)
        settings = _scaled_settings(base, pg, redis, seaweed, n)
        serial = make_scans(root / f"s{workers}", 8 if workers == 1 else 0, seed=50)
        scaled[workers] = run_scaled(files, settings, workers, root, serial)
    serial_embedded = make_scans(root / "s-embedded", 8, seed=60)
    embedded_file_s = run_embedded(serial_embedded, replace(base, home=root / "emb"))
    a4 = make_a4_pages(root / "a4", args.a4)
    a4_s = run_embedded(a4, replace(base, home=root / "a4home"))
    return {
        "embedded_s": embedded_s,
        "scaled": scaled,
        "a4_s": a4_s,
        "embedded_file_s": embedded_file_s / 8,
    }


def report(result: dict, args, counts) -> None:
    """Print the table and the projection."""
    files, cores = args.files, os.cpu_count() or 1
    embedded_s = result["embedded_s"]
    print(f"\n{files} one-page scans per run, {cores} cores\n")
    print(f"{'mode':<22}{'seconds':>9}{'pages/min':>11}{'worker peak RSS MB':>20}")
    print(
        f"{'embedded (1 process)':<22}{embedded_s:>9.1f}"
        f"{60 * files / embedded_s:>11.1f}"
    )
    for workers in counts:
        seconds, rss, _ = result["scaled"][workers]
        print(
            f"{f'scaled, {workers} worker(s)':<22}{seconds:>9.1f}"
            f"{60 * files / seconds:>11.1f}{rss:>20.0f}"
        )
    latency = result["scaled"][1][2] if 1 in result["scaled"] else 0.0
    overhead = latency - result["embedded_file_s"]
    print(
        f"\none file at a time: embedded {result['embedded_file_s']:.2f} s per page,"
        f" scaled (1 worker) {latency:.2f} s: queueing overhead {overhead * 1000:+.0f}"
        " ms per page (hash and S3 upload at the ingest node, three tasks through"
        " Redis, job rows in PostgreSQL, blobs read back from S3)"
    )
    a4_page_s = result["a4_s"] / args.a4
    print(f"full A4 page at 300 dpi, embedded: {a4_page_s:.2f} s per page")
    _projection(a4_page_s, max(overhead, 0.0))


def _projection(a4_page_s: float, overhead_s: float) -> None:
    per_core_hour = 3600 / (a4_page_s + overhead_s)
    average = PAGES_PER_YEAR / WORK_HOURS_PER_YEAR
    peak = average * PEAK_FACTOR
    cores = peak / per_core_hour
    print(
        f"\nprojection: {PAGES_PER_YEAR:,} pages a year in {WORK_HOURS_PER_YEAR}"
        " working"
        f" hours = {average:,.0f} pages/hour on average, {peak:,.0f} at a"
        f" {PEAK_FACTOR:.0f}x peak.\none worker process per core does"
        f" {per_core_hour:,.0f} A4 pages/hour ({a4_page_s:.2f} s OCR+PDF+sign"
        f" + {overhead_s:.2f} s queueing), so the peak needs {cores:.1f} cores:"
        f" {max(1, -(-cores // 4)):.0f} OCR machines of 4 cores (or"
        f" {max(1, -(-cores // 2)):.0f} of 2), plus one host for PostgreSQL, Redis and"
        f" SeaweedFS and one signing node."
    )


if __name__ == "__main__":
    main()
