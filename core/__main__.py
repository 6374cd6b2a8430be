"""Run the gateway: `python -m core`."""

from __future__ import annotations

import sys

from aiohttp import web

from core.app import create_app
from core.log import setup_logging
from core.settings import Settings, SettingsError


def main() -> None:
    """Start the gateway with settings from the environment; exit with the reason when they are unsafe or wrong."""
    setup_logging()
    try:
        settings = Settings.from_env()
        if problems := settings.production_problems():
            raise SettingsError("Refusing to start with CC_ENV=production:\n- " + "\n- ".join(problems))
        # Several gateway processes share one port (SO_REUSEPORT): the kernel spreads the connections.
        reuse_port = settings.gateway_processes > 1
        web.run_app(
            create_app(settings), host=settings.host, port=settings.port, access_log=None, reuse_port=reuse_port
        )
    except SettingsError as err:
        # The demo-account check runs at start, with the database (core.production); both end here.
        sys.exit(str(err))


if __name__ == "__main__":
    main()
