"""Logging setup that never lets a card number reach a log line."""

from __future__ import annotations

import logging

from core.masking import mask_sensitive


class MaskingFilter(logging.Filter):
    """Rewrite each record so card numbers, CVVs and PINs are masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the formatted message in place; never drops a record."""
        record.msg = mask_sensitive(record.getMessage()).text
        record.args = None
        return True


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger once per process."""
    handler = logging.StreamHandler()
    handler.addFilter(MaskingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
