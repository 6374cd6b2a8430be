// Create a campaign as a draft: name, kind, audience (a CSV file or a due-date rule), channels, the message
// per language, the schedule and, for a survey, its questions. A refused CSV lists its bad rows.
import { useState } from "preact/hooks";
import { useLanguage } from "../../lib/i18n.js";
import { tr } from "../tr.js";
import { campaignError, campaigns } from "./api.js";
import { CsvErrors } from "./CsvErrors.jsx";

const QUESTION_IDS = { rating_1_5: "rating", nps_0_10: "nps", comment: "comment" };
const PRODUCTS = ["loan", "credit_card"];
const HOUR_MS = 3600 * 1000;

// <input type="datetime-local"> speaks local time without a zone.
function localValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function defaultSchedule() {
  const start = new Date(Math.ceil(Date.now() / HOUR_MS) * HOUR_MS);
  return { start: localValue(start), end: localValue(new Date(start.getTime() + 3 * 24 * HOUR_MS)) };
}

function countRows(text) {
  return text.split(/\r?\n/).filter((line) => line.trim()).length;
}

export function CampaignForm({ meta, onCreated, onCancel, onBanner }) {
  useLanguage();
  const kinds = meta.kinds || [];
  const [name, setName] = useState("");
  const [kind, setKind] = useState(kinds[0] || "payment_reminder");
  const [audienceType, setAudienceType] = useState("csv");
  const [csv, setCsv] = useState(null);
  const [days, setDays] = useState(3);
  const [products, setProducts] = useState(PRODUCTS);
  const [channels, setChannels] = useState(meta.channels || []);
  const [templates, setTemplates] = useState((meta.default_templates || {})[kind] || { ru: "", en: "" });
  const [schedule, setSchedule] = useState(defaultSchedule);
  const [questions, setQuestions] = useState(["rating_1_5", "nps_0_10"]);
  const [badRows, setBadRows] = useState(null);
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);

  function chooseKind(next) {
    setKind(next);
    setTemplates((meta.default_templates || {})[next] || { ru: "", en: "" });
  }
  async function chooseFile(ev) {
    const file = ev.currentTarget.files[0];
    setBadRows(null);
    setCsv(file ? { name: file.name, text: await file.text() } : null);
  }
  function toggle(list, setList, value) {
    setList(list.includes(value) ? list.filter((v) => v !== value) : [...list, value]);
  }

  async function submit(ev) {
    ev.preventDefault();
    setProblem(null);
    setBadRows(null);
    if (!channels.length) return setProblem(tr.t("form.noChannel"));
    if (kind === "survey" && !questions.length) return setProblem(tr.t("form.noQuestion"));
    if (audienceType === "csv" && !csv) return setProblem(tr.t("form.noFile"));
    const body = {
      name: name.trim(),
      kind,
      audience: audienceType === "csv" ? { type: "csv", csv: csv.text } : { type: "due_in_days", days: Number(days), products },
      channels: (meta.channels || []).filter((c) => channels.includes(c)),
      start: new Date(schedule.start).toISOString(),
      end: new Date(schedule.end).toISOString(),
    };
    const written = Object.fromEntries(Object.entries(templates).filter(([, text]) => text && text.trim()));
    if (Object.keys(written).length) body.templates = written;
    if (kind === "survey") body.survey = { questions: questions.map((type) => ({ id: QUESTION_IDS[type] || type, type })) };
    setBusy(true);
    try {
      const created = await campaigns.create(body);
      onBanner({ kind: "ok", text: tr.t("form.created", { name: created.name }) });
      onCreated(created);
    } catch (err) {
      if (err.code === "bad_csv") setBadRows(err.body.rows || []);
      else setProblem(campaignError(err).text + (err.message && err.code !== "network" ? " " + err.message : ""));
    } finally {
      setBusy(false);
    }
  }

  const variables = (meta.variables || []).map((v) => "{" + v + "}").join(", ");
  return (
    <section class="panel campaign-form" aria-labelledby="campaign-form-heading">
      <h2 id="campaign-form-heading">{tr.t("form.heading")}</h2>
      <form id="campaign-form" onSubmit={submit}>
        <label>{tr.t("form.name")}
          <input id="campaign-name" value={name} maxLength={120} required onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>{tr.t("form.kind")}
          <select id="campaign-kind" value={kind} onChange={(e) => chooseKind(e.currentTarget.value)}>
            {kinds.map((k) => <option key={k} value={k}>{tr.word("kind", k)}</option>)}
          </select>
        </label>

        <fieldset>
          <legend>{tr.t("form.audience")}</legend>
          <label class="inline"><input type="radio" name="audience" value="csv" checked={audienceType === "csv"}
            onChange={() => setAudienceType("csv")} /> {tr.t("form.audienceCsv")}</label>
          <label class="inline"><input type="radio" name="audience" value="due_in_days" id="audience-rule" checked={audienceType === "due_in_days"}
            onChange={() => setAudienceType("due_in_days")} /> {tr.t("form.audienceRule")}</label>
          {audienceType === "csv" ? (
            <div class="audience-csv">
              <label>{tr.t("form.csvFile")}
                <input id="campaign-csv" type="file" accept=".csv,text/csv,text/plain" onChange={chooseFile} aria-describedby="csv-help" />
              </label>
              <p class="hint" id="csv-help">{tr.t("form.csvHelp")}</p>
              {csv ? <p class="hint" id="csv-chosen">{tr.t("form.csvChosen", { name: csv.name, rows: countRows(csv.text) })}</p> : null}
            </div>
          ) : (
            <div class="audience-rule">
              <label>{tr.t("form.days")}
                <input id="campaign-days" type="number" min="1" max="60" value={days} required onInput={(e) => setDays(e.currentTarget.value)} />
              </label>
              <div role="group" aria-label={tr.t("form.products")}>
                {PRODUCTS.map((p) => (
                  <label class="inline" key={p}><input type="checkbox" checked={products.includes(p)}
                    onChange={() => toggle(products, setProducts, p)} /> {tr.word("product", p)}</label>
                ))}
              </div>
            </div>
          )}
        </fieldset>

        <fieldset>
          <legend>{tr.t("form.channels")}</legend>
          <p class="hint">{tr.t("form.channelsHelp")}</p>
          {(meta.channels || []).map((c) => (
            <label class="inline" key={c}><input type="checkbox" name="channel" value={c} checked={channels.includes(c)}
              onChange={() => toggle(channels, setChannels, c)} /> {tr.word("ochannel", c)}</label>
          ))}
        </fieldset>

        {kind === "survey" ? (
          <fieldset id="survey-questions">
            <legend>{tr.t("form.survey")}</legend>
            {(meta.question_types || Object.keys(QUESTION_IDS)).map((q) => (
              <label class="inline" key={q}><input type="checkbox" name="question" value={q} checked={questions.includes(q)}
                onChange={() => toggle(questions, setQuestions, q)} /> {tr.word("question", q)}</label>
            ))}
          </fieldset>
        ) : null}

        <fieldset>
          <legend>{tr.t("form.templates")}</legend>
          <p class="hint" id="template-help">{tr.t("form.variables", { list: variables })}</p>
          <div class="templates">
            {["ru", "en"].map((lang) => (
              <label key={lang}>{tr.t(lang === "ru" ? "form.templateRu" : "form.templateEn")}
                <textarea id={"template-" + lang} lang={lang} rows={4} value={templates[lang] || ""} aria-describedby="template-help"
                  onInput={(e) => setTemplates({ ...templates, [lang]: e.currentTarget.value })} />
              </label>
            ))}
          </div>
        </fieldset>

        <div class="schedule">
          <label>{tr.t("form.start")}
            <input id="campaign-start" type="datetime-local" value={schedule.start} required
              onInput={(e) => setSchedule({ ...schedule, start: e.currentTarget.value })} />
          </label>
          <label>{tr.t("form.end")}
            <input id="campaign-end" type="datetime-local" value={schedule.end} required
              onInput={(e) => setSchedule({ ...schedule, end: e.currentTarget.value })} />
          </label>
        </div>

        <CsvErrors rows={badRows} />
        {problem ? <p class="form-problem" role="alert" id="form-problem">{problem}</p> : null}
        <div class="form-buttons">
          <button type="submit" id="campaign-create" disabled={busy}>{tr.t("form.create")}</button>
          <button type="button" onClick={onCancel}>{tr.t("form.cancel")}</button>
        </div>
      </form>
    </section>
  );
}
