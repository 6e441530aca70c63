"""OMNI2 settings: one file, driven by the environment, safe defaults for a laptop.

With no environment at all OMNI2 runs embedded: SQLite, a file-based cache and a
filesystem Celery broker, all under ``var/`` so the web process, the worker and
management commands share one state. ``DATABASE_URL``, ``REDIS_URL`` and
``CELERY_BROKER_URL`` switch each part to a real server.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("OMNI2_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Django core -------------------------------------------------------------
# Off unless asked for: ``make run`` (the embedded demo) sets OMNI2_DEBUG=true.
DEBUG = env.bool("OMNI2_DEBUG", default=False)
# The embedded demo's key. On any database but the embedded SQLite, a start-up check
# (omni2.checks) refuses it, a placeholder or a short key, and says what to set.
DEV_SECRET_KEY = "dev-only-insecure-key-change-me"
SECRET_KEY = env.str("OMNI2_SECRET_KEY", default="") or DEV_SECRET_KEY
ALLOWED_HOSTS = env.list("OMNI2_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("OMNI2_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "admincharts",  # only for the Chart.js it ships as a static file (the audit dashboard)
    "permissions",
    "audit",
    "orchestration",
    "slackapp",
    "omni2.apps.Omni2Config",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",  # first: every answer, even a redirect, carries its id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.BodySizeLimitMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    "permissions.middleware.PolicyPinMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "omni2.urls"
WSGI_APPLICATION = "omni2.wsgi.application"
ASGI_APPLICATION = "omni2.asgi.application"
AUTH_USER_MODEL = "permissions.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'omni2.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE transactions let the web process and the worker write side by side.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so a test's Celery worker process sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_omni2.sqlite3")}
else:
    # A connection pool rather than per-thread persistent connections: under ASGI every request
    # runs its sync code in a fresh thread, which would otherwise open a new connection each time.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Django then gives the pool psycopg_pool's ConnectionPool.check_connection: a connection is
    # checked as it leaves the pool, so one the server dropped (a restart, a failover) is
    # replaced instead of failing the first request that draws it.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("OMNI2_DB_POOL_MIN", default=2),
        "max_size": env.int("OMNI2_DB_POOL_MAX", default=20),
        # How long a request waits for a connection; with the database down, how long it
        # takes to answer 503 service_unavailable.
        "timeout": env.float("OMNI2_DB_POOL_TIMEOUT", default=5.0),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (policy snapshots, rate limits, dedupe keys, thread context) --------
REDIS_URL = env.str("REDIS_URL", default="")
# Keys carry the database's name, so two OMNI2 databases sharing one Redis never share a
# policy. A leading "test_" is dropped: a test run's child processes (workers, stdio MCP
# servers) are pointed at Django's test_<name> database and must share their parent's keys.
CACHE_KEY_PREFIX = env.str(
    "OMNI2_CACHE_KEY_PREFIX",
    default="omni2:" + Path(str(DATABASES["default"]["NAME"])).name.removeprefix("test_"),
)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # An unreachable Redis must cost a request seconds, not the system's TCP timeout:
                # the limiter then counts in the database, Slack deliveries get a 503.
                "SOCKET_CONNECT_TIMEOUT": env.float("OMNI2_REDIS_CONNECT_TIMEOUT", default=2.0),
                "SOCKET_TIMEOUT": env.float("OMNI2_REDIS_TIMEOUT", default=5.0),
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"MAX_ENTRIES": 10000},
        }
    }

# --- Celery ----------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
# A broker that is down or silent must fail a publish within ~2 s (ask/async answers 503,
# Slack retries), not after kombu's default retries: short socket timeouts, one retry.
OMNI2_BROKER_FAIL_FAST_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 1.5,
    "max_retries": 1,
}
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND", default=REDIS_URL or f"file://{VAR_DIR / 'celery-results'}"
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT = "omni2.broker:Transport"  # writes each message atomically
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.05,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, **OMNI2_BROKER_FAIL_FAST_OPTIONS}
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
if CELERY_RESULT_BACKEND.startswith("file://"):
    Path(CELERY_RESULT_BACKEND.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Hard limit well below the broker's visibility timeout (3600 s), so a task is
# never handed to a second worker while the first still runs it.
CELERY_TASK_TIME_LIMIT = env.int("OMNI2_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# How often celery beat computes the Slack alerts (slackapp.alerts).
OMNI2_ALERT_CHECK_SECONDS = env.int("OMNI2_ALERT_CHECK_SECONDS", default=60)
# `celery beat` (run by `make run` and compose); finished jobs are also purged as new ones are submitted.
CELERY_BEAT_SCHEDULE = {
    "purge-chat-jobs": {"task": "orchestration.chat_jobs_purge", "schedule": 3600.0},
    "slack-alerts": {
        "task": "slackapp.alerts_check",
        "schedule": float(OMNI2_ALERT_CHECK_SECONDS),
        "options": {"expires": OMNI2_ALERT_CHECK_SECONDS},  # a late run is replaced by the next
    },
}

# --- REST API -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["permissions.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.drf.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OMNI2 API",
    "DESCRIPTION": "One place between a team and its MCP servers.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "APPEND_COMPONENTS": {
        "securitySchemes": {"ApiKey": {"type": "http", "scheme": "bearer"}},
    },
    "SECURITY": [{"ApiKey": []}],
}
# Request bodies above this are refused with 413 before any view runs.
OMNI2_MAX_BODY_BYTES = env.int("OMNI2_MAX_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = OMNI2_MAX_BODY_BYTES
# Under ASGI (uvicorn), POST /api/mcp/tools/call from a known caller is served on the server's
# event loop (orchestration.gateway.clients, orchestration.gateway.toolcall); needs REDIS_URL and PostgreSQL. Off: Django serves it.
OMNI2_FAST_PATH = env.bool("OMNI2_FAST_PATH", default=True)
OMNI2_FAST_PATH_DB_POOL_MAX = env.int("OMNI2_FAST_PATH_DB_POOL_MAX", default=4)

# --- Static files, i18n ---------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security (``manage.py check --deploy`` is clean with DEBUG off) --------------------
# oauth2_provider.W008 (http redirect URIs): kept on purpose for RFC 8252 loopback redirects
# (http://127.0.0.1:<port>/…), which is what MCP clients on a laptop register; OMNI2's
# registration accepts http for the loopback interface only (permissions.oauth.registration).
SILENCED_SYSTEM_CHECKS = ["oauth2_provider.W008"]
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("OMNI2_SSL_REDIRECT", default=True)
    if not SECURE_SSL_REDIRECT:
        # Turned off on purpose: the TLS proxy in front redirects (docs/CONFIGURATION.md).
        SILENCED_SYSTEM_CHECKS.append("security.W008")
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("OMNI2_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Logging: secrets never reach a log line (see core.logging) -------------------------
# plain (the default, and `make run`) or json: one object per line with the request id.
OMNI2_LOG_FORMAT = env.str("OMNI2_LOG_FORMAT", default="plain").strip().lower()
if OMNI2_LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"OMNI2_LOG_FORMAT is {OMNI2_LOG_FORMAT!r}; use plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "core.logging.RedactSecretsFilter"}},
    "formatters": {
        "plain": {
            "()": "core.logging.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": OMNI2_LOG_FORMAT,
            "filters": ["redact"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("OMNI2_LOG_LEVEL", default="INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "mcp": {"level": "WARNING"}},
}

# --- Metrics and traces (core.metrics, core.tracing, GET /metrics) ----------------------------
# prometheus_client's multiprocess mode: every web and worker process writes its figures under
# this directory and /metrics sums them. Put in the environment so that every process started
# from here (uvicorn workers, Celery workers) inherits it; `manage.py serve` empties it first.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default=str(VAR_DIR / "metrics"))
Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR
# Bearer token for GET /metrics; unset, only loopback callers (not through a proxy) may scrape.
OMNI2_METRICS_TOKEN = env.str("OMNI2_METRICS_TOKEN", default="")
# Traces go out over OTLP/HTTP when an endpoint is set (the exporter reads the OTEL_* variables).
OMNI2_TRACING = bool(
    env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
    or env.str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", default="")
) and not env.bool("OTEL_SDK_DISABLED", default=False)
OMNI2_TRACING_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="omni2")

# --- OMNI2 product settings ------------------------------------------------------------
OMNI2_LLM_PROVIDER = env.str("OMNI2_LLM_PROVIDER", default="anthropic")
OMNI2_DEFAULT_MODEL = env.str("OMNI2_DEFAULT_MODEL", default="claude-haiku-4-5")
OMNI2_ALLOWED_MODELS = env.list(
    "OMNI2_ALLOWED_MODELS",
    default=[
        "claude-haiku-4-5",
        "claude-sonnet-4-5",
        "claude-opus-4-1",
        "claude-3-5-haiku-20241022",
    ],
)
ANTHROPIC_API_KEY = env.str("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env.str("ANTHROPIC_BASE_URL", default="")
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="")
SLACK_BOT_TOKEN = env.str("SLACK_BOT_TOKEN", default="")
SLACK_SIGNING_SECRET = env.str("SLACK_SIGNING_SECRET", default="")
SLACK_API_URL = env.str("SLACK_API_URL", default="https://slack.com/api/")

# --- Chat orchestration -------------------------------------------------------------------
OMNI2_MAX_ITERATIONS = env.int("OMNI2_MAX_ITERATIONS", default=10)
OMNI2_THREAD_MAX_EXCHANGES = env.int("OMNI2_THREAD_MAX_EXCHANGES", default=3)
OMNI2_THREAD_TTL_SECONDS = env.int("OMNI2_THREAD_TTL_SECONDS", default=24 * 3600)
OMNI2_TOOL_CONCURRENCY = env.int("OMNI2_TOOL_CONCURRENCY", default=8)
# A running chat job or Slack answer holds a lease its worker renews every third of this;
# when the worker dies the lease lapses and a redelivery of the task takes the work over.
OMNI2_JOB_LEASE_SECONDS = env.int("OMNI2_JOB_LEASE_SECONDS", default=30)
OMNI2_JOB_MAX_ATTEMPTS = env.int("OMNI2_JOB_MAX_ATTEMPTS", default=3)
OMNI2_CHAT_JOB_RETENTION_DAYS = env.int("OMNI2_CHAT_JOB_RETENTION_DAYS", default=7)
# A stored job result larger than this keeps its answer; its biggest tool results become markers.
OMNI2_CHAT_JOB_MAX_RESULT_BYTES = env.int("OMNI2_CHAT_JOB_MAX_RESULT_BYTES", default=1024 * 1024)
# A cap on tool calls inside one chat request (tool calls in a chat do not count toward the rate limit).
OMNI2_MAX_TOOL_CALLS_PER_REQUEST = env.int("OMNI2_MAX_TOOL_CALLS_PER_REQUEST", default=25)

# --- Audit, cost, rate limits ------------------------------------------------------------
# USD per million tokens, from Anthropic's published price list. Keys are model families:
# dated ids (claude-sonnet-4-5-20250929, …@20250929, Bedrock's anthropic.…-v1:0) use their
# family's row. Add or override rows with OMNI2_MODEL_PRICES_JSON='{"my-model": {...}}'.
# Cache writes are priced at the 5-minute rate (the one the orchestrator uses).
_CLAUDE_PRICES = {
    # family: (input, output, cache_read, cache_write)
    "claude-opus-4-6": ("5", "25", "0.50", "6.25"),
    "claude-opus-4-5": ("5", "25", "0.50", "6.25"),
    "claude-opus-4-1": ("15", "75", "1.50", "18.75"),
    "claude-opus-4": ("15", "75", "1.50", "18.75"),
    "claude-sonnet-4-6": ("3", "15", "0.30", "3.75"),
    "claude-sonnet-4-5": ("3", "15", "0.30", "3.75"),
    "claude-sonnet-4": ("3", "15", "0.30", "3.75"),
    "claude-3-7-sonnet": ("3", "15", "0.30", "3.75"),
    "claude-3-5-sonnet": ("3", "15", "0.30", "3.75"),
    "claude-haiku-4-5": ("1", "5", "0.10", "1.25"),
    "claude-3-5-haiku": ("0.80", "4", "0.08", "1"),  # the seed's prices
    "claude-3-opus": ("15", "75", "1.50", "18.75"),
    "claude-3-haiku": ("0.25", "1.25", "0.03", "0.30"),
}
OMNI2_MODEL_PRICES = {
    family: dict(zip(("input", "output", "cache_read", "cache_write"), prices, strict=True))
    for family, prices in _CLAUDE_PRICES.items()
}
OMNI2_MODEL_PRICES.update(env.json("OMNI2_MODEL_PRICES_JSON", default={}))
# Stored text is capped (characters) so one huge answer or argument cannot bloat the table.
OMNI2_AUDIT_MESSAGE_MAX_CHARS = env.int("OMNI2_AUDIT_MESSAGE_MAX_CHARS", default=4000)
OMNI2_AUDIT_PREVIEW_MAX_CHARS = env.int("OMNI2_AUDIT_PREVIEW_MAX_CHARS", default=1000)
OMNI2_AUDIT_ERROR_MAX_CHARS = env.int("OMNI2_AUDIT_ERROR_MAX_CHARS", default=2000)
OMNI2_AUDIT_ARGUMENT_MAX_CHARS = env.int("OMNI2_AUDIT_ARGUMENT_MAX_CHARS", default=1000)
OMNI2_AUDIT_ARGUMENTS_MAX_CHARS = env.int("OMNI2_AUDIT_ARGUMENTS_MAX_CHARS", default=8000)
# The admin list counts at most this many filtered rows (COUNT(*) over millions is slow).
OMNI2_AUDIT_ADMIN_COUNT_CAP = env.int("OMNI2_AUDIT_ADMIN_COUNT_CAP", default=10000)
OMNI2_RATE_LIMIT_WINDOW_SECONDS = env.int("OMNI2_RATE_LIMIT_WINDOW_SECONDS", default=3600)
# How long the cache's copy of the policy version lives. A change is seen everywhere at once;
# this bounds how long a change stays unseen if the cache could not be written as it committed.
OMNI2_POLICY_VERSION_CACHE_SECONDS = env.int("OMNI2_POLICY_VERSION_CACHE_SECONDS", default=5)

# --- Slack ---------------------------------------------------------------------------
# A footer under each Slack answer: role, tools used, cost and time.
OMNI2_SLACK_FOOTER = env.bool("OMNI2_SLACK_FOOTER", default=True)
# chat.update is Tier 3 (~50/min): at most one progress update per thread per this many seconds.
OMNI2_SLACK_PROGRESS_INTERVAL = env.int("OMNI2_SLACK_PROGRESS_INTERVAL", default=1)
# Answers longer than this many characters are attached as a file instead of split messages.
OMNI2_SLACK_MAX_ANSWER_CHARS = env.int("OMNI2_SLACK_MAX_ANSWER_CHARS", default=12000)
# Tool-produced files are uploaded only from these directories (a tool result names the path);
# examples/qa_mcp writes its reports under var/reports/qa_mcp/<user>/ by default.
OMNI2_SLACK_REPORT_DIRS = env.list("OMNI2_SLACK_REPORT_DIRS", default=[str(VAR_DIR / "reports")])
# The buttons under an answer work this long (the answer and its tool results are kept in the cache).
OMNI2_SLACK_BUTTONS_TTL_SECONDS = env.int("OMNI2_SLACK_BUTTONS_TTL_SECONDS", default=7 * 24 * 3600)
# Alerts for admins go to this channel (an id like C0123ABCD); empty: no alerts.
OMNI2_SLACK_ALERT_CHANNEL = env.str("OMNI2_SLACK_ALERT_CHANNEL", default="")
# Probing: this many denied requests by one user within the window raise one alert per window.
OMNI2_ALERT_DENIALS_THRESHOLD = env.int("OMNI2_ALERT_DENIALS_THRESHOLD", default=10)
OMNI2_ALERT_DENIALS_WINDOW_SECONDS = env.int("OMNI2_ALERT_DENIALS_WINDOW_SECONDS", default=600)
# An MCP server going down (unreachable, breaker open) or coming back: one alert each per window.
OMNI2_ALERT_MCP_WINDOW_SECONDS = env.int("OMNI2_ALERT_MCP_WINDOW_SECONDS", default=3600)
# A UTC day's total LLM cost above this (USD) raises one alert that day; 0 turns it off.
OMNI2_ALERT_DAILY_COST_USD = env.float("OMNI2_ALERT_DAILY_COST_USD", default=0.0)

# --- LLM providers (orchestration/llm) ----------------------------------------------------
# Retries (with backoff, honouring retry-after) are done by the anthropic/openai SDKs.
OMNI2_LLM_MAX_RETRIES = env.int("OMNI2_LLM_MAX_RETRIES", default=2)
# Per attempt: seconds to wait for the provider to start answering.
OMNI2_LLM_TIMEOUT_SECONDS = env.float("OMNI2_LLM_TIMEOUT_SECONDS", default=60.0)
OMNI2_LLM_MAX_TOKENS = env.int("OMNI2_LLM_MAX_TOKENS", default=4096)
# The SDKs' transport (httpx2) logs every request at INFO; keep it as quiet as httpx.
LOGGING["loggers"]["httpx2"] = {"level": "WARNING"}

# --- MCP connectivity (orchestration.mcp) ---------------------------------------------------
# After this many failures in a row a server is skipped for the cool-down, then tried once.
OMNI2_MCP_BREAKER_THRESHOLD = env.int("OMNI2_MCP_BREAKER_THRESHOLD", default=3)
OMNI2_MCP_BREAKER_COOLDOWN_SECONDS = env.float("OMNI2_MCP_BREAKER_COOLDOWN_SECONDS", default=30.0)
# Opening a session has its own, shorter limit so a dead host fails fast.
OMNI2_MCP_CONNECT_TIMEOUT_SECONDS = env.float("OMNI2_MCP_CONNECT_TIMEOUT_SECONDS", default=5.0)
# A tool result larger than this (bytes as received) is refused as a tool error, counted
# while it arrives, so a huge answer never sits whole in memory.
OMNI2_MCP_MAX_RESULT_BYTES = env.int("OMNI2_MCP_MAX_RESULT_BYTES", default=5 * 1024 * 1024)

# --- OAuth 2.1 for MCP clients (permissions.oauth, django-oauth-toolkit; docs/MCP_ENDPOINT.md) ---
# The public base URL, e.g. https://omni2.example.com (no trailing slash): the OAuth issuer, and
# /mcp under it the resource tokens are bound to. Empty: each request's scheme and host.
OMNI2_PUBLIC_URL = env.str("OMNI2_PUBLIC_URL", default="").rstrip("/")
# Off: the metadata documents, the login, consent, registration and token endpoints answer 404
# and MCP clients connect with an API key only.
OMNI2_OAUTH_ENABLED = env.bool("OMNI2_OAUTH_ENABLED", default=True)
OMNI2_OAUTH_ACCESS_TOKEN_SECONDS = env.int("OMNI2_OAUTH_ACCESS_TOKEN_SECONDS", default=3600)
OMNI2_OAUTH_REFRESH_TOKEN_SECONDS = env.int(
    "OMNI2_OAUTH_REFRESH_TOKEN_SECONDS", default=30 * 24 * 3600
)
# Open client registration, bounded: per client address an hour, and clients registered in the
# last day that never obtained a token (those are deleted once a day old).
OMNI2_OAUTH_REGISTRATIONS_PER_HOUR = env.int("OMNI2_OAUTH_REGISTRATIONS_PER_HOUR", default=60)
OMNI2_OAUTH_MAX_PENDING_CLIENTS = env.int("OMNI2_OAUTH_MAX_PENDING_CLIENTS", default=1000)
# Private-use redirect URI schemes a client may register besides https and loopback http
# (RFC 8252 §7.1), e.g. "cursor" for Cursor's OAuth callback.
OMNI2_OAUTH_EXTRA_REDIRECT_SCHEMES = [
    scheme.lower() for scheme in env.list("OMNI2_OAUTH_EXTRA_REDIRECT_SCHEMES", default=[])
]
LOGIN_URL = "oauth-login"
OAUTH2_PROVIDER = {
    "SCOPES": {"mcp": "Use the MCP tools OMNI2 allows you, through OMNI2"},
    "DEFAULT_SCOPES": ["mcp"],
    "OAUTH2_SERVER_CLASS": "permissions.oauth.server.S256OnlyServer",
    "PKCE_REQUIRED": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": OMNI2_OAUTH_ACCESS_TOKEN_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": OMNI2_OAUTH_REFRESH_TOKEN_SECONDS,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,  # a replayed refresh token revokes its family
    "REQUEST_APPROVAL_PROMPT": "force",  # the consent page every time (permissions.oauth.views)
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https", *OMNI2_OAUTH_EXTRA_REDIRECT_SCHEMES],
    "ALLOW_LOCALHOST_LOOPBACK": True,  # http://localhost:<any port>, as for 127.0.0.1
    "OIDC_ISS_ENDPOINT": OMNI2_PUBLIC_URL,  # RFC 9207 iss; empty: the request's origin
    # RFC 9700 (OAuth security BCP): every gate on but the redirect scheme one (see W008 above).
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,  # tokens stored as SHA-256 only
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "APPLICATION_ADMIN_CLASS": "permissions.oauth.admin.ApplicationAdmin",
    "ACCESS_TOKEN_ADMIN_CLASS": "permissions.oauth.admin.AccessTokenAdmin",
    "REFRESH_TOKEN_ADMIN_CLASS": "permissions.oauth.admin.RefreshTokenAdmin",
    "GRANT_ADMIN_CLASS": "permissions.oauth.admin.GrantAdmin",
}
