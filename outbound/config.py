"""Outbound settings from the environment (docs/outbound.md lists them).

Kept beside the package rather than in core/settings.py: only the outbound worker and the
gateway's outbound routes read them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError as err:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from err


@dataclass(frozen=True)
class OutboundSettings:
    """Where outbound keeps its queue and how fast it may send."""

    # PostgreSQL database of campaigns, attempts and the procrastinate queue; empty: outbound is off.
    database_url: str = ""
    # Redis shared by every worker and gateway for the send rates; empty: each worker limits itself alone.
    redis_url: str = ""
    # Telegram messages per second across all workers (Telegram allows about 30, inbound replies included).
    telegram_per_second: int = 25
    # Outbound calls at once across all workers.
    max_calls: int = 5
    # Jobs one worker process runs at once.
    worker_concurrency: int = 10
    # The worker's CPU priority below the gateway's and Rasa's (os.nice): customers who write in come first.
    worker_nice: int = 10
    # Twilio REST API (SMS and calls); the base URL is configurable for a stand-in or a regional edge.
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_api_base: str = "https://api.twilio.com"
    twilio_from_number: str = ""
    # Public base URL of the gateway, for Twilio's call webhooks and status callbacks.
    public_url: str = ""
    # Asterisk instead of Twilio for calls: AMI address and account, the dial string, the FastAGI URL.
    ami_host: str = ""
    ami_port: int = 5038
    ami_username: str = ""
    ami_secret: str = ""
    ami_channel: str = "PJSIP/{number}@trunk"
    ami_agi_url: str = "agi://127.0.0.1:4573/outbound"
    ami_caller_id: str = ""
    ami_context: str = "cc-outbound"

    @classmethod
    def from_env(cls) -> OutboundSettings:
        """Read OUTBOUND_* and TWILIO_* variables."""
        return cls(
            database_url=os.environ.get("OUTBOUND_DATABASE_URL", ""),
            redis_url=os.environ.get("OUTBOUND_REDIS_URL", ""),
            telegram_per_second=_env_int("OUTBOUND_TELEGRAM_PER_SECOND", 25),
            max_calls=_env_int("OUTBOUND_MAX_CALLS", 5),
            worker_concurrency=_env_int("OUTBOUND_WORKER_CONCURRENCY", 10),
            worker_nice=_env_int("OUTBOUND_WORKER_NICE", 10),
            twilio_account_sid=os.environ.get("TWILIO_ACCOUNT_SID", ""),
            twilio_auth_token=os.environ.get("TWILIO_AUTH_TOKEN", ""),
            twilio_api_base=os.environ.get("TWILIO_API_BASE", "https://api.twilio.com").rstrip("/"),
            twilio_from_number=os.environ.get("TWILIO_FROM_NUMBER", ""),
            public_url=os.environ.get("OUTBOUND_PUBLIC_URL", "").rstrip("/"),
            ami_host=os.environ.get("OUTBOUND_AMI_HOST", ""),
            ami_port=_env_int("OUTBOUND_AMI_PORT", 5038),
            ami_username=os.environ.get("OUTBOUND_AMI_USERNAME", ""),
            ami_secret=os.environ.get("OUTBOUND_AMI_SECRET", ""),
            ami_channel=os.environ.get("OUTBOUND_AMI_CHANNEL", "PJSIP/{number}@trunk"),
            ami_agi_url=os.environ.get("OUTBOUND_AMI_AGI_URL", "agi://127.0.0.1:4573/outbound"),
            ami_caller_id=os.environ.get("OUTBOUND_AMI_CALLER_ID", ""),
            ami_context=os.environ.get("OUTBOUND_AMI_CONTEXT", "cc-outbound"),
        )
