// Live outcome counts of a campaign (queued, sent, delivered, replied, paid, opted out, failed, handed to an
// operator...) and the reasons contacts were suppressed.
import { useLanguage } from "../../lib/i18n.js";
import { number } from "../format.js";
import { tr } from "../tr.js";
import { queuedCount } from "./api.js";

const OUTCOMES = ["queued", "sent", "delivered", "replied", "paid", "opted_out", "failed", "handed_off", "unknown", "suppressed"];

export function Results({ campaign, results }) {
  useLanguage();
  const raw = (results && results.counts) || {};
  // `sent_total` and `replied_total` count every attempt that got that far (a replied one was sent too).
  const counts = { ...raw, queued: queuedCount(campaign.counts), sent: raw.sent_total ?? raw.sent, replied: raw.replied_total ?? raw.replied };
  const shown = OUTCOMES.filter((o) => o !== "paid" || campaign.kind === "payment_reminder")
    .filter((o) => o !== "unknown" || counts.unknown);
  const reasons = Object.entries((results && results.suppressed_by_reason) || {}).filter(([, n]) => n);
  return (
    <section aria-labelledby="results-heading">
      <h3 id="results-heading">{tr.t("results.heading")}</h3>
      <div class="kpis outcomes" id="outcomes">
        {shown.map((o) => (
          <div class={"kpi outcome-" + o} key={o} data-outcome={o}>
            <div class="kpi-label">{tr.t("outcome." + o)}</div>
            <div class="kpi-value">{number(counts[o] || 0, 0)}</div>
          </div>
        ))}
      </div>
      {reasons.length ? (
        <table id="suppressed-reasons">
          <caption>{tr.t("results.suppressed")}</caption>
          <thead><tr><th scope="col">{tr.t("col.reason")}</th><th scope="col">{tr.t("col.count")}</th></tr></thead>
          <tbody>
            {reasons.map(([reason, n]) => (
              <tr key={reason}><th scope="row">{tr.word("suppress", reason)}</th><td class="num">{number(n, 0)}</td></tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
