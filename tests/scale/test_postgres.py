"""The PostgreSQL catalog and the S3 store on real servers: migrations in place,
accent-insensitive search with exact matches first, trigram names, write-once blobs."""

from __future__ import annotations

import pytest

from digitize.records import Field, Paper
from digitize.scale import schema
from digitize.scale.blobs import open_blob_store
from digitize.scale.pgcatalog import PgCatalog, PgConnection
from digitize.scale.search import find_similar_names, search_text
from digitize.store import Catalog, DocumentRecord
from tests.factories import ocr_page_from_lines

pytestmark = pytest.mark.slow

TEXTS = {
    "a": "Giấy khai sinh của Nguyễn Văn Hòa",
    "b": "Giấy khai sinh của Nguyen Van Hoa",
    "c": "Đơn của Đặng Thị Lễ gửi xã",
    "d": "Đơn của Đặng Thị Lê gửi xã",
}
NAMES = {"a": "NGUYỄN VĂN HÒA", "c": "ĐẶNG THỊ LỄ", "d": "ĐẶNG THỊ LÊ"}


def _record(key: str) -> DocumentRecord:
    papers = []
    if key in NAMES:
        number = f"0010990123{ord(key):02d}"
        papers = [
            Paper(
                0,
                "cccd_front",
                {
                    "id_number": Field(
                        "id_number", number, number, "qr", 1.0, ["pin.shape"]
                    ),
                    "full_name": Field("full_name", NAMES[key], NAMES[key], "qr", 1.0),
                },
            )
        ]
    return DocumentRecord(
        sha256=key * 64,
        original_name=f"{key}.png",
        format="png",
        size_bytes=1,
        pages=[ocr_page_from_lines([TEXTS[key]])],
        papers=papers,
    )


def _fill(catalog: Catalog) -> Catalog:
    for key in TEXTS:
        catalog.add_document(_record(key))
    return catalog


def test_pg_catalog_upgraded_in_place(pg):
    url = pg.create_database("upgrade_in_place")
    conn = PgConnection(url)
    conn.execute("BEGIN")
    assert schema.upgrade(conn.execute, 0, "postgres", target=1) == [1]
    conn.commit()
    conn.execute(
        "INSERT INTO documents (id, sha256, original_name, format, size_bytes,"
        " pages, created_at) VALUES ('d1', 'sha1', 'a.pdf', 'pdf', 5, 1, 'now')"
    )
    conn.close()

    catalog = PgCatalog(url)  # opening upgrades the version-1 catalog in place
    assert catalog.applied == [2]
    version = catalog.db.execute("SELECT value FROM meta").fetchone()[0]
    assert version == str(schema.LATEST_VERSION)
    assert catalog.find_document_by_sha("sha1")["original_name"] == "a.pdf"
    assert catalog.db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0
    catalog.close()
    again = PgCatalog(url)
    assert again.applied == []
    again.close()


def test_search_like_embedded_exact_first_and_trigram_names(pg, tmp_path):
    pg_catalog = _fill(PgCatalog(pg.create_database("search")))
    sqlite_catalog = _fill(Catalog(tmp_path / "c.sqlite3"))
    try:
        for query in (
            "Nguyễn Văn Hòa",
            "nguyen van hoa",
            "Đặng Thị Lê",
            "dang thi le",
            "khai sinh",
            "gửi xã",
        ):
            pg_hits = search_text(pg_catalog, query)
            sqlite_hits = search_text(sqlite_catalog, query)
            assert sorted(map(str, pg_hits)) == sorted(map(str, sqlite_hits)), query
            flags = [h["exact"] for h in pg_hits]
            assert flags == sorted(flags, reverse=True), query  # exact hits first
        hits = search_text(pg_catalog, "Đặng Thị Lê")
        assert [h["document_id"] for h in hits] == ["d" * 16, "c" * 16]
        assert [h["exact"] for h in hits] == [True, False]
        # OCR slips in a name still find the person, in both catalogs.
        for catalog in (pg_catalog, sqlite_catalog):
            found = find_similar_names(catalog, "nguyen vam hoa")
            assert found and found[0]["full_name"] == "NGUYỄN VĂN HÒA"
    finally:
        pg_catalog.close()
        sqlite_catalog.close()


def test_s3_blobs_write_once_and_checked(seaweed, settings, monkeypatch):
    from dataclasses import replace

    monkeypatch.setenv("DIGITIZE_S3_ACCESS_KEY", "test")
    monkeypatch.setenv("DIGITIZE_S3_SECRET_KEY", "test")
    store = open_blob_store(
        replace(
            settings,
            scale_blob_store="s3",
            scale_s3_endpoint=seaweed.endpoint,
            scale_s3_bucket="write-once",
        )
    )
    sha = store.put(b"ban goc", ".pdf")
    assert store.put(b"ban goc", ".pdf") == sha  # a second writer changes nothing
    assert store.get(sha, ".pdf") == b"ban goc"
    assert store.exists(sha, ".pdf") and not store.exists("0" * 64, ".pdf")
    assert (sha, ".pdf") in set(store.iter_blobs())
    # A stray object under a blob's name is refused when read back.
    store.client.put_object(
        Bucket="write-once", Key=store.key("1" * 64, ".pdf"), Body=b"not these bytes"
    )
    from digitize.errors import StorageError

    with pytest.raises(StorageError, match="does not match"):
        store.get("1" * 64, ".pdf")
