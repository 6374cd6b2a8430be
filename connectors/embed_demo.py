"""A demo bank website on another origin that embeds the web chat with one line (connectors/static/embed_demo).

    . scripts/env.sh && $APP_VENV/bin/python -m connectors.embed_demo [--port 8090] [--chat http://127.0.0.1:8080]

then open http://localhost:8090 (another site than the chat's 127.0.0.1:8080, so the browser partitions the
chat's storage as it would on a real bank's site). The site "signs in" its visitor as Иван Петров with a
cookie and mints the customer token itself (it holds CUSTOMER_TOKEN_SECRET, as a bank's site does); the
chat must allow this origin in CHAT_FRAME_ANCESTORS (scripts/run does for port 8090).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aiohttp import web

from core.identity import mint_customer_token
from core.settings import Settings

STATIC = Path(__file__).parent / "static" / "embed_demo"
DEMO_CUSTOMER = ("demo-ivan", "Иван Петров")
_COOKIE = "demo_site_session"
_PAGE_CSP = (
    "default-src 'self'; script-src 'self' {chat}; frame-src {chat}; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def create_demo_site(chat_url: str, customer_token_secret: str) -> web.Application:
    """The demo site: its page with the chat's one-line script, its own files and a pretend sign-in."""
    chat = chat_url.rstrip("/")
    page = (STATIC / "index.html").read_text(encoding="utf-8").replace("__CHAT__", chat)

    async def index(request: web.Request) -> web.Response:
        return web.Response(
            text=page, content_type="text/html", headers={"Content-Security-Policy": _PAGE_CSP.format(chat=chat)}
        )

    def signed_in() -> web.Response:
        customer_id, name = DEMO_CUSTOMER
        token = mint_customer_token(customer_id, customer_token_secret)
        return web.json_response({"customer_token": token, "name": name})

    async def session(request: web.Request) -> web.Response:
        if request.cookies.get(_COOKIE) != "signed-in":
            return web.json_response({"customer_token": None})
        return signed_in()

    async def sign_in(request: web.Request) -> web.Response:
        response = signed_in()
        response.set_cookie(_COOKIE, "signed-in", httponly=True, samesite="Lax")
        return response

    async def sign_out(request: web.Request) -> web.Response:
        response = web.json_response({"ok": True})
        response.del_cookie(_COOKIE)
        return response

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/session", session)
    app.router.add_post("/session", sign_in)
    app.router.add_delete("/session", sign_out)
    app.router.add_static("/static", STATIC)
    return app


def main() -> None:
    """Serve the demo site."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--chat", default="http://127.0.0.1:8080", help="the gateway's public address")
    args = parser.parse_args()
    site = create_demo_site(args.chat, Settings.from_env().customer_token_secret)
    web.run_app(site, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
