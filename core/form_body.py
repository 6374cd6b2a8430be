"""Parsing of untrusted form bodies (the phone line's webhooks): a clear 400 for anything that is not a readable form.

aiohttp's `request.post()` raised on a urlencoded body with non-UTF-8 bytes or `%FF` escapes and on
a multipart body without a boundary, and each of those ended in a 500 before the webhook's signature
was even checked (issue 19, finding 11). Here they become a 400 that says what is wrong, checked
first, together with limits on the number and length of fields.
"""

from __future__ import annotations

import urllib.parse

from aiohttp import web
from aiohttp.helpers import parse_mimetype
from aiohttp.http_exceptions import HttpProcessingError

from core.json_body import BadInput, bad_request, check_text

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
# A voice webhook carries about 30 fields; recognised speech is a sentence or two.
MAX_FORM_FIELDS = 100
MAX_FORM_FIELD_CHARS = 8_000


def _checked(pairs: list[tuple[str, str]]) -> dict[str, str]:
    if len(pairs) > MAX_FORM_FIELDS:
        raise bad_request(f"The form has more than {MAX_FORM_FIELDS} fields.")
    form: dict[str, str] = {}
    for key, value in pairs:
        if len(key) > MAX_FORM_FIELD_CHARS or len(value) > MAX_FORM_FIELD_CHARS:
            raise bad_request(f"A form field is longer than {MAX_FORM_FIELD_CHARS} characters.")
        try:
            check_text(key, "A form field's name")
            check_text(value, "A form field")
        except BadInput as err:
            raise bad_request(str(err)) from err
        form[key] = value  # a repeated name keeps its last value, as the signature check reads it
    return form


def _parse_urlencoded(raw: bytes) -> list[tuple[str, str]]:
    try:
        text = raw.decode("utf-8")
        return urllib.parse.parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except UnicodeDecodeError as err:
        raise bad_request("The form is not valid UTF-8 (raw bytes or %-escapes); send UTF-8 text.") from err
    except ValueError as err:
        raise bad_request(f"The form has more than {MAX_FORM_FIELDS} fields.") from err


async def _parse_multipart(request: web.Request) -> list[tuple[str, str]]:
    if not parse_mimetype(request.headers.get("Content-Type", "")).parameters.get("boundary"):
        raise bad_request("A multipart body needs a boundary in its Content-Type.")
    try:
        post = await request.post()
    except web.HTTPException:
        raise
    except (ValueError, UnicodeDecodeError, LookupError, AssertionError, HttpProcessingError) as err:
        raise bad_request("The multipart body cannot be read.") from err
    pairs: list[tuple[str, str]] = []
    for key, value in post.items():
        if not isinstance(value, str):
            raise bad_request("Files are not accepted here; send form fields only.")
        pairs.append((key, value))
    return pairs


async def read_form(request: web.Request) -> dict[str, str]:
    """The request's form fields, or a 400 (415 for another content type) that says what is wrong.

    Raises:
        web.HTTPBadRequest: undecodable bytes, a multipart body without a boundary or unreadable,
            files, a NUL character, too many or too long fields.
        web.HTTPUnsupportedMediaType: the body is not a form.
    """
    if not request.body_exists:
        return {}
    if request.content_type == URLENCODED:
        return _checked(_parse_urlencoded(await request.read()))
    if request.content_type == MULTIPART:
        return _checked(await _parse_multipart(request))
    raise web.HTTPUnsupportedMediaType(
        text='{"error": "Send the form as application/x-www-form-urlencoded."}', content_type="application/json"
    )
