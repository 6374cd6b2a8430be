"""The Telegram channel on aiogram 3: webhook or long polling, inline keyboards, contact sharing, operator delivery.

Run `python -m connectors.telegram set-webhook` to point Telegram at TELEGRAM_WEBHOOK_URL
(the gateway also does it at start when the URL is configured).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove, TelegramObject, Update
from aiohttp import web
from pydantic import ValidationError

from connectors import telegram_links
from connectors.telegram_limits import FloodControlMiddleware, FloodLimiter, SharedLimit
from connectors.telegram_render import (
    LONG_PAYLOAD_PREFIX,
    PARSE_MODE,
    callback_data_for,
    contact_keyboard,
    escape,
    inline_keyboard,
    split_message,
)
from core import json_body
from core.banking import BankingBackend, BankingError, create_banking_backend
from core.db import Database
from core.identity import CustomerIdentity
from core.keys import DB_KEY, DELIVERY_KEY, ROUTER_KEY, SETTINGS_KEY
from core.messages import InboundMessage, Reply
from core.settings import Settings
from handoff import claims, conversations, transcript
from handoff.conversations import WITH_OPERATOR, Conversation
from handoff.router import DuplicateMessage, InvalidMessage
from handoff.router import Router as MessageRouter
from handoff.transcript import StoredMessage
from outbound.http import shared_telegram_limit

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 -- a header name, not a secret
# Update kinds the bot asks Telegram for; the others (polls, chat member changes, ...) are never sent.
ALLOWED_UPDATES = ["message", "edited_message", "channel_post", "callback_query"]
# An update's claim covers its whole handling (a bot turn waits up to a minute in the queue); a retry of an
# update whose handler died is handled again only after this long.
_UPDATE_LEASE_SECONDS = 5 * 60.0

_TEXTS: dict[str, dict[str, str]] = {
    "share_contact_button": {"ru": "📱 Поделиться номером", "en": "📱 Share my phone number"},
    "share_contact_prompt": {
        "ru": "Чтобы я мог показать баланс, операции или заблокировать карту, подтвердите номер телефона, "
        "который вы указали в банке: нажмите кнопку «Поделиться номером» внизу.",
        "en": "To see balances and transactions or block a card, confirm the phone number registered with the bank: "
        "press “Share my phone number” below.",
    },
    "contact_linked": {
        "ru": "Спасибо, номер подтверждён. Теперь я могу отвечать на вопросы о ваших счетах и картах.",
        "en": "Thank you, your number is confirmed. I can now answer questions about your accounts and cards.",
    },
    "contact_not_found": {
        "ru": "Этот номер не найден среди клиентов банка. Если вы клиент, позвоните 8 800 000-00-00 "
        "или спросите оператора.",
        "en": "This number is not registered with the bank. If you are a customer, call 8 800 000-00-00 "
        "or ask for an operator.",
    },
    "contact_not_own": {
        "ru": "Подтвердить можно только свой номер: нажмите кнопку «Поделиться номером» внизу.",
        "en": "Only your own number can be confirmed: press “Share my phone number” below.",
    },
    "text_only": {
        "ru": "Я понимаю только текст. Опишите, пожалуйста, вопрос словами или напишите «оператор».",
        "en": "I can only read text. Please describe your question in words or type “operator”.",
    },
    "edited": {
        "ru": "Я вижу только новые сообщения. Отправьте, пожалуйста, исправленный текст ещё раз.",
        "en": "I only see new messages. Please send the corrected text again.",
    },
    "private_only": {
        "ru": "Я отвечаю только в личных сообщениях, чтобы не раскрывать данные о ваших счетах. Напишите мне в личку.",
        "en": "I only answer in private chats so that your banking details stay private. Please message me directly.",
    },
    "button_expired": {
        "ru": "Эта кнопка устарела. Напишите, пожалуйста, что вы хотите сделать.",
        "en": "This button has expired. Please type what you would like to do.",
    },
    "service_error": {
        "ru": "Извините, сейчас я не могу ответить. Попробуйте, пожалуйста, ещё раз через минуту.",
        "en": "Sorry, I cannot answer right now. Please try again in a minute.",
    },
}
# How non-text messages appear in the operator's transcript.
_KIND_LABELS = {
    "photo": "[фото]",
    "voice": "[голосовое сообщение]",
    "video": "[видео]",
    "video_note": "[видеосообщение]",
    "sticker": "[стикер]",
    "document": "[документ]",
    "audio": "[аудио]",
    "location": "[геопозиция]",
    "animation": "[GIF]",
}


def _text(key: str, language_code: str | None) -> str:
    language = "en" if (language_code or "").lower().startswith("en") else "ru"
    return _TEXTS[key][language]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TelegramConfig:
    """The channel's settings (see core.settings.Settings.telegram_*)."""

    token: str
    mode: str  # "webhook" or "polling"
    webhook_url: str  # public HTTPS URL Telegram posts to; setWebhook at start when set
    webhook_secret: str  # X-Telegram-Bot-Api-Secret-Token
    api_base: str  # a custom Bot API server ("" = api.telegram.org)

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramConfig:
        """Pick the Telegram fields."""
        return cls(
            token=settings.telegram_bot_token,
            mode=settings.telegram_mode,
            webhook_url=settings.telegram_webhook_url,
            webhook_secret=settings.telegram_webhook_secret,
            api_base=settings.telegram_api_base,
        )


