"""How-to questions about what the assistant does itself (issue 20), for tests/test_how_to_actions.py and
bench/how_to_actions.py. Written for the test; none is a training example (bot/data/nlu/*_answers.yml)."""

from __future__ import annotations

# (phrasing, language, action the reply must offer)
HOW_TO_PHRASINGS: list[tuple[str, str, str]] = [
    ("как заблокировать карту?", "ru", "block_card"),
    ("как заблокировать карту в приложении", "ru", "block_card"),
    ("как можно заблокировать карточку", "ru", "block_card"),
    ("подскажите, как заблокировать банковскую карту", "ru", "block_card"),
    ("как мне срочно заблокировать карту", "ru", "block_card"),
    ("как заблокировать карту если ее украли", "ru", "block_card"),
    ("что делать чтобы заблокировать кредитку", "ru", "block_card"),
    ("как заморозить карточку", "ru", "block_card"),
    ("how do I block my card?", "en", "block_card"),
    ("how can I freeze my card", "en", "block_card"),
    ("how do i block a card i lost", "en", "block_card"),
    ("how to lock my card quickly", "en", "block_card"),
    ("how do I block my credit card", "en", "block_card"),
    ("how can i stop my stolen card", "en", "block_card"),
    ("how to put my card on hold", "en", "block_card"),
    ("как узнать баланс?", "ru", "check_balance"),
    ("как посмотреть баланс карты", "ru", "check_balance"),
    ("где посмотреть сколько денег на карте", "ru", "check_balance"),
    ("как проверить остаток на счёте", "ru", "check_balance"),
    ("подскажите как узнать сколько у меня денег", "ru", "check_balance"),
    ("где узнать баланс кредитки", "ru", "check_balance"),
    ("как посмотреть доступный остаток", "ru", "check_balance"),
    ("how do I check my balance", "en", "check_balance"),
    ("how can i see how much money i have", "en", "check_balance"),
    ("where do i check my card balance", "en", "check_balance"),
    ("how do i find my account balance", "en", "check_balance"),
    ("how to check the available balance", "en", "check_balance"),
    ("how can I view my balance", "en", "check_balance"),
    ("где посмотреть операции", "ru", "recent_transactions"),
    ("как посмотреть последние операции", "ru", "recent_transactions"),
    ("где увидеть историю покупок", "ru", "recent_transactions"),
    ("как проверить списания по карте", "ru", "recent_transactions"),
    ("где найти историю транзакций", "ru", "recent_transactions"),
    ("как узнать последние платежи", "ru", "recent_transactions"),
    ("как посмотреть поступления на счёт", "ru", "recent_transactions"),
    ("how do i see my transactions", "en", "recent_transactions"),
    ("where can i see my recent payments", "en", "recent_transactions"),
    ("how to check my purchase history", "en", "recent_transactions"),
    ("where do i find my card transactions", "en", "recent_transactions"),
    ("how can i view the latest charges", "en", "recent_transactions"),
    ("how do I look at my account activity", "en", "recent_transactions"),
]

# The start of the reply a guest gets for each action: the action offered with the sign-in step.
OFFERS: dict[str, dict[str, str]] = {
    "block_card": {"ru": "Могу заблокировать карту прямо сейчас", "en": "I can block the card right now"},
    "check_balance": {"ru": "Покажу баланс, как только вы войдёте", "en": "I'll show your balance as soon as"},
    "recent_transactions": {
        "ru": "Покажу последние операции, как только вы войдёте",
        "en": "I'll show your recent transactions as soon as",
    },
}
