"""Identity claims: the customer token minted by the bank's website, the gateway's voucher to the actions, API keys."""

from __future__ import annotations

import hashlib
import secrets
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


# --- The gateway vouching for a conversation's identity to the action server -----------------------

# The signed metadata lives a few minutes: Rasa runs a message's actions within its turn (seconds), and
# a copied signature must not unlock a conversation later. Forms re-read it from each new message.
VOUCHER_TTL_SECONDS = 10 * 60
# Keeps these signatures apart from every other JWT signed anywhere with a reused secret.
_VOUCHER_AUDIENCE = "contact-center-actions"


class InvalidVoucher(ValueError):
    """The metadata's identity signature is missing, forged, expired or for another conversation."""


@dataclass(frozen=True)
class Voucher:
    """What the gateway vouches for about one customer message, as the actions read it."""

    conversation_id: str
    channel: str
    # None for a guest: the gateway vouches for the channel and conversation, not for a customer.
    customer_id: str | None
    method: str | None


def sign_voucher(voucher: Voucher, secret: str, *, now: int | None = None) -> str:
    """Sign the gateway's statement for the message metadata sent to Rasa (`metadata["identity"]`)."""
    issued = int(time.time()) if now is None else now
    claims: dict[str, object] = {
        "aud": _VOUCHER_AUDIENCE,
        "cid": voucher.conversation_id,
        "chn": voucher.channel,
        "iat": issued,
        "exp": issued + VOUCHER_TTL_SECONDS,
    }
    if voucher.customer_id is not None:
        claims["sub"] = voucher.customer_id
        claims["mth"] = voucher.method or "unknown"
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def verify_voucher(token: object, secret: str, conversation_id: str) -> Voucher:
    """Check the signature, expiry and that it was issued for this conversation.

    Raises:
        InvalidVoucher: anything else; the caller then treats the message as a guest's.
    """
    if not isinstance(token, str) or not token:
        raise InvalidVoucher("the message carries no identity signature")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            audience=_VOUCHER_AUDIENCE,
            options={"require": ["cid", "chn", "exp", "iat", "aud"]},
        )
    except jwt.PyJWTError as err:
        raise InvalidVoucher(f"identity signature rejected: {err}") from err
    if claims.get("cid") != conversation_id:
        raise InvalidVoucher("identity signature was issued for another conversation")
    subject, method, channel = claims.get("sub"), claims.get("mth"), claims.get("chn")
    if subject is not None and (not isinstance(subject, str) or not subject):
        raise InvalidVoucher("identity signature has a malformed subject")
    return Voucher(
        conversation_id=conversation_id,
        channel=str(channel),
        customer_id=subject,
        method=method if isinstance(method, str) else None,
    )


# --- API keys of the REST channel's integrations -------------------------------------------------------


def hash_api_key(key: str) -> str:
    """SHA-256 hex of an API key: what settings hold, so a leaked configuration reveals no key.

    Keys are random (`python -m connectors.rest_keys`), so a fast hash is enough; a slow password
    hash would only cost CPU on every request.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_api_key() -> str:
    """A fresh random API key (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)
