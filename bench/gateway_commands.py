"""Database commands per plain bot turn from the gateway, and the gateway's CPU per turn, before and after.

Starts the database, the action server and Rasa, then two gateways on them, both counted by
bench/counted_gateway.py (a PyMongo CommandListener scoped to each REST request): "after" from this
checkout and "before" from another checkout of the project (`--before DIR`, or `--before-ref REF`, which
checks the commit out into a temporary worktree; default: the commit before issue 22's storage change).
Customers write the same short bank chats to both, turn by turn in alternation, so both see the same load:
a greeting, a balance and the last operations (signed in: actions and bank data), a knowledge-base question,
thanks. The first message of each conversation creates it and is reported apart; the others are plain bot
turns (no operator, no outbound). Prints one line per figure:
  gateway_commands.<name>.commands_per_plain_turn / .max_commands_plain_turn / .commands_first_turn
  gateway_commands.<name>.cpu_ms_per_turn        the gateway process's CPU (user + system) per turn
  gateway_commands.<name>.by_command.<command collection>  that command's count per plain turn
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.gateway_commands [--turns 60] [--before-ref REF]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from bench.counted_gateway import COUNTS_PATH, REST_PATH
from core.identity import mint_customer_token
from core.settings import LOCAL_CUSTOMER_TOKEN_SECRET, LOCAL_REST_API_KEY
from core.stack import ROOT, Process, Stack, StackError, free_port, running_stack

# main as it was before the gateway's storage path of issue 22 changed.
DEFAULT_BEFORE_REF = "52f2c57"
CHAT = [
    "Здравствуйте",
    "какой баланс на карте?",
    "как снять наличные за границей?",
    "покажи последние операции",
    "hello, what is my balance?",
    "спасибо",
]
HEADERS = {"Authorization": f"Bearer {LOCAL_REST_API_KEY}"}


def start_counted_gateway(stack: Stack, name: str, checkout: Path) -> tuple[Process, str]:
    """A gateway of `checkout` on the stack's database and Rasa, its commands counted; its process and URL.

    It waits for the bot as long as it takes (30 s): a turn handed off because a loaded machine's Rasa was
    slow is no plain bot turn, and the figure is a count, not a time.
    """
    port = free_port()
    env = stack.env() | {"GATEWAY_PORT": str(port), "PYTHONPATH": str(checkout), "BOT_TIMEOUT_SECONDS": "30"}
    log_dir = stack.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    instrument = ROOT / "bench" / "counted_gateway.py"
    python = Path(os.environ["APP_VENV"]) / "bin" / "python"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [str(python), str(instrument)], cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    process = Process(name=name, popen=popen, log_path=log_path)
    stack.processes[name] = process  # stopped with the stack
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise StackError(f"{name} exited with {popen.returncode}; see {log_path}")
        with contextlib.suppress(OSError):
            import urllib.request

            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:  # noqa: S310 -- loopback
                if resp.status == 200:
                    return process, url
        time.sleep(0.3)
    raise StackError(f"{name} was not ready within 180 s; see {log_path}")


@contextlib.contextmanager
def checkout_of(ref: str) -> Iterator[Path]:
    """A temporary worktree of `ref`, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="bench-before-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), ref], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)], check=False)


async def counts(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url + COUNTS_PATH) as resp:
        found: dict[str, Any] = await resp.json()
        return found


async def turn(http: aiohttp.ClientSession, url: str, sender: str, text: str, token: str) -> bool:
    """One customer message; True when the bot answered it (the conversation stays with the bot)."""
    body = {"sender": sender, "text": text, "customer_token": token}
    async with http.post(url + REST_PATH, json=body, headers=HEADERS) as resp:
        payload = await resp.json()
        if resp.status != 200:
            raise RuntimeError(f"turn failed on {url}: {resp.status} {payload}")
    return bool(payload.get("state") == "bot")


async def compare(gateways: dict[str, tuple[Process, str]], turns: int) -> None:
    token = mint_customer_token("demo-anna", LOCAL_CUSTOMER_TOKEN_SECRET)
    names = list(gateways)
    async with aiohttp.ClientSession() as http:
        for name in names:  # warm-up: connections, Rasa's graphs, the action server's models
            for text in CHAT:
                await turn(http, gateways[name][1], f"warmup-{name}-{uuid.uuid4().hex}", text, token)
        seen = {name: len((await counts(http, gateways[name][1]))["per_request"]) for name in names}
        by_name_before = {name: Counter((await counts(http, gateways[name][1]))["by_name"]) for name in names}
        cpu_before = {name: gateways[name][0].cpu_seconds() for name in names}
        kinds: dict[str, list[str]] = {name: [] for name in names}  # "first", "plain" or "handoff" per turn
        senders: dict[str, str] = {}
        for i in range(turns):
            if i % len(CHAT) == 0:
                senders = {name: f"commands-{name}-{uuid.uuid4().hex}" for name in names}
            text = CHAT[i % len(CHAT)]
            for name in names if i % 2 == 0 else list(reversed(names)):
                with_bot = await turn(http, gateways[name][1], senders[name], text, token)
                kinds[name].append("first" if i % len(CHAT) == 0 else "plain" if with_bot else "handoff")
        cpu = {name: gateways[name][0].cpu_seconds() - cpu_before[name] for name in names}
        for name in names:
            tally = await counts(http, gateways[name][1])
            per_turn = tally["per_request"][seen[name] :]
            plain = [n for n, kind in zip(per_turn, kinds[name], strict=True) if kind == "plain"]
            first = [n for n, kind in zip(per_turn, kinds[name], strict=True) if kind == "first"]
            print(f"gateway_commands.{name}.plain_turns {len(plain)}")
            print(f"gateway_commands.{name}.handed_off_turns {kinds[name].count('handoff')}")
            print(f"gateway_commands.{name}.commands_per_plain_turn {sum(plain) / max(len(plain), 1):.2f}")
            print(f"gateway_commands.{name}.max_commands_plain_turn {max(plain, default=0)}")
            print(f"gateway_commands.{name}.commands_first_turn {sum(first) / max(len(first), 1):.2f}")
            print(f"gateway_commands.{name}.cpu_ms_per_turn {cpu[name] / turns * 1000:.1f}")
            # By command, over all measured turns (first turns included), per turn.
            by_name = Counter(tally["by_name"]) - by_name_before[name]
            for command, count in sorted(by_name.items(), key=lambda item: -item[1]):
                print(f"gateway_commands.{name}.by_command.{command.replace(' ', '.')} {count / turns:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=60, help="turns per gateway")
    parser.add_argument("--before", type=Path, help="a checkout of the project to compare with")
    parser.add_argument("--before-ref", default=DEFAULT_BEFORE_REF, help="a commit to check out as 'before'")
    parser.add_argument("--after-only", action="store_true", help="measure this checkout alone")
    args = parser.parse_args()
    print(f"gateway_commands: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()}")
    with contextlib.ExitStack() as cleanup:
        before: Path | None = None
        if not args.after_only:
            before = args.before or cleanup.enter_context(checkout_of(args.before_ref))
        tmp = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-gateway-commands-")))
        stack = cleanup.enter_context(running_stack(tmp, with_gateway=False))
        gateways = {"after": start_counted_gateway(stack, "after", ROOT)}
        if before is not None:
            gateways["before"] = start_counted_gateway(stack, "before", before)
        asyncio.run(compare(gateways, args.turns))
    print(f"gateway_commands: done, load {os.getloadavg()}")


if __name__ == "__main__":
    main()
