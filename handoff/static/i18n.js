// UI language of the operator console and the supervisor page: Russian first, English second.
// The same scheme as the knowledge-base editor (knowledge_base/static/editor.js): keyed texts per language,
// data-i18n / data-i18n-placeholder / data-i18n-aria-label in the HTML, a RU/EN switch of aria-pressed
// buttons whose choice is kept under the editor's localStorage key, so it carries between the staff pages.
// Customer and operator message texts are content and are never translated.
"use strict";

const I18N = (() => {
  const MESSAGES = {
    ru: {
      "uiLang.group": "Язык интерфейса",
      "console.title": "Консоль оператора — Демо-Банк",
      "signIn.heading": "Консоль оператора",
      "signIn.login": "Логин",
      "signIn.password": "Пароль",
      "signIn.submit": "Войти",
      "header.status": "Статус",
      "header.signOut": "Выйти",
      "opStatus.online": "на линии",
      "opStatus.away": "отошёл",
      "opStatus.offline": "не в сети",
      "connection.offline": "нет связи",
      "connection.live": "на связи",
      "connection.reconnecting": "переподключение",
      "lists.queue": "Очередь",
      "lists.mine": "Мои разговоры",
      "lists.callbacks": "Обратные звонки",
      "lists.take": "Взять",
      "callback.callback": "перезвонить",
      "callback.message": "сообщение",
      "conv.heading": "Разговор",
      "facts.reason": "Причина:",
      "facts.slots": "Слоты:",
      "facts.customer": "Клиент:",
      "facts.earlier": "Ранее:",
      "facts.kb": "База знаний:",
      "facts.notVerified": "(не подтверждён)",
      "typing": "клиент печатает…",
      "notes.heading": "Заметки",
      "compose.canned": "Шаблон ответа…",
      "compose.reply": "Ответ клиенту",
      "compose.send": "Отправить",
      "compose.note": "Добавить заметку (клиент её не видит)",
      "actions.transferTarget": "Кому передать",
      "actions.transferNote": "Заметка для коллеги",
      "actions.transfer": "Передать",
      "actions.returnToBot": "Вернуть боту",
      "actions.resolution": "Итог",
      "actions.close": "Закрыть",
      "team": "группа: {team}",
      "team.cards": "карты",
      "team.loans": "кредиты",
      "banner.transferred": "Передано.",
      "banner.returned": "Возвращено боту.",
      "banner.closed": "Закрыто.",
      "banner.takenBy": "Разговор взял(а) {name}",
      "state.bot": "с ботом",
      "state.queued": "в очереди",
      "state.assigned": "у оператора",
      "state.closed": "закрыт",
      "reason.customer_request": "просьба клиента",
      "reason.complaint": "жалоба",
      "reason.bot_unavailable": "бот недоступен",
      "reason.block_card_unverified": "блокировка карты без проверки",
      "reason.nlu_fallback": "бот не понял",
      "reason.kb_no_answer": "нет ответа в базе знаний",
      "reason.kb_escalate": "статья просит оператора",
      "reason.other": "другое",
      "resolution.resolved": "решено",
      "resolution.information_given": "информация дана",
      "resolution.card_blocked": "карта заблокирована",
      "resolution.complaint_registered": "жалоба принята",
      "resolution.callback_arranged": "назначен звонок",
      "resolution.no_response": "клиент не ответил",
      "resolution.other": "другое",
      "author.customer": "клиент",
      "author.operator": "оператор",
      "author.bot": "бот",
      "author.system": "система",
      "supervisor.title": "Супервизор — Демо-Банк",
      "supervisor.heading": "Супервизор",
      "supervisor.console": "консоль",
      "supervisor.queues": "Очереди",
      "supervisor.operators": "Операторы",
      "supervisor.figures": "Показатели",
      "supervisor.from": "С",
      "supervisor.to": "По",
      "supervisor.show": "Показать",
      "col.language": "язык",
      "col.team": "группа",
      "col.waiting": "ждут",
      "col.oldestWait": "дольше всех ждёт, с",
      "col.operator": "оператор",
      "col.status": "статус",
      "col.load": "разговоров",
      "col.capacity": "максимум",
      "col.figure": "показатель",
      "col.value": "значение",
      "team.any": "любая",
      "figure.period_from": "период с",
      "figure.period_to": "период по",
      "figure.conversations": "разговоров",
      "figure.escalated": "передано операторам",
      "figure.containment_rate": "доля решённых ботом",
      "figure.escalation_rate_by_reason": "доля передач по причине",
      "figure.wait_avg_seconds": "ожидание в среднем, с",
      "figure.wait_p90_seconds": "ожидание p90, с",
      "figure.first_response_avg_seconds": "первый ответ в среднем, с",
      "figure.first_response_p90_seconds": "первый ответ p90, с",
      "figure.handle_avg_seconds": "обслуживание в среднем, с",
      "figure.resolutions": "итоги",
      "figure.rating_avg": "средняя оценка",
      "figure.ratings": "оценок",
    },
    en: {
      "uiLang.group": "Interface language",
      "console.title": "Operator console — Demo-Bank",
      "signIn.heading": "Operator console",
      "signIn.login": "Login",
      "signIn.password": "Password",
      "signIn.submit": "Sign in",
      "header.status": "Status",
      "header.signOut": "Sign out",
      "opStatus.online": "online",
      "opStatus.away": "away",
      "opStatus.offline": "offline",
      "connection.offline": "offline",
      "connection.live": "live",
      "connection.reconnecting": "reconnecting",
      "lists.queue": "Queue",
      "lists.mine": "My conversations",
      "lists.callbacks": "Callbacks",
      "lists.take": "Take",
      "callback.callback": "call back",
      "callback.message": "message",
      "conv.heading": "Conversation",
      "facts.reason": "Reason:",
      "facts.slots": "Slots:",
      "facts.customer": "Customer:",
      "facts.earlier": "Earlier:",
      "facts.kb": "KB:",
      "facts.notVerified": "(not verified)",
      "typing": "customer is typing…",
      "notes.heading": "Notes",
      "compose.canned": "Canned response…",
      "compose.reply": "Reply to the customer",
      "compose.send": "Send",
      "compose.note": "Add private note",
      "actions.transferTarget": "Transfer to",
      "actions.transferNote": "Note for the colleague",
      "actions.transfer": "Transfer",
      "actions.returnToBot": "Return to bot",
      "actions.resolution": "Resolution",
      "actions.close": "Close",
      "team": "team: {team}",
      "team.cards": "cards",
      "team.loans": "loans",
      "banner.transferred": "Transferred.",
      "banner.returned": "Returned to the bot.",
      "banner.closed": "Closed.",
      "banner.takenBy": "Taken by {name}",
      "state.bot": "with the bot",
      "state.queued": "queued",
      "state.assigned": "assigned",
      "state.closed": "closed",
      "reason.customer_request": "customer request",
      "reason.complaint": "complaint",
      "reason.bot_unavailable": "bot unavailable",
      "reason.block_card_unverified": "card block, unverified",
      "reason.nlu_fallback": "bot did not understand",
      "reason.kb_no_answer": "no KB answer",
      "reason.kb_escalate": "KB article asks for an operator",
      "reason.other": "other",
      "resolution.resolved": "resolved",
      "resolution.information_given": "information given",
      "resolution.card_blocked": "card blocked",
      "resolution.complaint_registered": "complaint registered",
      "resolution.callback_arranged": "callback arranged",
      "resolution.no_response": "no response",
      "resolution.other": "other",
      "author.customer": "customer",
      "author.operator": "operator",
      "author.bot": "bot",
      "author.system": "system",
      "supervisor.title": "Supervisor — Demo-Bank",
      "supervisor.heading": "Supervisor",
      "supervisor.console": "console",
      "supervisor.queues": "Queues",
      "supervisor.operators": "Operators",
      "supervisor.figures": "Figures",
      "supervisor.from": "From",
      "supervisor.to": "To",
      "supervisor.show": "Show",
      "col.language": "language",
      "col.team": "team",
      "col.waiting": "waiting",
      "col.oldestWait": "oldest wait, s",
      "col.operator": "operator",
      "col.status": "status",
      "col.load": "load",
      "col.capacity": "capacity",
      "col.figure": "figure",
      "col.value": "value",
      "team.any": "any",
      "figure.period_from": "period from",
      "figure.period_to": "period to",
      "figure.conversations": "conversations",
      "figure.escalated": "escalated",
      "figure.containment_rate": "containment rate",
      "figure.escalation_rate_by_reason": "escalation rate by reason",
      "figure.wait_avg_seconds": "wait, average, s",
      "figure.wait_p90_seconds": "wait, p90, s",
      "figure.first_response_avg_seconds": "first response, average, s",
      "figure.first_response_p90_seconds": "first response, p90, s",
      "figure.handle_avg_seconds": "handling, average, s",
      "figure.resolutions": "resolutions",
      "figure.rating_avg": "average rating",
      "figure.ratings": "ratings",
    },
  };

  // The API answers in English (other clients and the tests read those texts); the common ones get a
  // Russian wording in the Russian UI, any other server text is shown as it came, marked lang="en".
  const SERVER_TEXTS_RU = [
    [/^Wrong login or password, or no access to this page\.$/, () => "Неверный логин или пароль, или нет доступа к этой странице."],
    [/^Sign in first\.$/, () => "Сначала войдите."],
    [/^Missing or wrong CSRF token; reload the page\.$/, () => "Страница устарела: обновите её."],
  ];

  const LANGUAGES = Object.keys(MESSAGES);
  // The knowledge-base editor's key: one choice for all staff pages of the gateway.
  const STORAGE_KEY = "kb-editor.ui-language";
  const listeners = [];

  function stored() {
    try { return localStorage.getItem(STORAGE_KEY); } catch (e) { return null; }
  }

  // The staff member's own choice, else the first of the browser's preferred languages the page has, else Russian.
  function initial() {
    const saved = stored();
    if (LANGUAGES.includes(saved)) return saved;
    for (const tag of navigator.languages || [navigator.language || ""]) {
      const base = String(tag).toLowerCase().split("-")[0];
      if (LANGUAGES.includes(base)) return base;
    }
    return "ru";
  }

  let language = initial();

  function has(key) { return key in MESSAGES[language]; }

  function t(key, params) {
    const text = MESSAGES[language][key] ?? MESSAGES.en[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (params && name in params ? String(params[name]) : whole));
  }

  // A fixed word from the API (a status, reason, resolution) in the UI language; an unknown one as it came.
  function word(group, value) {
    if (value === null || value === undefined || value === "") return "";
    return has(group + "." + value) ? t(group + "." + value) : String(value);
  }

  // A server error in the UI language: [text, lang of the text].
  function serverText(err) {
    const text = err && err.message ? err.message : String(err);
    if (language !== "ru") return [text, "en"];
    for (const [pattern, say] of SERVER_TEXTS_RU) {
      const m = pattern.exec(text);
      if (m) return [say(m), "ru"];
    }
    return [text, "en"];
  }

  // Write a server error into `node`, marking its language when it differs from the page's.
  function showError(node, err) {
    const [text, lang] = serverText(err);
    node.textContent = text;
    if (lang === language) node.removeAttribute("lang"); else node.setAttribute("lang", lang);
  }

  function apply() {
    document.documentElement.lang = language;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
    for (const node of document.querySelectorAll("[data-i18n-aria-label]")) node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
    for (const b of document.querySelectorAll("[data-ui-lang]")) b.setAttribute("aria-pressed", String(b.dataset.uiLang === language));
    for (const fn of listeners) fn(language);
  }

  // The page's own renderers: called after every language change, so texts the page wrote follow it.
  function onChange(fn) { listeners.push(fn); }

  function set(lang) {
    if (!LANGUAGES.includes(lang)) return;
    language = lang;
    try { localStorage.setItem(STORAGE_KEY, language); } catch (e) { /* private mode: this page only */ }
    apply();
  }

  for (const b of document.querySelectorAll("[data-ui-lang]")) b.addEventListener("click", () => set(b.dataset.uiLang));

  return { t, has, word, serverText, showError, apply, onChange, set, get language() { return language; } };
})();
