"""Lookup speed at scale: a synthetic catalog of 1,000,000 documents and 500,000 people.

Builds the catalog straight into SQLite (the real schema, fake people, page text cut
from the plan corpus plus names and document numbers), then measures in one run:
lookup by ID number, by name and date of birth, full text, and the person page over
HTTP (the real service on 127.0.0.1). Prints one table with the targets.

    python bench/query.py [--documents 1000000] [--people N] [--keep DIR]

--people defaults to half the documents. --keep DIR builds (or reuses) the catalog
in DIR instead of a temporary folder.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitize import auth
from digitize.config import load_settings
from digitize.extract.names import fold
from digitize.query import SearchFilters, find_by_id, find_people, search_pages
from digitize.store import Catalog, fold_text

BATCH = 50_000
UNITS = [f"xa-{n:02d}" for n in range(1, 21)]
# fmt: off
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
          "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Đoàn", "Lâm", "Mai",
          "Trịnh", "Trương", "Cao", "Lương", "Hà", "Tạ", "Chu", "Quách", "Vương",
          "Kiều"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Quốc", "Thành", "Công", "Ngọc", "Thu",
          "Thanh", "Kim", "Mỹ", "Xuân", "Hoài", "Gia", "Bảo", "Anh", "Diệu", "Khánh",
          "Tuấn", "Đình", "Quang", "Phương"]
GIVEN = ["Hùng", "Dũng", "Tuấn", "Nam", "Long", "Quang", "Phúc", "Đạt", "Hiếu", "Trung",
         "Thắng", "Khánh", "Sơn", "Lộc", "Hằng", "Lan", "Hương", "Mai", "Thảo", "Trang",
         "Linh", "Hạnh", "Yến", "Phượng", "Nhung", "Ngân", "Duyên", "Thủy", "An",
         "Bình", "Châu", "Cường", "Duy", "Giang", "Hải", "Hòa", "Huy", "Kiên", "Loan",
         "Minh", "Nga", "Nhi", "Oanh", "Phong", "Quân", "Quyên", "Tâm", "Thịnh", "Tiến",
         "Toàn", "Uyên", "Vân", "Việt", "Vinh", "Xuân", "Yên", "Tú", "Trâm", "Ánh"]
# fmt: on
PAPERS = ("cccd2021_front", "cccd2021_back", "cancuoc2024_front", "registration_form")
TARGETS = {
    "lookup by ID number": ("p99", 5.0),
    "name + date of birth": ("p95", 20.0),
    "full text": ("p95", 100.0),
    "person page over HTTP": ("p95", 150.0),
}


def _corpus_words() -> list[str]:
    from samples.pages import load_corpus

    return re.findall(r"\w+", " ".join(load_corpus()))


def _person(i: int, rng: random.Random) -> tuple[Any, ...]:
    sex = rng.choice("MF")
    year = rng.randint(1940, 2006)
    century = (0 if year < 2000 else 2) + (sex == "F")
    pin = f"{rng.choice((1, 34, 38, 40, 64, 79)):03d}{century}{year % 100:02d}{i:06d}"
    name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}".upper()
    dob = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return (i + 1, pin, name, fold(name), dob, sex, "2025-01-01T00:00:00+00:00")


def _doc_id(i: int) -> str:
    return hashlib.sha256(f"doc-{i}".encode()).hexdigest()


def _page_text(words: list[str], rng: random.Random, extra: str) -> str:
    start = rng.randrange(len(words) - 40)
    return " ".join(words[start : start + rng.randint(20, 40)]) + " " + extra


def _rows(n_docs: int, n_people: int, seed: int) -> Iterator[dict[str, list[Any]]]:
    """Batches of rows for every table, documents in creation order."""
    rng, words = random.Random(seed), _corpus_words()
    people = [_person(i, rng) for i in range(n_people)]
    yield {"persons": people}
    for first in range(0, n_docs, BATCH):
        batch: dict[str, list[Any]] = {
            k: [] for k in ("documents", "pages", "fts", "fields", "links")
        }
        for i in range(first, min(first + BATCH, n_docs)):
            _add_document(batch, i, n_docs, people, rng, words)
        yield batch


def _add_document(
    batch: dict[str, list[Any]],
    i: int,
    n_docs: int,
    people: list[tuple[Any, ...]],
    rng: random.Random,
    words: list[str],
) -> None:
    sha = _doc_id(i)
    unit = UNITS[i % len(UNITS)]
    day = 1 + i * 1000 // n_docs  # 1000 days of intake, in order
    created = f"{2023 + day // 365}-{1 + day % 365 // 31:02d}-{1 + day % 31 % 28:02d}"
    # Three documents in five are a person's paper; every person gets at least one.
    linked = (i // 5) * 3 + i % 5
    person = people[linked % len(people)] if i % 5 < 3 else None
    extra = f"số {i}/QĐ-UBND"
    if person is not None:
        extra += f" {person[2]} {person[1]}"
    text = _page_text(words, rng, extra)
    batch["documents"].append(
        (
            sha[:16],
            sha,
            f"scan-{i}.jpg",
            unit,
            f"H{i // 7:07d}",
            "jpeg",
            200_000,
            1,
            sha,
            sha,
            "B-B",
            "CN=bench",
            created,
            1,
            3.0,
            created + "T08:00:00+00:00",
        )
    )
    batch["pages"].append((sha[:16], 0, 2480, 3508, 300.0, 0, 90.0, text))
    batch["fts"].append((text, fold_text(text), sha[:16], 0))
    if person is None:
        return
    paper = PAPERS[i % len(PAPERS)]
    batch["links"].append((person[0], sha[:16], paper))
    for name, value in (
        ("id_number", person[1]),
        ("full_name", person[2]),
        ("date_of_birth", person[4]),
        ("sex", person[5]),
        ("expiry_date", "2040-01-01"),
    ):
        batch["fields"].append(
            (sha[:16], 0, paper, name, value, value, "qr", 0.99, "[]", "[]", 1)
        )


_INSERTS = {
    "persons": "INSERT INTO persons (id, id_number, full_name, name_key, date_of_birth,"
    " sex, created_at) VALUES (?,?,?,?,?,?,?)",
    "documents": "INSERT INTO documents (id, sha256, original_name, unit, dossier,"
    " format, size_bytes, pages, unsigned_sha256, signed_sha256, sign_level, signer,"
    " signed_at, validated, seconds, created_at)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "pages": "INSERT INTO pages VALUES (?,?,?,?,?,?,?,?)",
    "fts": "INSERT INTO pages_fts (text, folded, document_id, idx) VALUES (?,?,?,?)",
    "fields": "INSERT INTO fields VALUES (?,?,?,?,?,?,?,?,?,?,?)",
    "links": "INSERT INTO links VALUES (?,?,?)",
}


def build_catalog(path: Path, n_docs: int, n_people: int, seed: int = 1) -> float:
    """Create the catalog with the real schema and fill it; return seconds taken."""
    started = time.perf_counter()
    Catalog(path).close()  # the schema, indexes included
    db = Catalog(path).db
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA foreign_keys=OFF")
    db.execute("PRAGMA cache_size=-400000")
    for batch in _rows(n_docs, n_people, seed):
        with db:
            for table, rows in batch.items():
                db.executemany(_INSERTS[table], rows)
        done = db.execute("SELECT max(rowid) FROM pages_fts").fetchone()[0] or 0
        print(f"\r  {done:>9,} documents", end="", file=sys.stderr, flush=True)
    db.execute("INSERT INTO pages_fts(pages_fts) VALUES ('optimize')")
    db.execute("ANALYZE")
    db.commit()
    db.close()
    print(file=sys.stderr)
    return time.perf_counter() - started


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cut[49], "p95": cut[94], "p99": cut[98], "n": len(ordered)}


def _time(calls: list[Callable[[], Any]], warmup: int = 30) -> dict[str, float]:
    # Steady state: the first calls (cold statement cache, first pages read) untimed.
    for call in calls[:warmup]:
        call()
    samples = []
    for call in calls:
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return _percentiles(samples)


def _text_queries(db_path: Path, rng: random.Random, n: int) -> list[tuple[str, Any]]:
    words = _corpus_words()
    queries: list[tuple[str, Any]] = []
    for k in range(n):
        start = rng.randrange(len(words) - 4)
        kind = k % 6
        if kind == 0:
            q = " ".join(words[start : start + 2])  # a common phrase
        elif kind == 1:
            q = fold_text(" ".join(words[start : start + 3]))  # typed without marks
        elif kind == 2:
            q = f"{rng.choice(GIVEN)} {rng.choice(GIVEN)}"  # rare pair of names
        elif kind == 3:
            q = f"{rng.randrange(10**6)}/QĐ"  # a document number
        elif kind == 4:
            q = words[start]  # one word, very common
        else:
            q = "xyzzy khongco"  # nothing matches
        filters = (
            SearchFilters(unit=rng.choice(UNITS)) if k % 4 == 3 else SearchFilters()
        )
        queries.append((q, filters))
    return queries


def measure_catalog(path: Path, samples: int, seed: int = 2) -> dict[str, dict]:
    """Time the three catalog lookups on random existing people and phrases."""
    rng = random.Random(seed)
    catalog = Catalog(path)
    people = catalog.db.execute(
        "SELECT id_number, full_name, date_of_birth FROM persons"
        " WHERE id IN (SELECT abs(random()) % (SELECT max(id) FROM persons) + 1"
        " FROM persons LIMIT ?)",
        (samples,),
    ).fetchall()
    results = {
        "lookup by ID number": _time(
            [lambda p=p: find_by_id(catalog, p[0]) for p in people]
        ),
        "name + date of birth": _time(
            [lambda p=p: find_people(catalog, p[1], p[2]) for p in people]
        ),
        "full text": _time(
            [
                lambda q=q, f=f: search_pages(catalog, q, f, 20)
                for q, f in _text_queries(path, rng, samples)
            ]
        ),
    }
    catalog.close()
    return results


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure_http(home: Path, samples: int) -> dict[str, float]:
    """Person page load through the real service: login once, then GET /persons/N."""
    import httpx
    import uvicorn

    from digitize.web import create_app

    auth.SCRYPT_N = 2**12  # the bench account only; login cost is not measured
    settings = replace(load_settings(), home=home)
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=_free_port(),
            log_level="warning",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        return _http_samples(app, server, samples, httpx)
    finally:
        server.should_exit = True
        thread.join(10)


def _http_samples(app: Any, server: Any, samples: int, httpx: Any) -> dict[str, float]:
    access = app.state.web.access
    if "bench" not in {u["username"] for u in access.list_users()}:
        access.add_user("bench", "bench password 1", "counter")
    port = server.config.port
    rng = random.Random(3)
    top = (
        Catalog(app.state.web.settings.catalog)
        .db.execute("SELECT max(id) FROM persons")
        .fetchone()[0]
    )
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        client.post(
            "/login",
            data={
                "username": "bench",
                "password": "bench password 1",
                "csrf_token": token,
            },
        )
        ids = [rng.randint(1, top) for _ in range(samples)]
        calls = [lambda i=i: _get_ok(client, f"/persons/{i}") for i in ids]
        return _time(calls)


def _get_ok(client: Any, url: str) -> None:
    response = client.get(url)
    if response.status_code != 200 or "Đã số hóa" not in response.text:
        raise RuntimeError(f"{url}: HTTP {response.status_code}")


def print_table(results: dict[str, dict], docs: int, people: int) -> bool:
    """The results against the targets; True when all are met."""
    print(f"\ncatalog: {docs:,} documents, {people:,} people\n")
    print(f"{'measure':<24} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  target")
    ok = True
    for name, stats in results.items():
        which, limit = TARGETS[name]
        met = stats[which] < limit
        ok &= met
        print(
            f"{name:<24} {stats['n']:>5} {stats['p50']:>8.2f} {stats['p95']:>8.2f} "
            f"{stats['p99']:>8.2f}  {which} < {limit:g} ms: "
            + ("met" if met else "NOT met")
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=0)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="build or reuse the catalog here")
    args = parser.parse_args()
    people = args.people or max(1, args.documents // 2)
    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        home = args.keep or Path(tmp)
        path = home / "catalog.sqlite3"
        if not path.exists():
            seconds = build_catalog(path, args.documents, people)
            print(
                f"built the catalog in {seconds:.0f} s "
                f"({path.stat().st_size / 2**30:.2f} GiB)"
            )
        results = measure_catalog(path, args.samples)
        results["person page over HTTP"] = measure_http(
            home, max(100, args.samples // 3)
        )
        return 0 if print_table(results, args.documents, people) else 1


if __name__ == "__main__":
    sys.exit(main())
