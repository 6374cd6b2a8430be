"""Rasa phones nobody home, and its API token is not in the process list.

Issue 19, finding 9: `RASA_TELEMETRY_ENABLED` was unset, so Rasa sent usage telemetry to Segment
and errors to Sentry. Training, serving and tests now run with it set to false (scripts/env.sh,
bot/serve_rasa.py, core/stack.py) and setup writes Rasa's global config with metrics off.
Finding 13: the token was an argument of `rasa run`, readable by every account through `ps`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.serve_rasa import api_token, rasa_argv
from core.stack import ROOT, Stack


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw if b"=" in item)


def cmdline_of(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def with_project_env(command: str) -> subprocess.CompletedProcess[str]:
    """A shell command after `. scripts/env.sh`, as setup, run and test start every Rasa command."""
    env = {k: v for k, v in os.environ.items() if k != "RASA_TELEMETRY_ENABLED"}
    return subprocess.run(
        ["bash", "-c", f". scripts/env.sh && {command}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_the_running_rasa_has_telemetry_off_and_no_token_in_its_command_line(stack: Stack) -> None:
    pid = stack.processes["rasa"].popen.pid
    assert environ_of(pid).get("RASA_TELEMETRY_ENABLED") == "false"
    command = cmdline_of(pid)
    assert "rasa run" in command
    assert stack.rasa_token not in command
    assert "--auth-token" not in command


def test_every_rasa_command_of_the_project_runs_with_telemetry_off() -> None:
    # Training (setup), the test stories and serving all source scripts/env.sh.
    assert with_project_env('echo "$RASA_TELEMETRY_ENABLED"').stdout.strip() == "false"
    status = with_project_env('"$RASA_VENV/bin/rasa" telemetry')
    assert "Telemetry reporting is currently disabled" in status.stdout


def test_rasas_global_config_has_metrics_off() -> None:
    """Written by scripts/setup, so a Rasa command started without the project's environment is quiet too."""
    config = yaml.safe_load(Path("~/.config/rasa/global.yml").expanduser().read_text(encoding="utf-8"))
    assert config["metrics"]["enabled"] is False
    status = subprocess.run(
        [str(Path(os.environ["RASA_VENV"]) / "bin/rasa"), "telemetry"],
        env={k: v for k, v in os.environ.items() if k != "RASA_TELEMETRY_ENABLED"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "Telemetry reporting is currently disabled" in status.stdout


def test_the_token_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "rasa-token"
    secret.write_text("from-a-secret-file\n", encoding="utf-8")
    assert api_token({"RASA_TOKEN": "from-env"}) == "from-env"
    assert api_token({"RASA_TOKEN": "from-env", "RASA_TOKEN_FILE": str(secret)}) == "from-a-secret-file"
    with pytest.raises(SystemExit):
        api_token({})
    assert rasa_argv(["run", "--enable-api"], "t0k") == ["rasa", "run", "--enable-api", "--auth-token", "t0k"]
    with pytest.raises(SystemExit, match="not --auth-token"):
        rasa_argv(["run", "--auth-token", "visible"], "t0k")
