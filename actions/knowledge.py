"""action_answer_faq: answer a question the transactional intents do not cover from the knowledge base.

Confident match: the article's answer in the conversation's language (the short voice answer on
the phone), then an operator offer when the article is marked `escalate`. Close call: "Did you
mean" with the top three titles as buttons and an operator button; an article button's payload names it
(`/faq{"kb_article": "<id>"}`), which this action answers directly. No match: an honest
"I don't know that yet", the question recorded as unanswered, an operator offer, and a
`{"fallback": "kb_no_answer"}` marker: the gateway hands the customer to an operator after two
misses in a row. Operator buttons carry the reason (kb_escalate, kb_no_answer) to action_handoff.

Context (issue 11): the slot `operator_offered` says whether this reply offered an operator, so that
"да"/"yes please" right after it hands off and "нет" keeps the bot (rules.yml); `kb_last_article`
remembers the article answered, and a follow-up question right after it ("а сколько в месяц?") is
also searched with that article's title as context. A disputed charge (intent dispute_charge) gets
the dispute article's answer directly; the rule then hands off. Small talk the NLU was unsure of
("found it, thanks!") is answered as small talk when the KB has no article for it either, instead
of an "I don't know" that the gateway would count as a misunderstanding.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from actions.balance import ActionCheckBalance
from actions.conversation import channel_of, language_of, verified_customer_id
from actions.handoff import BLOCK_CARD_UNVERIFIED, CUSTOMER_REQUEST, asks_for_a_person
from actions.texts import text
from actions.transactions import ActionRecentTransactions
from core import db as core_db
from core.db import Database
from core.language import Language
from core.settings import Settings
from knowledge_base import decision as calibrated
from knowledge_base import store
from knowledge_base.config import default_model
from knowledge_base.embeddings import load_encoder
from knowledge_base.models import Article
from knowledge_base.search import Decision, SearchIndex
from knowledge_base.seed import load_seed
from knowledge_base.service import CachingEncoder, KnowledgeBase

logger = logging.getLogger(__name__)

KB_ESCALATE = "kb_escalate"
KB_NO_ANSWER = "kb_no_answer"
# A product the customer wants that the knowledge base cannot answer goes to this team with this reason.
SALES_REQUEST = "sales_request"
SALES_TEAM = "sales"
PRODUCT_REQUEST = "product_request"
HELPFUL, NOT_HELPFUL = "helpful", "not_helpful"
# On the phone the vote is a key (connectors/voice/session.py reads this custom key and offers 1 / 2).
VOTE_BY_KEYS = "kb_vote_by_keys"
# Intents whose answer is one known article, whatever the wording (the article's id in the seed).
ARTICLE_FOR_INTENT: Final[dict[str, str]] = {"dispute_charge": "transaction_dispute"}
# Small talk that reached this action because the NLU was not confident (nlu_fallback). When the KB has
# no article either and small talk is the NLU's best guess with at least this confidence, the
# customer gets the small-talk reply, not an "I don't know" counted towards an operator.
SMALL_TALK_RESPONSES: Final[dict[str, str]] = {
    "thank": "utter_thank",
    "goodbye": "utter_goodbye",
    "deny": "utter_goodbye",
    "affirm": "utter_anything_else",
    "greet": "utter_greet",
}
SMALL_TALK_MIN_CONFIDENCE = 0.35
_ARTICLE_PAYLOAD = re.compile(r'"kb_article"\s*:\s*"([a-z0-9_\-]{1,64})"')
_VOTE_PAYLOAD = re.compile(r'"kb_vote"\s*:\s*"(helpful|not_helpful)"')

TEXTS: Final[dict[str, dict[Language, str]]] = {
    "did_you_mean": {"ru": "Уточните, пожалуйста, что вы имели в виду:", "en": "Did you mean:"},
    "dont_know": {
        "ru": "Я пока не знаю ответа на этот вопрос. Передал его коллегам, чтобы добавить ответ. "
        "Соединить вас с оператором?",
        "en": "I don't know that yet. I've passed your question on so we can add an answer. "
        "Shall I connect you to an operator?",
    },
    "escalate": {
        "ru": "Если нужна помощь сотрудника, я соединю вас с оператором.",
        "en": "If you need a person to help with this, I can connect you to an operator.",
    },
    "operator_button": {"ru": "Позвать оператора", "en": "Talk to an operator"},
    "not_it": {"ru": "Не то? Возможно, вы про…", "en": "Not it? Perhaps you mean…"},
    "was_it_helpful": {"ru": "Ответ помог?", "en": "Did this answer help?"},
    "helpful": {"ru": "Помогло", "en": "Helpful"},
    "not_helpful": {"ru": "Не помогло", "en": "Not helpful"},
    "thanks_for_vote": {"ru": "Спасибо, что оценили ответ!", "en": "Thank you for the feedback!"},
    "sorry_alternatives": {
        "ru": "Жаль, что ответ не помог: я передал вопрос коллегам, чтобы его улучшить. Может быть, вы про это? "
        "Или позову оператора.",
        "en": "Sorry that didn't help: I've passed your question on so we can improve the answer. Is it one of "
        "these? Or I can connect you to an operator.",
    },
    "sorry_operator": {
        "ru": "Жаль, что ответ не помог: я передал вопрос коллегам, чтобы его улучшить. Соединить вас с оператором?",
        "en": "Sorry that didn't help: I've passed your question on so we can improve the answer. "
        "Shall I connect you to an operator?",
    },
    "sales": {
        "ru": "Оформлением продуктов занимаются наши специалисты: передаю ваш запрос им.",
        "en": "Our product specialists take care of applications: I'm passing your request to them.",
    },
}


class KbSource(Protocol):
    """Hands out the knowledge base and its database for the running event loop."""

    def knowledge_base(self) -> tuple[KnowledgeBase, Database]:
        """The KB and database to use now; called inside a running event loop."""
        ...


class FixedKnowledgeBase:
    """Always the same KB: what tests pass to the action."""

    def __init__(self, kb: KnowledgeBase, db: Database) -> None:
        self._pair = (kb, db)

    def knowledge_base(self) -> tuple[KnowledgeBase, Database]:
        """The KB given at construction."""
        return self._pair


class MongoKnowledgeBases:
    """One MongoDB client and KB per running loop (a PyMongo async client belongs to its loop); one encoder per process.

    See actions/dependencies.py for why the action server needs a provider like this.
    """

    def __init__(self, settings_factory: Callable[[], Settings] = Settings.from_env) -> None:
        self._settings_factory = settings_factory
        self._encoder: CachingEncoder | None = None
        self._encoder_loaded = False
        self._encoder_lock = threading.Lock()
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[KnowledgeBase, Database]] = (
            weakref.WeakKeyDictionary()
        )

    def __getstate__(self) -> dict[str, Any]:
        """Pickle only the settings factory: Sanic pickles registered actions into its worker."""
        return {"settings_factory": self._settings_factory}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild empty (see __getstate__), and warm up: being unpickled means being in the serving worker.

        Loading the model and embedding every question takes seconds on a small machine;
        done at the first question, it would outlast the gateway's bot timeout.
        """
        self.__init__(state["settings_factory"])  # type: ignore[misc]
        threading.Thread(target=self.warm_up, name="kb-warm-up", daemon=True).start()

    def encoder(self) -> CachingEncoder | None:
        """The process's encoder with its embedding cache, loaded on first use."""
        with self._encoder_lock:
            if not self._encoder_loaded:
                inner = load_encoder(default_model())
                self._encoder = CachingEncoder(inner) if inner is not None else None
                self._encoder_loaded = True
            return self._encoder

    def warm_up(self) -> None:
        """Load the model and embed the published questions (the seed's before the first import)."""
        started = time.monotonic()
        try:
            encoder = self.encoder()
            articles = asyncio.run(self._published_articles()) or load_seed()
            SearchIndex(articles, encoder)
        except Exception:  # a cold start only costs time: the first question retries everything
            logger.exception("Knowledge base warm-up failed; the first question will load it instead.")
            return
        logger.info("Knowledge base warm: %s articles in %.1f s", len(articles), time.monotonic() - started)

    async def _published_articles(self) -> list[Article]:
        settings = self._settings_factory()
        client = core_db.connect(settings)
        try:
            return await store.published_articles(core_db.database(client, settings))
        finally:
            await client.close()

    def knowledge_base(self) -> tuple[KnowledgeBase, Database]:
        """This loop's KB, created on first use (the model loads once per process)."""
        loop = asyncio.get_running_loop()
        pair = self._per_loop.get(loop)
        if pair is None:
            settings = self._settings_factory()
            db = core_db.database(core_db.connect(settings), settings)
            pair = (KnowledgeBase(db, self.encoder()), db)
            self._per_loop[loop] = pair
        return pair


