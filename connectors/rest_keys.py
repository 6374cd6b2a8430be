"""Mint an API key for a REST integration: `python -m connectors.rest_keys NAME`.

Prints the key once (give it to the integration) and the REST_API_KEYS entry that
holds only its SHA-256 (put it in the gateway's environment, comma-separated
with the other integrations).
"""

from __future__ import annotations

import argparse

from core.identity import hash_api_key, new_api_key
from core.settings import parse_api_keys


def main() -> None:
    """Print a new key and its settings entry."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", help="the integration's name: a-z, 0-9, _ and -, up to 40 characters")
    name = parser.parse_args().name
    key = new_api_key()
    entry = f"{name}:{hash_api_key(key)}"
    parse_api_keys(entry)  # refuses a malformed name with the rule it broke
    print(f"API key for {name} (shown once): {key}")
    print(f"REST_API_KEYS entry: {entry}")


if __name__ == "__main__":
    main()
