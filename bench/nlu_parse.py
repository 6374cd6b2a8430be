"""Print the intent a trained Rasa model gives each line of a file, as JSON lines (runs in the Rasa environment)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from rasa.core.agent import Agent


async def parse_lines(model: Path, lines: list[str]) -> None:
    """Parse each line with the full NLU pipeline, FallbackClassifier included."""
    agent = Agent.load(str(model))
    for line in lines:
        result = await agent.parse_message(line)
        intent = result.get("intent") or {}
        print(json.dumps({"text": line, "intent": intent.get("name"), "confidence": intent.get("confidence")}))


if __name__ == "__main__":
    # `rasa test nlu` writes no predictions for a test set with a single intent, hence this helper.
    texts = [line.strip() for line in Path(sys.argv[2]).read_text(encoding="utf-8").splitlines() if line.strip()]
    asyncio.run(parse_lines(Path(sys.argv[1]), texts))
