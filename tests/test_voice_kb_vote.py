"""After a knowledge-base answer on the phone, a caller who stays on the line may say with one key whether it helped.

Against the real platform (FerretDB, actions, Rasa): Twilio's webhook posts replayed as it sends them
(signed with the account's token; Twilio itself is the one fake), and Asterisk's FastAGI dialled by a
scripted Asterisk. The vote is stored as the chat's "Помогло / Не помогло" buttons store it (kb_votes,
with the caller's question); a caller who asks something else or stays silent is never held for it.
"""

from __future__ import annotations

from typing import Any

from core.db import Database
from core.keys import DB_KEY

from .channel_support import AsteriskScript, asterisk_call
from .test_voice_english_call import Call, Gateway, said, spoken
from .test_voice_english_call import gateway as gateway  # the fixture, shared

VOTE_RU = "Если ответ помог, нажмите 1, если нет — 2."


async def votes(client: Gateway, bank: Database, call_id: str) -> list[dict[str, Any]]:
    """The votes the bot (on the platform's database) kept for this call's conversation."""
    state = await client.app[DB_KEY].voice_calls.find_one({"_id": call_id})
    assert state is not None and state["conversation_id"]
    return [v async for v in bank.kb_votes.find({"conversation_id": state["conversation_id"]})]


async def test_a_caller_presses_1_after_an_answer_and_the_vote_is_kept_with_the_question(
    gateway: tuple[Gateway, int], bank: Database
) -> None:
    client, _ = gateway
    await client.app[DB_KEY].voice_callers.delete_many({})
    call = Call(client)
    await call.rings()

    answer = await call.says("еду в грузию, карта будет работать?")
    texts = [text for _, text in said(answer)]
    assert texts[0].startswith("Список стран, где принимают карты Демо-Банка"), texts
    assert texts[-2:] == [VOTE_RU, "Чем ещё могу помочь?"]
    gather = answer.find("Gather")
    assert gather is not None and gather.attrib["numDigits"] == "1", "one key is the whole vote"
    assert "speech" in gather.attrib["input"], "the caller may just as well ask the next question"

    thanks = await call.presses("1")
    assert spoken(thanks) == "Спасибо, что оценили ответ! Чем ещё могу помочь?"
    [vote] = await votes(client, bank, "twiml:" + call.sid)
    assert vote["channel"] == "voice" and vote["article_id"] == "card_abroad" and vote["helpful"] is True
    assert vote["question"] == "еду в грузию, карта будет работать?"


async def test_not_helpful_by_key_offers_the_next_articles_or_an_operator_and_feeds_the_inbox(
    gateway: tuple[Gateway, int], bank: Database
) -> None:
    client, _ = gateway
    await client.app[DB_KEY].voice_callers.delete_many({})
    call = Call(client)
    await call.rings()
    await call.says("как активировать новую карту")

    sorry = await call.presses("2")
    text = spoken(sorry)
    assert text.startswith("Жаль, что ответ не помог"), text
    assert "Чтобы поговорить с оператором, нажмите" in text, "the choices are read as a key menu"
    [vote] = await votes(client, bank, "twiml:" + call.sid)
    assert vote["article_id"] == "card_activation" and vote["helpful"] is False
    inbox = await bank.kb_unanswered.find_one({"conversation_id": vote["conversation_id"]})
    assert inbox is not None and inbox["text"] == "как активировать новую карту"
    assert inbox["not_helpful_article"] == "card_activation"


async def test_a_caller_who_asks_on_or_stays_silent_is_not_held_for_a_vote(
    gateway: tuple[Gateway, int], bank: Database
) -> None:
    client, _ = gateway
    await client.app[DB_KEY].voice_callers.delete_many({})
    call = Call(client)
    await call.rings()
    first = await call.says("как активировать новую карту")
    assert VOTE_RU in spoken(first)

    # The next question instead of a key: answered, and the earlier answer is not voted on.
    second = await call.says("какие часы работы отделений")
    assert VOTE_RU in spoken(second)
    # Silence: the line asks once whether the caller is still there, then says goodbye; no key, no vote.
    still = await call._post("/voice/twiml/gather")
    assert spoken(still) == "Вы на линии? Если нужно что-то ещё, просто скажите."
    # A 1 now is not a vote on an answer two turns back.
    await call.presses("1")
    assert await votes(client, bank, "twiml:" + call.sid) == []


async def test_a_caller_on_the_asterisk_line_votes_with_a_key(gateway: tuple[Gateway, int], bank: Database) -> None:
    client, port = gateway
    await client.app[DB_KEY].voice_callers.delete_many({})
    script = AsteriskScript(
        answers={
            # Greeting and its prompts pass; the question is recognised; key 1 while the answer is read.
            "GET VARIABLE": ["200 result=1 (как активировать новую карту)"],
            "GET DATA": ["200 result= (timeout)", "200 result=1"],
        }
    )
    commands = await asterisk_call(port, script, caller="+79160000888", uniqueid="1700000300.1")

    assert any(c.startswith("GET DATA") and c.endswith(" 1") for c in commands), "the vote waits for one key"
    [vote] = await votes(client, bank, "agi:1700000300.1")
    assert vote["article_id"] == "card_activation" and vote["helpful"] is True
    assert vote["question"] == "как активировать новую карту"
