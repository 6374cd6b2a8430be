// Knowledge base editor. Every article and customer text goes into the page through textContent / value,
// never innerHTML, so HTML in them is shown, not run (and the page's CSP forbids inline scripts anyway).
"use strict";
const $ = (id) => document.getElementById(id);
const state = { csrf: "", current: null, articles: [], history: [], tried: null, unanswered: [] };

// --- UI language: Russian first, English second ------------------------------------------------
// The page's texts, keyed. editor.html carries the keys (data-i18n for text, data-i18n-placeholder and
// data-i18n-aria-label for attributes); the code below takes the rest from here through t().
// Article content and customer questions are never translated: they keep their own lang.
const MESSAGES = {
  ru: {
    "error.field_object": "Поле «{fieldName}» должно содержать тексты на русском и английском.",
    "error.field_text": "Поле «{fieldName}» ({lang}) должно быть текстом.",
    "error.field_too_long": "Поле «{fieldName}» ({lang}) длиннее {max} символов: сократите его.",
    "error.field_empty": "Заполните поле «{fieldName}» хотя бы на одном языке.",
    "error.questions_object": "Вопросы должны быть списками на русском и английском.",
    "error.questions_list": "Вопросы ({lang}) должны быть списком строк.",
    "error.questions_too_many": "Вопросы ({lang}): не больше {max}, каждый короткий.",
    "error.questions_empty": "Добавьте хотя бы один вопрос на русском или английском.",
    "error.article_object": "Статья должна быть объектом JSON.",
    "error.bad_id": "Id: от 1 до 64 строчных латинских букв, цифр, «_» или «-»; начинается с буквы или цифры.",
    "error.tags_list": "Теги должны быть списком строк.",
    "fieldName.title": "Заголовок",
    "fieldName.answer": "Ответ",
    "fieldName.voice_answer": "Голосовой ответ",
    "page.title": "Редактор базы знаний — Демо-Банк",
    "uiLang.group": "Язык интерфейса",
    "signIn.heading": "Редактор базы знаний",
    "signIn.login": "Логин",
    "signIn.password": "Пароль",
    "signIn.submit": "Войти",
    "header.title": "База знаний",
    "header.signOut": "Выйти",
    "filter.text": "Поиск по тексту",
    "filter.status": "Статус",
    "filter.anyStatus": "любой статус",
    "filter.tag": "Тег",
    "filter.tagPlaceholder": "тег",
    "filter.submit": "Найти",
    "status.new": "новая",
    "status.draft": "черновик",
    "status.published": "опубликована",
    "status.archived": "в архиве",
    "list.new": "Новая статья",
    "list.label": "Статьи",
    "list.pending": "· неопубликованные изменения",
    "list.version": "{status}, версия {version}",
    "list.helpful": "помогло {helpful} из {votes}",
    "try.confidence": "уверенность {confidence}",
    "unanswered.notHelpful": "не помог ответ: {article}",
    "io.heading": "Импорт и экспорт",
    "io.exportYaml": "Экспорт YAML",
    "io.exportCsv": "Экспорт CSV",
    "io.file": "Файл (YAML или CSV; изменения опубликованных статей ждут публикации)",
    "io.submit": "Импортировать",
    "io.result": "Создано: {created}, обновлено: {updated}, без изменений: {unchanged}.",
    "article.heading": "Статья",
    "article.status": "статус",
    "article.version": "версия",
    "article.id": "Id (a-z, 0-9, _ и -; потом не меняется)",
    "article.tags": "Теги (через запятую)",
    "article.escalate": "после ответа предложить оператора (escalate)",
    "pending.title": "Неопубликованные изменения.",
    "pending.before": " Клиенты пока получают опубликованный текст ниже; нажмите ",
    "pending.publish": "Опубликовать изменения",
    "pending.middle": ", чтобы правки увидели клиенты, или ",
    "pending.discard": "Отменить изменения",
    "pending.after": ", чтобы их отбросить.",
    "pending.live": "Опубликованный текст",
    "content.ru": "Русский",
    "content.en": "Английский",
    "field.title": "Заголовок",
    "field.questions": "Вопросы (по одному в строке)",
    "field.answer": "Ответ",
    "field.voice": "Голосовой ответ",
    "button.save": "Сохранить",
    "button.preview": "Предпросмотр",
    "button.publish": "Опубликовать",
    "button.publishChanges": "Опубликовать изменения",
    "button.discard": "Отменить изменения",
    "button.archive": "В архив",
    "history.heading": "История",
    "history.version": "верс.",
    "history.when": "когда",
    "history.who": "кто",
    "history.action": "действие",
    "history.changed": "что изменено",
    "history.unpublished": " (не опубликовано)",
    "history.rollback": "Вернуть версию {version}",
    "action.create": "создание",
    "action.edit": "правка",
    "action.publish": "публикация",
    "action.archive": "в архив",
    "action.discard changes": "отмена изменений",
    "action.import": "импорт",
    "action.add question from inbox": "вопрос из входящих",
    "action.rollback": "возврат к версии {version}",
    "changed.created": "создана",
    "changed.title": "заголовок",
    "changed.questions": "вопросы",
    "changed.answer": "ответ",
    "changed.voice_answer": "голосовой ответ",
    "changed.tags": "теги",
    "changed.escalate": "escalate",
    "changed.status": "статус",
    "said.rolledBack": "Восстановлено содержимое версии {version}.",
    "said.rolledBackPending": " Опубликуйте изменения, чтобы его увидели клиенты.",
    "said.rolledBackLive": " Это опубликованный текст.",
    "said.savedPending": "Версия {version} сохранена как неопубликованные изменения: клиенты получают опубликованный текст, пока вы не опубликуете.",
    "said.saved": "Версия {version} сохранена.",
    "said.publish": "Опубликовано: бот отвечает этим текстом через несколько секунд.",
    "said.archive": "Статья в архиве.",
    "said.discard": "Изменения отменены: остаётся опубликованный текст.",
    "said.openFirst": "Сначала откройте статью.",
    "said.addedPending": "Вопрос добавлен как неопубликованное изменение; опубликуйте, чтобы он заработал.",
    "said.added": "Вопрос добавлен.",
    "preview.noTitle": "({lang}: без заголовка)",
    "try.heading": "Проверить вопрос",
    "try.placeholder": "Как спросил бы клиент…",
    "try.question": "Вопрос, как его задал бы клиент",
    "try.language": "Язык вопроса",
    "try.submit": "Проверить",
    "try.decision": "Бот: {decision}",
    "decision.answer": "ответит статьёй",
    "decision.clarify": "переспросит (уточнение)",
    "decision.miss": "не найдёт ответа",
    "try.scores": " — {score} (смысл {semantic}, основы слов {stems}, символы {chars})",
    "unanswered.heading": "Вопросы без ответа",
    "unanswered.new": "Новая статья",
    "unanswered.add": "Добавить в открытую статью",
  },
  en: {
    "error.field_object": "“{fieldName}” must hold Russian and English texts.",
    "error.field_text": "“{fieldName}” ({lang}) must be text.",
    "error.field_too_long": "“{fieldName}” ({lang}) is longer than {max} characters: shorten it.",
    "error.field_empty": "Fill in “{fieldName}” in at least one language.",
    "error.questions_object": "Questions must be lists in Russian and English.",
    "error.questions_list": "Questions ({lang}) must be a list of lines.",
    "error.questions_too_many": "Questions ({lang}): at most {max}, each short.",
    "error.questions_empty": "Add at least one question in Russian or English.",
    "error.article_object": "The article must be a JSON object.",
    "error.bad_id": "Id: 1 to 64 lower-case letters, digits, “_” or “-”, starting with a letter or digit.",
    "error.tags_list": "Tags must be a list of lines.",
    "fieldName.title": "Title",
    "fieldName.answer": "Answer",
    "fieldName.voice_answer": "Voice answer",
    "page.title": "Knowledge base editor — Demo-Bank",
    "uiLang.group": "Interface language",
    "signIn.heading": "Knowledge base editor",
    "signIn.login": "Login",
    "signIn.password": "Password",
    "signIn.submit": "Sign in",
    "header.title": "Knowledge base",
    "header.signOut": "Sign out",
    "filter.text": "Filter by text",
    "filter.status": "Status",
    "filter.anyStatus": "any status",
    "filter.tag": "Tag",
    "filter.tagPlaceholder": "tag",
    "filter.submit": "Filter",
    "status.new": "new",
    "status.draft": "draft",
    "status.published": "published",
    "status.archived": "archived",
    "list.new": "New article",
    "list.label": "Articles",
    "list.pending": "· unpublished changes",
    "list.version": "{status} v{version}",
    "list.helpful": "helpful {helpful} of {votes}",
    "try.confidence": "confidence {confidence}",
    "unanswered.notHelpful": "answer did not help: {article}",
    "io.heading": "Import / export",
    "io.exportYaml": "Export YAML",
    "io.exportCsv": "Export CSV",
    "io.file": "File (YAML or CSV; changes to published articles wait for Publish)",
    "io.submit": "Import",
    "io.result": "Created {created}, updated {updated}, unchanged {unchanged}.",
    "article.heading": "Article",
    "article.status": "status",
    "article.version": "version",
    "article.id": "Id (a-z, 0-9, _ and -; cannot change later)",
    "article.tags": "Tags (comma separated)",
    "article.escalate": "offer an operator after answering (escalate)",
    "pending.title": "Unpublished changes.",
    "pending.before": " Customers still get the published text below; press ",
    "pending.publish": "Publish changes",
    "pending.middle": " to make your edits live or ",
    "pending.discard": "Discard changes",
    "pending.after": " to drop them.",
    "pending.live": "Published text",
    "content.ru": "Russian",
    "content.en": "English",
    "field.title": "Title",
    "field.questions": "Questions (one per line)",
    "field.answer": "Answer",
    "field.voice": "Voice answer",
    "button.save": "Save",
    "button.preview": "Preview",
    "button.publish": "Publish",
    "button.publishChanges": "Publish changes",
    "button.discard": "Discard changes",
    "button.archive": "Archive",
    "history.heading": "History",
    "history.version": "v",
    "history.when": "when",
    "history.who": "who",
    "history.action": "action",
    "history.changed": "changed",
    "history.unpublished": " (unpublished)",
    "history.rollback": "Roll back to v{version}",
    "action.create": "create",
    "action.edit": "edit",
    "action.publish": "publish",
    "action.archive": "archive",
    "action.discard changes": "discard changes",
    "action.import": "import",
    "action.add question from inbox": "add question from inbox",
    "action.rollback": "rollback to v{version}",
    "changed.created": "created",
    "changed.title": "title",
    "changed.questions": "questions",
    "changed.answer": "answer",
    "changed.voice_answer": "voice_answer",
    "changed.tags": "tags",
    "changed.escalate": "escalate",
    "changed.status": "status",
    "said.rolledBack": "Rolled back to the content of version {version}.",
    "said.rolledBackPending": " Publish the changes to make it live.",
    "said.rolledBackLive": " This is the published text.",
    "said.savedPending": "Saved version {version} as unpublished changes: customers still get the published text until you publish.",
    "said.saved": "Saved version {version}.",
    "said.publish": "Published: the bot uses it within seconds.",
    "said.archive": "Archived.",
    "said.discard": "Changes discarded: the published text stays.",
    "said.openFirst": "Open an article first.",
    "said.addedPending": "Question added as an unpublished change; publish to make it live.",
    "said.added": "Question added.",
    "preview.noTitle": "({lang}: no title)",
    "try.heading": "Try a question",
    "try.placeholder": "As a customer would ask…",
    "try.question": "Question as a customer would ask it",
    "try.language": "Question language",
    "try.submit": "Try",
    "try.decision": "Bot would: {decision}",
    "decision.answer": "answer",
    "decision.clarify": "clarify",
    "decision.miss": "miss",
    "try.scores": " — {score} (semantic {semantic}, stems {stems}, chars {chars})",
    "unanswered.heading": "Unanswered questions",
    "unanswered.new": "New article",
    "unanswered.add": "Add to open article",
  },
};

