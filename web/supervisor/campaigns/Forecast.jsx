// The planner's dry run: how many customers will be contacted today, later, and not at all, and why not.
import { useEffect, useState } from "preact/hooks";
import { useLanguage } from "../../lib/i18n.js";
import { number } from "../format.js";
import { tr } from "../tr.js";
import { campaignError, campaigns } from "./api.js";

function Figure({ id, label, value }) {
  return (
    <div class="kpi" id={id}>
      <div class="kpi-label">{label}</div>
      <div class="kpi-value">{number(value, 0)}</div>
    </div>
  );
}

export function Forecast({ campaignId, refreshKey }) {
  useLanguage();
  const [forecast, setForecast] = useState(null);
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    campaigns.forecast(campaignId).then((f) => { setForecast(f); setProblem(null); }).catch((err) => setProblem(campaignError(err).text));
  }, [campaignId, refreshKey]);
  const reasons = Object.entries((forecast && forecast.by_reason) || {}).filter(([, n]) => n);
  return (
    <section class="forecast" aria-labelledby="forecast-heading">
      <h3 id="forecast-heading">{tr.t("forecast.heading")}</h3>
      {problem ? <p role="alert" class="form-problem">{problem}</p> : null}
      {forecast ? (
        <>
          <div class="kpis" id="forecast">
            <Figure id="forecast-audience" label={tr.t("forecast.audience")} value={forecast.audience} />
            <Figure id="forecast-today" label={tr.t("forecast.today")} value={forecast.today} />
            <Figure id="forecast-later" label={tr.t("forecast.later")} value={forecast.later} />
            <Figure id="forecast-suppressed" label={tr.t("forecast.suppressed")} value={forecast.suppressed} />
          </div>
          {reasons.length ? (
            <table id="forecast-reasons">
              <caption>{tr.t("forecast.why")}</caption>
              <thead><tr><th scope="col">{tr.t("col.reason")}</th><th scope="col">{tr.t("col.count")}</th></tr></thead>
              <tbody>
                {reasons.map(([reason, n]) => (
                  <tr key={reason}><th scope="row">{tr.word("suppress", reason)}</th><td class="num">{number(n, 0)}</td></tr>
                ))}
              </tbody>
            </table>
          ) : <p class="hint">{tr.t("forecast.none")}</p>}
        </>
      ) : null}
    </section>
  );
}
