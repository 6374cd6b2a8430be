// The conversation's timeline: customer, bot, operator and system messages with private notes between
// them (in their own colour); a button press shows the button's label, a customer line its intent.
// What happened to the conversation besides messages (assignment, transfer, verification, card blocks,
// priority, labels, snooze, status) sits between them as one-line entries.
import { useEffect, useRef } from "preact/hooks";
import { useLanguage } from "../lib/i18n.js";
import { when } from "./format.js";
import { tr } from "./tr.js";

const ORDER = { message: 0, activity: 1, note: 2 };

export function Timeline({ messages, notes, activity, language }) {
  useLanguage();
  const end = useRef(null);
  const items = [
    ...messages.map((m) => ({ kind: "message", at: m.at, key: "m" + m.seq, m })),
    ...notes.map((n, i) => ({ kind: "note", at: n.at, key: "n" + i + n.at, n })),
    ...(activity || []).map((a) => ({ kind: "activity", at: a.at, key: "a" + a.id, a })),
  ].sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || ORDER[a.kind] - ORDER[b.kind]);
  useEffect(() => { end.current && end.current.scrollIntoView({ block: "end" }); }, [items.length]);
  return (
    <section class="timeline" aria-label={tr.t("conv.timeline")} tabIndex={0}>
      <ol id="transcript">
        {items.map((item) => (item.kind === "message" ? <Message key={item.key} m={item.m} language={language} />
          : item.kind === "note" ? <Note key={item.key} n={item.n} /> : <Activity key={item.key} a={item.a} />))}
      </ol>
      <div ref={end} />
    </section>
  );
}

function Message({ m, language }) {
  const who = m.author === "operator" && m.operator_name ? m.operator_name : tr.word("author", m.author);
  const pressed = m.author === "customer" && m.label;
  return (
    <li class={"msg " + m.author} data-seq={m.seq}>
      <span class="meta">{who} · <time dateTime={m.at}>{when(m.at)}</time>
        {m.intent ? <span class="intent"> · {tr.t("message.intent", { intent: m.intent, confidence: m.confidence ?? "" })}</span> : null}
      </span>
      {pressed ? (
        <span class="text pressed">{tr.t("message.pressed", { label: m.label })}</span>
      ) : (
        <span class="text" lang={m.author === "customer" && language ? language : undefined}>{m.text}</span>
      )}
      {m.buttons && m.buttons.length ? (
        <span class="buttons">{tr.t("message.buttons", { titles: m.buttons.map((b) => "«" + b.title + "»").join(", ") })}</span>
      ) : null}
    </li>
  );
}

function Note({ n }) {
  const label = n.kind === "transfer" ? "author.transferNote" : "author.note";
  return (
    <li class="note">
      <span class="meta">{tr.t(label, { name: n.operator_name || n.operator_id })} · <time dateTime={n.at}>{when(n.at)}</time></span>
      <span class="text">{n.kind === "supervisor_joined" ? tr.t("note.supervisorJoined", { name: n.operator_name || n.operator_id }) : n.text}</span>
    </li>
  );
}

/** One thing that happened, in words: "Kate blocked card •••• 5678", "Priority: urgent". */
export function activityText(a) {
  const d = a.data || {};
  const who = a.actor_name || (a.actor === "customer" ? tr.t("author.customer") : a.actor === "bot" ? tr.t("author.bot") : "");
  switch (a.name) {
    case "conversation.bot_handoff": return tr.t("activity.handoff", { reason: tr.word("reason", d.reason) });
    case "conversation.assigned": return tr.t(d.how === "take" ? "activity.taken" : "activity.assigned", { name: d.operator_name || "" });
    case "conversation.transferred":
      if (d.takeover) return tr.t("activity.takenOver", { name: d.to_operator_name || d.to_operator_id });
      return d.to_operator_id ? tr.t("activity.transferredTo", { who, to: d.to_operator_name || d.to_operator_id })
        : tr.t("activity.transferredTeam", { who, team: tr.word("team", d.to_team) });
    case "conversation.returned_to_bot": return tr.t("activity.returned", { who });
    case "conversation.closed":
      if (d.resolution === "bot_idle") return tr.t("activity.closedIdle");
      return tr.t("activity.closed", { who, resolution: tr.word("resolution", d.resolution) });
    case "customer.verified": return tr.t("activity.verified", { how: tr.word("verified", d.method) });
    case "card.blocked": return tr.t("activity.cardBlocked", { who, card: d.card || d.last4 });
    case "conversation.priority_changed": return tr.t("activity.priority", { who, priority: tr.word("priority", d.priority) });
    case "conversation.labels_changed": return tr.t("activity.labels", { who, labels: (d.labels || []).join(", ") || "—" });
    case "conversation.snoozed":
      return d.until ? tr.t("activity.snoozedUntil", { who, time: when(d.until) }) : tr.t("activity.snoozedReply", { who });
    case "conversation.woken": return tr.t(d.by === "customer" ? "activity.wokenByReply" : "activity.woken");
    case "callback.requested":
      return d.kind === "callback" ? tr.t("activity.callback", { phone: d.phone || "" }) : tr.t("activity.leftMessage");
    case "rating.created": return tr.t("activity.rating", { score: d.score });
    case "sla.breached": return tr.t("activity.slaBreached", { target: tr.word("sla", d.target) });
    default: return a.name;
  }
}

function Activity({ a }) {
  return (
    <li class={"activity " + a.name.replace(".", "-")} data-event={a.name}>
      <span class="text">{activityText(a)}</span>
      <span class="meta"> · <time dateTime={a.at}>{when(a.at)}</time></span>
    </li>
  );
}