// The API answers in English (other clients and the tests read those texts). The ones this page shows
// most get a Russian wording; any other server text is shown as it came, marked lang="en".
const SERVER_TEXTS_RU = [
  [/^Wrong login or password, or no access to this page\.$/,
    () => "Неверный логин или пароль, или нет доступа к этой странице."],
  [/^Article '(.*)' was changed by someone else \(you edited version (\d+), it is now at version (\d+)\)\. Reload it, reapply your change and save again\.$/s,
    (m) => `Статью «${m[1]}» уже изменил кто-то другой (вы правили версию ${m[2]}, сейчас она в версии ${m[3]}). ` +
      "Откройте её заново, повторите правку и сохраните ещё раз."],
  [/^Article '(.*)' has no unpublished changes\.$/s, (m) => `У статьи «${m[1]}» нет неопубликованных изменений.`],
  [/^An article with id '(.*)' already exists; choose another id\.$/s, (m) => `Статья с id «${m[1]}» уже есть; выберите другой id.`],
  [/^Sign in first\.$/, () => "Сначала войдите."],
  [/^Missing or wrong CSRF token; reload the page\.$/, () => "Страница устарела: обновите её."],
];
// A 400 is a validation error (the article's fields, the import file): a Russian prefix, the server's detail as-is.
const VALIDATION_PREFIX_RU = "Ошибка в данных: ";

