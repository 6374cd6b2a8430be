// Knowledge base editor. Every article and customer text goes into the page through textContent / value,
// never innerHTML, so HTML in them is shown, not run (and the page's CSP forbids inline scripts anyway).
"use strict";
const $ = (id) => document.getElementById(id);
const state = { csrf: "", current: null };

async function api(method, path, body, raw) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = state.csrf;
  if (body !== undefined && !raw) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : (raw ? body : JSON.stringify(body)) });
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401) { showSignIn(); }
  if (!resp.ok) throw new Error(data.error || ("HTTP " + resp.status));
  return data;
}

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function say(text, ok) { const m = $("message"); m.textContent = text; m.className = ok ? "banner ok" : "banner"; }
function showSignIn() { $("editor").hidden = true; $("sign-in").hidden = false; }

async function start() {
  try { const me = await api("GET", "/api/kb/me"); signedIn(me); } catch (e) { showSignIn(); }
}

function signedIn(me) {
  state.csrf = me.csrf;
  $("me").textContent = me.display_name + " (" + me.login + ")";
  $("sign-in").hidden = true; $("editor").hidden = false;
  loadList(); loadUnanswered();
}

$("sign-in-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try { signedIn(await api("POST", "/api/kb/sign-in", { login: $("login").value, password: $("password").value })); }
  catch (e) { $("sign-in-error").textContent = e.message; }
});
$("sign-out").addEventListener("click", async () => { await api("POST", "/api/kb/sign-out", {}); showSignIn(); });

