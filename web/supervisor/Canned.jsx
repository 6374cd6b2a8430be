// Canned answers, managed by supervisors: the list (language, team), a form to create or edit one, and a
// preview of the text as a known customer and as a guest would read it (variables filled in).
import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { errorText, language, useLanguage } from "../lib/i18n.js";
import { tr } from "./tr.js";

// A new answer starts in the page's language: a supervisor working in English most likely writes English.
const empty = () => ({ id: null, title: "", text: "", language: language(), team: "" });

export function Canned({ onBanner }) {
  useLanguage();
  const [items, setItems] = useState([]);
  const [teams, setTeams] = useState([]);
  const [editing, setEditing] = useState(empty);
  const [preview, setPreview] = useState(null);
  const load = () => api("GET", "/api/supervisor/canned").then((d) => setItems(d.canned)).catch(() => {});
  useEffect(() => {
    load();
    api("GET", "/api/console/triage").then((d) => setTeams(d.teams)).catch(() => {});
  }, []);
  const fail = (err) => onBanner({ kind: "error", ...errorText(tr, err) });
  const set = (key) => (e) => { setEditing({ ...editing, [key]: e.currentTarget.value }); setPreview(null); };

  async function save(e) {
    e.preventDefault();
    const body = { title: editing.title, text: editing.text, language: editing.language, team: editing.team || null };
    try {
      if (editing.id) await api("PUT", "/api/supervisor/canned/" + editing.id, body);
      else await api("POST", "/api/supervisor/canned", body);
      onBanner({ kind: "ok", text: tr.t("canned.saved", { title: editing.title }) });
      setEditing(empty());
      setPreview(null);
      load();
    } catch (err) { fail(err); }
  }
  async function remove(item) {
    try { await api("DELETE", "/api/supervisor/canned/" + item.id); load(); } catch (err) { fail(err); }
  }
  async function showPreview() {
    try { setPreview(await api("POST", "/api/supervisor/canned/preview", { text: editing.text, language: editing.language })); } catch (err) { fail(err); }
  }
  const teamName = (name) => {
    const team = teams.find((t) => t.name === name);
    return team ? (team.titles[document.documentElement.lang] || team.titles.ru || name) : name;
  };
  return (
    <section class="panel canned-panel" aria-labelledby="canned-heading">
      <h2 id="canned-heading">{tr.t("canned.heading")}</h2>
      <ul id="canned-list" class="canned-list">
        {items.map((item) => (
          <li key={item.id}>
            <span class="canned-title"><strong>{item.title}</strong> <span class="tag">{item.language}</span>
              {item.team ? <span class="tag">{teamName(item.team)}</span> : null}</span>
            <span class="canned-text" lang={item.language}>{item.text}</span>
            <span class="canned-actions">
              <button type="button" aria-label={tr.t("canned.editLabel", { title: item.title })}
                onClick={() => { setEditing({ ...item, team: item.team || "" }); setPreview(null); }}>{tr.t("canned.edit")}</button>
              <button type="button" class="danger" aria-label={tr.t("canned.deleteLabel", { title: item.title })}
                onClick={() => remove(item)}>{tr.t("canned.delete")}</button>
            </span>
          </li>
        ))}
      </ul>
      <form id="canned-form" class="canned-form" onSubmit={save}>
        <h3>{editing.id ? tr.t("canned.editing", { title: editing.title }) : tr.t("canned.new")}</h3>
        <label>{tr.t("canned.title")}<input id="canned-title" value={editing.title} maxLength={80} onInput={set("title")} required /></label>
        <label>{tr.t("canned.language")}
          <select id="canned-language" value={editing.language} onChange={set("language")}>
            <option value="ru">{tr.t("canned.ru")}</option><option value="en">{tr.t("canned.en")}</option>
          </select>
        </label>
        <label>{tr.t("canned.team")}
          <select id="canned-team" value={editing.team} onChange={set("team")}>
            <option value="">{tr.t("canned.allTeams")}</option>
            {teams.map((t) => <option value={t.name} key={t.name}>{teamName(t.name)}</option>)}
          </select>
        </label>
        <label class="wide">{tr.t("canned.text")}
          <textarea id="canned-text" rows="3" value={editing.text} lang={editing.language} onInput={set("text")} required />
        </label>
        <p class="hint wide">{tr.t("canned.variables")}</p>
        <div class="wide buttons">
          <button type="button" id="canned-preview" onClick={showPreview}>{tr.t("canned.preview")}</button>
          <button type="submit" id="canned-save">{tr.t("canned.save")}</button>
          {editing.id ? <button type="button" onClick={() => { setEditing(empty()); setPreview(null); }}>{tr.t("canned.cancel")}</button> : null}
        </div>
        {preview ? (
          <dl class="wide canned-preview" id="canned-preview-out">
            <dt>{tr.t("canned.asCustomer", { name: preview.sample_name })}</dt><dd lang={editing.language}>{preview.customer}</dd>
            <dt>{tr.t("canned.asGuest")}</dt><dd lang={editing.language}>{preview.guest}</dd>
            {preview.unknown_variables.length ? <><dt>{tr.t("canned.unknown")}</dt><dd>{preview.unknown_variables.map((v) => "{" + v + "}").join(", ")}</dd></> : null}
          </dl>
        ) : null}
      </form>
    </section>
  );
}
