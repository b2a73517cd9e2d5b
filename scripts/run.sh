#!/usr/bin/env bash
# Runs the whole app locally: Redis (unless one answers at REDIS_URL), one Celery
# worker, and the web server on http://${HOST:-127.0.0.1}:${PORT:-8000}.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
mkdir -p var
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if ! .venv/bin/python -c "import redis,os,sys; redis.Redis.from_url(os.environ['REDIS_URL'], socket_connect_timeout=1).ping()" 2>/dev/null; then
  redis_port=$(.venv/bin/python -c "import urllib.parse,os; print(urllib.parse.urlparse(os.environ['REDIS_URL']).port or 6379)")
  echo "==> starting redis-server on port $redis_port"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir var --logfile var/redis.log &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

# Two workers: the fast lane takes every new program (short time limit); the slow lane
# takes those that ran past it, so they never hold up the cheap ones (docs/OPERATIONS.md).
echo "==> starting the Celery workers (logs: var/worker.log, var/worker-slow.log)"
.venv/bin/celery -A explorer worker -Q ee.fast,ee.format -n "fast@%h" --loglevel=INFO \
  --concurrency="${WORKER_CONCURRENCY:-2}" >var/worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A explorer worker -Q ee.slow -n "slow@%h" --loglevel=INFO \
  --concurrency="${SLOW_WORKER_CONCURRENCY:-1}" >var/worker-slow.log 2>&1 &
pids+=($!)
# Measurements (running users' programs): a queue of their own (docs/SECURITY.md).
.venv/bin/celery -A explorer worker -Q ee.run -n "run@%h" --loglevel=INFO \
  --concurrency=1 >var/worker-run.log 2>&1 &
pids+=($!)

export WEB_THREADS="${WEB_THREADS:-8}"
echo "==> Escape Explorer is at http://$HOST:$PORT/"
.venv/bin/gunicorn explorer.wsgi --bind "$HOST:$PORT" --workers "${WEB_WORKERS:-3}" --threads "$WEB_THREADS" &
pids+=($!)
wait -n
