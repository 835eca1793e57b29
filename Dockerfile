# rsarchive application image: the API server and ingest workers.
# The database (PostgreSQL 15 + PostGIS 3 + pgSTAC) and object storage (SeaweedFS)
# run as their own services; see compose.yaml.  Same settings as `rsarchive
# services up`: RSARCHIVE_* environment variables over the defaults shipped in the
# package (rsarchive/data/rsarchive.toml).
#
# Two stages: the first builds the wheel (configuration, CPFs, mission profiles,
# pipelines, collections and templates are package data inside it); the second
# installs that wheel, not the sources.  Site files (cpf/, missions/, pipelines/,
# catalog/, rsarchive.toml, stac-schemas/, stac-browser/) go in /etc/rsarchive,
# e.g. a mounted volume; they override the shipped ones.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends gdal-bin postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/*

COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/rsarchive-*.whl \
 && rm -rf /wheels \
 && useradd --system --home /var/lib/rsarchive rsarchive \
 && mkdir -p /var/lib/rsarchive /etc/rsarchive && chown rsarchive /var/lib/rsarchive

USER rsarchive
WORKDIR /var/lib/rsarchive
ENV RSARCHIVE_ARCHIVE_ROOT=/var/lib/rsarchive \
    RSARCHIVE_SITE_DIR=/etc/rsarchive \
    AWS_REQUEST_CHECKSUM_CALCULATION=when_required \
    AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
EXPOSE 8000
# `rsarchive serve` (API) by default; the worker runs `rsarchive worker`.
CMD ["rsarchive", "serve", "--host", "0.0.0.0", "--port", "8000"]
