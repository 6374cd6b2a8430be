// Right now: the queues (length, longest wait) and the operators (status, load). Supervisors are not listed.
import { useLanguage } from "../lib/i18n.js";
import { duration } from "./format.js";
import { tr } from "./tr.js";

export function Queues({ queues }) {
  useLanguage();
  return (
    <section class="panel" aria-labelledby="queues-heading">
      <h2 id="queues-heading">{tr.t("queues.heading")}</h2>
      {queues.length === 0 ? <p class="hint">{tr.t("queues.empty")}</p> : (
        <table id="queues">
          <thead><tr><th scope="col">{tr.t("col.language")}</th><th scope="col">{tr.t("col.team")}</th>
            <th scope="col">{tr.t("col.waiting")}</th><th scope="col">{tr.t("col.oldestWait")}</th></tr></thead>
          <tbody>
            {queues.map((q) => (
              <tr key={String(q.language) + String(q.team)}>
                <td>{q.language || "—"}</td><td>{q.team ? tr.word("team", q.team) : tr.t("team.any")}</td>
                <td class="num">{q.length}</td><td class="num">{duration(q.oldest_wait_seconds)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function Operators({ operators }) {
  useLanguage();
  return (
    <section class="panel" aria-labelledby="operators-heading">
      <h2 id="operators-heading">{tr.t("operators.heading")}</h2>
      {operators.length === 0 ? <p class="hint">{tr.t("operators.empty")}</p> : (
        <table id="operators">
          <thead><tr><th scope="col">{tr.t("col.operator")}</th><th scope="col">{tr.t("col.status")}</th>
            <th scope="col">{tr.t("col.load")}</th><th scope="col">{tr.t("col.capacity")}</th></tr></thead>
          <tbody>
            {operators.map((o) => (
              <tr key={o.id}>
                <td>{o.display_name}</td>
                <td><span class={"status " + o.status}>{tr.word("opStatus", o.status)}</span></td>
                <td class="num">{o.active}</td><td class="num">{o.capacity}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
