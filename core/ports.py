"""Which of the run command's ports another program already holds.

`python -m core.ports NAME=PORT ...` prints one line per taken port and exits 1 if any is taken; scripts/run
calls it before it starts anything, because under the supervisor a service whose port is taken restarts
forever and the run never says "ready".
"""

from __future__ import annotations

import errno
import socket
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Wanted:
    """A port the run command will listen on, with the setting that chose it."""

    name: str
    port: int


def parse(argument: str) -> Wanted:
    """`GATEWAY_PORT=8080` → Wanted("GATEWAY_PORT", 8080); anything else is refused by name."""
    name, sep, value = argument.partition("=")
    if not sep or not value.isdigit() or not 0 < int(value) < 65536:
        raise SystemExit(f"ports: {argument!r} is not NAME=PORT with a port from 1 to 65535")
    return Wanted(name, int(value))


def is_taken(port: int, host: str = "127.0.0.1") -> bool:
    """True when binding the port fails because something listens there (the services bind loopback)."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def taken(wanted: list[Wanted]) -> list[Wanted]:
    """The wanted ports already in use, and a port two settings both name (each is one service's)."""
    seen: dict[int, str] = {}
    found: list[Wanted] = []
    for item in wanted:
        if item.port in seen:
            found.append(Wanted(f"{item.name} (also {seen[item.port]})", item.port))
        elif is_taken(item.port):
            found.append(item)
        seen.setdefault(item.port, item.name)
    return found


def main(arguments: list[str]) -> int:
    """Exit status 1 and one line per taken port, so scripts/run can stop before it starts anything."""
    busy = taken([parse(a) for a in arguments])
    for item in busy:
        print(f"run: port {item.port} ({item.name}) is already in use", file=sys.stderr)
    return 1 if busy else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
