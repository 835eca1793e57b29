# rsarchive application image: the API server and ingest workers.
# The database (PostgreSQL 15 + PostGIS 3 + pgSTAC) and object storage (SeaweedFS)
# run as their own services; see compose.yaml.  Same settings as `rsarchive
# services up`: RSARCHIVE_* environment variables, defaults in config/rsarchive.toml.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends gdal-bin postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/rsarchive
COPY pyproject.toml README.md ./
COPY src ./src
COPY config ./config
COPY catalog ./catalog
COPY pipelines ./pipelines
RUN pip install --no-cache-dir -e . \
 && useradd --system --home /var/lib/rsarchive rsarchive \
 && mkdir -p /var/lib/rsarchive && chown rsarchive /var/lib/rsarchive

USER rsarchive
ENV RSARCHIVE_ARCHIVE_ROOT=/var/lib/rsarchive \
    AWS_REQUEST_CHECKSUM_CALCULATION=when_required \
    AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
EXPOSE 8000
# `rsarchive serve` (API) by default; the worker runs `rsarchive worker`.
CMD ["rsarchive", "serve", "--host", "0.0.0.0", "--port", "8000"]
