// Filters of the inbox (assignee, team, label, channel, language, priority) and saved views: a named view
// plus its filters, kept per staff member on the server, applied with one click.
import { useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { useLanguage } from "../lib/i18n.js";
import { teamTitle } from "./Inbox.jsx";
import { tr } from "./tr.js";

const CHANNELS = ["webchat", "telegram", "voice", "rest"];
const LANGUAGES = ["ru", "en"];

export function Filters({ view, setView, filters, setFilters, triage, onSaved, onError }) {
  useLanguage();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const active = Object.values(filters).filter(Boolean).length;
  const set = (key) => (e) => setFilters({ ...filters, [key]: e.currentTarget.value });
  async function save(e) {
    e.preventDefault();
    try {
      await api("POST", "/api/console/views", { name, view, filters });
      setName("");
      onSaved();
    } catch (err) { onError(err); }
  }
  async function forget(id) {
    try { await api("DELETE", "/api/console/views/" + id); onSaved(); } catch (err) { onError(err); }
  }
  return (
    <div class="filters">
      <div class="filters-bar">
        <button type="button" id="toggle-filters" aria-expanded={String(open)} aria-controls="filter-form" onClick={() => setOpen(!open)}>
          {tr.t("filters.button")}{active ? " (" + active + ")" : ""}
        </button>
        {active ? <button type="button" class="link" id="clear-filters" onClick={() => setFilters({})}>{tr.t("filters.clear")}</button> : null}
        {triage.views.length ? (
          <select id="saved-views" aria-label={tr.t("filters.savedViews")} value="" onChange={(e) => {
            const saved = triage.views.find((v) => v.id === e.currentTarget.value);
            if (saved) { setView(saved.view); setFilters(saved.filters || {}); }
          }}>
            <option value="">{tr.t("filters.savedViews")}…</option>
            {triage.views.map((v) => <option value={v.id} key={v.id}>{v.name}</option>)}
          </select>
        ) : null}
      </div>
      {open ? (
        <form id="filter-form" class="filter-form" onSubmit={save}>
          <label>{tr.t("filters.assignee")}
            <select id="filter-assignee" value={filters.assignee || ""} onChange={set("assignee")}>
              <option value="">{tr.t("filters.any")}</option>
              <option value="none">{tr.t("filters.unassigned")}</option>
              {triage.operators.map((o) => <option value={o.id} key={o.id}>{o.display_name}</option>)}
            </select>
          </label>
          <label>{tr.t("filters.team")}
            <select id="filter-team" value={filters.team || ""} onChange={set("team")}>
              <option value="">{tr.t("filters.any")}</option>
              {triage.teams.map((t) => <option value={t.name} key={t.name}>{teamTitle(t)}</option>)}
            </select>
          </label>
          <label>{tr.t("filters.label")}
            <select id="filter-label" value={filters.label || ""} onChange={set("label")}>
              <option value="">{tr.t("filters.any")}</option>
              {triage.labels.map((l) => <option value={l.name} key={l.name}>{l.name}</option>)}
            </select>
          </label>
          <label>{tr.t("filters.channel")}
            <select id="filter-channel" value={filters.channel || ""} onChange={set("channel")}>
              <option value="">{tr.t("filters.any")}</option>
              {CHANNELS.map((c) => <option value={c} key={c}>{tr.word("channel", c)}</option>)}
            </select>
          </label>
          <label>{tr.t("filters.language")}
            <select id="filter-language" value={filters.language || ""} onChange={set("language")}>
              <option value="">{tr.t("filters.any")}</option>
              {LANGUAGES.map((l) => <option value={l} key={l}>{tr.word("value", l)}</option>)}
            </select>
          </label>
          <label>{tr.t("filters.priority")}
            <select id="filter-priority" value={filters.priority || ""} onChange={set("priority")}>
              <option value="">{tr.t("filters.any")}</option>
              {triage.priorities.map((p) => <option value={p} key={p}>{tr.word("priority", p)}</option>)}
            </select>
          </label>
          <label class="save-view">{tr.t("filters.saveAs")}
            <input id="view-name" value={name} maxLength={60} onInput={(e) => setName(e.currentTarget.value)} required />
          </label>
          <button type="submit" id="save-view">{tr.t("filters.save")}</button>
          {triage.views.length ? (
            <ul class="views-list">
              {triage.views.map((v) => (
                <li key={v.id}>{v.name} <button type="button" class="link" aria-label={tr.t("filters.deleteView", { name: v.name })}
                  onClick={() => forget(v.id)}>×</button></li>
              ))}
            </ul>
          ) : null}
        </form>
      ) : null}
    </div>
  );
}
