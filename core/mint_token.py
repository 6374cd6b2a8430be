"""Mint a customer token as the bank's website would: `python -m core.mint_token demo-ivan`."""

from __future__ import annotations

import argparse

from core.identity import DEMO_TOKEN_TTL_SECONDS, mint_customer_token
from core.settings import Settings


def main() -> None:
    """Print a signed token for a customer id, using CUSTOMER_TOKEN_SECRET from the environment."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("customer_id", help="e.g. demo-ivan, demo-anna, demo-john")
    parser.add_argument("--ttl", type=int, default=DEMO_TOKEN_TTL_SECONDS, help="lifetime in seconds")
    args = parser.parse_args()
    print(mint_customer_token(args.customer_id, Settings.from_env().customer_token_secret, args.ttl))


if __name__ == "__main__":
    main()
