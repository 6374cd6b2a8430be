"""A restarted Rasa is warm before it answers, so its first customer is not handed to an operator.

A fresh Rasa's first turn took 1.7 s on a quiet machine (TensorFlow traces DIET's graph, the sentence models
touch their weights) and more than the gateway's bot timeout on a busy one. bot/serve_rasa.py parses one
sentence per language inside Rasa's own start-up listener, before the server answers anything.
"""

from __future__ import annotations

import re

from core.stack import Stack


def test_rasa_warms_its_model_before_it_starts_answering(stack: Stack) -> None:
    log = stack.processes["rasa"].log_path.read_text(encoding="utf-8", errors="replace")
    warmed = re.search(r"Rasa model warmed up \(2 parses\)", log)
    assert warmed is not None, log[-3000:]
    assert "warm-up failed" not in log
    # Rasa's "up and running" is logged by the loader this wraps, so it comes first; serving comes after.
    assert log.index("Rasa server is up and running") < warmed.start()
