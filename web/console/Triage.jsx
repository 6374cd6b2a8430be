// Triage of the open conversation: its priority, its labels (from the supervisors' list), snooze until a
// time or the customer's reply, and the service-level clock. Every change becomes a timeline entry.
import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { useLanguage } from "../lib/i18n.js";
import { useNow } from "./hooks.js";
import { SlaClock } from "./Inbox.jsx";
import { tr } from "./tr.js";

function tomorrowNine() {
  const at = new Date();
  at.setDate(at.getDate() + 1);
  at.setHours(9, 0, 0, 0);
  return at;
}

export function Triage({ conv, row, triage, onDone, onError }) {
  useLanguage();
  const now = useNow();
  const base = "/api/console/conversations/" + conv.id;
  // The operator's choice shows at once; the server's copy replaces it when the conversation reloads.
  const [labels, setLabels] = useState(conv.labels || []);
  useEffect(() => setLabels(conv.labels || []), [conv.id, (conv.labels || []).join("\n")]);
  async function post(path, body, banner) {
    try { await api("POST", base + path, body); await onDone(banner); } catch (err) { onError(err); }
  }
  async function snooze(e) {
    const value = e.currentTarget.value;
    e.currentTarget.value = "";
    if (value === "reply") await post("/snooze", { until_reply: true }, { kind: "ok", text: tr.t("banner.snoozed") });
    const until = value === "hour" ? new Date(Date.now() + 3600 * 1000) : value === "tomorrow" ? tomorrowNine() : null;
    if (until) await post("/snooze", { until: until.toISOString() }, { kind: "ok", text: tr.t("banner.snoozed") });
  }
  async function wake() {
    try { await api("DELETE", base + "/snooze"); await onDone({ kind: "ok", text: tr.t("banner.woken") }); } catch (err) { onError(err); }
  }
  function toggleLabel(name) {
    const next = labels.includes(name) ? labels.filter((l) => l !== name) : [...labels, name];
    setLabels(next);
    post("/labels", { labels: next }, null);
  }
  return (
    <div class="triage" role="group" aria-label={tr.t("triage.priority")}>
      {row && row.sla ? <SlaClock sla={row.sla} readAt={row.readAt} now={now} /> : null}
      <label>{tr.t("triage.priority")}
        <select id="priority" value={conv.priority_level} onChange={(e) => post("/priority", { priority: e.currentTarget.value }, null)}>
          {triage.priorities.map((p) => <option value={p} key={p}>{tr.word("priority", p)}</option>)}
        </select>
      </label>
      {conv.snooze ? (
        <button type="button" id="wake" onClick={wake}>{tr.t("triage.wake")}</button>
      ) : (
        <select id="snooze" aria-label={tr.t("triage.snooze")} value="" onChange={snooze}>
          <option value="">{tr.t("triage.snooze")}…</option>
          <option value="hour">{tr.t("triage.snoozeHour")}</option>
          <option value="tomorrow">{tr.t("triage.snoozeTomorrow")}</option>
          <option value="reply">{tr.t("triage.snoozeReply")}</option>
        </select>
      )}
      <span class="labels" role="group" aria-label={tr.t("triage.labels")}>
        {triage.labels.length ? triage.labels.map((l) => (
          <label key={l.name}>
            <input type="checkbox" checked={labels.includes(l.name)} onChange={() => toggleLabel(l.name)} /> {l.name}
          </label>
        )) : null}
      </span>
    </div>
  );
}
