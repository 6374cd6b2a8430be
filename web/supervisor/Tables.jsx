// The period's tables: per operator, escalation reasons and resolutions as shares, customers' comments.
import { useLanguage } from "../lib/i18n.js";
import { dateTime, duration, number, percent } from "./format.js";
import { tr } from "./tr.js";

export function OperatorTable({ operators }) {
  useLanguage();
  return (
    <section aria-labelledby="per-operator-heading">
      <h3 id="per-operator-heading">{tr.t("perOperator.heading")}</h3>
      {operators.length === 0 ? <p class="hint">{tr.t("perOperator.empty")}</p> : (
        <table id="per-operator">
          <thead><tr>
            <th scope="col">{tr.t("col.operator")}</th><th scope="col">{tr.t("col.assigned")}</th><th scope="col">{tr.t("col.closed")}</th>
            <th scope="col">{tr.t("col.wait")}</th><th scope="col">{tr.t("col.firstResponse")}</th>
            <th scope="col">{tr.t("col.handle")}</th><th scope="col">{tr.t("col.rating")}</th>
          </tr></thead>
          <tbody>
            {operators.map((o) => (
              <tr key={o.operator_id}>
                <th scope="row">{o.name}</th><td class="num">{o.assigned}</td><td class="num">{o.closed}</td>
                <td class="num">{duration(o.wait_avg_seconds)}</td><td class="num">{duration(o.first_response_avg_seconds)}</td>
                <td class="num">{duration(o.handle_avg_seconds)}</td>
                <td class="num">{o.rating_avg === null ? "—" : `${number(o.rating_avg)} (${o.ratings})`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Reasons (fractions of all conversations) or resolutions (counts). */
export function ShareTable({ id, heading, group, values, asShare }) {
  useLanguage();
  const entries = Object.entries(values || {});
  if (!entries.length) return null;
  return (
    <section aria-labelledby={id + "-heading"}>
      <h3 id={id + "-heading"}>{heading}</h3>
      <table id={id}>
        <thead><tr><th scope="col">{heading}</th><th scope="col">{asShare ? tr.t("col.share") : tr.t("col.count")}</th></tr></thead>
        <tbody>
          {entries.map(([key, value]) => (
            <tr key={key}><th scope="row">{tr.word(group, key)}</th><td class="num">{asShare ? percent(value) : number(value, 0)}</td></tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function Comments({ comments, names, onOpen }) {
  useLanguage();
  return (
    <section aria-labelledby="comments-heading">
      <h3 id="comments-heading">{tr.t("comments.heading")}</h3>
      {comments.length === 0 ? <p class="hint">{tr.t("comments.empty")}</p> : (
        <ul id="comments" class="comments">
          {comments.map((c) => (
            <li key={c.conversation_id}>
              <blockquote>{c.comment}</blockquote>
              <span class="hint">{dateTime(c.at)} · {tr.t("comments.score", { score: c.score ?? "—" })}
                {c.operator_id ? " · " + (names[c.operator_id] || c.operator_id) : ""} · </span>
              <a href={"/supervisor?conversation=" + encodeURIComponent(c.conversation_id)}
                onClick={(ev) => { ev.preventDefault(); onOpen(c.conversation_id); }}>{tr.t("comments.open")}</a>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
