"""Start `rasa run` with the API token from the environment, never on the command line, and telemetry off.

`python -m bot.serve_rasa run --model M --enable-api ...` (Rasa's own arguments, minus `--auth-token`).
A command line is readable by every account on the machine (`ps`, /proc/N/cmdline); the token is
read here from RASA_TOKEN or from the file RASA_TOKEN_FILE names (a Docker or systemd secret) and
handed to Rasa inside the process, which leaves the process list as it was at exec.

Rasa reports usage to Segment and errors to Sentry unless told not to (issue 19, finding 9); a
bank's bot does neither, so RASA_TELEMETRY_ENABLED is forced to false before Rasa starts, whatever
the caller's environment says (scripts/setup also writes Rasa's global config with metrics off).

A fresh Rasa's first turn costs seconds (TensorFlow traces DIET's graph, the sentence models touch their
weights): 1.7 s on a quiet machine, past the gateway's bot timeout on a busy one, so the first customer after a
restart or a scale-out was handed to an operator. The model is therefore warmed up with one parse per language
before Rasa's server starts answering (RASA_WARM_UP=false skips it).
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from pathlib import Path
from typing import Any

TELEMETRY_VARIABLE = "RASA_TELEMETRY_ENABLED"
WARM_UP_VARIABLE = "RASA_WARM_UP"
# One sentence per language; a random tag keeps the shared embedding cache from answering instead of the models.
WARM_UP_TEXTS = ("Здравствуйте, какой у меня баланс по карте 1234", "Hello, what is my card 1234 balance")

logger = logging.getLogger(__name__)


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


async def warm_up(agent: Any) -> None:
    """Parse one sentence per language so the first customer's turn is as fast as the others."""
    tag = uuid.uuid4().hex[:8]
    try:
        for text in WARM_UP_TEXTS:
            await agent.parse_message(f"{text} {tag}")
    except Exception:  # a cold first turn is better than no Rasa at all
        logger.exception("Rasa model warm-up failed; serving cold")
        return
    logger.info("Rasa model warmed up (%d parses)", len(WARM_UP_TEXTS))


def warm_up_on_start() -> None:
    """Have Rasa warm its model right after loading it, inside its own start-up listener.

    `rasa.core.run.serve_application` looks `load_agent_on_start` up when it registers the listener, so the
    wrapper runs where Rasa's would, before the server answers its first request (also /status).
    """
    import rasa.core.run as rasa_run  # Rasa's venv only

    load = rasa_run.load_agent_on_start

    async def load_and_warm(*args: Any, **kwargs: Any) -> Any:
        agent = await load(*args, **kwargs)
        if agent is not None and agent.is_ready():
            await warm_up(agent)
        return agent

    rasa_run.load_agent_on_start = load_and_warm


def main() -> None:
    """Prepare the environment and run Rasa's CLI in this process."""
    os.environ[TELEMETRY_VARIABLE] = "false"
    token = api_token(dict(os.environ))
    # The gateway channel (bot/gateway_channel.py) reads the same token from the environment.
    os.environ["RASA_TOKEN"] = token
    sys.argv = rasa_argv(sys.argv[1:], token)
    if os.environ.get(WARM_UP_VARIABLE, "true").lower() != "false":
        warm_up_on_start()
    from rasa.__main__ import main as rasa_main  # Rasa's venv only, after the environment is set

    rasa_main()


if __name__ == "__main__":
    main()
