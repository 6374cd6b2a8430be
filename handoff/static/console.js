// Operator console. Every piece of customer-supplied text is written with textContent, never innerHTML.
// UI texts come from i18n.js (I18N, Russian first, English second); message texts keep their own language.
"use strict";
const { t, word } = I18N;

const state = {
  me: null, csrf: "", lastSeq: 0, seen: new Set(), socket: null, current: null,
  shownSeqs: new Set(), typingTimer: null, refreshTimer: null, operators: [], canned: [],
  // What the page last showed, kept so a language switch redraws it at once.
  lists: null, ctx: null, messages: new Map(), banner: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = state.csrf;
  const resp = await fetch(path, { method, headers, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) { const err = new Error(data.error || resp.statusText); err.status = resp.status; throw err; }
  return data;
}

async function start() {
  try {
    state.me = await api("GET", "/api/console/me");
  } catch (err) {
    $("sign-in").hidden = false;
    return;
  }
  state.csrf = state.me.csrf;
  $("sign-in").hidden = true;
  $("console").hidden = false;
  $("me").textContent = state.me.display_name;
  if (state.me.operator) $("status").value = state.me.operator.status;
  await loadOperators();
  await refreshLists();
  connect();
}

$("sign-in-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await api("POST", "/api/console/sign-in", { login: $("login").value, password: $("password").value });
    await start();
  } catch (err) {
    I18N.showError($("sign-in-error"), err);
  }
});

$("sign-out").addEventListener("click", async () => {
  await api("POST", "/api/console/sign-out");
  location.reload();
});

$("status").addEventListener("change", async () => {
  await api("POST", "/api/console/status", { status: $("status").value });
});

async function loadOperators() {
  const data = await api("GET", "/api/console/operators");
  state.operators = data.operators;
  renderTransferTargets();
}

function renderTransferTargets() {
  const target = $("transfer-target");
  const chosen = target.value;
  target.replaceChildren();
  for (const team of ["cards", "loans"]) {
    const opt = el("option", t("team", { team: word("team", team) })); opt.value = "team:" + team; target.appendChild(opt);
  }
  for (const op of state.operators) {
    if (op.id === state.me.login) continue;
    const opt = el("option", op.display_name + " (" + word("opStatus", op.status) + ")"); opt.value = "op:" + op.id; target.appendChild(opt);
  }
  if (chosen) target.value = chosen;
}

function conversationItem(conv, withTake) {
  const li = el("li");
  li.dataset.conversationId = conv.id;
  const label = el("a", word("reason", conv.handoff_reason) + " · " + (conv.language || "?") + " · " + conv.channel);
  label.href = "#";
  label.addEventListener("click", (ev) => { ev.preventDefault(); openConversation(conv.id); });
  li.appendChild(label);
  if (withTake) {
    const take = el("button", t("lists.take"), "take");
    take.addEventListener("click", async () => {
      try {
        await api("POST", "/api/console/conversations/" + conv.id + "/take");
        await refreshLists();
        await openConversation(conv.id);
      } catch (err) { bannerError(err); await refreshLists(); }
    });
    li.appendChild(take);
  }
  return li;
}

async function refreshLists() {
  const data = await api("GET", "/api/console/queue");
  if (!state.lastSeq) state.lastSeq = data.last_event_seq;
  state.lists = data;
  renderLists();
}

function renderLists() {
  const data = state.lists; if (!data) return;
  $("queue").replaceChildren(...data.queue.map((c) => conversationItem(c, true)));
  $("mine").replaceChildren(...data.mine.map((c) => conversationItem(c, false)));
  $("callbacks").replaceChildren(...data.callbacks.map((task) => el("li", word("callback", task.kind) + ": " + (task.phone || task.text || ""))));
}

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => refreshLists().catch(() => {}), 150);
}

