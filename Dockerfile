# digitize on Debian with Tesseract and its Vietnamese data.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-vie tesseract-ocr-osd tesseract-ocr-eng \
      poppler-utils qpdf fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY digitize ./digitize
COPY config ./config
COPY samples ./samples
# One image, any role: `watch` (ingest node), `worker` (OCR, signing, indexing queues),
# `serve` (counter service), `migrate`; deploy/compose.yaml wires them.
RUN pip install --no-cache-dir ".[scale]"

ENV DIGITIZE_HOME=/data \
    DIGITIZE_CONFIG=/app/config/digitize.toml \
    OMP_THREAD_LIMIT=1
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["digitize"]
CMD ["watch"]
