"""Logging setup that never lets a card number reach a log line."""

from __future__ import annotations

import contextvars
import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime

from core.masking import mask_sensitive

# The request and conversation a line belongs to (set by the gateway's request middleware and the router).
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
CONVERSATION_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("conversation_id", default=None)


def bind_conversation(conversation_id: str) -> Callable[[], None]:
    """Name the conversation in the log lines that follow in this task; returns the undo."""
    token = CONVERSATION_ID.set(conversation_id)
    return lambda: CONVERSATION_ID.reset(token)


class MaskingFilter(logging.Filter):
    """Rewrite each record's message so card numbers, CVVs and PINs are masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the formatted message in place; never drops a record."""
        record.msg = mask_sensitive(record.getMessage()).text
        record.args = None
        return True


class MaskingFormatter(logging.Formatter):
    """Mask tracebacks and stack dumps too: they quote customer text (the message is masked by MaskingFilter).

    The time stamp is left alone: its digits would otherwise read as a 17-digit number.
    """

    def formatException(self, ei: logging._SysExcInfoType) -> str:
        """The traceback, masked."""
        return mask_sensitive(super().formatException(ei)).text

    def formatStack(self, stack_info: str) -> str:
        """The stack dump, masked."""
        return mask_sensitive(super().formatStack(stack_info)).text


class JsonFormatter(MaskingFormatter):
    """One JSON object per line (LOG_FORMAT=json), for log search.

    Time, level, logger, message, the request and conversation it belongs to, and the masked traceback.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line; the message was masked by MaskingFilter."""
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (request_id := REQUEST_ID.get()) is not None:
            line["request_id"] = request_id
        if (conversation_id := getattr(record, "conversation_id", None) or CONVERSATION_ID.get()) is not None:
            line["conversation_id"] = conversation_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger once per process; LOG_FORMAT=json writes JSON lines."""
    handler = logging.StreamHandler()
    handler.addFilter(MaskingFilter())
    if os.environ.get("LOG_FORMAT", "text").lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