def create_bot(config: TelegramConfig, limiter: FloodLimiter | None = None, shared: SharedLimit | None = None) -> Bot:
    """An aiogram Bot with HTML parse mode, flood control and, if configured, a custom Bot API server."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(config.api_base)) if config.api_base else AiohttpSession()
    session.middleware(FloodControlMiddleware(limiter or FloodLimiter(), shared))
    return Bot(config.token, session=session, default=DefaultBotProperties(parse_mode=PARSE_MODE))


class UpdateOnce(BaseMiddleware):
    """Outer middleware: each update_id is handled once, whatever Telegram retries (stored in MongoDB)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.dropped = 0

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """Claim the update id before any handler runs; give the claim back if handling fails, so a retry counts."""
        assert isinstance(event, Update)  # noqa: S101 -- registered on dp.update only
        lease = await transcript.claim_inbound(
            self._db, CHANNEL, f"update:{event.update_id}", _utcnow(), lease_seconds=_UPDATE_LEASE_SECONDS
        )
        if isinstance(lease, claims.Held):
            self.dropped += 1
            logger.info("Dropped duplicate Telegram update %s", event.update_id)
            return None
        try:
            result = await handler(event, data)
        except BaseException:
            await claims.release(lease)
            raise
        await claims.complete(lease)
        return result


