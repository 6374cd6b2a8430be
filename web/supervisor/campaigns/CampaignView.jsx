// One campaign: what it is and when it runs, what the supervisor may do now, what the customer will read and
// how many will be reached (while a draft), then its live results, survey answers and latest contacts.
import { useEffect, useState } from "preact/hooks";
import { useLanguage } from "../../lib/i18n.js";
import { dateTime, number } from "../format.js";
import { tr } from "../tr.js";
import { campaignError, campaigns } from "./api.js";
import { Attempts } from "./Attempts.jsx";
import { CampaignActions } from "./CampaignActions.jsx";
import { Forecast } from "./Forecast.jsx";
import { MessagePreview } from "./MessagePreview.jsx";
import { ProgressBar } from "./ProgressBar.jsx";
import { Results } from "./Results.jsx";
import { SurveyResults } from "./SurveyResults.jsx";

// The newest contacts listed under the results; every one of them is in the CSV.
const ATTEMPTS_SHOWN = 50;

function Audience({ audience }) {
  if (!audience) return null;
  if (audience.type === "csv") return <span>{tr.t("view.audienceCsv", { count: number(audience.customer_ids, 0) })}</span>;
  return <span>{tr.t("view.audienceRule", { days: audience.days, products: (audience.products || []).map((p) => tr.word("product", p)).join(", ") })}</span>;
}

export function CampaignView({ id, tick, onClose, onChanged, onBanner }) {
  useLanguage();
  const [campaign, setCampaign] = useState(null);
  const [results, setResults] = useState(null);
  const [attempts, setAttempts] = useState(null);
  const [forecastKey, setForecastKey] = useState(0);

  useEffect(() => { setCampaign(null); setResults(null); setAttempts(null); }, [id]);
  useEffect(() => {
    let stale = false;
    Promise.all([campaigns.get(id), campaigns.results(id), campaigns.attempts(id, ATTEMPTS_SHOWN)])
      .then(([c, r, a]) => { if (!stale) { setCampaign(c); setResults(r); setAttempts(a); } })
      .catch((err) => { if (!stale) onBanner({ kind: "error", ...campaignError(err) }); });
    return () => { stale = true; };
  }, [id, tick]);

  if (!campaign) return <section class="panel campaign" aria-busy="true"><p class="hint">{tr.t("viewer.loading")}</p></section>;
  const c = campaign;
  function changed(next) { setCampaign(next); setForecastKey((k) => k + 1); onChanged(); }
  return (
    <section class="panel campaign" id="campaign" data-campaign={c.id} data-state={c.state} aria-labelledby="campaign-heading">
      <header class="viewer-head">
        <h2 id="campaign-heading">{c.name}</h2>
        <span class={"cstate " + c.state} id="campaign-state">{tr.word("cstate", c.state)}</span>
        <button type="button" class="link" onClick={onClose} aria-label={tr.t("view.close")}>×</button>
      </header>
      <p class="campaign-facts">
        <span>{tr.word("kind", c.kind)}</span> · <Audience audience={c.audience} /> ·{" "}
        <span>{tr.t("view.schedule", { start: dateTime(c.start), end: dateTime(c.end) })}</span> ·{" "}
        <span>{tr.t("view.channels", { list: (c.channels || []).map((ch) => tr.word("ochannel", ch)).join(" → ") })}</span>
        {c.created_by ? <> · <span>{tr.t("view.createdBy", { who: c.created_by })}</span></> : null}
      </p>
      <div class="campaign-bar">
        <ProgressBar counts={c.counts} />
        <CampaignActions campaign={c} onChanged={changed} onBanner={onBanner} />
        {c.state !== "draft" ? (
          <a id="campaign-export" class="button-link" href={campaigns.exportUrl(c.id)} download={c.id + ".csv"}>{tr.t("view.export")}</a>
        ) : null}
      </div>
      {c.state === "draft" || c.state === "scheduled" ? (
        <div class="campaign-check">
          <MessagePreview campaignId={c.id} />
          <Forecast campaignId={c.id} refreshKey={forecastKey} />
        </div>
      ) : null}
      <Results campaign={c} results={results} />
      {c.kind === "survey" ? <SurveyResults survey={results && results.survey} /> : null}
      <Attempts page={attempts} />
    </section>
  );
}
