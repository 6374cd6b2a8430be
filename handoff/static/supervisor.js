"use strict";
const $ = (id) => document.getElementById(id);
function row(cells, head) {
  const tr = document.createElement("tr");
  for (const c of cells) { const td = document.createElement(head ? "th" : "td"); td.textContent = c === null || c === undefined ? "" : String(c); tr.appendChild(td); }
  return tr;
}
async function get(path) { const r = await fetch(path, { credentials: "same-origin" }); if (r.status === 401) { location.href = "/console"; } return r.json(); }
async function live() {
  const data = await get("/api/supervisor/live");
  $("queues").replaceChildren(row(["language", "team", "waiting", "oldest wait, s"], true), ...data.queues.map((q) => row([q.language, q.team, q.length, q.oldest_wait_seconds])));
  $("operators").replaceChildren(row(["operator", "status", "load", "capacity"], true), ...data.operators.map((o) => row([o.display_name, o.status, o.active, o.capacity])));
}
function period() {
  const q = new URLSearchParams();
  if ($("from").value) q.set("from", new Date($("from").value).toISOString());
  if ($("to").value) q.set("to", new Date($("to").value).toISOString());
  return q.toString();
}
async function figures() {
  const data = await get("/api/supervisor/figures?" + period());
  $("csv").href = "/api/supervisor/figures.csv?" + period();
  const rows = [];
  for (const [k, v] of Object.entries(data)) {
    if (v && typeof v === "object") for (const [k2, v2] of Object.entries(v)) rows.push(row([k + "." + k2, v2]));
    else rows.push(row([k, v]));
  }
  $("figures").replaceChildren(row(["figure", "value"], true), ...rows);
}
$("load").addEventListener("click", figures);
live(); figures(); setInterval(live, 3000);
