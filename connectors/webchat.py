"""The customer web chat: the page, its websocket and the demo sign-in."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypedDict

import jwt
from aiohttp import WSCloseCode, WSMsgType, web
from pymongo.errors import DuplicateKeyError

from core import json_body
from core.identity import CustomerIdentity, InvalidCustomerToken, mint_customer_token, verify_customer_token
from core.keys import BUS_KEY, DB_KEY, DELIVERY_KEY, ROUTER_KEY, SETTINGS_KEY
from core.language import DEFAULT_LANGUAGE, detect_language, parse_language
from core.messages import InboundMessage
from handoff import conversations, outbox, transcript
from handoff.conversations import Conversation, ConversationState
from handoff.events import CUSTOMER_SIGNED_OUT_OTHERS, Event
from handoff.router import DuplicateMessage, InvalidMessage, MessageInProgress
from handoff.transcript import StoredMessage

logger = logging.getLogger(__name__)

CHANNEL = "webchat"
STATIC_DIR = Path(__file__).parent / "static" / "webchat"

# The demo customers core/demo_data.py seeds; only these can be signed in without the bank's website.
DEMO_CUSTOMERS: dict[str, str] = {
    "demo-ivan": "Иван Петров",
    "demo-anna": "Анна Смирнова",
    "demo-john": "John Smith",
}

# A message may be 4000 characters (Settings.max_message_chars); escaped as JSON \uXXXX that is 24 KB.
# Bigger frames are not chat messages: aiohttp closes the socket with 1009 (message too big).
_MAX_FRAME_BYTES = 64 * 1024
_MAX_TOKEN_CHARS = 4096
# crypto.randomUUID() is 36 characters; the bound keeps pointer and claim ids small.
_VISITOR_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CONVERSATION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Pings keep idle sockets alive through proxies and reveal dead ones within this many seconds.
_HEARTBEAT_SECONDS = 20.0

# No inline script or style may run, so even an escaping bug could not execute customer text.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

ErrorCode = Literal[
    "invalid_frame", "invalid_message", "invalid_token", "conversation_locked", "hello_first", "server_error"
]


def embed_origins(frame_ancestors: str) -> list[str]:
    """The sites that may frame the chat (CSP frame-ancestors sources), which its page also talks to.

    `'self'`, origins and `https://*.domain` wildcards; schemes alone and other keywords are left out, since
    the page answers postMessage only to a parent it can name.
    """
    return [
        source
        for source in frame_ancestors.split()
        if source == "'self'" or re.fullmatch(r"https?://(\*\.)?[A-Za-z0-9.-]+(:\d+)?/?", source)
    ]


class HelloFrame(TypedDict, total=False):
    """Client -> server, first frame on every connection."""

    type: Literal["hello"]
    visitor_id: str  # random id the page keeps in localStorage; the channel user id
    customer_token: str | None  # signed token from the bank's website or the demo sign-in
    last_seq: int  # the highest transcript seq the page already shows (0 on a fresh page)
    conversation_id: str | None  # the conversation last_seq belongs to; another one means "send everything"
    language: Literal["ru", "en"]  # the page's UI language


class MessageFrame(TypedDict):
    """Client -> server, one customer message (resent with the same id after a reconnect)."""

    type: Literal["message"]
    id: str  # client message id; with the visitor id it makes the router's channel message id
    text: str  # typed text or a button payload


class ErrorFrame(TypedDict):
    """Server -> client: a frame or message was refused; the socket stays open."""

    type: Literal["error"]
    id: str | None  # the client message id the error is about, if any
    error: str  # what went wrong, in English, for the developer console
    code: ErrorCode  # what the page should do about it; server_error: nothing stored, resend the same id


class TypingFrame(TypedDict):
    """Server -> client: someone is preparing an answer; the page shows "<name> печатает…"."""

    type: Literal["typing"]
    on: bool  # False when the bot's turn ended; operator typing times out on the page instead
    who: Literal["bot", "operator"]
    name: str | None  # the operator's display name (None for the bot)


class FrameError(ValueError):
    """A client frame cannot be accepted; becomes an error frame."""

    def __init__(self, error: str, *, code: ErrorCode = "invalid_frame", message_id: str | None = None) -> None:
        super().__init__(error)
        self.code = code
        self.message_id = message_id


@dataclass(eq=False)  # identity semantics: connections live in sets
class Connection:
    """One open web chat socket and what it has been sent."""

    socket: web.WebSocketResponse
    visitor_id: str | None = None
    identity: CustomerIdentity | None = None
    conversation_id: str | None = None
    ui_language: str = DEFAULT_LANGUAGE
    # Whether the conversation already has a language, so the UI language must not override it.
    language_known: bool = False
    # Highest seq sent by catch-up, and every seq sent by any path (deliveries can run ahead of catch-up).
    cursor: int = 0
    sent: set[int] = field(default_factory=set)
    # Deliveries, catch-ups and replies run in different tasks; one frame at a time, catch-ups one at a time.
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    catch_up_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, frame: dict[str, Any]) -> bool:
        """Send one JSON frame; False when the socket is gone (the page catches up after reconnecting)."""
        if self.socket.closed:
            return False
        try:
            async with self.send_lock:
                await self.socket.send_str(json.dumps(frame, ensure_ascii=False, default=str))
        except (ConnectionResetError, RuntimeError):
            return False
        return True

    async def send_error(self, error: FrameError) -> None:
        """Tell the page what was refused and why."""
        frame: ErrorFrame = {"type": "error", "id": error.message_id, "error": str(error), "code": error.code}
        await self.send(dict(frame))


def token_issued_at(token: str) -> datetime | None:
    """When a (verified) customer token was issued, from its `iat` claim; None when it has none."""
    try:
        issued = jwt.decode(token, options={"verify_signature": False}).get("iat")
    except jwt.PyJWTError:
        return None
    return datetime.fromtimestamp(issued, UTC) if isinstance(issued, int | float) else None


def message_frame(conversation_id: str, message: StoredMessage) -> dict[str, Any]:
    """A stored message as the page receives it."""
    return {"type": "message", "conversation_id": conversation_id, "message": message.to_dict()}


def _parse_frame(raw: str) -> dict[str, Any]:
    try:
        frame = json_body.loads(raw, what="Frame", max_bytes=_MAX_FRAME_BYTES)
    except json_body.BadInput as err:
        raise FrameError(str(err)) from err
    if not isinstance(frame, dict):
        raise FrameError('Frame must be a JSON object with a "type".')
    if not isinstance(frame.get("type"), str):
        raise FrameError('Frame needs a string "type": hello, message, typing or ping.')
    return frame


def parse_hello(frame: dict[str, Any]) -> HelloFrame:
    """Check a hello frame's fields.

    Raises:
        FrameError: naming the field that is wrong.
    """
    visitor_id, token = frame.get("visitor_id"), frame.get("customer_token")
    last_seq, conversation_id = frame.get("last_seq", 0), frame.get("conversation_id")
    language = frame.get("language", DEFAULT_LANGUAGE)
    if not isinstance(visitor_id, str) or not _VISITOR_ID_RE.match(visitor_id):
        raise FrameError("'visitor_id' must be 8-64 letters, digits, '-' or '_' (crypto.randomUUID() fits).")
    if token is not None and (not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS):
        raise FrameError("'customer_token' must be a string or null.")
    if isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0:
        raise FrameError("'last_seq' must be a non-negative integer.")
    if conversation_id is not None and (
        not isinstance(conversation_id, str) or not _CONVERSATION_ID_RE.match(conversation_id)
    ):
        raise FrameError("'conversation_id' must be a conversation id from a ready frame, or null.")
    parsed = parse_language(language) if isinstance(language, str) else None
    if parsed is None:
        raise FrameError('\'language\' must be "ru" or "en".')
    return {
        "type": "hello",
        "visitor_id": visitor_id,
        "customer_token": token or None,
        "last_seq": last_seq,
        "conversation_id": conversation_id,
        "language": parsed,
    }


def parse_message(frame: dict[str, Any]) -> MessageFrame:
    """Check a message frame's fields (the router checks the text's length and content).

    Raises:
        FrameError: naming the field that is wrong.
    """
    message_id, text = frame.get("id"), frame.get("text")
    if not isinstance(message_id, str) or not _CLIENT_ID_RE.match(message_id):
        raise FrameError("'id' must be 1-64 letters, digits, '-' or '_'.")
    if not isinstance(text, str):
        raise FrameError("'text' must be a string.", message_id=message_id)
    return {"type": "message", "id": message_id, "text": text}


class WebChatChannel:
    """GET /chat (page), GET /chat/ws (websocket), GET /chat/config, POST /chat/demo-sign-in.

    Every stored message reaches the page as a `message` frame with its seq: the
    customer's own echo and the bot's replies after each turn, operator messages
    through the delivery registry. The page drops seqs it has and asks for
    everything after its last one when it reconnects, so a dropped network
    neither loses nor repeats messages.
    """

    def __init__(self) -> None:
        self._connections: set[Connection] = set()
        self._by_conversation: dict[str, set[Connection]] = {}
        self._page = ""
        self._bus_origin: str | None = None

    def register(self, app: web.Application, path: str) -> None:
        """Add the channel's routes, register it for operator deliveries and close its sockets on shutdown."""
        base = path.rstrip("/")
        # The page is tiny; it is read once and told where the channel lives.
        self._page = (STATIC_DIR / "index.html").read_text(encoding="utf-8").replace("__BASE__", base)
        add = app.router
        add.add_get(base, self.page, name="webchat_page")
        add.add_get(f"{base}/ws", self.websocket, name="webchat_ws")
        add.add_get(f"{base}/config", self.config, name="webchat_config")
        add.add_post(f"{base}/demo-sign-in", self.demo_sign_in, name="webchat_demo_sign_in")
        add.add_static(f"{base}/static", STATIC_DIR, name="webchat_static")
        app[DELIVERY_KEY].register(CHANNEL, self)
        # After the cleanup contexts (they run first in on_startup), so the event bus exists.
        app.on_startup.append(self._subscribe)
        app.on_shutdown.append(self._on_shutdown)

    async def close(self) -> None:
        """Close every open socket; pages reconnect to another process or after the restart."""
        for connection in list(self._connections):
            await connection.socket.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    async def _on_shutdown(self, app: web.Application) -> None:
        await self.close()

    # -- delivery (operator replies, queue notices) ---------------------------------------------------

    def can_reach(self, conversation: Conversation) -> bool:
        """Whether a page of this conversation is connected to this process."""
        return bool(self._by_conversation.get(conversation.id))

    async def deliver(self, conversation: Conversation, message: StoredMessage) -> None:
        """Push a message to every page of the conversation.

        Raises:
            ConnectionError: when no page took it, so it stays pending for the next catch-up.
        """
        delivered = False
        for connection in list(self._by_conversation.get(conversation.id, ())):
            # After the connection's history frame, never before it (see _hello).
            async with connection.catch_up_lock:
                if message.seq in connection.sent:
                    delivered = True
                elif await connection.send(message_frame(conversation.id, message)):
                    connection.sent.add(message.seq)
                    delivered = True
        if not delivered:
            raise ConnectionError(f"no open web chat socket for conversation {conversation.id}")

    # -- HTTP -----------------------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        """The chat page."""
        return web.Response(text=self._page, content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS)

    async def config(self, request: web.Request) -> web.Response:
        """What the page offers: the demo sign-in exists only in local runs."""
        settings = request.app[SETTINGS_KEY]
        demo = settings.demo_sign_in
        customers = [{"id": key, "name": name} for key, name in DEMO_CUSTOMERS.items()] if demo else []
        return web.json_response(
            {
                "demo_sign_in": demo,
                "demo_customers": customers,
                "embed_origins": embed_origins(settings.chat_frame_ancestors),
            }
        )

    async def demo_sign_in(self, request: web.Request) -> web.Response:
        """Mint a customer token for a demo customer, as the bank's website would after a real sign-in."""
        settings = request.app[SETTINGS_KEY]
        if not settings.demo_sign_in:
            return web.json_response({"error": "Demo sign-in is off (set DEMO_SIGN_IN=1 in local runs)."}, status=403)
        body = await json_body.read_json(request)
        customer_id = body.get("customer_id") if isinstance(body, dict) else None
        if not isinstance(customer_id, str) or customer_id not in DEMO_CUSTOMERS:
            return web.json_response({"error": "Only the demo customers can sign in here."}, status=403)
        token = mint_customer_token(customer_id, settings.customer_token_secret)
        logger.info("Demo sign-in as %s", customer_id)
        return web.json_response(
            {"customer_token": token, "customer_id": customer_id, "name": DEMO_CUSTOMERS[customer_id]}
        )

    # -- websocket ------------------------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One page's socket: hello, then messages; every frame is checked and a bad one is answered, not fatal.

        No Origin check: the page carries no cookies, so a foreign site gains nothing it could not get
        by opening the socket itself; identity rides in the hello as a signed token.
        """
        socket = web.WebSocketResponse(heartbeat=_HEARTBEAT_SECONDS, max_msg_size=_MAX_FRAME_BYTES)
        await socket.prepare(request)
        connection = Connection(socket=socket)
        self._connections.add(connection)
        try:
            async for frame in socket:
                if frame.type == WSMsgType.TEXT:
                    await self._on_frame(request.app, connection, frame.data)
                elif frame.type == WSMsgType.BINARY:
                    await connection.send_error(FrameError("Send JSON text frames, not binary ones."))
                elif frame.type == WSMsgType.ERROR:
                    logger.info("Web chat socket error: %s", socket.exception())
        finally:
            self._forget(connection)
        return socket

    def _attach(self, connection: Connection, conversation_id: str) -> None:
        if connection.conversation_id is not None:
            self._detach(connection)
        if connection not in self._connections:
            # The socket closed while its message was handled; a closed socket must not claim deliveries.
            return
        connection.conversation_id = conversation_id
        connection.cursor = 0
        connection.sent = set()
        self._by_conversation.setdefault(conversation_id, set()).add(connection)

    def _detach(self, connection: Connection) -> None:
        if connection.conversation_id is None:
            return
        peers = self._by_conversation.get(connection.conversation_id)
        if peers is not None:
            peers.discard(connection)
            if not peers:
                del self._by_conversation[connection.conversation_id]
        connection.conversation_id = None

    def _forget(self, connection: Connection) -> None:
        self._detach(connection)
        self._connections.discard(connection)

    async def _on_frame(self, app: web.Application, connection: Connection, raw: str) -> None:
        try:
            frame = _parse_frame(raw)
            kind = frame["type"]
            if kind == "hello":
                await self._hello(app, connection, parse_hello(frame))
            elif kind == "message":
                await self._message(app, connection, parse_message(frame))
            elif kind == "typing":
                if connection.visitor_id is not None:
                    await app[ROUTER_KEY].customer_typing(CHANNEL, connection.visitor_id)
            elif kind == "ping":
                await connection.send({"type": "pong"})
            elif kind == "sign_out_others":
                await self._sign_out_others(app, connection)
            else:
                raise FrameError(f"Unknown frame type {kind[:32]!r}: use hello, message, typing or ping.")
        except FrameError as err:
            await connection.send_error(err)
        except Exception:
            # The socket outlives any one frame: log it, tell the page, keep reading.
            logger.exception("Web chat frame failed")
            await connection.send_error(FrameError("The server could not handle that frame.", code="server_error"))

    async def _hello(self, app: web.Application, connection: Connection, hello: HelloFrame) -> None:
        if connection.visitor_id is not None:
            raise FrameError("This socket already said hello; open a new one to change identity.")
        identity: CustomerIdentity | None = None
        token = hello.get("customer_token")
        if token:
            try:
                identity = verify_customer_token(token, app[SETTINGS_KEY].customer_token_secret)
            except InvalidCustomerToken as err:
                # The page drops the token, asks to sign in again and goes on as a guest.
                await connection.send_error(FrameError(str(err), code="invalid_token"))
        if identity is not None and token and await self._signed_out_here(app, identity, token, hello["visitor_id"]):
            # The customer signed out their other sessions from another device: this one must sign in again.
            await connection.send_error(FrameError("Signed out from another device.", code="invalid_token"))
            identity = None
        # Found, not opened: a page view without a message is no conversation (reports count conversations).
        conversation = await conversations.find_open(app[DB_KEY], CHANNEL, hello["visitor_id"])
        if conversation is None and identity is not None:
            # The same customer on a second browser or tab: their open conversation follows them (this
            # visitor's messages now go into it too).
            conversation = await self._customers_open_conversation(app, identity.customer_id)
            if conversation is not None:
                await conversations.share_pointer(app[DB_KEY], CHANNEL, hello["visitor_id"], conversation.id)
        if conversation is None and hello.get("conversation_id"):
            conversation = await self._finished(app, hello["visitor_id"], hello.get("conversation_id"))
        if (
            conversation is not None
            and conversation.customer_id is not None
            and (identity is None or identity.customer_id != conversation.customer_id)
            and not (identity is None and conversation.verified_by_operator)
        ):
            # A verified customer's transcript (balances, cards) is shown to that customer only,
            # not to whoever later holds the browser's visitor id without the token.
            raise FrameError(
                "This conversation belongs to a signed-in customer; start a new one with a new visitor_id.",
                code="conversation_locked",
            )
        connection.visitor_id = hello["visitor_id"]
        connection.identity = identity
        connection.ui_language = hello.get("language", DEFAULT_LANGUAGE)
        connection.language_known = conversation is not None and conversation.language is not None
        # Held from attaching to the history frame: a delivery racing the hello waits, so the page
        # always gets ready, then history, then live messages.
        async with connection.catch_up_lock:
            if conversation is not None:
                self._attach(connection, conversation.id)
            await connection.send(
                {
                    "type": "ready",
                    "conversation_id": conversation.id if conversation else None,
                    "verified": identity is not None,
                }
            )
            if conversation is None:
                await connection.send({"type": "history", "conversation_id": None, "messages": []})
                return
            same = hello.get("conversation_id") in (None, conversation.id)
            after = hello.get("last_seq", 0) if same else 0
            sent = await self._send_missing(app, connection, after=after, as_history=True)
        await self._mark_delivered(app, conversation.id, sent)

    @staticmethod
    async def _customers_open_conversation(app: web.Application, customer_id: str) -> Conversation | None:
        """The signed-in customer's newest web chat conversation that is still open, on any device."""
        found = (
            await app[DB_KEY]
            .conversations.find(
                {
                    "channel": CHANNEL,
                    "customer_id": customer_id,
                    "state": {"$in": [s.value for s in ConversationState if s is not ConversationState.CLOSED]},
                }
            )
            .sort("updated_at", -1)
            .limit(1)
            .to_list()
        )
        return Conversation.from_document(found[0]) if found else None

    async def _follow(self, app: web.Application, connection: Connection, conversation_id: str) -> None:
        """Other open pages of the same signed-in customer without a conversation join this one, live."""
        if connection.identity is None:
            return
        for peer in list(self._connections):
            if (
                peer is connection
                or peer.conversation_id is not None
                or peer.identity is None
                or peer.identity.customer_id != connection.identity.customer_id
            ):
                continue
            if peer.visitor_id is None:
                continue
            await conversations.share_pointer(app[DB_KEY], CHANNEL, peer.visitor_id, conversation_id)
            async with peer.catch_up_lock:
                self._attach(peer, conversation_id)
                await peer.send({"type": "ready", "conversation_id": conversation_id, "verified": True})
                await self._send_missing(app, peer, after=0, as_history=True)

    @staticmethod
    async def _signed_out_here(app: web.Application, identity: CustomerIdentity, token: str, visitor_id: str) -> bool:
        """Whether the customer signed out other sessions after this token was issued, from another device."""
        record = await app[DB_KEY].customer_signouts.find_one({"_id": identity.customer_id})
        if record is None or record.get("keep_visitor") == visitor_id:
            return False
        issued = token_issued_at(token)
        at = record.get("at")
        return issued is None or (isinstance(at, datetime) and issued <= at)

    async def _sign_out_others(self, app: web.Application, connection: Connection) -> None:
        """The signed-in customer ends their sessions elsewhere: open pages are told, older tokens refused."""
        if connection.identity is None or connection.visitor_id is None:
            raise FrameError("Sign in first: only a signed-in customer has other sessions.")
        customer_id = connection.identity.customer_id
        now = datetime.now(UTC)
        record = {"at": now, "keep_visitor": connection.visitor_id}
        try:
            await app[DB_KEY].customer_signouts.update_one({"_id": customer_id}, {"$set": record}, upsert=True)
        except DuplicateKeyError:  # a simultaneous first sign-out on FerretDB: the document exists now
            await app[DB_KEY].customer_signouts.update_one({"_id": customer_id}, {"$set": record})
        closed = await self._close_sessions_of(customer_id, keep=connection)
        # Pages on the other gateway processes are closed at once too (the stored record refuses their reconnect).
        signed_out = Event(CUSTOMER_SIGNED_OUT_OTHERS, None, "customer", now, {"customer_id": customer_id})
        await app[BUS_KEY].emit(signed_out)
        await connection.send({"type": "signed_out_others", "closed": closed})

    async def _close_sessions_of(self, customer_id: str, *, keep: Connection | None) -> int:
        """Tell and close this process's open pages signed in as the customer (but `keep`); how many."""
        closed = 0
        for peer in list(self._connections):
            if peer is keep or peer.socket.closed or peer.identity is None or peer.identity.customer_id != customer_id:
                continue
            await peer.send({"type": "signed_out"})
            await peer.socket.close(code=WSCloseCode.POLICY_VIOLATION, message=b"signed out")
            closed += 1
        return closed

    async def customer_signed_out_others(self, event: Event) -> None:
        """Another process's page signed its customer out elsewhere: close their pages held here."""
        customer_id = event.data.get("customer_id")
        if self._bus_origin is not None and event.origin == self._bus_origin:
            return  # this process closed its pages before emitting
        if isinstance(customer_id, str):
            await self._close_sessions_of(customer_id, keep=None)

    @staticmethod
    async def _finished(app: web.Application, visitor_id: str, conversation_id: str | None) -> Conversation | None:
        """The page's last conversation once it is closed and rated: it stays readable after a reload.

        Only this visitor's own web chat conversation; the caller still checks a signed-in owner.
        """
        if conversation_id is None:
            return None
        found = await conversations.get_conversation(app[DB_KEY], conversation_id)
        if (
            found is None
            or found.channel != CHANNEL
            or found.channel_user_id != visitor_id
            or found.state is not ConversationState.CLOSED
        ):
            return None
        return found

    async def _message(self, app: web.Application, connection: Connection, frame: MessageFrame) -> None:
        if connection.visitor_id is None:
            raise FrameError("Send a hello frame first.", code="hello_first", message_id=frame["id"])
        text = frame["text"]
        message = InboundMessage(
            channel=CHANNEL,
            channel_user_id=connection.visitor_id,
            text=text,
            identity=connection.identity,
            language_hint=self._language_hint(connection, text),
            channel_message_id=f"{connection.visitor_id}:{frame['id']}",
        )
        await self._typing(connection, on=True)
        try:
            turn = await app[ROUTER_KEY].handle(message)
        except DuplicateMessage:
            # A resend after a reconnect: the first copy was handled; its replies reach the page by catch-up.
            await connection.send({"type": "ack", "id": frame["id"], "duplicate": True})
            return
        except InvalidMessage as err:
            raise FrameError(str(err), code="invalid_message", message_id=frame["id"]) from err
        except MessageInProgress as err:
            raise FrameError(
                "This message is still being stored; send it again with the same id in a few seconds.",
                code="server_error",
                message_id=frame["id"],
            ) from err
        except Exception as err:
            # Nothing was stored under this id (its claim was given back): the same id may be sent again.
            logger.exception("Web chat message %s could not be handled", frame["id"])
            raise FrameError(
                "The server could not store this message; send it again with the same id.",
                code="server_error",
                message_id=frame["id"],
            ) from err
        finally:
            await self._typing(connection, on=False)
        connection.language_known = True
        if turn.conversation_id != connection.conversation_id:
            # The first message opened the conversation, or the last one was closed and this message
            # opened a new one (its seqs start again at 1).
            async with connection.catch_up_lock:
                self._attach(connection, turn.conversation_id)
                await connection.send(
                    {
                        "type": "ready",
                        "conversation_id": turn.conversation_id,
                        "verified": connection.identity is not None,
                    }
                )
        await self._follow(app, connection, turn.conversation_id)
        # Other pages of the same visitor (tabs, a socket that replaced a dropped one) see the turn too.
        for peer in list(self._by_conversation.get(turn.conversation_id, ())):
            await self._catch_up(app, peer, after=peer.cursor)
        await connection.send({"type": "ack", "id": frame["id"]})

    @staticmethod
    def _language_hint(connection: Connection, text: str) -> str | None:
        """The UI language, only where the text itself cannot tell.

        The contract decides the language per message, so a customer with a Russian
        page who writes in English is answered in English. The UI language only
        breaks the tie when the first message of a conversation has no letters
        (a button payload, card digits, an emoji); afterwards the conversation's
        remembered language wins, as on every other channel.
        """
        if connection.language_known or detect_language(text) is not None:
            return None
        return connection.ui_language

    async def _typing(self, connection: Connection, *, on: bool) -> None:
        peers = self._by_conversation.get(connection.conversation_id or "", set())
        for peer in {connection, *peers}:
            await peer.send(dict(TypingFrame(type="typing", on=on, who="bot", name=None)))

    # -- events from the operator side ----------------------------------------------------------------

    async def operator_typed(self, event: Event) -> None:
        """An operator is typing to this conversation: its pages show who (the console repeats it while typing)."""
        name = event.data.get("operator_name")
        frame = TypingFrame(type="typing", on=True, who="operator", name=name if isinstance(name, str) else None)
        for connection in list(self._by_conversation.get(event.conversation_id or "", ())):
            await connection.send(dict(frame))

    async def _subscribe(self, app: web.Application) -> None:
        # Every process: the one holding the customer's socket shows the typing, wherever the operator is.
        app[BUS_KEY].subscribe(self)
        self._bus_origin = app[BUS_KEY].origin

    async def _catch_up(self, app: web.Application, connection: Connection, *, after: int) -> None:
        """Send the page, as message frames, what it lacks after `after`."""
        async with connection.catch_up_lock:
            await self._send_missing(app, connection, after=after, as_history=False)

    @staticmethod
    async def _send_missing(app: web.Application, connection: Connection, *, after: int, as_history: bool) -> set[int]:
        """Send stored messages above `after` the page was not sent yet; the caller holds the catch-up lock.

        Returns:
            The seqs sent (empty when the socket is gone).
        """
        conversation_id = connection.conversation_id
        if conversation_id is None:
            return set()
        found = await transcript.messages_after(app[DB_KEY], conversation_id, max(after, connection.cursor))
        fresh = [m for m in found if m.seq not in connection.sent]
        if as_history:
            ok = await connection.send(
                {"type": "history", "conversation_id": conversation_id, "messages": [m.to_dict() for m in fresh]}
            )
        else:
            ok = True
            for stored in fresh:
                ok = ok and await connection.send(message_frame(conversation_id, stored))
        if not ok:
            return set()
        connection.sent.update(m.seq for m in fresh)
        if fresh:
            connection.cursor = max(connection.cursor, fresh[-1].seq)
        return {m.seq for m in fresh}

    @staticmethod
    async def _mark_delivered(app: web.Application, conversation_id: str, seqs: set[int]) -> None:
        """Operator messages that waited while the page was away went out with the history."""
        db = app[DB_KEY]
        for seq in await transcript.pending_outbound(db, conversation_id):
            if seq in seqs and await transcript.claim_delivery(db, conversation_id, seq) is not None:
                await transcript.set_delivery(db, conversation_id, seq, outbox.DELIVERED)
