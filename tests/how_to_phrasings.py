"""The how-to phrasings of bench/data/how_to_actions.yaml, for tests/test_how_to_actions.py."""

from __future__ import annotations

from pathlib import Path

import yaml

_DATA = yaml.safe_load((Path(__file__).parents[1] / "bench" / "data" / "how_to_actions.yaml").read_text("utf-8"))
# (phrasing, language, action the reply must offer)
HOW_TO_PHRASINGS: list[tuple[str, str, str]] = [(p["q"], p["lang"], p["action"]) for p in _DATA["phrasings"]]
# The start of the reply a guest gets for each action: the action offered with the sign-in step.
OFFERS: dict[str, dict[str, str]] = _DATA["offers"]
