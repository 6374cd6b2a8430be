// Every open conversation, oldest first: who, where, state, how long the customer waits, the last message,
// and what the supervisor can do: read it, join it, take it over.
import { useLanguage } from "../lib/i18n.js";
import { duration, since } from "./format.js";
import { tr } from "./tr.js";

function Row({ row, now, selected, onRead, onJoin, onTakeOver }) {
  const who = row.customer_name || tr.t("open.guest");
  const waitingSince = row.state === "queued" ? row.queued_at : null;
  const last = row.last_message || {};
  return (
    <li class={"live-row" + (selected ? " selected" : "") + (row.sla && row.sla.breached ? " breached" : "")} data-conversation={row.id}>
      <div class="live-main">
        <strong>{who}</strong>
        <span class="tag">{tr.word("channel", row.channel)}</span>
        {row.language ? <span class="tag" lang={row.language}>{row.language}</span> : null}
        <span class={"state " + row.state}>{tr.word("state", row.state)}</span>
        {row.assignee_name ? <span class="hint">{tr.t("open.with", { name: row.assignee_name })}</span> : null}
        {waitingSince ? <span class="wait">{tr.t("open.waiting", { time: since(waitingSince, now) })}</span> : null}
        {row.priority_level && row.priority_level !== "normal" ? <span class={"prio " + row.priority_level}>{tr.word("priority", row.priority_level)}</span> : null}
        {row.sla ? (
          <span class={"sla" + (row.sla.breached ? " over" : "")} data-sla={row.sla.breached ? "over" : "left"}>
            {row.sla.breached ? tr.t("sla.over", { target: tr.word("sla", row.sla.target), time: duration(-row.sla.left_seconds) })
              : tr.t("sla.left", { target: tr.word("sla", row.sla.target), time: duration(row.sla.left_seconds) })}
          </span>
        ) : null}
      </div>
      <p class="preview" lang={row.language || undefined}>
        {last.text ? (tr.word("author", last.author) + ": " + last.text) : tr.t("open.noMessages")}
      </p>
      <div class="live-actions">
        <button type="button" onClick={() => onRead(row.id)} aria-label={tr.t("open.read") + ": " + who}>{tr.t("open.read")}</button>
        <button type="button" onClick={() => onJoin(row.id)} aria-label={tr.t("open.join") + ": " + who}>{tr.t("open.join")}</button>
        <button type="button" onClick={() => onTakeOver(row.id)} aria-label={tr.t("open.takeOver") + ": " + who}>{tr.t("open.takeOver")}</button>
      </div>
    </li>
  );
}

export function OpenConversations({ rows, now, selected, onRead, onJoin, onTakeOver }) {
  useLanguage();
  return (
    <section class="panel" aria-labelledby="open-heading">
      <h2 id="open-heading">{tr.t("open.heading")} <span class="count">({rows.length})</span></h2>
      {rows.length === 0 ? <p class="hint">{tr.t("open.empty")}</p> : (
        <ul id="open-conversations" class="live-list" tabIndex={0} aria-labelledby="open-heading">
          {rows.map((row) => (
            <Row key={row.id} row={row} now={now} selected={row.id === selected}
              onRead={onRead} onJoin={onJoin} onTakeOver={onTakeOver} />
          ))}
        </ul>
      )}
    </section>
  );
}
