# One image for every role: `emsync serve --role api|ingest|worker`, and `emsync db upgrade` as
# the one-shot migration job. Stages: Python dependencies and the C extension, the web dashboard
# (its TypeScript types come from the API's OpenAPI schema), then a slim runtime that runs as a
# non-root user on a read-only root filesystem (writable: EMSYNC_DATA_DIR and /tmp).
#
# The base images are build arguments. Users keep the official images; machines without an
# image registry build Debian-based stand-ins with debootstrap (deploy/local/base-images.sh).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${PYTHON_IMAGE} AS python-build
ARG UV_VERSION=0.13.9
ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy UV_NO_CACHE=1
# A compiler for the C extension; Debian's python3 keeps its headers in python3-dev (the
# official image has them already).
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && if ! python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then \
      apt-get install -y --no-install-recommends python3-dev; \
    fi \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}" \
 && python3 -m venv --without-pip /opt/emsync
WORKDIR /src
# Dependencies first: this layer (and the runtime's copy of it) is rebuilt only when the lock
# file changes. EMsync itself goes to /opt/emsync-app, found through a .pth file, so a code
# change ships as a small layer of its own.
COPY requirements/run.lock requirements/run.lock
RUN /opt/uv/bin/uv pip install --python /opt/emsync/bin/python -r requirements/run.lock \
 && echo /opt/emsync-app > "$(/opt/emsync/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/emsync-app.pth"

FROM python-build AS app-build
COPY pyproject.toml setup.py README.md ./
COPY src src
COPY web/scripts/openapi.py web/scripts/openapi.py
RUN /opt/uv/bin/uv pip install --python /opt/emsync/bin/python --no-deps --target /opt/emsync-app . \
 && /opt/emsync/bin/python web/scripts/openapi.py /src/openapi.json

FROM ${NODE_IMAGE} AS web-build
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web ./
COPY --from=app-build /src/openapi.json ./openapi.json
# vite writes the bundle to ../src/emsync/web/dist (vite.config.ts)
RUN npm run --silent api-types && npm run --silent build

FROM app-build AS package
COPY --from=web-build /src/src/emsync/web/dist src/emsync/web/dist
RUN rm -rf /opt/emsync-app \
 && /opt/uv/bin/uv pip install --python /opt/emsync/bin/python --no-deps --target /opt/emsync-app . \
 && test -f "$(/opt/emsync/bin/python -c 'import emsync.bootstrap as b; print(b.WEB_DIST)')/index.html"

FROM ${PYTHON_IMAGE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# pg_dump/pg_restore for `emsync backup` on PostgreSQL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 emsync \
 && useradd --system --uid 10001 --gid emsync --home-dir /var/lib/emsync --no-create-home \
      --shell /usr/sbin/nologin emsync \
 && install -d -o emsync -g emsync -m 0750 /var/lib/emsync
COPY --from=python-build /opt/emsync /opt/emsync
COPY --from=package /opt/emsync-app /opt/emsync-app
ENV PATH=/opt/emsync-app/bin:/opt/emsync/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    EMSYNC_HOST=0.0.0.0 \
    EMSYNC_DATA_DIR=/var/lib/emsync
USER 10001:10001
WORKDIR /var/lib/emsync
VOLUME ["/var/lib/emsync"]
EXPOSE 8000
# Readiness of whatever role this container runs (`emsync health` asks /health/ready locally).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["emsync", "health"]
ENTRYPOINT ["emsync"]
CMD ["serve", "--no-migrate"]