# The action server's KB provider (rasa_sdk gives actions no other way to receive dependencies).
DEFAULT_KNOWLEDGE_BASES = MongoKnowledgeBases()


def _requested_article(tracker: Tracker) -> str | None:
    """The article a "did you mean" button named, if this message is such a button."""
    for entity in tracker.latest_message.get("entities") or []:
        if isinstance(entity, dict) and entity.get("entity") == "kb_article" and isinstance(entity.get("value"), str):
            return str(entity["value"])
    match = _ARTICLE_PAYLOAD.search(tracker.latest_message.get("text") or "")
    return match.group(1) if match else None


# What the assistant does itself, by intent: the action a how-to question about it leads to (rules.yml's
# entry for a guest; a signed-in customer's block request starts the form).
_ACTION_INTENTS: Final = frozenset({"block_card", "check_balance", "recent_transactions"})
# The NLU's second reading must carry at least this much for a how-to question to go to its action.
_ACTION_READING_MIN = 0.15


def _asked_action(tracker: Tracker, question: str) -> str | None:
    """The action intent a question asks how to do: blocking (by its verbs), or one among the NLU's two best."""
    if "block" in calibrated.asks(question):
        return "block_card"
    for ranked in (tracker.latest_message.get("intent_ranking") or [])[:2]:
        name = ranked.get("name") if isinstance(ranked, dict) else None
        confidence = ranked.get("confidence") if isinstance(ranked, dict) else None
        if name in _ACTION_INTENTS and isinstance(confidence, int | float) and confidence >= _ACTION_READING_MIN:
            return str(name)
    return None


