# One image for web, workers and the migration job. The toolchains are prepared at build
# time (owned by root, read-only to the service); everything runs as the unprivileged
# user "explorer", the worker's sandbox included (bubblewrap with user namespaces).
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends bubblewrap ca-certificates graphviz \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin explorer

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    ESCAPE_EXPLORER_HOME=/opt/escape-explorer \
    ESCAPE_EXPLORER_VAR=/var/lib/escape-explorer
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

ARG GO_VERSIONS="1.27.3"
ARG GOARCHES="amd64 arm64 386 riscv64 wasm"
COPY worker/__init__.py worker/toolchains.py worker/spawn.py worker/
# the sandbox's compiler runner, built by each toolchain's own go at install, and the
# launcher that starts every sandbox with its limits (C, built once; the compiler is removed after)
COPY worker/runner/ worker/runner/
COPY worker/launcher/ worker/launcher/
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev \
 && for v in $GO_VERSIONS; do \
      python -m worker.toolchains install "$v" $(for a in $GOARCHES; do printf -- '--goarch %s ' "$a"; done) || exit 1; \
    done \
 && test -x "$ESCAPE_EXPLORER_HOME/bin/ee-launch" \
 && apt-get purge -y --auto-remove gcc libc6-dev && rm -rf /var/lib/apt/lists/*

COPY . .
# collectstatic needs a key to import the settings; this one exists only in this build step.
RUN mkdir -p "$ESCAPE_EXPLORER_VAR" \
 && SECRET_KEY=build-only-not-a-secret python manage.py collectstatic --noinput -v 0 \
 && chown -R explorer "$ESCAPE_EXPLORER_VAR"
USER explorer
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=6s --start-period=20s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=5).status != 200)"
CMD ["gunicorn", "explorer.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "8", "--timeout", "60"]
