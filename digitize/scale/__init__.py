"""Province scale: the same pipeline steps on Celery workers, PostgreSQL and S3 storage.

`backends.open_backends(settings)` gives the catalog, blob store and job store for the
configured mode; `steps` holds the idempotent steps both modes run.
"""
