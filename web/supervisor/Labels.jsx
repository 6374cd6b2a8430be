// The labels operators put on conversations: supervisors keep the list here (add, remove).
import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { errorText, useLanguage } from "../lib/i18n.js";
import { tr } from "./tr.js";

export function Labels({ onBanner }) {
  useLanguage();
  const [labels, setLabels] = useState([]);
  const [name, setName] = useState("");
  useEffect(() => { api("GET", "/api/console/triage").then((d) => setLabels(d.labels)).catch(() => {}); }, []);
  async function add(e) {
    e.preventDefault();
    try {
      setLabels((await api("POST", "/api/supervisor/labels", { name })).labels);
      setName("");
    } catch (err) { onBanner({ kind: "error", ...errorText(tr, err) }); }
  }
  async function remove(label) {
    try {
      setLabels((await api("DELETE", "/api/supervisor/labels/" + encodeURIComponent(label))).labels);
    } catch (err) { onBanner({ kind: "error", ...errorText(tr, err) }); }
  }
  return (
    <section class="panel labels-panel" aria-labelledby="labels-heading">
      <h2 id="labels-heading">{tr.t("labels.heading")}</h2>
      {labels.length ? (
        <ul id="labels">
          {labels.map((l) => (
            <li key={l.name}>{l.name}
              <button type="button" class="link" aria-label={tr.t("labels.remove", { name: l.name })} onClick={() => remove(l.name)}>×</button>
            </li>
          ))}
        </ul>
      ) : <p class="hint">{tr.t("labels.empty")}</p>}
      <form onSubmit={add}>
        <input id="new-label" aria-label={tr.t("labels.new")} placeholder={tr.t("labels.new")} maxLength={32} value={name}
          onInput={(e) => setName(e.currentTarget.value)} required />
        <button type="submit" id="add-label">{tr.t("labels.add")}</button>
      </form>
    </section>
  );
}
