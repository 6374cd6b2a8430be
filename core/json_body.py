r"""Parsing of untrusted JSON and numbers: every endpoint's body, websocket frame and numeric query goes through here.

Python's json module follows nesting with recursion (RecursionError on deep input), accepts
lone surrogates ("\\ud800": the database driver then fails to encode the text), integers of any
size (the database stores 64 bits; 5,000 digits exceed Python's own conversion limit) and NaN.
Each of those ended in a 500; here they become a 400 that says what is wrong.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

from aiohttp import web

# Real bodies nest a few levels (a KB article: 3); 32 is generous and far below the recursion limit.
MAX_JSON_DEPTH = 32
# The gateway's client_max_size (core/app.py): a chat message or an article is far smaller.
MAX_JSON_BYTES = 256 * 1024
# What the database (BSON int64) can store.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_BRACKETS_RE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# At most 19 ASCII digits: anything longer is outside int64 before it is even converted.
_INT_RE = re.compile(r"[+-]?[0-9]{1,19}")


class BadInput(ValueError):
    """Input the platform refuses; the message tells the sender what to change."""


def _refuse(reason: str) -> NoReturn:
    raise BadInput(reason)


def _parse_int(text: str) -> int:
    # Checked on the text: int() of 5,000 digits raises, and int() of 4,000 digits is slow work for nothing.
    if len(text.lstrip("-")) > 19:
        _refuse("Integers must fit in 64 bits (at most 9223372036854775807).")
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        _refuse("Integers must fit in 64 bits (at most 9223372036854775807).")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        _refuse("Numbers must be finite.")
    return value


def _parse_constant(name: str) -> NoReturn:
    _refuse(f"{name} is not a JSON number; send a finite number.")


def _check_depth(text: str, max_depth: int) -> None:
    if text.count("[") + text.count("{") <= max_depth:
        return  # cannot nest deeper than it has brackets: the usual case, no scan
    depth = 0
    for match in _BRACKETS_RE.finditer(text):
        bracket = match.group()
        if bracket in "[{":
            depth += 1
            if depth > max_depth:
                _refuse(f"JSON is nested deeper than {max_depth} levels.")
        elif bracket in "]}":
            depth -= 1


def check_text(value: str, where: str = "Text") -> str:
    """Refuse text that cannot be stored: lone UTF-16 surrogates, and NUL, which PostgreSQL text cannot hold."""
    if _SURROGATE_RE.search(value):
        _refuse(f"{where} contains a lone surrogate (such as \\ud800); send valid Unicode text.")
    if "\x00" in value:
        _refuse(f"{where} contains a NUL character (\\u0000); remove it.")
    return value


def check_strings(value: Any) -> None:
    """Refuse lone surrogates anywhere in a parsed value (keys included)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            check_text(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                check_text(key, "A key")
                pending.append(child)
        elif isinstance(item, list):
            pending.extend(item)


def loads(
    raw: bytes | str, *, what: str = "Body", max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse untrusted JSON with limits on size, depth, integers and text.

    Args:
        raw: the bytes or text received.
        what: how error messages name it ("Body", "Frame").
        max_bytes: longest accepted input.
        max_depth: deepest accepted nesting of arrays and objects.

    Returns:
        The parsed value.

    Raises:
        BadInput: saying what is wrong ("Body is not valid JSON." for a syntax error).
    """
    if len(raw) > max_bytes:
        _refuse(f"{what} is larger than {max_bytes} bytes.")
    if isinstance(raw, bytes | bytearray):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            _refuse(f"{what} is not valid JSON.")
    else:
        text = raw
    _check_depth(text, max_depth)
    try:
        value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except BadInput:
        raise
    except (ValueError, RecursionError):
        _refuse(f"{what} is not valid JSON.")
    check_strings(value)
    return value


def bad_request(reason: str) -> web.HTTPBadRequest:
    """A 400 whose body is {"error": reason}."""
    return web.HTTPBadRequest(text=json.dumps({"error": reason}), content_type="application/json")


async def read_json(request: web.Request, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The request body as JSON, or a 400 (413 past the app's size limit) with a JSON error."""
    try:
        return loads(await request.read(), max_bytes=max_bytes)
    except BadInput as err:
        raise bad_request(str(err)) from err


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 that says what is wrong with it."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request("Body must be a JSON object.")
    return body


def required_int(raw: str, name: str, *, minimum: int = 0, maximum: int = INT64_MAX) -> int:
    """An integer that must be there (a path segment); see `parse_int`."""
    value = parse_int(raw, name, minimum=minimum, maximum=maximum)
    if value is None:
        raise bad_request(f"'{name}' is required.")
    return value


def parse_int(raw: str | None, name: str, *, minimum: int = 0, maximum: int = INT64_MAX) -> int | None:
    """An integer from a query string or path segment; None when absent.

    Raises:
        web.HTTPBadRequest: it is not a whole number in [minimum, maximum].
    """
    if raw is None or raw == "":
        return None
    if not _INT_RE.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise bad_request(f"'{name}' must be a whole number from {minimum} to {maximum}.")
    return int(raw)
