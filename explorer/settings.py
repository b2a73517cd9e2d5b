"""Settings from environment variables, with safe local defaults.

DATABASE_URL (default: SQLite in ./var/), REDIS_URL (default redis://127.0.0.1:6379/0),
SECRET_KEY or SECRET_KEY_FILE (required: the local setup writes a random one to
./var/secret_key; there is no default key), DEBUG (off), ALLOWED_HOSTS
(comma-separated; default localhost names), ESCAPE_EXPLORER_HOME (toolchains), and the
EXPLORER_* limits below (docs/OPERATIONS.md lists them all).
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from explorer.clients import parse_tokens
from explorer.ratelimit import Rate

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ESCAPE_EXPLORER_VAR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


DEBUG = _env_bool("DEBUG")


def _secret_key() -> str:
    """SECRET_KEY, else the file SECRET_KEY_FILE names, else ./var/secret_key (which only
    the local setup, scripts/setup.sh, writes). Never a default string."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = Path(os.environ.get("SECRET_KEY_FILE") or VAR_DIR / "secret_key")
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    raise ImproperlyConfigured(
        "No SECRET_KEY: set the SECRET_KEY environment variable (or SECRET_KEY_FILE to a file holding one). "
        "`make run` and `make test` create a random one in var/secret_key for a local install."
    )


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "ninja",  # serves the API docs' Swagger UI from local static files, not a CDN
    "explorer",
]

MIDDLEWARE = [
    "explorer.middleware.RequestLogMiddleware",
    "explorer.middleware.ServiceFaultMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "explorer.middleware.ContentSecurityPolicyMiddleware",
    "explorer.middleware.BodySizeMiddleware",
    "explorer.middleware.RateLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "explorer.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,  # ninja's API docs page
        "OPTIONS": {
            "context_processors": ["django.template.context_processors.request"],
        },
    }
]
WSGI_APPLICATION = "explorer.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'explorer.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL: readers never wait for the writer; IMMEDIATE: a transaction takes the write
    # lock at BEGIN, so two writers queue up (timeout) instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    )
    # A file, not memory: the test suite's Celery worker process shares it. One per
    # test run (pid), so two runs on one machine do not trample each other.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
elif DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # A locked table or a lost server is an error in seconds (a 503 for the page, a retry
    # for a worker), not a request that hangs.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
    DATABASES["default"]["OPTIONS"].setdefault(
        "options",
        f"-c lock_timeout={os.environ.get('EXPLORER_DB_LOCK_TIMEOUT', '5s')}"
        f" -c statement_timeout={os.environ.get('EXPLORER_DB_STATEMENT_TIMEOUT', '60s')}",
    )
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Serve what is stored, refuse every write (a read replica, maintenance): the database
# itself refuses, and each refused write is a 503 with Retry-After, as when a database
# turns read-only under us.
if _env_bool("EXPLORER_DB_READ_ONLY"):
    options = DATABASES["default"].setdefault("OPTIONS", {})
    if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        options["init_command"] = options.get("init_command", "") + " PRAGMA query_only=1;"
    else:
        options["options"] = options.get("options", "") + " -c default_transaction_read_only=on"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Nothing is uploaded; set so that no server (Django's test live server included) ever
# treats other paths as files to serve.
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

USE_TZ = True
TIME_ZONE = "UTC"

# Rendered results of finished compilations (immutable), per web process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 128},
    }
}

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL  # only gofmt's result travels back this way
CELERY_RESULT_EXPIRES = 300
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 150
CELERY_TASK_TIME_LIMIT = 180
CELERY_TASK_DEFAULT_QUEUE = "ee.fast"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# max_retries 0: when Redis is down, publishing fails at once and the caller decides
# (the queue of record keeps the job; the reconciler wakes a worker later).
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5, "max_retries": 0}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes every database connection before and after each task unless
# this is set (then once every this many tasks): a new connection per compile cost 1-3 ms on
# SQLite and more on PostgreSQL. A broken connection is still replaced at once
# (worker/tasks.py: close_old_connections before each claim; the result write retries).
CELERY_DB_REUSE_MAX = 1000

