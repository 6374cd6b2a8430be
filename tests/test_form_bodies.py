"""Bodies the gateway cannot read get a clear 400 with the usual headers, never a 500 or aiohttp's own page.

Issue 19, finding 11: the TwiML webhook answered 500 to a form with non-UTF-8 bytes or a multipart
body without a boundary, before the signature was checked; aiohttp's own 400 for a malformed request
line carried no security headers and named its version. The phone line's webhooks are checked with
a configured auth token (requests signed as Twilio signs them) and on the running stack without one.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.form_body import MAX_FORM_FIELD_CHARS, MAX_FORM_FIELDS
from core.stack import Stack

from .channel_support import TWIML_TOKEN, channel_settings, scripted_rasa, twilio_signature
from .handoff_support import ferretdb

__all__ = ["ferretdb", "scripted_rasa"]

PUBLIC = "https://bank.example"
URLENCODED = "application/x-www-form-urlencoded"
FORM_ENDPOINTS = ["/voice/twiml/incoming", "/voice/twiml/gather", "/voice/twiml/status"]
CALL = "CallSid=CA0123&From=%2B79160000001&To=%2B78000000000&CallStatus=ringing"

# (content type, body, what the error says)
UNREADABLE = [
    (URLENCODED, CALL.encode() + b"&SpeechResult=\xff\xfe\xfd", "not valid UTF-8"),
    (URLENCODED, CALL.encode() + b"&SpeechResult=%FF%FE", "not valid UTF-8"),
    (URLENCODED, b"\xc3\x28=\xa0\xa1", "not valid UTF-8"),
    (URLENCODED, CALL.encode() + b"&SpeechResult=%00", "NUL"),
    (URLENCODED, "&".join(f"f{i}=1" for i in range(MAX_FORM_FIELDS + 1)).encode(), "more than"),
    (URLENCODED, CALL.encode() + b"&SpeechResult=" + b"a" * (MAX_FORM_FIELD_CHARS + 1), "longer than"),
    (
        "multipart/form-data",
        b'--x\r\nContent-Disposition: form-data; name="CallSid"\r\n\r\nCA1\r\n--x--\r\n',
        "boundary",
    ),
    ("multipart/form-data; boundary=", b"--\r\n\r\n", "boundary"),
    ("multipart/form-data; boundary=x", b"--x\r\nno headers at all\xff\r\n", "cannot be read"),
    (
        "multipart/form-data; boundary=x",
        b'--x\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n\r\n\xff\xfe\r\n--x--\r\n',
        "Files are not accepted",
    ),
]
UNREADABLE_IDS = [
    "raw-bytes", "percent-ff", "bad-name", "nul", "too-many", "too-long", "no-boundary", "empty-boundary",
    "broken-part", "file",
]  # fmt: skip


@pytest.fixture
async def phone_line(ferretdb: str, scripted_rasa: tuple[Any, str], aiohttp_client: Any) -> TestClient[Any, Any]:
    """The gateway with the phone line configured (auth token and public URL)."""
    settings = channel_settings(ferretdb, scripted_rasa[1], twiml_auth_token=TWIML_TOKEN, twiml_public_url=PUBLIC)
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    return client


@pytest.mark.parametrize("path", FORM_ENDPOINTS)
@pytest.mark.parametrize(("content_type", "body", "error"), UNREADABLE, ids=UNREADABLE_IDS)
async def test_an_unreadable_form_is_refused_before_the_signature_is_checked(
    phone_line: TestClient[Any, Any], path: str, content_type: str, body: bytes, error: str
) -> None:
    # Signed over the fields a lenient parser would see: the refusal must not depend on the signature.
    headers = {"Content-Type": content_type, "X-Twilio-Signature": twilio_signature(TWIML_TOKEN, PUBLIC + path, {})}
    resp = await phone_line.post(path, data=body, headers=headers)
    assert resp.status == 400, await resp.text()
    assert error in (await resp.json())["error"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_signed_form_from_the_voice_gateway_still_works(phone_line: TestClient[Any, Any]) -> None:
    path = "/voice/twiml/incoming"
    form = {"CallSid": "CA-form-ok", "From": "+79160000001", "To": "+78000000000", "CallStatus": "ringing"}
    headers = {"X-Twilio-Signature": twilio_signature(TWIML_TOKEN, PUBLIC + path, form)}
    resp = await phone_line.post(path, data=form, headers=headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/xml")


async def test_a_json_body_on_a_form_endpoint_is_refused_as_the_wrong_type(phone_line: TestClient[Any, Any]) -> None:
    resp = await phone_line.post("/voice/twiml/gather", json={"CallSid": "CA1"})
    assert resp.status == 415


@pytest.mark.parametrize(
    ("content_type", "body", "error"), UNREADABLE[:3] + UNREADABLE[6:8], ids=UNREADABLE_IDS[:3] + UNREADABLE_IDS[6:8]
)
async def test_the_running_gateway_refuses_unreadable_forms_even_without_a_phone_line(
    stack: Stack, content_type: str, body: bytes, error: str
) -> None:
    async with aiohttp.ClientSession() as http:
        for path in [*FORM_ENDPOINTS, "/voice/outbound/answer", "/voice/outbound/status"]:
            async with http.post(stack.gateway_url + path, data=body, headers={"Content-Type": content_type}) as resp:
                if resp.status == 404:
                    continue  # outbound calls are not set up on this stack
                assert resp.status == 400, (path, await resp.text())
                assert error in (await resp.json())["error"]


async def raw_exchange(stack: Stack, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are, read the answer: status, headers (lower-case names), body."""
    host, port = "127.0.0.1", stack.ports["gateway"]
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
        b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["garbage", "extra-word", "nul-in-path", "http-9", "bad-header", "two-lengths", "long-line"],
)
async def test_aiohttps_own_errors_carry_the_security_headers_and_no_version(
    stack: Stack, request_bytes: bytes
) -> None:
    status, headers, body = await raw_exchange(stack, request_bytes)
    assert 400 <= status < 500
    assert headers["server"] == "contact-center"
    assert headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    assert headers["content-type"].startswith("application/json")
    assert "aiohttp" not in body.decode("latin-1").lower() and "python" not in body.decode("latin-1").lower()
    assert json.loads(body)["error"].startswith("The request cannot be read")