const I18N = staffI18n({ messages: MESSAGES, serverTextsRu: SERVER_TEXTS_RU, validationPrefixRu: VALIDATION_PREFIX_RU });
const { t, has, serverText } = I18N;
const number = (x, digits) => x.toLocaleString(I18N.language, { minimumFractionDigits: digits, maximumFractionDigits: digits });

// Texts the page wrote (banners, results) are kept as functions, so a language switch rewrites them at once.
const shown = new Map();
function show(id, render) {
  shown.set(id, render);
  paint(id);
}
function paint(id) {
  const out = shown.get(id)();
  I18N.write($(id), Array.isArray(out) ? out : [out, I18N.language]);
}

I18N.onChange(() => {
  for (const id of shown.keys()) paint(id);
  if (state.current) paintArticleState();
  renderList(); renderHistory(); renderTried(); renderUnanswered();
});

// --- The API -------------------------------------------------------------------------------------

async function api(method, path, body, raw) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = state.csrf;
  if (body !== undefined && !raw) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : (raw ? body : JSON.stringify(body)) });
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401) { showSignIn(); }
  if (!resp.ok) {
    const err = new Error(data.error || ("HTTP " + resp.status));
    err.status = resp.status;
    err.code = data.code;
    err.params = data.params;
    throw err;
  }
  return data;
}

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

