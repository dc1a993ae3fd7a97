# syntax=docker/dockerfile:1
#
# Kindred image: a builder stage installs the project into a venv exactly as the README does
# (`pip install .`), and a slim runtime stage gets only that venv, config.yaml and a non-root user.
#
#   docker build -t kindred:local .
#   docker run -e DISCORD_TOKEN -e OPENAI_API_KEY -v kindred-data:/data kindred:local
#
# Both stages must use the same base image: the venv's scripts point at the base's interpreter path.
ARG PYTHON_IMAGE=python:3.12-slim

# --- builder: compilers live here only --------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# For any dependency that has no wheel for this platform and has to compile from source.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV VIRTUAL_ENV=/opt/venv \
    PATH="/opt/venv/bin:${PATH}"

WORKDIR /src
# What `pip install .` reads: the project metadata, the readme it names, and the three packages
# (storage carries the bundled embedding model and the Alembic migrations as package data).
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY storage ./storage

RUN --mount=type=cache,target=/root/.cache/pip \
    pip install .

# --- runtime ----------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# A fixed uid/gid so a bind-mounted data directory can be chowned to match from the host.
RUN groupadd --system --gid 10001 kindred \
    && useradd --system --uid 10001 --gid kindred --create-home --home-dir /home/kindred \
       --shell /usr/sbin/nologin kindred \
    && mkdir -p /data \
    && chown kindred:kindred /data

COPY --from=builder /opt/venv /opt/venv

ENV VIRTUAL_ENV=/opt/venv \
    PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    KINDRED_CONFIG=/app/config.yaml \
    KINDRED__STORAGE__DATA_DIR=/data

WORKDIR /app
COPY config.yaml /app/config.yaml

USER kindred

# Declared after the chown above: a fresh named volume copies this directory's ownership, so the bot
# can write its SQLite file and embedded Chroma index there without running as root.
VOLUME ["/data"]

# The bot's own health endpoint (loopback only, inside the container): 0 when it reports ok or degraded.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot", "healthcheck"]

CMD ["python", "-m", "bot", "run"]
