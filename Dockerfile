# One image for web and worker; the worker service also holds the toolchains
# (prepared at build time) and runs the compiler under bubblewrap.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends bubblewrap ca-certificates \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    ESCAPE_EXPLORER_HOME=/opt/escape-explorer \
    ESCAPE_EXPLORER_VAR=/var/lib/escape-explorer
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

ARG GO_VERSIONS="1.27.3"
ARG GOARCHES="amd64 arm64 386 riscv64 wasm"
COPY worker/__init__.py worker/toolchains.py worker/
# the sandbox's compiler runner, built by each toolchain's own go at install
COPY worker/runner/ worker/runner/
RUN for v in $GO_VERSIONS; do \
      python -m worker.toolchains install "$v" $(for a in $GOARCHES; do printf -- '--goarch %s ' "$a"; done) || exit 1; \
    done

COPY . .
RUN mkdir -p "$ESCAPE_EXPLORER_VAR" && python manage.py collectstatic --noinput -v 0
EXPOSE 8000
CMD ["gunicorn", "explorer.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
