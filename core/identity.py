"""Customer identity claims: the signed customer token minted by the bank's website."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

_ALGORITHM = "HS256"
# Tokens minted for the demo customers live one day; the website's own live minutes.
DEMO_TOKEN_TTL_SECONDS = 24 * 3600


class InvalidCustomerToken(ValueError):
    """The token is forged, expired or malformed."""


@dataclass(frozen=True)
class CustomerIdentity:
    """Verified claims about who the customer is."""

    customer_id: str
    # How the claim was verified: "customer_token", "telegram_contact", "caller_id".
    method: str


def verify_customer_token(token: str, secret: str) -> CustomerIdentity:
    """Check signature and expiry; raise InvalidCustomerToken otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=[_ALGORITHM], options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError as err:
        raise InvalidCustomerToken("customer_token has expired; sign in again") from err
    except jwt.PyJWTError as err:
        raise InvalidCustomerToken("customer_token is not valid") from err
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidCustomerToken("customer_token has no subject")
    return CustomerIdentity(customer_id=subject, method="customer_token")


def mint_customer_token(customer_id: str, secret: str, ttl_seconds: int = DEMO_TOKEN_TTL_SECONDS) -> str:
    """Mint a token as the bank's website does (used by the demo sign-in and tests)."""
    now = int(time.time())
    return jwt.encode({"sub": customer_id, "iat": now, "exp": now + ttl_seconds}, secret, algorithm=_ALGORITHM)
