"""Settings for every process, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

# Documented defaults for a local run only; production sets every secret.
LOCAL_RASA_TOKEN = "local-dev-rasa-token"  # noqa: S105 -- documented local default
LOCAL_CUSTOMER_TOKEN_SECRET = "local-dev-customer-token-secret-change-me"  # noqa: S105 -- documented local default


class SettingsError(RuntimeError):
    """A setting is missing or malformed."""


def required_env(name: str) -> str:
    """Return an environment variable or fail with a message that says how to fix it."""
    value = os.environ.get(name)
    if not value:
        raise SettingsError(f"Set the environment variable {name} (see README, 'Configuration').")
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


@dataclass(frozen=True)
class Settings:
    """Configuration of the gateway, the actions and the scripts.

    `CC_ENV=local` (the default) allows the documented development secrets;
    any other value makes `RASA_TOKEN` and `CUSTOMER_TOKEN_SECRET` mandatory.
    """

    env: str = "local"
    host: str = "127.0.0.1"
    port: int = 8080
    mongodb_uri: str = "mongodb://127.0.0.1:27018/"
    mongodb_db: str = "contact_center"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = LOCAL_RASA_TOKEN
    customer_token_secret: str = LOCAL_CUSTOMER_TOKEN_SECRET
    # The customer must hear something within 5 s even when the bot hangs.
    bot_timeout_seconds: float = 4.0
    # Longer messages are refused with a clear error instead of being cut.
    max_message_chars: int = 4000
    demo_sign_in: bool = True
    banking_backend: str = "demo"
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
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        """Build settings from environment variables (names in the README)."""
        env = os.environ.get("CC_ENV", "local")
        local = env == "local"
        return cls(
            env=env,
            host=os.environ.get("GATEWAY_HOST", "127.0.0.1"),
            port=_env_int("GATEWAY_PORT", 8080),
            mongodb_uri=os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27018/"),
            mongodb_db=os.environ.get("MONGODB_DB", "contact_center"),
            rasa_url=os.environ.get("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            rasa_token=os.environ.get("RASA_TOKEN", LOCAL_RASA_TOKEN) if local else required_env("RASA_TOKEN"),
            customer_token_secret=(
                os.environ.get("CUSTOMER_TOKEN_SECRET", LOCAL_CUSTOMER_TOKEN_SECRET)
                if local
                else required_env("CUSTOMER_TOKEN_SECRET")
            ),
            bot_timeout_seconds=_env_float("BOT_TIMEOUT_SECONDS", 4.0),
            max_message_chars=_env_int("MAX_MESSAGE_CHARS", 4000),
            demo_sign_in=_env_bool("DEMO_SIGN_IN", local),
            banking_backend=os.environ.get("BANKING_BACKEND", "demo"),
            gateway_processes=_env_int("GATEWAY_PROCESSES", 1),
            redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            handoff_auto_assign=_env_bool("HANDOFF_AUTO_ASSIGN", True),
            operator_hours=os.environ.get("OPERATOR_HOURS", "00:00-24:00"),
            operator_timezone=os.environ.get("OPERATOR_TIMEZONE", "Europe/Moscow"),
            demo_staff=_env_bool("DEMO_STAFF", local),
        )
