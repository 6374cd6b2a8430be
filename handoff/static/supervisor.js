"use strict";
// Supervisor page. UI texts come from i18n.js (I18N); operator names are content and shown as they are.
const $ = (id) => document.getElementById(id);
const { t, word } = I18N;
const shown = { live: null, figures: null };
function row(cells, head) {
  const tr = document.createElement("tr");
  for (const c of cells) { const td = document.createElement(head ? "th" : "td"); td.textContent = c === null || c === undefined ? "" : String(c); tr.appendChild(td); }
  return tr;
}
const number = (v) => (typeof v === "number" ? v.toLocaleString(I18N.language) : v);
async function get(path) { const r = await fetch(path, { credentials: "same-origin" }); if (r.status === 401) { location.href = "/console"; } return r.json(); }
function renderLive() {
  const data = shown.live; if (!data) return;
  $("queues").replaceChildren(row([t("col.language"), t("col.team"), t("col.waiting"), t("col.oldestWait")], true),
    ...data.queues.map((q) => row([q.language, q.team ? word("team", q.team) : t("team.any"), q.length, number(q.oldest_wait_seconds)])));
  $("operators").replaceChildren(row([t("col.operator"), t("col.status"), t("col.load"), t("col.capacity")], true),
    ...data.operators.map((o) => row([o.display_name, word("opStatus", o.status), o.active, o.capacity])));
}
async function live() { shown.live = await get("/api/supervisor/live"); renderLive(); }
function period() {
  const q = new URLSearchParams();
  if ($("from").value) q.set("from", new Date($("from").value).toISOString());
  if ($("to").value) q.set("to", new Date($("to").value).toISOString());
  return q.toString();
}
// Figure names in the UI language; the nested keys are reasons and resolutions, also fixed words.
const SUB_WORDS = { escalation_rate_by_reason: "reason", resolutions: "resolution" };
function renderFigures() {
  const data = shown.figures; if (!data) return;
  const rows = [];
  for (const [k, v] of Object.entries(data)) {
    if (v && typeof v === "object") for (const [k2, v2] of Object.entries(v)) rows.push(row([word("figure", k) + ": " + word(SUB_WORDS[k] || "", k2), number(v2)]));
    else rows.push(row([word("figure", k), number(v)]));
  }
  $("figures").replaceChildren(row([t("col.figure"), t("col.value")], true), ...rows);
}
async function figures() {
  shown.figures = await get("/api/supervisor/figures?" + period());
  $("csv").href = "/api/supervisor/figures.csv?" + period();
  renderFigures();
}
I18N.onChange(() => { renderLive(); renderFigures(); });
I18N.apply();
$("load").addEventListener("click", figures);
live(); figures(); setInterval(live, 3000);