// The article banner: a message key (with its parameters) or a server error.
function say(render, ok) { $("message").className = ok ? "banner ok" : "banner"; show("message", render); }
function sayKey(key, params) { say(() => t(key, params), true); }
function sayError(err) { say(() => serverText(err), false); }
function showSignIn() { $("editor").hidden = true; $("sign-in").hidden = false; }

async function start() {
  try { const me = await api("GET", "/api/kb/me"); signedIn(me); } catch (e) { showSignIn(); }
}

function signedIn(me) {
  state.csrf = me.csrf;
  $("me").textContent = me.display_name + " (" + me.login + ")";
  $("sign-in").hidden = true; $("editor").hidden = false;
  show("sign-in-error", () => "");
  loadList(); loadUnanswered();
}

$("sign-in-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try { signedIn(await api("POST", "/api/kb/sign-in", { login: $("login").value, password: $("password").value })); }
  catch (e) { show("sign-in-error", () => serverText(e)); }
});
$("sign-out").addEventListener("click", async () => { await api("POST", "/api/kb/sign-out", {}); showSignIn(); });

const statusWord = (status) => t("status." + (status || "new"));
const titleLang = (a) => (a.title.ru ? "ru" : a.title.en ? "en" : null);

// The list is aria-busy while a request for it is out; an answer to an older request (the unfiltered list
// asked for at sign-in, say, coming after the filtered one) is dropped.
let listRequests = 0;
async function loadList() {
  const mine = ++listRequests;
  const params = new URLSearchParams({ q: $("filter-q").value, status: $("filter-status").value, tag: $("filter-tag").value });
  $("articles").setAttribute("aria-busy", "true");
  try {
    const data = await api("GET", "/api/kb/articles?" + params);
    if (mine === listRequests) { state.articles = data.articles; renderList(); }
  } finally {
    if (mine === listRequests) $("articles").setAttribute("aria-busy", "false");
  }
}

