// The figures' period: quick choices (today, 24 hours, 7 days, 30 days) or two local dates and times.
import { useState } from "preact/hooks";
import { useLanguage } from "../lib/i18n.js";
import { tr } from "./tr.js";

const HOUR_MS = 3600 * 1000;
const PRESETS = {
  today: () => { const d = new Date(); d.setHours(0, 0, 0, 0); return [d, new Date()]; },
  day: () => [new Date(Date.now() - 24 * HOUR_MS), new Date()],
  week: () => { const d = new Date(); d.setHours(0, 0, 0, 0); return [new Date(d.getTime() - 6 * 24 * HOUR_MS), new Date()]; },
  month: () => { const d = new Date(); d.setHours(0, 0, 0, 0); return [new Date(d.getTime() - 29 * 24 * HOUR_MS), new Date()]; },
};

export function presetPeriod(name) {
  const [from, to] = PRESETS[name]();
  return { preset: name, from, to };
}

// <input type="datetime-local"> speaks local time without a zone.
function localValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function PeriodPicker({ period, onChange }) {
  useLanguage();
  const [from, setFrom] = useState(localValue(period.from));
  const [to, setTo] = useState(localValue(period.to));
  function pick(name) {
    const next = presetPeriod(name);
    setFrom(localValue(next.from)); setTo(localValue(next.to));
    onChange(next);
  }
  function custom(ev) {
    ev.preventDefault();
    onChange({ preset: "custom", from: new Date(from), to: new Date(to) });
  }
  return (
    <div class="period">
      <div role="group" aria-label={tr.t("figures.period")} class="presets">
        {Object.keys(PRESETS).map((name) => (
          <button type="button" key={name} aria-pressed={String(period.preset === name)} onClick={() => pick(name)} data-preset={name}>
            {tr.t("figures." + name)}
          </button>
        ))}
      </div>
      <form onSubmit={custom} class="custom">
        <label>{tr.t("figures.from")} <input type="datetime-local" id="from" value={from} onInput={(e) => setFrom(e.currentTarget.value)} required /></label>
        <label>{tr.t("figures.to")} <input type="datetime-local" id="to" value={to} onInput={(e) => setTo(e.currentTarget.value)} required /></label>
        <button type="submit" id="load">{tr.t("figures.show")}</button>
      </form>
    </div>
  );
}
