"""Query and document normalisation: case, ё/е, transliterated Russian, common slang, stems and character n-grams."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[0-9a-zа-яё]+", re.IGNORECASE)
_LATIN = re.compile(r"^[a-z]+$")

# Longest first: "shch" must win over "sh" + "ch".
_TRANSLIT = [
    ("shch", "щ"), ("sch", "щ"), ("yo", "е"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("ch", "ч"), ("sh", "ш"),
    ("yu", "ю"), ("ya", "я"), ("ye", "е"), ("a", "а"), ("b", "б"), ("v", "в"), ("g", "г"), ("d", "д"), ("e", "е"),
    ("z", "з"), ("i", "и"), ("j", "й"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"),
    ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("f", "ф"), ("h", "х"), ("c", "ц"), ("y", "ы"), ("w", "в"),
    ("x", "кс"), ("q", "к"),
]  # fmt: skip

# Colloquial words customers type for banking terms, mapped to the word the articles use.
# General chat slang only; article-specific phrasing belongs in the articles' own questions.
_SLANG_RU = {
    "че": "что", "чо": "что", "шо": "что", "скока": "сколько", "скоко": "сколько", "щас": "сейчас",
    "плиз": "пожалуйста", "пжл": "пожалуйста", "пж": "пожалуйста", "спс": "спасибо",
    "приложуха": "приложение", "приложуху": "приложение", "приложухе": "приложение", "прилага": "приложение",
    "прилагу": "приложение", "аппка": "приложение",
    "карточка": "карта", "карточку": "карту", "карточки": "карты", "карточкой": "картой", "карте": "карте",
    "кредитка": "кредитная", "кредитку": "кредитную", "кредитке": "кредитной", "кредитки": "кредитной",
    "налик": "наличные", "налички": "наличных", "наличка": "наличные", "наличку": "наличные", "нал": "наличные",
    "кэш": "наличные", "кеш": "наличные",
    "пинкод": "пин", "пинкода": "пин", "пинкоде": "пин",
    "смска": "смс", "смску": "смс", "смски": "смс", "смсок": "смс", "эсэмэс": "смс",
    "симка": "сим", "симку": "сим", "симкарта": "сим",
    "кэшбек": "кешбэк", "кэшбэк": "кешбэк", "кешбек": "кешбэк", "кэшбэка": "кешбэк", "кешбека": "кешбэк",
    "разблочьте": "разблокируйте", "разблочить": "разблокировать", "заблочили": "заблокировали",
    "заблочить": "заблокировать", "заблочьте": "заблокируйте",
    "бабки": "деньги", "бабло": "деньги", "лавэ": "деньги",
    "банкомат": "банкомат",
}  # fmt: skip
_SLANG_EN = {
    "u": "you", "ur": "your", "pls": "please", "plz": "please", "thx": "thanks", "cant": "cannot",
    "dont": "do not", "didnt": "did not", "doesnt": "does not", "hasnt": "has not", "isnt": "is not",
    "wont": "will not", "whats": "what is", "im": "i am", "atm": "atm", "app's": "app",
}  # fmt: skip

STOPWORDS = {
    "ru": frozenset(
        "и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот от "
        "меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять уж "
        "вам ведь там потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без "
        "будто чего раз тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один "
        "почти мой тем чтобы нее сейчас были куда зачем всех никогда можно при наконец два об другой хоть после "
        "над больше тот через эти нас про всего них какая много разве три эту моя впрочем хорошо свою этой перед "
        "иногда лучше чуть том нельзя такой им более всегда конечно всю между это пожалуйста ваш ваши вашей ваша "
        "мою моей мой мне".split()
    ),
    "en": frozenset(
        "a an the and or but if of at by for with about to from in on is are was were be been being do does did "
        "i me my we our you your he she it its they them their this that these those am have has had what which "
        "who whom can could would should will shall may might must so than too very just please there here not "
        "up out".split()
    ),
}


def translit_to_cyrillic(word: str) -> str:
    """Russian typed in Latin letters ("perevod") back to Cyrillic ("перевод")."""
    out: list[str] = []
    i = 0
    while i < len(word):
        for latin, cyr in _TRANSLIT:
            if word.startswith(latin, i):
                out.append(cyr)
                i += len(latin)
                break
        else:
            out.append(word[i])
            i += 1
    return "".join(out)


def words(text: str, language: str) -> list[str]:
    """Lower-case words with ё→е, slang replaced and, for Russian, Latin words also given in Cyrillic.

    Args:
        text: Raw text (a query or an article field).
        language: "ru" or "en"; decides the slang table and whether to transliterate.

    Returns:
        The normalised words, in order; a transliterated word follows its original.
    """
    slang = _SLANG_RU if language == "ru" else _SLANG_EN
    result: list[str] = []
    for raw in _WORD.findall(text.lower().replace("ё", "е")):
        word = slang.get(raw, raw)
        for part in word.split():
            result.append(part)
            if language == "ru" and _LATIN.match(part) and len(part) > 2:
                result.append(slang.get(translit_to_cyrillic(part), translit_to_cyrillic(part)))
    return result


_PER_THREAD = threading.local()


def _stemmer(language: str) -> snowballstemmer.stemmer:
    """One stemmer per thread and language.

    A Snowball stemmer keeps the word being stemmed in itself: two index builds in threads at once
    (two gateways starting in one process) broke each other's words.
    """
    stemmers: dict[str, snowballstemmer.stemmer] = _PER_THREAD.__dict__.setdefault("stemmers", {})
    if language not in stemmers:
        stemmers[language] = snowballstemmer.stemmer("russian" if language == "ru" else "english")
    return stemmers[language]


def stems(text: str, language: str) -> list[str]:
    """Snowball stems of the content words (stop words dropped) of a text."""
    stop = STOPWORDS.get(language, frozenset())
    content = [w for w in words(text, language) if w not in stop]
    return [_stem(w) for w in content]


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    """One word's stem, remembered: Snowball in pure Python was most of an index build at 10,000 articles."""
    # Cyrillic words go to the Russian stemmer even in English text and vice versa.
    return str(_stemmer("ru" if _is_cyrillic(word) else "en").stemWord(word))


def _is_cyrillic(word: str) -> bool:
    return any("а" <= ch <= "я" for ch in word)


def char_ngrams(text: str, language: str, sizes: tuple[int, ...] = (3, 4)) -> list[str]:
    """Character n-grams inside each padded word: they survive typos and endings the stemmer misses."""
    grams: list[str] = []
    stop = STOPWORDS.get(language, frozenset())
    for word in words(text, language):
        if word in stop:
            continue
        padded = f" {word} "
        for size in sizes:
            grams.extend(padded[i : i + size] for i in range(max(1, len(padded) - size + 1)))
    return grams