// The banner holds a renderer, so it follows a language switch: [text, lang of the text].
function showBanner(render) { state.banner = render; paintBanner(); }
function paintBanner() {
  const node = $("banner");
  const [text, lang] = state.banner ? state.banner() : ["", I18N.language];
  node.textContent = text;
  if (lang === I18N.language) node.removeAttribute("lang"); else node.setAttribute("lang", lang);
}
function banner(key, params) { showBanner(key ? () => [t(key, params), I18N.language] : null); }
function bannerError(err) { showBanner(() => I18N.serverText(err)); }

function renderMessage(m) {
  if (state.shownSeqs.has(m.seq)) return;
  state.shownSeqs.add(m.seq);
  state.messages.set(m.seq, m);
  const li = el("li", null, m.author);
  li.dataset.seq = m.seq;
  li.appendChild(el("span", metaOf(m), "meta"));
  if (m.intent) li.appendChild(el("span", m.intent + " " + (m.confidence ?? ""), "meta intent"));
  const text = el("span", m.text, "text");
  // A customer's words are content in the conversation's language, whatever the UI language.
  const language = state.ctx && state.ctx.conversation.language;
  if (m.author === "customer" && language) text.lang = language;
  li.appendChild(text);
  const items = [...$("transcript").children];
  const after = items.find((node) => Number(node.dataset.seq) > m.seq);
  $("transcript").insertBefore(li, after || null);
}

function metaOf(m) {
  const who = m.author === "operator" && m.operator_name ? m.operator_name : word("author", m.author);
  return who + " · " + new Date(m.at).toLocaleTimeString(I18N.language) + (m.channel ? " · " + m.channel : "");
}

function repaintTranscript() {
  for (const li of $("transcript").children) {
    const m = state.messages.get(Number(li.dataset.seq));
    if (m) li.querySelector(".meta").textContent = metaOf(m);
  }
}

async function openConversation(id) {
  // Current before the fetch: a message that arrives while the context loads is shown live, and the
  // loaded history merges with it (renderMessage skips seqs already shown and keeps seq order).
  state.current = id;
  state.shownSeqs = new Set();
  state.messages = new Map();
  state.ctx = null;
  $("transcript").replaceChildren();
  const ctx = await api("GET", "/api/console/conversations/" + id);
  if (state.current !== id) return;  // the operator opened another conversation meanwhile
  state.ctx = ctx;
  $("conversation").hidden = false;
  banner(null);
  $("conv-id").textContent = id.slice(0, 8);
  renderFacts();
  $("kb").replaceChildren(...ctx.kb_suggestions.map((s) => {
    const li = el("li"); const a = el("a", s.question || s.title || ""); a.href = "#";
    a.addEventListener("click", (ev) => { ev.preventDefault(); $("reply-text").value = s.answer || ""; });
    li.appendChild(a); return li;
  }));
  ctx.messages.forEach(renderMessage);
  // Customer lines shown live before the context arrived get their language now.
  for (const node of $("transcript").querySelectorAll("li.customer .text")) if (ctx.conversation.language) node.lang = ctx.conversation.language;
  $("notes").replaceChildren(...ctx.notes.map((n) => el("li", n.operator_id + ": " + n.text)));
  const canned = await api("GET", "/api/console/canned?language=" + encodeURIComponent(ctx.conversation.language || "ru"));
  state.canned = canned.canned;
  const name = (ctx.profile && ctx.profile.customer && ctx.profile.customer.full_name.split(" ")[0]) || "";
  const prompt = el("option", t("compose.canned")); prompt.value = ""; prompt.dataset.i18n = "compose.canned";
  $("canned").replaceChildren(prompt, ...state.canned.map((c) => {
    const opt = el("option", c.title); opt.value = c.text.replaceAll("{name}", name).replaceAll("{operator}", state.me.display_name); return opt;
  }));
}

// The conversation's facts; fixed words (state, reason, resolution) in the UI language.
function renderFacts() {
  const ctx = state.ctx; if (!ctx) return;
  $("conv-state").textContent = word("state", ctx.conversation.state) + (ctx.conversation.assignee_name ? " · " + ctx.conversation.assignee_name : "");
  $("reason").textContent = word("reason", ctx.reason);
  $("slots").textContent = Object.entries(ctx.slots).map(([k, v]) => k + "=" + JSON.stringify(v)).join(", ");
  $("profile").textContent = ctx.profile ? JSON.stringify(ctx.profile) : t("facts.notVerified");
  $("earlier").replaceChildren(...ctx.earlier_conversations.map((c) => el("li", (c.created_at || "") + " " + c.channel + " " +
    (c.resolution ? word("resolution", c.resolution) : word("state", c.state)))));
}

