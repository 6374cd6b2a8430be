"""Logging setup that never lets a card number reach a log line."""

from __future__ import annotations

import logging

from core.masking import mask_sensitive


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


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger once per process."""
    handler = logging.StreamHandler()
    handler.addFilter(MaskingFilter())
    handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
