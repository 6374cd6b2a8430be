// The figures of a period: headline cards, charts per hour or day, tables, comments, and the CSV.
import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { errorText, useLanguage } from "../lib/i18n.js";
import { BarChart } from "./BarChart.jsx";
import { dateTime, duration, number, percent } from "./format.js";
import { Kpis } from "./Kpis.jsx";
import { Reports } from "./Reports.jsx";
import { PeriodPicker, presetPeriod } from "./PeriodPicker.jsx";
import { Comments, OperatorTable, ShareTable } from "./Tables.jsx";
import { tr } from "./tr.js";

function query(period) {
  const params = new URLSearchParams({ from: period.from.toISOString(), to: period.to.toISOString() });
  try { params.set("tz", Intl.DateTimeFormat().resolvedOptions().timeZone); } catch (e) { /* the server's zone then */ }
  return params.toString();
}

export function FiguresPanel({ onOpen, onBanner, refreshKey }) {
  useLanguage();
  const [period, setPeriod] = useState(() => presetPeriod("today"));
  const [figures, setFigures] = useState(null);

  useEffect(() => {
    api("GET", "/api/supervisor/figures?" + query(period))
      .then(setFigures)
      .catch((err) => onBanner({ kind: "error", ...errorText(tr, err.status === 400 ? { code: "bad_period" } : err) }));
  }, [period, refreshKey]);

  const bucketWord = figures ? tr.t("chart.bucket." + figures.bucket) : "";
  const series = figures ? figures.series : [];
  return (
    <section class="panel figures" aria-labelledby="figures-heading">
      <header class="figures-head">
        <h2 id="figures-heading">{tr.t("figures.heading")}</h2>
        <a id="csv" class="button-link" href={"/api/supervisor/figures.csv?" + query(period)} download="figures.csv">{tr.t("figures.csv")}</a>
      </header>
      <PeriodPicker period={period} onChange={setPeriod} />
      {figures ? (
        <>
          <p class="hint" id="period-shown">{tr.t("figures.range", { from: dateTime(figures.period_from), to: dateTime(figures.period_to) })}</p>
          <Kpis figures={figures} />
          <div class="charts">
            <BarChart id="chart-conversations" title={tr.t("chart.conversations", { bucket: bucketWord })} bucket={figures.bucket}
              points={series.map((b) => ({ start: b.start, value: b.conversations }))} format={(v) => number(v, 0)} />
            <BarChart id="chart-containment" title={tr.t("chart.containment", { bucket: bucketWord })} bucket={figures.bucket} max={1}
              points={series.map((b) => ({ start: b.start, value: b.containment_rate }))} format={percent} />
            <BarChart id="chart-wait" title={tr.t("chart.wait", { bucket: bucketWord })} bucket={figures.bucket}
              points={series.map((b) => ({ start: b.start, value: b.wait_avg_seconds }))} format={duration} />
          </div>
          <OperatorTable operators={figures.operators} />
          <div class="shares">
            <ShareTable id="reasons" heading={tr.t("reasons.heading")} group="reason" values={figures.escalation_rate_by_reason} asShare />
            <ShareTable id="resolutions" heading={tr.t("resolutions.heading")} group="resolution" values={figures.resolutions} />
          </div>
          <Comments comments={figures.comments} onOpen={onOpen}
            names={Object.fromEntries(figures.operators.map((o) => [o.operator_id, o.name]))} />
          <Reports query={query(period)} />
        </>
      ) : null}
    </section>
  );
}
