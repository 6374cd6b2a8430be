"""Run the gateway: `python -m core`."""

from __future__ import annotations

from aiohttp import web

from core.app import create_app
from core.log import setup_logging
from core.settings import Settings


def main() -> None:
    """Start the gateway with settings from the environment."""
    setup_logging()
    settings = Settings.from_env()
    web.run_app(create_app(settings), host=settings.host, port=settings.port, access_log=None)


if __name__ == "__main__":
    main()
