# todo-api container image: docs/docker.md explains the choices and the everyday commands.
#
#   DOCKER_BUILDKIT=1 docker build -t todo-api .
#   DOCKER_BUILDKIT=1 docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt -t todo-api .
#   DOCKER_BUILDKIT=1 docker build --build-arg PYTHON_IMAGE=todo-api-base:bookworm -t todo-api .
#
# No "# syntax=" line on purpose: the frontend built into the engine understands
# RUN --mount, and an air-gapped builder could not pull a frontend image anyway.

# Both stages must use the same base: the venv's python is a symlink into the base's Python.
# Pinned by digest (the multi-platform index of python:3.12.14-slim-bookworm); bump deliberately.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm@sha256:782412e85d0f0984994c290652577d4018aff08145c85b262bb63dc0c7522254

# --- build: a self-contained venv at /opt/venv ----------------------------------------------
# The build stage is never run as a container, so it needs no HEALTHCHECK.
# hadolint ignore=DL3057
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PYTHONDONTWRITEBYTECODE=1

# binutils only for `strip`: the wheels' extension modules carry symbol tables worth ~20 MB
# (uvloop alone: 13.6 MB -> 1.6 MB). Build stage only, never shipped, so the version is
# whatever the base's Debian release has.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv

WORKDIR /src

# Dependencies first, from the lock alone: editing the code reuses this layer.
# The optional "ca" secret is an extra CA bundle (a TLS-intercepting proxy); it is never
# written into a layer.
# Test suites that packages ship inside themselves (icalendar's is 500 files) are removed.
COPY requirements.txt ./
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \
    --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca SSL_CERT_FILE=/run/secrets/ca; fi \
    && /opt/venv/bin/pip install -r requirements.txt \
    && find /opt/venv -name '*.so' -exec strip --strip-unneeded {} + \
    && find /opt/venv/lib -type d \( -name tests -o -name test \) -path '*/site-packages/*' -prune \
       -exec rm -rf {} +

# The application itself, as a regular (non-editable) install; the Alembic migrations are
# package data inside todo_api, so the venv is all the runtime needs.
COPY pyproject.toml README.md ./
COPY src/ src/
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \
    --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca SSL_CERT_FILE=/run/secrets/ca; fi \
    && /opt/venv/bin/pip install --no-deps . \
    && /opt/venv/bin/pip uninstall --yes pip setuptools \
    && /opt/venv/bin/python -m compileall -q -j 0 /opt/venv/lib

# --- runtime: the venv on a clean base, non-root ----------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# e.g. --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD)
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="todo-api" \
      org.opencontainers.image.description="A containerized todo-list API" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT"

# Fixed IDs so volume ownership and Kubernetes runAsUser/fsGroup can be set without looking
# inside the image. /data is the only place the app writes.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin app \
    && install -d -o 10001 -g 10001 -m 0750 /data

# Owned by root: the app user can read and run the code but not change it.
COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TODO_DATABASE_URL=sqlite:////data/todo.db \
    TODO_HOST=0.0.0.0 \
    TODO_PORT=8000 \
    TODO_LOG_FORMAT=json

VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8000
STOPSIGNAL SIGTERM

# Engine 20.10 knows no --start-interval; the first probe runs one interval after start.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["todo-api", "healthcheck"]

# `docker run IMAGE` serves; `docker run IMAGE migrate` or `IMAGE --version` run another command.
ENTRYPOINT ["todo-api"]
CMD ["serve"]
