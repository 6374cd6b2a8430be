"""Settings for every process, read once from the environment."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from core.identity import hash_api_key

# Documented defaults for a local run only; production sets every secret.
LOCAL_RASA_TOKEN = "local-dev-rasa-token"  # noqa: S105 -- documented local default
LOCAL_CUSTOMER_TOKEN_SECRET = "local-dev-customer-token-secret-change-me"  # noqa: S105 -- documented local default
LOCAL_ACTION_SERVER_TOKEN = "local-dev-action-server-token"  # noqa: S105 -- documented local default
LOCAL_IDENTITY_SIGNING_SECRET = "local-dev-identity-signing-secret-change-me"  # noqa: S105 -- documented local default
# The REST channel's local integration and its key; settings hold only the key's SHA-256 (REST_API_KEYS).
LOCAL_REST_INTEGRATION = "local-demo"
LOCAL_REST_API_KEY = "local-dev-rest-api-key"
LOCAL_REST_API_KEYS = {LOCAL_REST_INTEGRATION: hash_api_key(LOCAL_REST_API_KEY)}


# Every documented local default of a secret, by the variable that overrides it. With CC_ENV=production
# the gateway refuses to start while any of them is in use (add new secrets here).
LOCAL_SECRET_DEFAULTS: dict[str, tuple[str, str]] = {
    "RASA_TOKEN": ("rasa_token", LOCAL_RASA_TOKEN),
    "CUSTOMER_TOKEN_SECRET": ("customer_token_secret", LOCAL_CUSTOMER_TOKEN_SECRET),
    "ACTION_SERVER_TOKEN": ("action_server_token", LOCAL_ACTION_SERVER_TOKEN),
    "IDENTITY_SIGNING_SECRET": ("identity_signing_secret", LOCAL_IDENTITY_SIGNING_SECRET),
}
# Shorter shared secrets can be guessed offline from one signed token.
MIN_PRODUCTION_SECRET_CHARS = 32
# "aaaa...": long enough, guessed at once. Random tokens of 32 characters have far more distinct ones.
MIN_PRODUCTION_SECRET_DISTINCT_CHARS = 10
PRODUCTION = "production"
# Every value CC_ENV may take (any spelling of case and surrounding spaces); anything else refuses to
# start, so a typo ("Prod", "prodution") never runs a bank's platform with the local defaults.
ENVIRONMENTS = ("local", "test", "staging", PRODUCTION)


class SettingsError(RuntimeError):
    """A setting is missing or malformed."""


def required_env(name: str) -> str:
    """Return an environment variable or fail with a message that says how to fix it."""
    value = os.environ.get(name)
    if not value:
        raise SettingsError(f"Set the environment variable {name} (see docs/operations.md, 'Configuration').")
    return value


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as err:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from err


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as err:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from err


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def parse_environment(raw: str) -> str:
    """CC_ENV as one of ENVIRONMENTS, whatever its case.

    Raises:
        SettingsError: for any other value, naming the allowed ones.
    """
    env = raw.strip().lower()
    if env not in ENVIRONMENTS:
        raise SettingsError(f"CC_ENV must be one of {', '.join(ENVIRONMENTS)}; got {raw!r}.")
    return env


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def unprotected_redis(url: str) -> str | None:
    """Why a Redis URL is unsafe for production: reachable over the network without a password."""
    parsed = urlsplit(url)
    if not parsed.hostname or parsed.hostname in LOOPBACK_HOSTS or parsed.scheme == "unix" or parsed.password:
        return None
    return (
        f"REDIS_URL reaches Redis at {parsed.hostname} without a password (live events and locks could be read or "
        "injected from the network); start Redis with --requirepass and put it in the URL: redis://:PASSWORD@host:6379/0."
    )


def weak_secret(value: str) -> str | None:
    """Why a shared secret is too weak for production, or None."""
    if len(value) < MIN_PRODUCTION_SECRET_CHARS:
        return f"is shorter than {MIN_PRODUCTION_SECRET_CHARS} characters"
    if len(set(value)) < MIN_PRODUCTION_SECRET_DISTINCT_CHARS:
        return f"has fewer than {MIN_PRODUCTION_SECRET_DISTINCT_CHARS} different characters"
    return None


_API_KEY_HASH_RE = re.compile(r"[0-9a-f]{64}")
_INTEGRATION_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def parse_api_keys(raw: str) -> dict[str, str]:
    """Parse REST_API_KEYS: comma-separated `integration:sha256-hex-of-its-key`.

    Raises:
        SettingsError: naming the entry that is malformed.
    """
    keys: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        name, _, digest = entry.partition(":")
        if not _INTEGRATION_NAME_RE.fullmatch(name) or not _API_KEY_HASH_RE.fullmatch(digest):
            raise SettingsError(
                f"REST_API_KEYS entry {name!r} must be 'name:sha256hex' (name of a-z 0-9 _ -); "
                "`python -m connectors.rest_keys NAME` prints one."
            )
        keys[name] = digest
    return keys


@dataclass(frozen=True)
class Settings:
    """Configuration of the gateway, the actions and the scripts.

    `CC_ENV=local` (the default) allows the documented development secrets; test, staging and
    production make every secret mandatory, and production refuses weak or documented ones
    (`production_problems`). Any other CC_ENV refuses to start.
    """

    env: str = "local"
    host: str = "127.0.0.1"
    port: int = 8080
    mongodb_uri: str = "mongodb://127.0.0.1:27018/"
    mongodb_db: str = "contact_center"
    # FerretDB's own PostgreSQL database, when the platform runs on FerretDB on PostgreSQL: the gateway
    # adds indexes PostgreSQL can use for FerretDB's filters (core/pg_indexes.py). Empty on MongoDB.
    ferretdb_postgres_url: str = ""
    rasa_url: str = "http://127.0.0.1:5005"
    # Several Rasa processes (RASA_URLS, comma-separated): each conversation goes to one of them by a
    # hash of its id; Rasa's Redis lock store keeps a conversation's turns in order across processes.
    rasa_urls: tuple[str, ...] = ()
    # The action server's base URL, for /readyz (from Rasa's ACTION_ENDPOINT_URL, without /webhook).
    action_server_url: str = ""
    # Bot calls in flight per Rasa process; more wait in the gateway's queue (Rasa serves one turn at a
    # time per CPU anyway, and a call that waits in Rasa's own queue eats the bot timeout).
    bot_concurrency: int = 4
    # Calls waiting beyond this many seconds give the customer "the assistant is busy, one moment".
    bot_busy_notice_seconds: float = 3.0
    # Longest a message waits for a free bot slot (overload, or Rasa still loading its model at start).
    bot_queue_timeout_seconds: float = 60.0
    rasa_token: str = LOCAL_RASA_TOKEN
    customer_token_secret: str = LOCAL_CUSTOMER_TOKEN_SECRET
    # Rasa sends it to the action server (`?token=`, bot/endpoints.yml); the action server refuses calls without it.
    action_server_token: str = LOCAL_ACTION_SERVER_TOKEN
    # Signs the identity the gateway vouches for in each message's metadata; only gateway and action server know it.
    identity_signing_secret: str = LOCAL_IDENTITY_SIGNING_SECRET
    # REST integrations: name -> SHA-256 hex of its API key (REST_API_KEYS="name:hash,..."); none means REST is closed.
    rest_api_keys: dict[str, str] = field(default_factory=lambda: dict(LOCAL_REST_API_KEYS))
    # The customer must hear something within 5 s even when the bot hangs.
    bot_timeout_seconds: float = 4.0
    # Longer messages are refused with a clear error instead of being cut.
    max_message_chars: int = 4000
    demo_sign_in: bool = True
    banking_backend: str = "demo"
    # The demo bank (seeded customers, balances) in production only when someone says so on purpose.
    allow_demo_banking: bool = False
    # Live events between gateway processes go over Redis pub/sub when more than one process runs.
    gateway_processes: int = 1
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Off: queued conversations wait for an operator to take them.
    handoff_auto_assign: bool = True
    # Operators' daily hours ("HH:MM-HH:MM", in operator_timezone); outside them customers get a callback offer.
    operator_hours: str = "00:00-24:00"
    operator_timezone: str = "Europe/Moscow"
    # Demo staff accounts (operators and a supervisor) with documented passwords; local runs only.
    demo_staff: bool = True
    # Telegram (connectors/telegram.py) runs only when a bot token is set; "webhook" or "polling".
    telegram_bot_token: str = ""
    telegram_mode: str = "webhook"
    # Public HTTPS URL of /telegram/webhook; setWebhook is called at start when it is set.
    telegram_webhook_url: str = ""
    telegram_webhook_secret: str = ""
    # A custom Bot API server ("http://host:port"); empty means api.telegram.org.
    telegram_api_base: str = ""
    # The TwiML voice webhook refuses every request (503) until the gateway account's auth token is set.
    twiml_auth_token: str = ""
    # Base URL the voice gateway calls (signatures cover the full URL); empty: as the request arrived.
    twiml_public_url: str = ""
    voice_language: str = "ru"
    # Transfer to operators: "enqueue" (<Enqueue> queue_name / TaskRouter workflow) or "sip" (<Dial><Sip>).
    voice_transfer: str = "enqueue"
    voice_queue_name: str = "bank-operators"
    voice_workflow_sid: str = ""
    voice_sip_uri: str = ""
    # Calls are ended after this long, whatever happens: a stuck loop must not cost an hour of line time.
    voice_max_call_seconds: int = 900
    # The Asterisk FastAGI server starts only when a port is set.
    fastagi_port: int | None = None
    fastagi_host: str = "127.0.0.1"
    # Channel variable the dialplan's speech engine fills; optional app that runs the recognizer first.
    fastagi_speech_variable: str = "RECOGNIZED_TEXT"
    fastagi_speech_app: str = ""
    # Synthesized prompts are written here and must be readable by Asterisk under the same path.
    fastagi_sounds_dir: str = "var/voice-prompts"
    # Recorded sounds for the line's fixed prompts: "greeting=bank/greeting,transfer=bank/transfer".
    fastagi_recordings: str = ""
    # Origins that may show the customer chat in a frame (CSP frame-ancestors); staff pages never can.
    chat_frame_ancestors: str = "'self'"
    # Bearer token /metrics asks for; without one, production answers only internal addresses.
    metrics_token: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        """Build settings from environment variables (names in docs/operations.md, 'Configuration')."""
        env = parse_environment(os.environ.get("CC_ENV", "local"))
        local = env == "local"
        return cls(
            env=env,
            host=os.environ.get("GATEWAY_HOST", "127.0.0.1"),
            port=_env_int("GATEWAY_PORT", 8080),
            mongodb_uri=os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27018/"),
            mongodb_db=os.environ.get("MONGODB_DB", "contact_center"),
            ferretdb_postgres_url=os.environ.get("FERRETDB_POSTGRES_URL", ""),
            rasa_url=os.environ.get("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            rasa_urls=tuple(u.strip().rstrip("/") for u in os.environ.get("RASA_URLS", "").split(",") if u.strip()),
            action_server_url=os.environ.get("ACTION_ENDPOINT_URL", "").removesuffix("/webhook"),
            bot_concurrency=_env_int("BOT_CONCURRENCY", 4),
            bot_busy_notice_seconds=_env_float("BOT_BUSY_NOTICE_SECONDS", 3.0),
            bot_queue_timeout_seconds=_env_float("BOT_QUEUE_TIMEOUT_SECONDS", 60.0),
            rasa_token=os.environ.get("RASA_TOKEN", LOCAL_RASA_TOKEN) if local else required_env("RASA_TOKEN"),
            customer_token_secret=(
                os.environ.get("CUSTOMER_TOKEN_SECRET", LOCAL_CUSTOMER_TOKEN_SECRET)
                if local
                else required_env("CUSTOMER_TOKEN_SECRET")
            ),
            action_server_token=(
                os.environ.get("ACTION_SERVER_TOKEN", LOCAL_ACTION_SERVER_TOKEN)
                if local
                else required_env("ACTION_SERVER_TOKEN")
            ),
            identity_signing_secret=(
                os.environ.get("IDENTITY_SIGNING_SECRET", LOCAL_IDENTITY_SIGNING_SECRET)
                if local
                else required_env("IDENTITY_SIGNING_SECRET")
            ),
            rest_api_keys=(
                parse_api_keys(os.environ["REST_API_KEYS"])
                if "REST_API_KEYS" in os.environ
                else dict(LOCAL_REST_API_KEYS if local else {})
            ),
            bot_timeout_seconds=_env_float("BOT_TIMEOUT_SECONDS", 4.0),
            max_message_chars=_env_int("MAX_MESSAGE_CHARS", 4000),
            demo_sign_in=_env_bool("DEMO_SIGN_IN", local),
            banking_backend=os.environ.get("BANKING_BACKEND", "demo"),
            allow_demo_banking=_env_bool("ALLOW_DEMO_BANKING", False),
            gateway_processes=_env_int("GATEWAY_PROCESSES", 1),
            redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            handoff_auto_assign=_env_bool("HANDOFF_AUTO_ASSIGN", True),
            operator_hours=os.environ.get("OPERATOR_HOURS", "00:00-24:00"),
            operator_timezone=os.environ.get("OPERATOR_TIMEZONE", "Europe/Moscow"),
            demo_staff=_env_bool("DEMO_STAFF", local),
            telegram_bot_token=os.environ.get("TELEGRAM_BOT_TOKEN", ""),
            telegram_mode=os.environ.get("TELEGRAM_MODE", "webhook"),
            telegram_webhook_url=os.environ.get("TELEGRAM_WEBHOOK_URL", ""),
            telegram_webhook_secret=(
                required_env("TELEGRAM_WEBHOOK_SECRET")
                if os.environ.get("TELEGRAM_BOT_TOKEN") and os.environ.get("TELEGRAM_MODE", "webhook") == "webhook"
                else ""
            ),
            telegram_api_base=os.environ.get("TELEGRAM_API_BASE", "").rstrip("/"),
            twiml_auth_token=os.environ.get("TWIML_AUTH_TOKEN", ""),
            twiml_public_url=os.environ.get("TWIML_PUBLIC_URL", ""),
            voice_language=os.environ.get("VOICE_LANGUAGE", "ru"),
            voice_transfer=os.environ.get("VOICE_TRANSFER", "enqueue"),
            voice_queue_name=os.environ.get("VOICE_QUEUE_NAME", "bank-operators"),
            voice_workflow_sid=os.environ.get("VOICE_WORKFLOW_SID", ""),
            voice_sip_uri=os.environ.get("VOICE_SIP_URI", ""),
            voice_max_call_seconds=_env_int("VOICE_MAX_CALL_SECONDS", 900),
            fastagi_port=_env_int("FASTAGI_PORT", 0) or None,
            fastagi_host=os.environ.get("FASTAGI_HOST", "127.0.0.1"),
            fastagi_speech_variable=os.environ.get("FASTAGI_SPEECH_VARIABLE", "RECOGNIZED_TEXT"),
            fastagi_speech_app=os.environ.get("FASTAGI_SPEECH_APP", ""),
            fastagi_sounds_dir=os.environ.get("FASTAGI_SOUNDS_DIR", "var/voice-prompts"),
            fastagi_recordings=os.environ.get("FASTAGI_RECORDINGS", ""),
            chat_frame_ancestors=os.environ.get("CHAT_FRAME_ANCESTORS", "'self'"),
            metrics_token=os.environ.get("METRICS_TOKEN", ""),
        )

    def production_problems(self) -> list[str]:
        """What keeps these settings from a production start (CC_ENV=production); empty when none.

        Each entry names the setting and how to fix it. Demo accounts in the database are checked
        at the gateway's start (core.production), which has the database at hand.
        """
        if self.env != PRODUCTION:
            return []
        problems: list[str] = []
        for variable, (attribute, default) in LOCAL_SECRET_DEFAULTS.items():
            value = getattr(self, attribute)
            if value == default:
                problems.append(f"{variable} is the documented local default; set a secret of your own.")
            elif reason := weak_secret(value):
                problems.append(f"{variable} {reason}.")
        # Channel secrets are optional (the channel stays closed without them), but never weak when set.
        for variable, value in (
            ("TWIML_AUTH_TOKEN", self.twiml_auth_token),
            ("TELEGRAM_WEBHOOK_SECRET", self.telegram_webhook_secret),
        ):
            if value and (reason := weak_secret(value)):
                problems.append(f"{variable} {reason}; set the full secret the service issued or a random one.")
        local_key = hash_api_key(LOCAL_REST_API_KEY)
        problems.extend(
            f"REST_API_KEYS: integration {name!r} uses the documented local key; issue a new one: "
            f"python -m connectors.rest_keys {name}."
            for name, digest in sorted(self.rest_api_keys.items())
            if digest == local_key
        )
        if self.banking_backend == "demo" and not self.allow_demo_banking:
            problems.append(
                "BANKING_BACKEND is 'demo' (made-up customers and balances are seeded); connect the bank's "
                "backend, or set ALLOW_DEMO_BANKING=true for a demonstration install."
            )
        if reason := unprotected_redis(self.redis_url):
            problems.append(reason)
        if self.demo_sign_in:
            problems.append("DEMO_SIGN_IN is on: anyone could sign in as a demo customer; set DEMO_SIGN_IN=0.")
        if self.demo_staff:
            problems.append("DEMO_STAFF is on: demo operators with documented passwords; set DEMO_STAFF=0.")
        return problems