function renderList() {
  const list = $("articles"); list.replaceChildren();
  for (const a of state.articles) {
    // A real button per article: reachable and opened by keyboard as well as by mouse.
    const lang = titleLang(a);
    const open = el("button", lang ? a.title[lang] : a.id, { type: "button", "data-id": a.id });
    if (lang) open.lang = lang;
    open.addEventListener("click", () => openArticle(a.id));
    const li = el("li", undefined, { "data-id": a.id });
    li.append(open, " ", el("small", t("list.version", { status: statusWord(a.status), version: a.version })));
    if (a.pending) li.append(" ", el("small", t("list.pending"), { class: "changes" }));
    // Customers' "Помогло / Не помогло" votes on this article's answers.
    const votes = a.helpfulness ? a.helpfulness.helpful + a.helpfulness.not_helpful : 0;
    if (votes) li.append(" ", el("small", t("list.helpful", { helpful: a.helpfulness.helpful, votes }), { class: "helpfulness" }));
    list.append(li);
  }
}
$("filter").addEventListener("submit", (ev) => { ev.preventDefault(); loadList(); });

const LANGS = ["ru", "en"];
// A published article's saved edits wait in `pending`; the form always shows what the editor works on.
function fill(a) {
  state.current = a;
  const work = a.pending || a;
  $("article-pane").hidden = false;
  $("a-id").value = a.id || ""; $("a-id").disabled = Boolean(a.version);
  $("a-version").textContent = a.version || 0;
  $("a-tags").value = (work.tags || []).join(", "); $("a-escalate").checked = Boolean(work.escalate);
  for (const l of LANGS) {
    $("a-title-" + l).value = (work.title || {})[l] || "";
    $("a-questions-" + l).value = ((work.questions || {})[l] || []).join("\n");
    $("a-answer-" + l).value = (work.answer || {})[l] || "";
    $("a-voice-" + l).value = (work.voice_answer || {})[l] || "";
  }
  const pending = Boolean(a.pending);
  $("pending-note").hidden = !pending; $("discard").hidden = !pending;
  $("publish").disabled = a.status === "published" && !pending;
  const live = $("live-text"); live.replaceChildren();
  if (pending) {
    for (const l of LANGS) live.append(el("h4", (a.title || {})[l] || "", { lang: l }), el("p", (a.answer || {})[l] || "", { lang: l }));
  }
  paintArticleState();
  $("preview").hidden = true;
}

