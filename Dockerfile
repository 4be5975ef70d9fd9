# syntax=docker/dockerfile:1
# Build: docker build -t aixin .
# Run:   docker run -p 8000:8000 -e AIXIN_DATA_KEY=... -e AIXIN_INDEX_KEY=... \
#          -e AIXIN_SECRET_KEY=... \
#          -e AIXIN_DATABASE_URL=postgresql+asyncpg://aixin:PASSWORD@db-host:5432/aixin aixin
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The locked dependencies, checked against their hashes, in a layer of their own.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
# Then the wheel alone: every package pyproject.toml names (app and matching), with its data.
# tests/test_image.py builds it from exactly these COPY lines and runs the CMD below.
COPY pyproject.toml README.md ./
COPY app ./app
COPY matching ./matching
RUN pip install --no-deps . && pip check

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /home/aixin aixin
WORKDIR /srv/aixin
COPY --from=build /opt/venv /opt/venv
COPY alembic.ini ./
COPY migrations ./migrations
RUN mkdir -p /srv/aixin/var && chown aixin:aixin /srv/aixin/var
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    AIXIN_ENV=production \
    AIXIN_HOST=0.0.0.0 \
    AIXIN_PORT=8000 \
    AIXIN_DATA_DIR=/srv/aixin/var
USER aixin
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# Migrations first (idempotent), then the reference data (an upsert), then the server.
CMD ["sh", "-c", "aixin migrate && aixin regions load && exec aixin serve --workers ${AIXIN_WORKERS:-2}"]
