"""Rasa's action-response check, with the validator built once (bot/rasa_patches.py), in Rasa's own environment."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs inside Rasa's Python 3.10 environment: the patch is for Rasa 3.6.21 exactly.
_PROBE = textwrap.dedent(
    """
    import json, time
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction
    from bot import rasa_patches

    action = RemoteAction("action_check_balance", None)
    bad = {"events": [{"event": 5}], "responses": "not a list"}
    good = {"events": [{"event": "slot", "name": "language", "value": "ru"}], "responses": [{"text": "hi"}]}

    def outcome(result):
        try:
            return action._validate_action_result(result)
        except ValidationError as err:
            return err.message

    def cpu_ms(result, calls=20):
        start = time.process_time()
        for _ in range(calls):
            outcome(result)
        return (time.process_time() - start) * 1000 / calls

    shipped = {"good": outcome(good), "bad": outcome(bad), "cpu_ms": cpu_ms(good)}
    installed = rasa_patches.apply()
    patched = {"good": outcome(good), "bad": outcome(bad), "cpu_ms": cpu_ms(good)}
    print(json.dumps({
        "installed": installed,
        "shipped": shipped,
        "patched": patched,
        "validators_built": rasa_patches.response_validator.cache_info().misses,
    }))
    """
)


def run_probe() -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    python = Path(os.environ["RASA_VENV"]) / "bin/python"
    done = subprocess.run([str(python), "-c", _PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_patched_check_accepts_and_refuses_what_rasa_does_with_one_validator() -> None:
    probe = run_probe()
    shipped, patched = probe["shipped"], probe["patched"]
    assert isinstance(shipped, dict) and isinstance(patched, dict)
    assert probe["installed"] is True
    # A valid response passes both; an invalid one fails both with the same message and Rasa's hint.
    assert shipped["good"] is True and patched["good"] is True
    assert isinstance(patched["bad"], str) and patched["bad"] == shipped["bad"]
    assert "Failed to validate Action server response" in patched["bad"]
    # Built once for the 21 calls after the patch.
    assert probe["validators_built"] == 1