// The words about the open article that depend on the UI language (the form's values do not).
function paintArticleState() {
  const a = state.current;
  $("a-status").textContent = statusWord(a.status);
  const publish = $("publish");
  publish.dataset.i18n = a.pending ? "button.publishChanges" : "button.publish";
  publish.textContent = t(publish.dataset.i18n);
}

function collect() {
  const body = { id: $("a-id").value.trim(), tags: $("a-tags").value, escalate: $("a-escalate").checked,
    title: {}, questions: {}, answer: {}, voice_answer: {}, version: state.current ? state.current.version : 0 };
  for (const l of LANGS) {
    body.title[l] = $("a-title-" + l).value;
    body.questions[l] = $("a-questions-" + l).value.split("\n").filter((q) => q.trim());
    body.answer[l] = $("a-answer-" + l).value;
    body.voice_answer[l] = $("a-voice-" + l).value;
  }
  return body;
}

async function openArticle(id) {
  try {
    fill(await api("GET", "/api/kb/articles/" + encodeURIComponent(id))); state.fromUnanswered = null;
    say(() => ""); await loadHistory(id);
  }
  catch (e) { sayError(e); }
}

async function loadHistory(id) {
  state.history = (await api("GET", "/api/kb/articles/" + encodeURIComponent(id) + "/history")).history;
  renderHistory();
}

function actionWord(action) {
  const rollback = /^rollback to v(\d+)$/.exec(action);
  if (rollback) return t("action.rollback", { version: rollback[1] });
  return has("action." + action) ? t("action." + action) : action;
}

function renderHistory() {
  const body = $("history").tBodies[0]; body.replaceChildren();
  for (const h of state.history) {
    const tr = el("tr");
    const changed = h.changed.map((c) => (has("changed." + c) ? t("changed." + c) : c)).join(", ");
    const when = new Date(h.at).toLocaleString(I18N.language);
    for (const v of [h.version, when, h.by, actionWord(h.action), changed]) tr.append(el("td", String(v)));
    const td = el("td");
    if (h.pending) tr.cells[3].textContent += t("history.unpublished");
    if (state.current && h.version !== state.current.version) {
      const b = el("button", t("history.rollback", { version: h.version }), { "data-version": h.version });
      b.addEventListener("click", () => rollback(h.version));
      td.append(b);
    }
    tr.append(td); body.append(tr);
  }
}

async function rollback(version) {
  try {
    fill(await api("POST", "/api/kb/articles/" + encodeURIComponent(state.current.id) + "/rollback",
      { version: state.current.version, to_version: version }));
    const current = state.current;
    const tail = current.pending ? "said.rolledBackPending" : current.status === "published" ? "said.rolledBackLive" : null;
    say(() => t("said.rolledBack", { version }) + (tail ? t(tail) : ""), true);
    await loadHistory(state.current.id); loadList();
  } catch (e) { sayError(e); }
}

$("new-article").addEventListener("click", () => {
  fill({ status: "", version: 0 }); state.fromUnanswered = null; state.history = []; renderHistory(); say(() => "");
});

$("save").addEventListener("click", async () => {
  const body = collect();
  try {
    const saved = state.current && state.current.version
      ? await api("PUT", "/api/kb/articles/" + encodeURIComponent(state.current.id), body)
      : await api("POST", "/api/kb/articles", body);
    // An article created from an inbox question answers it: take the question out of the inbox.
    const from = state.fromUnanswered; state.fromUnanswered = null;
    if (from) await api("POST", "/api/kb/unanswered/" + from.key + "/resolve", { article_id: saved.id });
    fill(saved);
    sayKey(saved.pending ? "said.savedPending" : "said.saved", { version: saved.version });
    await loadHistory(saved.id); loadList();
    if (from) loadUnanswered();
  } catch (e) { sayError(e); }
});

