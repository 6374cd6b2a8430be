"""The gateway with every database command of each REST request counted (instrument of bench and test, issue 22).

Run as `python bench/counted_gateway.py` with PYTHONPATH pointing at any checkout of the project: it needs
nothing of this checkout but itself, so a benchmark can run today's gateway and an older commit's side by
side with the same instrument. A PyMongo CommandListener, registered before the gateway's client exists,
counts the commands sent while a REST message request is handled (a context variable scopes them to the
request, tasks it starts included); `GET /bench/commands` answers the per-request counts and the commands
by name. Everything else is the gateway as `python -m core` starts it.
"""

from __future__ import annotations

import contextvars
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from pymongo import monitoring

REST_PATH = "/api/channels/rest/messages"
COUNTS_PATH = "/bench/commands"

_request_commands: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("request_commands", default=None)


class RequestCommands(monitoring.CommandListener):
    """Names the commands sent within a counted request (`find messages`, `insert messages`, ...)."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """Record the command when it belongs to a counted request."""
        commands = _request_commands.get()
        if commands is not None:
            target = event.command.get(event.command_name)
            commands.append(f"{event.command_name} {target}" if isinstance(target, str) else event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Nothing to record."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Nothing to record: a failed command was counted when it started."""


class Tally:
    """What the counted requests sent so far."""

    def __init__(self) -> None:
        self.per_request: list[int] = []
        self.by_name: Counter[str] = Counter()

    def to_dict(self) -> dict[str, Any]:
        """The JSON answer of COUNTS_PATH."""
        return {"per_request": self.per_request, "by_name": dict(self.by_name)}


def instrument(app: web.Application, tally: Tally) -> web.Application:
    """Add the counting middleware and the read-out route to a gateway app that has not started yet."""

    @web.middleware
    async def count_commands(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path != REST_PATH or request.method != "POST":
            return await handler(request)
        commands: list[str] = []
        token = _request_commands.set(commands)
        try:
            return await handler(request)
        finally:
            _request_commands.reset(token)
            tally.per_request.append(len(commands))
            tally.by_name.update(commands)

    async def read_out(request: web.Request) -> web.Response:
        return web.json_response(tally.to_dict())

    app.middlewares.insert(0, count_commands)
    app.router.add_get(COUNTS_PATH, read_out)
    return app


def main() -> None:
    """Start the gateway of the checkout on PYTHONPATH, counted."""
    # Run as a script, this folder comes first on the path, and bench/handoff.py would shadow the package.
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).parent.resolve()]
    import core.__main__ as gateway_main  # the checkout under test, not this file's

    monitoring.register(RequestCommands())
    tally = Tally()
    create_app = getattr(gateway_main, "create_app")  # noqa: B009 -- patched below, as main() looks it up

    def counted_app(settings: Any) -> web.Application:
        return instrument(create_app(settings), tally)

    setattr(gateway_main, "create_app", counted_app)  # noqa: B010 -- the name main() calls
    gateway_main.main()


if __name__ == "__main__":
    main()
