"""The phone line follows the language the caller speaks (issue 20), replaying Twilio's own webhook posts.

Twilio's <Gather> listens in one language; when the caller's words come through in the other script
(several words, the chat's rule), the call switches: the reply, the prompts, the next <Gather>'s
recognizer and the number's remembered choice. A recognizer that hears nothing it understands twice at
the start offers the language choice again, in both languages. A sentence after "Соединить вас с
оператором?" that is not a yes or a no does not end the call. Twilio is the one fake: its form posts
are replayed as it sends them, signed with the account's token.
"""

from __future__ import annotations

import re
from typing import Any

from core.keys import DB_KEY

from .channel_support import AsteriskScript, asterisk_call
from .test_voice_english_call import IVAN_PHONE, Call, Gateway, recognizer, said, spoken
from .test_voice_english_call import gateway as gateway  # the fixture, shared

_CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def in_english(response: Any) -> bool:
    return all(lang == "en-US" for lang, _ in said(response)) and not _CYRILLIC.search(spoken(response))


async def test_an_english_caller_on_the_russian_line_is_answered_in_english_without_pressing_9(
    gateway: tuple[Gateway, int],
) -> None:
    client, _ = gateway
    await client.app[DB_KEY].voice_callers.delete_many({})
    call = Call(client)
    assert recognizer(await call.rings()) == "ru-RU"

    answer = await call.says("how do I activate my new card")
    assert spoken(answer).startswith("To activate your card, set a PIN in the mobile app."), spoken(answer)
    assert in_english(answer)
    assert recognizer(answer) == "en-US", "the next <Gather> listens in English"
    chosen = await client.app[DB_KEY].voice_callers.find_one({"_id": IVAN_PHONE})
    assert chosen is not None and chosen["language"] == "en"


async def test_a_caller_who_switched_to_russian_and_speaks_english_is_answered_in_english(
    gateway: tuple[Gateway, int],
) -> None:
    client, _ = gateway
    await client.app[DB_KEY].voice_callers.delete_many({})
    call = Call(client)
    await call.rings()
    await call.presses("9")  # English
    russian = await call.says("по-русски, пожалуйста")
    assert recognizer(russian) == "ru-RU"

    lost = await call.says("I need to know the opening hours of your branches")
    assert in_english(lost), said(lost)
    assert recognizer(lost) == "en-US"


async def test_twice_not_understood_at_the_start_offers_the_language_again_in_both(
    gateway: tuple[Gateway, int],
) -> None:
    client, _ = gateway
    await client.app[DB_KEY].voice_callers.delete_many({})
    call = Call(client)
    await call.rings()
    first = await call._post("/voice/twiml/gather", SpeechResult="ай нид хелп", Confidence="0.12")
    assert said(first) == [("ru-RU", "Извините, я не расслышал. Повторите, пожалуйста.")]
    second = await call._post("/voice/twiml/gather", SpeechResult="хелп ми плиз", Confidence="0.1")
    assert said(second) == [
        ("ru-RU", "Извините, я не расслышал. Повторите, пожалуйста."),
        ("en-US", "For English, press 9, or say: English."),
    ]
    english = await call.says("инглиш")
    assert recognizer(english) == "en-US"


async def test_a_problem_told_after_the_operator_question_does_not_end_the_call(
    gateway: tuple[Gateway, int],
) -> None:
    client, _ = gateway
    await client.app[DB_KEY].voice_callers.delete_many({})
    call = Call(client)
    await call.rings()
    offer = await call.says("сколько стоит аренда сейфовой ячейки")
    assert "Соединить вас с оператором?" in spoken(offer), spoken(offer)

    problem = await call.says("my card was stolen yesterday and somebody is paying with it")
    assert problem.find("Hangup") is None, "the call goes on while the problem is open"
    assert problem.find("Gather") is not None or problem.find("Enqueue") is not None
    assert in_english(problem), said(problem)
    state = await client.app[DB_KEY].voice_calls.find_one({"_id": "twiml:" + call.sid})
    assert state is not None and state.get("end_reason") is None


async def test_english_words_from_a_bilingual_recognizer_switch_the_asterisk_call(
    gateway: tuple[Gateway, int],
) -> None:
    client, port = gateway
    await client.app[DB_KEY].voice_callers.delete_many({})
    script = AsteriskScript(
        answers={
            "STREAM": ["200 result=0 endpos=16000"] * 3,
            "GET DATA": ["200 result= (timeout)"] * 3,
            # The Russian line's recognizer variable carries English words (a bilingual recognizer).
            "GET VARIABLE": ["200 result=1 (how do I activate my new card)", "200 result=1 (operator please)"],
        }
    )
    commands = await asterisk_call(port, script, caller="+79160000777", uniqueid="1700000200.1")

    assert commands[0] == 'SET VARIABLE CC_LANGUAGE "ru"'
    switched = commands.index('SET VARIABLE CC_LANGUAGE "en"')
    assert commands.index("GET VARIABLE SPEECH_RU") < switched
    assert "GET VARIABLE SPEECH_EN" in commands[switched:], "the next words are read from the English recognizer"
    db = client.app[DB_KEY]
    conversation = await db.conversations.find_one({"channel": "voice"})
    assert conversation is not None and conversation["language"] == "en"
    bot = [m["text"] async for m in db.messages.find({"conversation_id": conversation["_id"], "author": "bot"})]
    assert bot and bot[0].startswith("To activate your card, set a PIN"), bot
    chosen = await db.voice_callers.find_one({"_id": "+79160000777"})
    assert chosen is not None and chosen["language"] == "en"
