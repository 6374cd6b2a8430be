// Operator console. Every piece of customer-supplied text is written with textContent, never innerHTML.
"use strict";

const state = {
  me: null, csrf: "", lastSeq: 0, seen: new Set(), socket: null, current: null,
  shownSeqs: new Set(), typingTimer: null, refreshTimer: null, operators: [], canned: [],
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
    $("sign-in-error").textContent = err.message;
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
  const target = $("transfer-target");
  target.replaceChildren();
  for (const team of ["cards", "loans"]) {
    const opt = el("option", "team: " + team); opt.value = "team:" + team; target.appendChild(opt);
  }
  for (const op of state.operators) {
    if (op.id === state.me.login) continue;
    const opt = el("option", op.display_name + " (" + op.status + ")"); opt.value = "op:" + op.id; target.appendChild(opt);
  }
}

function conversationItem(conv, withTake) {
  const li = el("li");
  li.dataset.conversationId = conv.id;
  const label = el("a", (conv.handoff_reason || "") + " · " + (conv.language || "?") + " · " + conv.channel);
  label.href = "#";
  label.addEventListener("click", (ev) => { ev.preventDefault(); openConversation(conv.id); });
  li.appendChild(label);
  if (withTake) {
    const take = el("button", "Take", "take");
    take.addEventListener("click", async () => {
      try {
        await api("POST", "/api/console/conversations/" + conv.id + "/take");
        await refreshLists();
        await openConversation(conv.id);
      } catch (err) { banner(err.message); await refreshLists(); }
    });
    li.appendChild(take);
  }
  return li;
}

async function refreshLists() {
  const data = await api("GET", "/api/console/queue");
  if (!state.lastSeq) state.lastSeq = data.last_event_seq;
  $("queue").replaceChildren(...data.queue.map((c) => conversationItem(c, true)));
  $("mine").replaceChildren(...data.mine.map((c) => conversationItem(c, false)));
  $("callbacks").replaceChildren(...data.callbacks.map((t) => el("li", t.kind + ": " + (t.phone || t.text || ""))));
}

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => refreshLists().catch(() => {}), 150);
}

function banner(text) { $("banner").textContent = text; }

function renderMessage(m) {
  if (state.shownSeqs.has(m.seq)) return;
  state.shownSeqs.add(m.seq);
  const li = el("li", null, m.author);
  li.dataset.seq = m.seq;
  const who = m.author === "operator" && m.operator_name ? m.operator_name : m.author;
  li.appendChild(el("span", who + " · " + new Date(m.at).toLocaleTimeString() + (m.channel ? " · " + m.channel : ""), "meta"));
  if (m.intent) li.appendChild(el("span", m.intent + " " + (m.confidence ?? ""), "meta intent"));
  li.appendChild(el("span", m.text, "text"));
  const items = [...$("transcript").children];
  const after = items.find((node) => Number(node.dataset.seq) > m.seq);
  $("transcript").insertBefore(li, after || null);
}

async function openConversation(id) {
  // Current before the fetch: a message that arrives while the context loads is shown live, and the
  // loaded history merges with it (renderMessage skips seqs already shown and keeps seq order).
  state.current = id;
  state.shownSeqs = new Set();
  $("transcript").replaceChildren();
  const ctx = await api("GET", "/api/console/conversations/" + id);
  if (state.current !== id) return;  // the operator opened another conversation meanwhile
  $("conversation").hidden = false;
  banner("");
  $("conv-id").textContent = id.slice(0, 8);
  $("conv-state").textContent = ctx.conversation.state + (ctx.conversation.assignee_name ? " · " + ctx.conversation.assignee_name : "");
  $("reason").textContent = ctx.reason || "";
  $("slots").textContent = Object.entries(ctx.slots).map(([k, v]) => k + "=" + JSON.stringify(v)).join(", ");
  $("profile").textContent = ctx.profile ? JSON.stringify(ctx.profile) : "(not verified)";
  $("earlier").replaceChildren(...ctx.earlier_conversations.map((c) => el("li", (c.created_at || "") + " " + c.channel + " " + (c.resolution || c.state))));
  $("kb").replaceChildren(...ctx.kb_suggestions.map((s) => {
    const li = el("li"); const a = el("a", s.question || s.title || ""); a.href = "#";
    a.addEventListener("click", (ev) => { ev.preventDefault(); $("reply-text").value = s.answer || ""; });
    li.appendChild(a); return li;
  }));
  ctx.messages.forEach(renderMessage);
  $("notes").replaceChildren(...ctx.notes.map((n) => el("li", n.operator_id + ": " + n.text)));
  const canned = await api("GET", "/api/console/canned?language=" + encodeURIComponent(ctx.conversation.language || "ru"));
  state.canned = canned.canned;
  const name = (ctx.profile && ctx.profile.customer && ctx.profile.customer.full_name.split(" ")[0]) || "";
  $("canned").replaceChildren(el("option", "Canned response…"), ...state.canned.map((c) => {
    const opt = el("option", c.title); opt.value = c.text.replaceAll("{name}", name).replaceAll("{operator}", state.me.display_name); return opt;
  }));
}

$("canned").addEventListener("change", () => { if ($("canned").value) $("reply-text").value = $("canned").value; });

async function act(path, body) {
  try { return await api("POST", "/api/console/conversations/" + state.current + path, body); }
  catch (err) { banner(err.message); throw err; }
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
  banner("Transferred."); await refreshLists();
});
$("return-to-bot").addEventListener("click", async () => { await act("/return-to-bot"); banner("Returned to the bot."); await refreshLists(); });
$("close").addEventListener("click", async () => { await act("/close", { resolution: $("resolution").value }); banner("Closed."); $("conv-state").textContent = "closed"; await refreshLists(); });

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
      if (mineNow && event.data.operator_id !== state.me.login) banner("Taken by " + event.data.operator_name);
      scheduleRefresh();
      break;
    default:
      if (event.name.startsWith("conversation.") || event.name.startsWith("callback.")) scheduleRefresh();
  }
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(proto + "//" + location.host + "/api/console/live?after=" + state.lastSeq);
  state.socket = socket;
  socket.addEventListener("message", (msg) => {
    const data = JSON.parse(msg.data);
    if (data.type === "ready") { $("connection").textContent = "live"; $("connection").className = "badge online"; }
    if (data.type === "event") handle(data.event);
  });
  socket.addEventListener("close", () => {
    $("connection").textContent = "reconnecting"; $("connection").className = "badge";
    setTimeout(connect, 1000);
  });
}

// Test and debugging hook: drop the live connection as a network failure would.
window.consoleDropConnection = () => { if (state.socket) state.socket.close(); };

start();