def _small_talk_guess(tracker: Tracker) -> str | None:
    """The small-talk response for the NLU's best non-fallback guess, when that guess is small talk."""
    for ranked in tracker.latest_message.get("intent_ranking") or []:
        name = ranked.get("name") if isinstance(ranked, dict) else None
        if name == "nlu_fallback":
            continue
        confidence = ranked.get("confidence")
        if isinstance(confidence, int | float) and confidence >= SMALL_TALK_MIN_CONFIDENCE:
            return SMALL_TALK_RESPONSES.get(str(name))
        return None
    return None


def _previous_article(tracker: Tracker) -> str | None:
    """The article this action answered in the bot's turn just before this message, if it did."""
    article = tracker.get_slot("kb_last_article")
    if not isinstance(article, str) or not article:
        return None
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return None
            seen_user = True
        elif kind == "action" and seen_user and event.get("name") not in _NEUTRAL_ACTIONS:
            return article if event.get("name") == "action_answer_faq" else None
    return None


# Actions that run on every turn and say nothing: they do not end the previous answer's context.
_NEUTRAL_ACTIONS = frozenset({"action_listen", "action_validate_slot_mappings", None})


def _operator_button(language: Language, reason: str) -> dict[str, str]:
    payload = "/request_operator" + json.dumps({"handoff_reason": reason})
    return {"title": TEXTS["operator_button"][language], "payload": payload}


def _article_button(article_id: str, title: str) -> dict[str, str]:
    return {"title": title, "payload": "/faq" + json.dumps({"kb_article": article_id})}


def _vote_buttons(article_id: str, language: Language) -> list[dict[str, str]]:
    """The "Помогло / Не помогло" buttons: each names the article, so the vote needs no state of its own."""
    return [
        {"title": TEXTS[vote][language], "payload": "/faq" + json.dumps({"kb_article": article_id, "kb_vote": vote})}
        for vote in (HELPFUL, NOT_HELPFUL)
    ]


def _answer(
    dispatcher: CollectingDispatcher,
    article: Article,
    language: Language,
    channel: str,
    *,
    offer: bool = True,
    alternatives: Sequence[tuple[str, str]] = (),
) -> None:
    """The article's answer; then, in chat, the next likely articles ("Не то?…") and "was it helpful?".

    The phone reads buttons out as a key menu the caller must answer, so a call gets the answer (and the
    operator offer); without that offer the line adds an optional "press 1 / 2" vote (VOTE_BY_KEYS).
    """
    text = article.text("voice_answer", language) if channel == "voice" else ""
    dispatcher.utter_message(text=text or article.text("answer", language))
    if article.escalate and offer:
        dispatcher.utter_message(text=TEXTS["escalate"][language], buttons=[_operator_button(language, KB_ESCALATE)])
    if channel == "voice":
        if not (article.escalate and offer):
            dispatcher.utter_message(json_message={VOTE_BY_KEYS: article.id})
        return
    if alternatives:
        buttons = [_article_button(aid, title) for aid, title in alternatives]
        dispatcher.utter_message(text=TEXTS["not_it"][language], buttons=buttons)
    dispatcher.utter_message(text=TEXTS["was_it_helpful"][language], buttons=_vote_buttons(article.id, language))


