// The conversation's timeline: customer, bot, operator and system messages with private notes between
// them (in their own colour); a button press shows the button's label, a customer line its intent.
import { useEffect, useRef } from "preact/hooks";
import { useLanguage } from "../lib/i18n.js";
import { when } from "./format.js";
import { tr } from "./tr.js";

export function Timeline({ messages, notes, language }) {
  useLanguage();
  const end = useRef(null);
  const items = [
    ...messages.map((m) => ({ kind: "message", at: m.at, key: "m" + m.seq, m })),
    ...notes.map((n, i) => ({ kind: "note", at: n.at, key: "n" + i + n.at, n })),
  ].sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || (a.kind === "note") - (b.kind === "note"));
  useEffect(() => { end.current && end.current.scrollIntoView({ block: "end" }); }, [items.length]);
  return (
    <section class="timeline" aria-label={tr.t("conv.timeline")} tabIndex={0}>
      <ol id="transcript">
        {items.map((item) => (item.kind === "message" ? <Message key={item.key} m={item.m} language={language} /> : <Note key={item.key} n={item.n} />))}
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
      <span class="text">{n.text}</span>
    </li>
  );
}
