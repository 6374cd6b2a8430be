"""Every customer-facing sentence of the custom actions, Russian first, then English."""

from __future__ import annotations

from typing import Final

from core.language import Language

TEXTS: Final[dict[str, dict[Language, str]]] = {
    # Same text for every unverified customer, whatever id they claim: it must not tell whether an account exists.
    "sign_in_required": {
        "ru": (
            "Чтобы посмотреть баланс или операции, войдите в интернет-банк или мобильное приложение "
            "Демо-Банка и напишите мне оттуда: так я буду уверен, что говорю именно с вами. "
            "Без входа я не показываю данные о картах и счетах."
        ),
        "en": (
            "To see balances or transactions, please sign in to Demo-Bank online banking or the mobile app "
            "and write to me from there, so I can be sure I'm talking to you. "
            "I don't show any card or account details without signing in."
        ),
    },
    # Issue 20: a guest in a chat that has a sign-in gets it as a button ("/sign_in", which the web chat
    # opens as its own sign-in) and the self-service path; the same text whoever they claim to be.
    "sign_in_balance": {
        "ru": (
            "Покажу баланс, как только вы войдёте: так я буду уверен, что говорю именно с вами. "
            "Нажмите «Войти». Баланс также видно в приложении Демо-Банка на главном экране."
        ),
        "en": (
            "I'll show your balance as soon as you sign in, so I can be sure I'm talking to you. "
            'Tap "Sign in". You can also see your balance on the home screen of the Demo-Bank app.'
        ),
    },
    "sign_in_transactions": {
        "ru": (
            "Покажу последние операции, как только вы войдёте: так я буду уверен, что говорю именно с вами. "
            "Нажмите «Войти». Все операции также есть в приложении Демо-Банка в разделе «История»."
        ),
        "en": (
            "I'll show your recent transactions as soon as you sign in, so I can be sure I'm talking to you. "
            'Tap "Sign in". You can also see every transaction in the Demo-Bank app under "History".'
        ),
    },
    "sign_in_button": {"ru": "Войти", "en": "Sign in"},
    "backend_unavailable": {
        "ru": "Не получается получить данные из банка прямо сейчас. Попробуйте чуть позже или позовите оператора.",
        "en": "I can't reach the bank's systems right now. Please try again a little later or ask for an operator.",
    },
    "balance_summary_header": {"ru": "Ваши продукты:", "en": "Your products:"},
    "balance_cards_header": {"ru": "Баланс по картам:", "en": "Card balances:"},
    "balance_accounts_header": {"ru": "Баланс по счетам:", "en": "Account balances:"},
    "balance_credit_header": {"ru": "Кредитные карты:", "en": "Credit cards:"},
    "balance_card_line": {"ru": "• {card}: {balance}", "en": "• {card}: {balance}"},
    "balance_credit_line": {
        "ru": "• {card}: доступно {available} из лимита {limit}",
        "en": "• {card}: {available} available of a {limit} limit",
    },
    "balance_account_line": {"ru": "• {account} {number}: {balance}", "en": "• {account} {number}: {balance}"},
    "blocked_suffix": {"ru": " (заблокирована)", "en": " (blocked)"},
    "account_current": {"ru": "Текущий счёт", "en": "Current account"},
    "account_savings": {"ru": "Накопительный счёт", "en": "Savings account"},
    "no_cards": {"ru": "У вас нет дебетовых карт.", "en": "You have no debit cards."},
    "no_credit_cards": {"ru": "У вас нет кредитных карт.", "en": "You have no credit cards."},
    "no_accounts": {"ru": "У вас нет открытых счетов.", "en": "You have no open accounts."},
    "no_products": {
        "ru": "Я не нашёл у вас ни карт, ни счетов. Если это ошибка, позовите оператора.",
        "en": "I couldn't find any cards or accounts of yours. If that's wrong, please ask for an operator.",
    },
    "card_not_found": {
        "ru": "Я не нашёл у вас карту, номер которой заканчивается на {last4}.",
        "en": "I couldn't find a card of yours ending in {last4}.",
    },
    "transactions_header": {"ru": "Последние операции:", "en": "Recent transactions:"},
    "transactions_card_header": {"ru": "Последние операции по карте {card}:", "en": "Recent transactions on {card}:"},
    "transaction_line": {"ru": "• {date} {merchant}: {amount}", "en": "• {date} {merchant}: {amount}"},
    "no_transactions": {"ru": "Операций пока нет.", "en": "There are no transactions yet."},
    "ask_card_last4": {
        "ru": "Какую карту заблокировать? Напишите последние четыре цифры её номера или выберите карту ниже.",
        "en": "Which card should I block? Type the last four digits of its number or choose the card below.",
    },
    "card_last4_invalid": {
        "ru": "Мне нужны только последние четыре цифры номера карты, например 1234.",
        "en": "I only need the last four digits of the card number, for example 1234.",
    },
    "card_unknown": {
        "ru": "Я не нашёл у вас карту, номер которой заканчивается на {last4}. Проверьте цифры и напишите их ещё раз.",
        "en": "I couldn't find a card of yours ending in {last4}. Please check the digits and type them again.",
    },
    "card_already_blocked": {
        "ru": (
            "Карта {card} уже заблокирована, расплатиться ею нельзя. Новую карту можно заказать в приложении: "
            "«Карты» → «Перевыпустить карту»."
        ),
        "en": (
            "The card {card} is already blocked, so no one can pay with it. You can order a new card in the app: "
            "Cards → Reissue card."
        ),
    },
    "ask_block_confirmed": {
        "ru": "Заблокировать карту {card}? Расплатиться ею будет нельзя, разблокировать её в чате не получится.",
        "en": "Shall I block the card {card}? It will stop working for payments, and it can't be unblocked in chat.",
    },
    "button_yes": {"ru": "Да", "en": "Yes"},
    "button_no": {"ru": "Нет", "en": "No"},
    "card_blocked": {
        "ru": (
            "Готово: карта {card} заблокирована, расплатиться ею больше нельзя. Новую карту можно заказать "
            "в приложении («Карты» → «Перевыпустить карту») или в любом отделении, она будет готова за 5 рабочих дней."
        ),
        "en": (
            "Done: the card {card} is blocked and can no longer be used for payments. You can order a new card "
            "in the app (Cards → Reissue card) or at any branch; it will be ready within 5 working days."
        ),
    },
    "block_denied": {
        "ru": "Хорошо, я ничего не блокировал. Карта {card} продолжает работать.",
        "en": "All right, I haven't blocked anything. The card {card} keeps working.",
    },
    "block_denied_no_card": {
        "ru": "Хорошо, я ничего не блокировал.",
        "en": "All right, I haven't blocked anything.",
    },
    "block_failed": {
        "ru": (
            "Не получилось заблокировать карту {card}. Позвоните, пожалуйста, на круглосуточную линию "
            "8 800 000-00-00 или нажмите «Заблокировать карту» в приложении."
        ),
        "en": (
            "I couldn't block the card {card}. Please call our 24/7 hotline "
            "8 800 000-00-00 or tap Block card in the app."
        ),
    },
    "handoff_connecting": {
        "ru": "Соединяю вас с оператором. Пожалуйста, подождите: первый освободившийся специалист ответит в этом чате.",
        "en": (
            "I'm connecting you to an operator. Please wait: the first available specialist will answer in this chat."
        ),
    },
}


def text(language: Language, key: str, **values: str) -> str:
    """The sentence `key` in the language, with `{placeholders}` filled in.

    Raises:
        KeyError: for an unknown key, so a typo fails in tests rather than in front of a customer.
    """
    template = TEXTS[key][language]
    return template.format(**values) if values else template