async function setStatus(action) {
  try {
    const a = await api("POST", "/api/kb/articles/" + encodeURIComponent(state.current.id) + "/" + action, { version: state.current.version });
    fill(a);
    sayKey("said." + action);
    await loadHistory(a.id); loadList();
  } catch (e) { sayError(e); }
}
$("publish").addEventListener("click", () => setStatus("publish"));
$("archive").addEventListener("click", () => setStatus("archive"));
$("discard").addEventListener("click", () => setStatus("discard"));

$("preview-button").addEventListener("click", () => {
  const b = collect(); const p = $("preview"); p.replaceChildren();
  for (const l of LANGS) {
    const title = b.title[l] ? el("h4", b.title[l], { lang: l }) : el("h4", t("preview.noTitle", { lang: l }));
    p.append(title, el("p", b.answer[l], { lang: l }), el("p", "🔊 " + (b.voice_answer[l] || "—"), { lang: l }));
  }
  p.hidden = false;
});

$("try-lang").addEventListener("change", () => { $("try-q").lang = $("try-lang").value; });
$("try-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const params = new URLSearchParams({ q: $("try-q").value, lang: $("try-lang").value });
  state.tried = await api("GET", "/api/kb/try?" + params);
  state.tried.lang = $("try-lang").value;
  renderTried();
});

function renderTried() {
  const data = state.tried;
  if (!data) return;
  const decision = has("decision." + data.decision) ? t("decision." + data.decision) : data.decision;
  const sure = typeof data.confidence === "number" ? " · " + t("try.confidence", { confidence: number(data.confidence, 2) }) : "";
  $("try-decision").textContent = t("try.decision", { decision }) + sure;
  const list = $("try-results"); list.replaceChildren();
  for (const h of data.results) {
    const open = el("button", h.title, { type: "button", lang: data.lang });
    open.addEventListener("click", () => openArticle(h.id));
    const li = el("li", undefined, { "data-id": h.id });
    li.append(open, t("try.scores", { score: number(h.score, 3), semantic: number(h.semantic, 2),
      stems: number(h.stems, 2), chars: number(h.chars, 2) }));
    list.append(li);
  }
}

async function loadUnanswered() {
  state.unanswered = (await api("GET", "/api/kb/unanswered")).unanswered;
  renderUnanswered();
}

function renderUnanswered() {
  const list = $("unanswered"); list.replaceChildren();
  for (const u of state.unanswered) {
    const li = el("li", undefined, { "data-key": u.key });
    li.append(el("span", u.text, { lang: u.language }), " ", el("small", "×" + u.count + " · " + u.language + " · " + u.channel));
    if (u.not_helpful_article) li.append(" ", el("small", t("unanswered.notHelpful", { article: u.not_helpful_article })));
    const create = el("button", t("unanswered.new"));
    create.addEventListener("click", () => {
      const q = {}; q[u.language] = [u.text];
      fill({ status: "", version: 0, questions: q }); state.fromUnanswered = u;
    });
    const add = el("button", t("unanswered.add"));
    add.addEventListener("click", async () => {
      if (!state.current || !state.current.version) { say(() => t("said.openFirst"), false); return; }
      try {
        await api("POST", "/api/kb/unanswered/" + u.key + "/resolve",
          { article_id: state.current.id, add_question: u.text, lang: u.language, version: state.current.version });
        await openArticle(state.current.id); loadUnanswered();
        sayKey(state.current.pending ? "said.addedPending" : "said.added");
      } catch (e) { sayError(e); }
    });
    li.append(" ", create, " ", add); list.append(li);
  }
}

$("import-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = $("import-file").files[0]; if (!file) return;
  const fmt = file.name.endsWith(".csv") ? "csv" : "yaml";
  try {
    const r = await api("POST", "/api/kb/import?format=" + fmt, await file.text(), true);
    show("import-result", () => t("io.result", r));
    loadList();
  } catch (e) { show("import-result", () => serverText(e)); }
});

I18N.apply();
start();