async function loadList() {
  const params = new URLSearchParams({ q: $("filter-q").value, status: $("filter-status").value, tag: $("filter-tag").value });
  const data = await api("GET", "/api/kb/articles?" + params);
  const list = $("articles"); list.replaceChildren();
  for (const a of data.articles) {
    // A real button per article: reachable and opened by keyboard as well as by mouse.
    const open = el("button", a.title.ru || a.title.en || a.id, { type: "button", "data-id": a.id });
    open.addEventListener("click", () => openArticle(a.id));
    const li = el("li", undefined, { "data-id": a.id });
    li.append(open, " ", el("small", a.status + " v" + a.version));
    if (a.pending) li.append(" ", el("small", "· unpublished changes", { class: "changes" }));
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
  $("a-status").textContent = a.status || "new"; $("a-version").textContent = a.version || 0;
  $("a-tags").value = (work.tags || []).join(", "); $("a-escalate").checked = Boolean(work.escalate);
  for (const l of LANGS) {
    $("a-title-" + l).value = (work.title || {})[l] || "";
    $("a-questions-" + l).value = ((work.questions || {})[l] || []).join("\n");
    $("a-answer-" + l).value = (work.answer || {})[l] || "";
    $("a-voice-" + l).value = (work.voice_answer || {})[l] || "";
  }
  const pending = Boolean(a.pending);
  $("pending-note").hidden = !pending; $("discard").hidden = !pending;
  $("publish").textContent = pending ? "Publish changes" : "Publish";
  $("publish").disabled = a.status === "published" && !pending;
  const live = $("live-text"); live.replaceChildren();
  if (pending) for (const l of LANGS) live.append(el("h4", (a.title || {})[l] || ""), el("p", (a.answer || {})[l] || ""));
  $("preview").hidden = true;
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
  try { fill(await api("GET", "/api/kb/articles/" + encodeURIComponent(id))); say(""); await loadHistory(id); }
  catch (e) { say(e.message); }
}

async function loadHistory(id) {
  const data = await api("GET", "/api/kb/articles/" + encodeURIComponent(id) + "/history");
  const body = $("history").tBodies[0]; body.replaceChildren();
  for (const h of data.history) {
    const tr = el("tr");
    for (const v of [h.version, new Date(h.at).toLocaleString(), h.by, h.action, h.changed.join(", ")]) tr.append(el("td", String(v)));
    const td = el("td");
    if (h.pending) tr.cells[3].textContent += " (unpublished)";
    if (h.version !== state.current.version) {
      const b = el("button", "Roll back to v" + h.version, { "data-version": h.version });
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
    say("Rolled back to the content of version " + version + "." +
      (current.pending ? " Publish the changes to make it live." : current.status === "published" ? " This is the published text." : ""), true);
    await loadHistory(state.current.id); loadList();
  } catch (e) { say(e.message); }
}

$("new-article").addEventListener("click", () => { fill({ status: "", version: 0 }); $("history").tBodies[0].replaceChildren(); say(""); });

$("save").addEventListener("click", async () => {
  const body = collect();
  try {
    const saved = state.current && state.current.version
      ? await api("PUT", "/api/kb/articles/" + encodeURIComponent(state.current.id), body)
      : await api("POST", "/api/kb/articles", body);
    fill(saved);
    say(saved.pending ? "Saved version " + saved.version + " as unpublished changes: customers still get the published text until you publish."
      : "Saved version " + saved.version + ".", true);
    await loadHistory(saved.id); loadList();
  } catch (e) { say(e.message); }
});

async function setStatus(action) {
  try {
    const a = await api("POST", "/api/kb/articles/" + encodeURIComponent(state.current.id) + "/" + action, { version: state.current.version });
    fill(a);
    say({ publish: "Published: the bot uses it within seconds.", archive: "Archived.",
      discard: "Changes discarded: the published text stays." }[action], true);
    await loadHistory(a.id); loadList();
  } catch (e) { say(e.message); }
}
$("publish").addEventListener("click", () => setStatus("publish"));
$("archive").addEventListener("click", () => setStatus("archive"));
$("discard").addEventListener("click", () => setStatus("discard"));

$("preview-button").addEventListener("click", () => {
  const b = collect(); const p = $("preview"); p.replaceChildren();
  for (const l of LANGS) {
    p.append(el("h4", b.title[l] || "(" + l + ": no title)"), el("p", b.answer[l]), el("p", "🔊 " + (b.voice_answer[l] || "—")));
  }
  p.hidden = false;
});

$("try-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const params = new URLSearchParams({ q: $("try-q").value, lang: $("try-lang").value });
  const data = await api("GET", "/api/kb/try?" + params);
  $("try-decision").textContent = "Bot would: " + data.decision;
  const list = $("try-results"); list.replaceChildren();
  for (const h of data.results) {
    const open = el("button", h.title, { type: "button" });
    open.addEventListener("click", () => openArticle(h.id));
    const li = el("li", undefined, { "data-id": h.id });
    li.append(open, " — " + h.score.toFixed(3) + " (semantic " + h.semantic.toFixed(2) +
      ", stems " + h.stems.toFixed(2) + ", chars " + h.chars.toFixed(2) + ")");
    list.append(li);
  }
});

async function loadUnanswered() {
  const data = await api("GET", "/api/kb/unanswered");
  const list = $("unanswered"); list.replaceChildren();
  for (const u of data.unanswered) {
    const li = el("li", u.text + " ", { "data-key": u.key });
    li.append(el("small", "×" + u.count + " · " + u.language + " · " + u.channel));
    const create = el("button", "New article");
    create.addEventListener("click", () => {
      const q = {}; q[u.language] = [u.text];
      fill({ status: "", version: 0, questions: q }); state.fromUnanswered = u;
    });
    const add = el("button", "Add to open article");
    add.addEventListener("click", async () => {
      if (!state.current || !state.current.version) { say("Open an article first."); return; }
      try {
        await api("POST", "/api/kb/unanswered/" + u.key + "/resolve",
          { article_id: state.current.id, add_question: u.text, lang: u.language, version: state.current.version });
        await openArticle(state.current.id); loadUnanswered();
        say(state.current.pending ? "Question added as an unpublished change; publish to make it live." : "Question added.", true);
      } catch (e) { say(e.message); }
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
    $("import-result").textContent = "Created " + r.created + ", updated " + r.updated + ", unchanged " + r.unchanged + ".";
    loadList();
  } catch (e) { $("import-result").textContent = e.message; }
});

start();