$("canned").addEventListener("change", () => { if ($("canned").value) $("reply-text").value = $("canned").value; });

async function act(path, body) {
  try { return await api("POST", "/api/console/conversations/" + state.current + path, body); }
  catch (err) { bannerError(err); throw err; }
}

$("send-reply").addEventListener("click", async () => {
  const text = $("reply-text").value.trim(); if (!text) return;
  const message = await act("/reply", { text });
  renderMessage(message);
  $("reply-text").value = "";
});
$("add-note").addEventListener("click", async () => {
  const text = $("reply-text").value.trim(); if (!text) return;
  const stored = await act("/notes", { text });
  $("notes").appendChild(el("li", stored.operator_id + ": " + stored.text));
  $("reply-text").value = "";
});
$("transfer").addEventListener("click", async () => {
  const [kind, value] = $("transfer-target").value.split(":");
  await act("/transfer", kind === "op" ? { to_operator_id: value, note: $("transfer-note").value } : { to_team: value, note: $("transfer-note").value });
  banner("banner.transferred"); await refreshLists();
});
$("return-to-bot").addEventListener("click", async () => { await act("/return-to-bot"); banner("banner.returned"); await refreshLists(); });
$("close").addEventListener("click", async () => { await act("/close", { resolution: $("resolution").value }); banner("banner.closed");
  if (state.ctx) { state.ctx.conversation.state = "closed"; state.ctx.conversation.assignee_name = null; renderFacts(); }
  await refreshLists();
});

function handle(event) {
  if (state.seen.has(event.id)) return;
  state.seen.add(event.id);
  if (event.seq && event.seq > state.lastSeq) state.lastSeq = event.seq;
  const mineNow = event.conversation_id && event.conversation_id === state.current;
  switch (event.name) {
    case "message.created":
      if (mineNow) renderMessage(event.data);
      if (event.data.author === "customer") scheduleRefresh();
      break;
    case "customer.typed":
      if (mineNow) {
        $("typing").hidden = false;
        clearTimeout(state.typingTimer);
        state.typingTimer = setTimeout(() => { $("typing").hidden = true; }, 3000);
      }
      break;
    case "note.created":
      if (mineNow && event.data.operator_id !== state.me.login) $("notes").appendChild(el("li", event.data.operator_id + ": " + event.data.text));
      break;
    case "conversation.assigned":
      if (mineNow && event.data.operator_id !== state.me.login) banner("banner.takenBy", { name: event.data.operator_name });
      scheduleRefresh();
      break;
    default:
      if (event.name.startsWith("conversation.") || event.name.startsWith("callback.")) scheduleRefresh();
  }
}

// The badge keeps its state in data-state and its text key in data-i18n, so a language switch rewrites it.
function setConnection(name) {
  const badge = $("connection");
  badge.dataset.state = name;
  badge.dataset.i18n = "connection." + name;
  badge.textContent = t(badge.dataset.i18n);
  badge.className = name === "live" ? "badge online" : "badge";
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(proto + "//" + location.host + "/api/console/live?after=" + state.lastSeq);
  state.socket = socket;
  socket.addEventListener("message", (msg) => {
    const data = JSON.parse(msg.data);
    if (data.type === "ready") setConnection("live");
    if (data.type === "event") handle(data.event);
  });
  socket.addEventListener("close", () => {
    setConnection("reconnecting");
    setTimeout(connect, 1000);
  });
}

// Test and debugging hook: drop the live connection as a network failure would.
window.consoleDropConnection = () => { if (state.socket) state.socket.close(); };

I18N.onChange(() => {
  if (state.me) renderTransferTargets();
  renderLists(); renderFacts(); repaintTranscript(); paintBanner();
});
I18N.apply();
start();
