// The campaign's latest contacts, one row each: customer, channel, state (or why it was not sent), answer.
import { useLanguage } from "../../lib/i18n.js";
import { dateTime, number } from "../format.js";
import { tr } from "../tr.js";

export function Attempts({ page }) {
  useLanguage();
  const rows = (page && page.attempts) || [];
  return (
    <section aria-labelledby="attempts-heading">
      <h3 id="attempts-heading">{tr.t("attempts.heading")}</h3>
      {!rows.length ? <p class="hint">{tr.t("attempts.empty")}</p> : (
        <div class="table-scroll" tabindex="0" role="region" aria-label={tr.t("attempts.heading")}>
          <table id="attempts">
            <thead><tr>
              <th scope="col">{tr.t("col.customer")}</th><th scope="col">{tr.t("col.channel")}</th>
              <th scope="col">{tr.t("col.state")}</th><th scope="col">{tr.t("col.when")}</th><th scope="col">{tr.t("col.answer")}</th>
            </tr></thead>
            <tbody>
              {rows.map((a) => (
                <tr key={a.id} data-attempt={a.id}>
                  <th scope="row">{a.customer_id}</th>
                  <td>{a.channel ? tr.word("ochannel", a.channel) : "—"}</td>
                  <td>{tr.word("astate", a.state)}{a.reason ? " · " + tr.word("suppress", a.reason) : ""}</td>
                  <td>{dateTime(a.sent_at || a.earliest_at)}</td>
                  <td>{a.answer ? tr.word("answer", a.answer) : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page && page.total > rows.length ? <p class="hint">{tr.t("attempts.more", { shown: number(rows.length, 0), total: number(page.total, 0) })}</p> : null}
    </section>
  );
}