# --- the work queue (explorer/jobs.py, explorer/admission.py) -----------------------------
# Two lanes: every new program starts in the fast lane with a short time limit; one that
# runs past it moves to the slow lane (its own workers, full limits, lower CPU priority),
# so costly programs never wait in front of cheap ones.
LANE_QUEUES = {"fast": "ee.fast", "slow": "ee.slow", "run": "ee.run"}
# gofmt requests: a queue of their own, consumed by the fast-lane workers too
# (`-Q ee.fast,ee.format`), so a format never waits behind a lane's backlog.
FORMAT_QUEUE = "ee.format"
LANE_LIMITS = {
    "fast": {"wall_seconds": _env_float("EXPLORER_FAST_LANE_SECONDS", 5.0), "cpu_seconds": 8},
    "slow": {"wall_seconds": _env_float("EXPLORER_SLOW_LANE_SECONDS", 20.0), "cpu_seconds": 30, "nice": 10},
    # measurements (build + run, worker/measure.py): the lease covers the build and the run
    "run": {"wall_seconds": 120.0, "cpu_seconds": 30, "nice": 5},
}
# --- running users' programs (issue 10: measurements) --------------------------------------
# EXPLORER_RUN=0 turns running off: the API refuses "measure" (400) and the page has no
# Measure button. Runs go to their own queue (ee.run, workers started with -Q ee.run), so
# compiles never wait behind them; their sandbox is worker/run_sandbox.py.
RUN_ENABLED = _env_bool("EXPLORER_RUN", True)
RUN_LIMITS = {
    "wall_seconds": _env_float("EXPLORER_RUN_WALL_SECONDS", 10.0),
    "cpu_seconds": _env_int("EXPLORER_RUN_CPU_SECONDS", 8),
    "memory_bytes": _env_int("EXPLORER_RUN_MEMORY_BYTES", 1024**3),
    "processes": _env_int("EXPLORER_RUN_PROCESSES", 64),
}
RUN_BENCHTIME = os.environ.get("EXPLORER_RUN_BENCHTIME", "100ms")
LEASE_MARGIN_SECONDS = _env_float("EXPLORER_LEASE_MARGIN_SECONDS", 25.0)
# The whole service holds at most this many queued or running jobs (503 beyond), one
# client at most MAX_CLIENT_JOBS (429 beyond), and runs at most CLIENT_MAX_RUNNING of a
# client's jobs at once per lane (the others wait while other clients' work runs).
MAX_QUEUED_JOBS = _env_int("EXPLORER_MAX_QUEUED_JOBS", _env_int("MAX_QUEUED_COMPILATIONS", 100))
MAX_CLIENT_JOBS = _env_int("EXPLORER_MAX_CLIENT_JOBS", 6)
CLIENT_MAX_RUNNING = _env_int("EXPLORER_CLIENT_MAX_RUNNING", 1)
# A client whose programs ran past the fast lane's limit this many times within the hour
# starts its next ones in the slow lane.
COSTLY_AFTER = _env_int("EXPLORER_COSTLY_AFTER", 2)
MAX_ATTEMPTS = _env_int("EXPLORER_MAX_ATTEMPTS", 3)  # runs of one job before it fails as lost
MAX_QUEUE_SECONDS = _env_float("EXPLORER_MAX_QUEUE_SECONDS", 600.0)  # then it fails as expired
# A queued job whose toolchain no live worker serves fails (expired) after this long.
UNSERVED_SECONDS = _env_float("EXPLORER_UNSERVED_SECONDS", 60.0)
RECONCILE_SECONDS = _env_float("EXPLORER_RECONCILE_SECONDS", 5.0)  # 0: no reconciler thread in workers
# Each compile-lane pool process keeps its next compile's sandbox started (worker/prestart.py).
SANDBOX_AHEAD = _env_bool("EXPLORER_SANDBOX_AHEAD", True)
RESULT_WRITE_SECONDS = _env_float("EXPLORER_RESULT_WRITE_SECONDS", 90.0)  # a worker retries storing a result

# --- big programs' pages (explorer/bigpage.py) ----------------------------------------------
# Past this many lines or decisions a result's page holds one chunk of lines (at most
# EXPLORER_PAGE_LINES, each decision counting as a line) and loads the others as needed.
EXPLORER_INLINE_LINES = _env_int("EXPLORER_INLINE_LINES", 1500)
EXPLORER_INLINE_DECISIONS = _env_int("EXPLORER_INLINE_DECISIONS", 5000)
EXPLORER_PAGE_LINES = _env_int("EXPLORER_PAGE_LINES", 250)

# --- fair use (explorer/clients.py, explorer/ratelimit.py, explorer/middleware.py) --------
# "burst/per_minute" per client; API token holders get EXPLORER_TOKEN_LIMIT_FACTOR times more.
RATE_LIMITS = {
    "read": Rate.parse(os.environ.get("EXPLORER_RATE_READ", "240/600")),
    "submit": Rate.parse(os.environ.get("EXPLORER_RATE_SUBMIT", "20/30")),
}
API_TOKENS = parse_tokens(
    Path(os.environ["EXPLORER_API_TOKENS_FILE"]).read_text()
    if os.environ.get("EXPLORER_API_TOKENS_FILE")
    else os.environ.get("EXPLORER_API_TOKENS", "")
)
TOKEN_LIMIT_FACTOR = _env_int("EXPLORER_TOKEN_LIMIT_FACTOR", 10)
TRUSTED_PROXIES = _env_int("EXPLORER_TRUSTED_PROXIES", 0)  # proxies of ours in front, appending X-Forwarded-For

# How long a web request may wait for a fresh result before answering "pending", and
# how many requests of one web process may wait at once (the rest answer at once):
# waiting holds a thread, so never more than half of them.
WEB_THREADS = _env_int("WEB_THREADS", 8)
WAIT_SLOTS = _env_int("EXPLORER_WAIT_SLOTS", max(1, WEB_THREADS // 2))
FORMAT_SLOTS = _env_int("EXPLORER_FORMAT_SLOTS", max(1, WEB_THREADS // 4))  # gofmt waits: a pool of its own
COMPILE_WAIT_SECONDS = float(os.environ.get("COMPILE_WAIT_SECONDS", "2.0"))
FORMAT_WAIT_SECONDS = _env_float("EXPLORER_FORMAT_WAIT_SECONDS", 15.0)

# Request bodies: a 256 KiB source, URL- or JSON-escaped, fits well within this.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

# Retention (manage.py prune): what was not viewed for this long goes first.
# Workers prune once an hour (one of them: a lock in Redis); 0 turns that off.
PRUNE_OLDER_THAN_DAYS = _env_int("EXPLORER_PRUNE_OLDER_THAN_DAYS", 30)
PRUNE_EVERY_SECONDS = _env_float("EXPLORER_PRUNE_EVERY_SECONDS", 3600.0)
STORAGE_BUDGET = os.environ.get("EXPLORER_STORAGE_BUDGET", "")  # e.g. "20G": least recently viewed go first

LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")  # json (one object per line) or text
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "explorer.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        # Celery's "Received task" (the worker's main process) and "Task … succeeded" (the
        # pool process), two lines per job that the job's own line (worker.tasks: its id,
        # outcome, client, time) says better; their failures are logged as errors still.
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
    },
}

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