def _requested_vote(tracker: Tracker) -> str | None:
    """HELPFUL or NOT_HELPFUL when this message is a vote button."""
    for entity in tracker.latest_message.get("entities") or []:
        if (
            isinstance(entity, dict)
            and entity.get("entity") == "kb_vote"
            and entity.get("value") in (HELPFUL, NOT_HELPFUL)
        ):
            return str(entity["value"])
    match = _VOTE_PAYLOAD.search(tracker.latest_message.get("text") or "")
    return match.group(1) if match else None


def _answered_question(tracker: Tracker) -> tuple[str, float]:
    """The customer's words the voted answer replied to (the last message that was not a button) and when."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        text = str(event.get("text") or "")
        if text and not text.startswith("/"):
            return text, float(event.get("timestamp") or 0.0)
    return "", 0.0


class ActionAnswerFaq(Action):
    """Answer from the knowledge base, ask which article was meant, or admit a miss.

    Also runs for messages the NLU reads as out_of_scope: a bank question in words the training data
    lacks ("what's the usd rate today") still gets its article when the knowledge base is confident
    (the thresholds keep off-topic questions below an answer), and the out-of-scope reply otherwise.
    """

    def __init__(self, source: KbSource = DEFAULT_KNOWLEDGE_BASES) -> None:
        self._source = source

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """Search the question and reply by the KB's decision."""
        kb, db = self._source.knowledge_base()
        language, channel = language_of(tracker), channel_of(tracker)
        index = await kb.current()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        vote = _requested_vote(tracker)
        if vote is not None:
            return await self._vote(dispatcher, tracker, kb, db, vote, language, channel)
        requested = _requested_article(tracker) or ARTICLE_FOR_INTENT.get(str(intent))
        if requested is not None and requested in index.articles:
            article = index.articles[requested]
            # A dispute goes to an operator right after this answer (rules.yml): no second offer.
            _answer(dispatcher, article, language, channel, offer=intent not in ARTICLE_FOR_INTENT)
            return _context(
                article=article, offered=article.escalate and intent not in ARTICLE_FOR_INTENT, reason=KB_ESCALATE
            )
        question = (tracker.latest_message.get("text") or "").strip()
        if asks_for_a_person(question):
            # "нужен кредит на машину, позовите специалиста": the person wins over the topic.
            dispatcher.utter_message(text=text(language, "handoff_connecting"))
            dispatcher.utter_message(json_message={"handoff": {"reason": CUSTOMER_REQUEST}})
            return _context(article=None, offered=False)
        result = await kb.query(question, language, 3)
        action = _asked_action(tracker, question)
        if action is not None and not result.sure:
            # "как заблокировать карту?": a how-to question about something the assistant does itself leads
            # to that action (with its sign-in step), not to a neighbouring article.
            return await self._action(action, dispatcher, tracker, domain)
        previous = _previous_article(tracker)
        if previous is not None and previous in index.articles and result.decision != Decision.ANSWER:
            # A follow-up ("а сколько в месяц?", "where do i see the reason") read with the article before it.
            title = index.articles[previous].text("title", language)
            with_context = await kb.query(f"{title}. {question}", language, 3)
            if with_context.decision == Decision.ANSWER or result.decision == Decision.MISS:
                result = with_context
        # A sale is answered from the KB only when the decision is sure: a wrong product's article loses the
        # customer, the sales team does not.
        if result.decision == Decision.ANSWER and (intent != PRODUCT_REQUEST or result.sure):
            article = index.articles[result.hits[0].id]
            alternatives = [(h.id, h.title) for h in result.alternatives if h.id in index.articles]
            _answer(dispatcher, article, language, channel, alternatives=alternatives)
            return _context(article=article, offered=article.escalate, reason=KB_ESCALATE)
        if intent == PRODUCT_REQUEST:
            # A product without an article that answers it: a sale for the sales team (outside its hours
            # the gateway offers a callback). The payload first: text right before it reads as
            # action_handoff's "connecting you", which the gateway replaces with its own notice.
            dispatcher.utter_message(json_message={"handoff": {"reason": SALES_REQUEST, "team": SALES_TEAM}})
            dispatcher.utter_message(text=TEXTS["sales"][language])
            return _context(article=None, offered=False)
        if intent == "out_of_scope":
            # The NLU read it as off-topic and the knowledge base is not sure either: the honest
            # "only bank questions" reply, not a "did you mean" list or a recorded KB gap.
            dispatcher.utter_message(response="utter_out_of_scope")
            return _context(article=None, offered=False)
        if result.decision == Decision.CLARIFY:
            buttons = [
                {"title": h.title, "payload": "/faq" + json.dumps({"kb_article": h.id})} for h in result.hits[:3]
            ]
            # "None of these": a close call may still be a question the KB cannot answer.
            buttons.append(_operator_button(language, KB_NO_ANSWER))
            dispatcher.utter_message(text=TEXTS["did_you_mean"][language], buttons=buttons)
            return _context(article=None, offered=False)
        small_talk = _small_talk_guess(tracker) if intent == "nlu_fallback" else None
        if small_talk is not None:
            dispatcher.utter_message(response=small_talk)
            return _context(article=None, offered=False)
        await store.record_unanswered(
            db,
            text=question,
            language=language,
            channel=channel,
            conversation_id=tracker.sender_id,
            now=datetime.now(UTC),
        )
        dispatcher.utter_message(text=TEXTS["dont_know"][language], buttons=[_operator_button(language, KB_NO_ANSWER)])
        dispatcher.utter_message(json_message={"fallback": KB_NO_ANSWER})
        return _context(article=None, offered=True, reason=KB_NO_ANSWER)

    async def _action(
        self, intent: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """What the intent's own rule would do: the balance or transactions action, the block sign-in or form."""
        if intent == "check_balance":
            return await ActionCheckBalance().run(dispatcher, tracker, domain)
        if intent == "recent_transactions":
            return await ActionRecentTransactions().run(dispatcher, tracker, domain)
        if verified_customer_id(tracker):
            return [FollowupAction("block_card_form")]
        # A guest: the sign-in notice with its operator offer; "да" then hands off as after blocking.
        dispatcher.utter_message(response="utter_block_card_sign_in")
        return _context(article=None, offered=True, reason=BLOCK_CARD_UNVERIFIED)

    async def _vote(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        kb: KnowledgeBase,
        db: Database,
        vote: str,
        language: Language,
        channel: str,
    ) -> list[EventType]:
        """Keep the vote (once per answered question); "Не помогло" offers the alternatives or an operator."""
        article_id = _requested_article(tracker) or ""
        question, asked_at = _answered_question(tracker)
        now = datetime.now(UTC)
        await store.record_vote(
            db,
            vote_id=f"{tracker.sender_id}:{article_id}:{asked_at:.6f}",
            article_id=article_id,
            question=question,
            helpful=vote == HELPFUL,
            language=language,
            channel=channel,
            conversation_id=tracker.sender_id,
            now=now,
        )
        if vote == HELPFUL:
            dispatcher.utter_message(text=TEXTS["thanks_for_vote"][language])
            return _context(article=None, offered=False)
        if question:
            await store.record_unanswered(
                db,
                text=question,
                language=language,
                channel=channel,
                conversation_id=tracker.sender_id,
                now=now,
                not_helpful_article=article_id or None,
            )
        result = await kb.query(question, language, 4) if question else None
        others = [h for h in (result.hits if result else []) if h.id != article_id][:2]
        if others:
            buttons = [_article_button(h.id, h.title) for h in others]
            buttons.append(_operator_button(language, KB_NO_ANSWER))
            dispatcher.utter_message(text=TEXTS["sorry_alternatives"][language], buttons=buttons)
        else:
            dispatcher.utter_message(
                text=TEXTS["sorry_operator"][language], buttons=[_operator_button(language, KB_NO_ANSWER)]
            )
        return _context(article=None, offered=True, reason=KB_NO_ANSWER)


def _context(*, article: Article | None, offered: bool, reason: str | None = None) -> list[EventType]:
    """The slots the next turn reads: the article answered, and whether (and why) an operator was offered."""
    return [
        SlotSet("kb_last_article", article.id if article is not None else None),
        SlotSet("operator_offered", offered),
        SlotSet("handoff_reason", reason if offered else None),
    ]
