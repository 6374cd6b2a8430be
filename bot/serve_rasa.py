"""Start `rasa run` with the API token from the environment, never on the command line, and telemetry off.

`python -m bot.serve_rasa run --model M --enable-api ...` (Rasa's own arguments, minus `--auth-token`).
A command line is readable by every account on the machine (`ps`, /proc/N/cmdline); the token is
read here from RASA_TOKEN or from the file RASA_TOKEN_FILE names (a Docker or systemd secret) and
handed to Rasa inside the process, which leaves the process list as it was at exec.

Rasa reports usage to Segment and errors to Sentry unless told not to (issue 19, finding 9); a
bank's bot does neither, so RASA_TELEMETRY_ENABLED is forced to false before Rasa starts, whatever
the caller's environment says (scripts/setup also writes Rasa's global config with metrics off).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TELEMETRY_VARIABLE = "RASA_TELEMETRY_ENABLED"


class TokenMissing(SystemExit):
    """Neither RASA_TOKEN nor a readable RASA_TOKEN_FILE."""


def api_token(environ: dict[str, str]) -> str:
    """The token Rasa's HTTP API and the gateway channel require: RASA_TOKEN_FILE's content, else RASA_TOKEN."""
    path = environ.get("RASA_TOKEN_FILE")
    if path:
        token = Path(path).read_text(encoding="utf-8").strip()
        if not token:
            raise TokenMissing(f"bot.serve_rasa: {path} (RASA_TOKEN_FILE) is empty")
        return token
    token = environ.get("RASA_TOKEN", "")
    if not token:
        raise TokenMissing("bot.serve_rasa: set RASA_TOKEN or RASA_TOKEN_FILE")
    return token


def rasa_argv(args: list[str], token: str) -> list[str]:
    """Rasa's argument list with the token added; a token given on our own command line is refused."""
    if any(a == "--auth-token" or a.startswith("--auth-token=") for a in args):
        raise SystemExit("bot.serve_rasa: pass the token as RASA_TOKEN or RASA_TOKEN_FILE, not --auth-token")
    return ["rasa", *args, "--auth-token", token]


def main() -> None:
    """Prepare the environment and run Rasa's CLI in this process."""
    os.environ[TELEMETRY_VARIABLE] = "false"
    token = api_token(dict(os.environ))
    # The gateway channel (bot/gateway_channel.py) reads the same token from the environment.
    os.environ["RASA_TOKEN"] = token
    sys.argv = rasa_argv(sys.argv[1:], token)
    from rasa.__main__ import main as rasa_main  # Rasa's venv only, after the environment is set

    rasa_main()


if __name__ == "__main__":
    main()
