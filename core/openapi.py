"""The gateway's OpenAPI document (core/openapi.yaml, written beside the code) served as JSON, and its reference page.

The YAML is the source: integrators generate clients from /api/openapi.json, and tests/test_openapi.py holds
it to the routes the app registers and to what the running platform answers (Schemathesis).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

DOCUMENT = Path(__file__).with_name("openapi.yaml")
WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
# Swagger UI draws its icons as data: images and sets inline styles; it still runs no inline script.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document, with the YAML's shared blocks (anchors, already expanded) left out."""
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return {key: value for key, value in loaded.items() if key != "x-shared"}


async def openapi_document(request: web.Request) -> web.Response:
    """GET /api/openapi.json."""
    return web.json_response(document(), headers={"Access-Control-Allow-Origin": "*"})


async def reference_page(request: web.Request) -> web.StreamResponse:
    """GET /api/docs: the document rendered by the pinned Swagger UI built into web/dist/apidocs."""
    index = WEB_DIST / "apidocs" / "index.html"
    if not index.is_file():
        return web.Response(
            status=503,
            text="The API reference page is not built: run ./scripts/setup (npm ci and node web/build.mjs).",
        )
    return web.FileResponse(index, headers=_PAGE_HEADERS)


def setup_openapi(app: web.Application) -> None:
    """Add the document's and the reference page's routes."""
    app.router.add_get("/api/openapi.json", openapi_document, name="openapi_document")
    app.router.add_get("/api/docs", reference_page, name="openapi_reference_page")