class TelegramChannel:
    """Webhook route (or polling task), the aiogram dispatcher, and the deliverer of operator messages."""

    def __init__(self, config: TelegramConfig) -> None:
        self.config = config
        self.bot: Bot | None = None
        self.dispatcher: Dispatcher | None = None
        self.once: UpdateOnce | None = None
        self._router: MessageRouter | None = None
        self._db: Database | None = None
        self._backend: BankingBackend | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tails: dict[int | None, asyncio.Task[None]] = {}
        self._polling: asyncio.Task[None] | None = None

    # --- wiring -----------------------------------------------------------------------------------------

    def register(self, app: web.Application, path: str) -> None:
        """Add the webhook route and the context that owns the bot; register as the channel's deliverer."""
        if self.config.mode == "webhook":
            app.router.add_post(path, self.webhook, name="telegram_webhook")
        app.cleanup_ctx.append(self._context)
        app[DELIVERY_KEY].register(CHANNEL, self)

    async def _context(self, app: web.Application) -> AsyncIterator[None]:
        self._router, self._db = app[ROUTER_KEY], app[DB_KEY]
        self._backend = create_banking_backend(app[SETTINGS_KEY], self._db)
        self.bot = create_bot(self.config, shared=shared_telegram_limit(app))
        self.once = UpdateOnce(self._db)
        self.dispatcher = build_dispatcher(self, self.once)
        if self.config.mode == "polling":
            await self.bot.delete_webhook()
            self._polling = asyncio.create_task(
                self.dispatcher.start_polling(
                    self.bot, handle_signals=False, close_bot_session=False, allowed_updates=ALLOWED_UPDATES
                )
            )
        elif self.config.webhook_url:
            await set_webhook(self.bot, self.config)
        yield
        await self.close()

    async def close(self) -> None:
        """Stop polling, finish updates in flight and close the Bot API session."""
        if self._polling is not None and self.dispatcher is not None:
            with_polling, self._polling = self._polling, None
            await self.dispatcher.stop_polling()
            await with_polling
        await self.drain()
        if self.bot is not None:
            await self.bot.session.close()
            self.bot = None

    async def drain(self) -> None:
        """Wait for updates being handled in the background (tests, benchmarks, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- inbound ----------------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """Check the secret token, accept the update and handle it in the background.

        Telegram waits for the answer before sending the chat's next update and retries on
        errors or timeouts, so the answer comes at once; duplicates are dropped by update_id.
        """
        supplied = request.headers.get(SECRET_HEADER, "")
        if not secrets.compare_digest(supplied.encode(), self.config.webhook_secret.encode()):
            logger.warning("Refused a Telegram webhook call with a wrong secret token from %s", request.remote)
            return web.Response(status=401, text="Wrong secret token.")
        if self.bot is None or self.dispatcher is None:
            return web.Response(status=503, text="The Telegram channel is starting.")
        try:
            update = Update.model_validate(json_body.loads(await request.read()), context={"bot": self.bot})
        except (json_body.BadInput, ValidationError):
            return web.Response(status=400, text="Body is not a Telegram Update.")
        # One chat's updates are handled in the order they came (Telegram does not wait for us, we
        # answer at once); different chats run concurrently.
        chat = _chat_of(update)
        task = asyncio.create_task(self._feed(self._tails.get(chat), update))
        self._tails[chat] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda done: self._forget(chat, done))
        return web.Response(status=200)

    def _forget(self, chat: int | None, task: asyncio.Task[None]) -> None:
        if self._tails.get(chat) is task:
            del self._tails[chat]

    async def _feed(self, previous: asyncio.Task[None] | None, update: Update) -> None:
        assert self.bot is not None and self.dispatcher is not None  # noqa: S101 -- checked by the caller
        if previous is not None:
            await asyncio.wait([previous])
        try:
            await self.dispatcher.feed_update(self.bot, update)
        except Exception:
            logger.exception("Telegram update %s failed", update.update_id)
            await self._apologise(update)

    async def _apologise(self, update: Update) -> None:
        """A failed update still gets an answer, so the customer is not left waiting in silence."""
        chat = _chat_of(update)
        if self.bot is None or chat is None or chat < 0:
            return
        user = update.message.from_user if update.message else None
        try:
            await self.bot.send_message(
                chat_id=chat, text=escape(_text("service_error", user.language_code if user else None))
            )
        except TelegramAPIError:
            logger.warning("Could not tell chat %s about the failure", chat)

    async def identity(self, chat_id: int) -> CustomerIdentity | None:
        """The bank customer this chat is linked to, if the user shared their own contact."""
        assert self._db is not None  # noqa: S101 -- set at start
        link = await telegram_links.find_link(self._db, chat_id)
        return None if link is None else CustomerIdentity(customer_id=link.customer_id, method="telegram_contact")

    async def conversation_with_operators(self, chat_id: int) -> bool:
        """Whether the chat's open conversation is queued for or assigned to an operator."""
        assert self._db is not None  # noqa: S101 -- set at start
        conversation = await conversations.find_open(self._db, CHANNEL, str(chat_id))
        return conversation is not None and conversation.state in WITH_OPERATOR

    async def route(
        self,
        bot: Bot,
        chat_id: int,
        text: str,
        language_code: str | None,
        *,
        acknowledge: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        """Send one customer message through the router and post the replies.

        The webhook has answered 200 already, so Telegram will not send this update again: the message
        is stored before any call to the Bot API. "Typing" (or `acknowledge`, a button press's answer)
        goes out in the background once it is stored, and a failing call is only logged.
        """
        assert self._router is not None  # noqa: S101 -- set at start
        message = InboundMessage(
            channel=CHANNEL, channel_user_id=str(chat_id), text=text, identity=await self.identity(chat_id)
        )

        def typing() -> Awaitable[Any]:
            return bot.send_chat_action(chat_id=chat_id, action="typing")

        try:
            turn = await self._router.handle(message, on_stored=lambda: self._best_effort(acknowledge or typing))
        except InvalidMessage as err:
            await bot.send_message(chat_id=chat_id, text=escape(str(err)))
            return
        except DuplicateMessage:
            return
        for reply in turn.replies:
            await self.send_reply(bot, chat_id, reply)

    def _best_effort(self, call: Callable[[], Awaitable[Any]]) -> None:
        """Run a Bot API call that nothing depends on in the background; its failure is only logged."""

        async def run() -> None:
            try:
                await call()
            except TelegramAPIError as err:
                logger.info("A Bot API call after storing a message failed: %s", err)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def link_contact(self, bot: Bot, message: Message) -> None:
        """Link the chat to the customer whose phone number the sender shared, if it is their own."""
        assert self._db is not None and self._backend is not None  # noqa: S101 -- set at start
        contact, sender = message.contact, message.from_user
        language = sender.language_code if sender else None
        if contact is None or sender is None or contact.user_id != sender.id:
            await message.answer(escape(_text("contact_not_own", language)))
            return
        try:
            customer = await self._backend.find_customer_by_phone(contact.phone_number)
        except BankingError:
            logger.exception("Customer lookup by phone failed for chat %s", message.chat.id)
            await message.answer(escape(_text("service_error", language)))
            return
        if customer is None:
            await message.answer(escape(_text("contact_not_found", language)), reply_markup=ReplyKeyboardRemove())
            return
        await telegram_links.link_chat(
            self._db, chat_id=message.chat.id, user_id=sender.id, customer_id=customer.customer_id, now=_utcnow()
        )
        logger.info("Telegram chat %s linked to customer %s", message.chat.id, customer.customer_id)
        await message.answer(escape(_text("contact_linked", language)), reply_markup=ReplyKeyboardRemove())

    async def offer_contact(self, bot: Bot, chat_id: int, language_code: str | None) -> None:
        """Ask an unlinked customer to share their number with Telegram's own button."""
        if await self.identity(chat_id) is None:
            await bot.send_message(
                chat_id=chat_id,
                text=escape(_text("share_contact_prompt", language_code)),
                reply_markup=contact_keyboard(_text("share_contact_button", language_code)),
            )

    async def payload_of(self, data: str) -> str | None:
        """The button payload behind callback_data (long payloads are stored under a digest)."""
        assert self._db is not None  # noqa: S101 -- set at start
        if data.startswith(LONG_PAYLOAD_PREFIX):
            return await telegram_links.find_payload(self._db, data)
        return data

    # --- outbound ---------------------------------------------------------------------------------------

    async def send_reply(self, bot: Bot, chat_id: int, reply: Reply) -> None:
        """Post one reply: parts of at most 4096 characters, the inline keyboard on the last part."""
        if not reply.text and not reply.buttons:
            return
        if self._db is not None:
            for button in reply.buttons:
                data = callback_data_for(button.payload)
                if data != button.payload:
                    await telegram_links.remember_payload(self._db, data, button.payload)
        parts = split_message(reply.text or "⌨️")
        for number, part in enumerate(parts, start=1):
            last = number == len(parts)
            await bot.send_message(
                chat_id=chat_id,
                text=escape(part),
                reply_markup=inline_keyboard(reply.buttons) if last and reply.buttons else None,
            )

    async def deliver(self, conversation: Conversation, message: StoredMessage) -> None:
        """Deliverer for the handoff side: operator replies and notices posted to the chat."""
        if self.bot is None:
            raise RuntimeError("The Telegram bot is not running; the message stays pending.")
        chat = int(conversation.channel_user_id)
        # The customer's own turn (e.g. "connecting you") is answered first; a notice pushed while it
        # is still being handled ("an operator joined") waits for it.
        tail = self._tails.get(chat)
        if tail is not None and tail is not asyncio.current_task():
            await asyncio.wait([tail])
        reply = Reply(text=message.text, buttons=message.buttons, custom=message.custom, author=message.author)
        await self.send_reply(self.bot, chat, reply)


async def set_webhook(bot: Bot, config: TelegramConfig) -> None:
    """Point Telegram at our webhook with the secret token it must send back on every update."""
    await bot.set_webhook(
        url=config.webhook_url,
        secret_token=config.webhook_secret,
        allowed_updates=ALLOWED_UPDATES,
        drop_pending_updates=False,
    )
    logger.info("Telegram webhook set to %s", config.webhook_url)


def _chat_of(update: Update) -> int | None:
    """The chat an update belongs to, for ordering; None for kinds without one."""
    message = update.message or update.edited_message or update.channel_post
    if message is not None:
        return message.chat.id
    if update.callback_query is not None and isinstance(update.callback_query.message, Message):
        return update.callback_query.message.chat.id
    return None


def build_dispatcher(channel: TelegramChannel, once: UpdateOnce) -> Dispatcher:
    """The dispatcher with our handlers; the channel reaches them as the `channel` argument."""
    dispatcher = Dispatcher(channel=channel)
    dispatcher.update.outer_middleware(once)
    dispatcher.include_router(build_router())
    return dispatcher


def build_router() -> Router:
    """The handlers, in the order aiogram tries them; a router belongs to one dispatcher, so each gets its own."""
    telegram_router = Router(name=__name__)
    telegram_router.channel_post.register(channel_post)
    telegram_router.message.register(group_message, F.chat.type != "private")
    telegram_router.message.register(start, CommandStart())
    telegram_router.message.register(link, Command("link"))
    telegram_router.message.register(contact, F.contact)
    telegram_router.message.register(text_message, F.text)
    telegram_router.message.register(other_message)
    telegram_router.edited_message.register(edited_message)
    telegram_router.callback_query.register(button_pressed)
    return telegram_router


async def channel_post(message: Message) -> None:
    """Posts in channels the bot was added to carry no customer; they are logged, not answered."""
    logger.info("Ignored a post in channel %s", message.chat.id)


async def group_message(message: Message, channel: TelegramChannel) -> None:
    """Banking answers never go to groups; say so when a command addresses the bot, stay quiet otherwise."""
    if message.text and message.text.startswith("/"):
        await message.answer(
            escape(_text("private_only", message.from_user.language_code if message.from_user else None))
        )


async def start(message: Message, bot: Bot, channel: TelegramChannel) -> None:
    """/start greets through the bot and offers to link the bank profile."""
    language = message.from_user.language_code if message.from_user else None
    await channel.route(bot, message.chat.id, "/greet", language)
    await channel.offer_contact(bot, message.chat.id, language)


async def link(message: Message, bot: Bot, channel: TelegramChannel) -> None:
    """/link shows the contact button again."""
    await channel.offer_contact(bot, message.chat.id, message.from_user.language_code if message.from_user else None)


async def contact(message: Message, bot: Bot, channel: TelegramChannel) -> None:
    """A shared contact links the chat to the customer when it is the sender's own."""
    await channel.link_contact(bot, message)


async def text_message(message: Message, bot: Bot, channel: TelegramChannel) -> None:
    """Typed words go to the bot, or to the operator when the conversation is with one."""
    assert message.text is not None  # noqa: S101 -- F.text
    await channel.route(
        bot, message.chat.id, message.text, message.from_user.language_code if message.from_user else None
    )


async def other_message(message: Message, bot: Bot, channel: TelegramChannel) -> None:
    """Photos, voice, stickers, documents: forwarded to an operator as a labelled note, else explained."""
    language = message.from_user.language_code if message.from_user else None
    if await channel.conversation_with_operators(message.chat.id):
        kind = str(getattr(message.content_type, "value", message.content_type))
        label = _KIND_LABELS.get(kind, f"[{kind}]")
        text = f"{label} {message.caption}" if message.caption else label
        await channel.route(bot, message.chat.id, text, language)
        return
    await message.answer(escape(_text("text_only", language)))


async def edited_message(message: Message, bot: Bot, channel: TelegramChannel) -> None:
    """Edits reach an operator as a new message; the bot cannot take back its answer, so it says so."""
    language = message.from_user.language_code if message.from_user else None
    if message.chat.type == "private" and message.text and await channel.conversation_with_operators(message.chat.id):
        await channel.route(bot, message.chat.id, f"(исправлено) {message.text}", language)
        return
    if message.chat.type == "private":
        await message.answer(escape(_text("edited", language)))


async def button_pressed(query: CallbackQuery, bot: Bot, channel: TelegramChannel) -> None:
    """A pressed inline button: send the payload; once it is stored, stop the spinner and remove the keyboard."""
    language = query.from_user.language_code
    message = query.message
    if message is None or not isinstance(message, Message) or message.chat.type != "private":
        await query.answer()
        return
    payload = await channel.payload_of(query.data or "")
    chat_id, message_id = message.chat.id, message.message_id

    async def acknowledge() -> None:
        await query.answer()
        try:
            await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=None)
        except TelegramAPIError:
            logger.info("Could not remove the keyboard of message %s", message_id)

    if payload is None:
        await acknowledge()
        await bot.send_message(chat_id=chat_id, text=escape(_text("button_expired", language)))
        return
    await channel.route(bot, chat_id, payload, language, acknowledge=acknowledge)


def setup_telegram(app: web.Application, path: str) -> None:
    """Register the channel when a bot token is configured; without one Telegram stays off."""
    settings = app[SETTINGS_KEY]
    if settings.telegram_bot_token:
        TelegramChannel(TelegramConfig.from_settings(settings)).register(app, path)


async def _set_webhook_command() -> None:
    config = TelegramConfig.from_settings(Settings.from_env())
    if not config.token or not config.webhook_url:
        raise SystemExit("Set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_URL (docs/integrations.md, 'Telegram').")
    bot = create_bot(config)
    try:
        await set_webhook(bot, config)
    finally:
        await bot.session.close()


def main(argv: list[str]) -> None:
    """`python -m connectors.telegram set-webhook`."""
    if argv[1:] != ["set-webhook"]:
        raise SystemExit("usage: python -m connectors.telegram set-webhook")
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_set_webhook_command())


if __name__ == "__main__":
    main(sys.argv)
