// Callback tasks: who, which number, when they asked, the conversation, and "done" with an outcome.
import { useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { useLanguage } from "../lib/i18n.js";
import { duration, when } from "./format.js";
import { useNow } from "./hooks.js";
import { conversationHref, openConversation } from "./router.js";
import { tr } from "./tr.js";

const OUTCOMES = ["reached", "no_answer", "wrong_number", "answered_in_chat"];

export function Callbacks({ tasks, onError, onDone }) {
  useLanguage();
  if (!tasks.length) return <p class="empty">{tr.t("callbacks.empty")}</p>;
  return (
    <section aria-labelledby="callbacks-heading">
      <h2 id="callbacks-heading" class="visually-hidden">{tr.t("callbacks.heading")}</h2>
      <ul class="rows callbacks" id="callbacks">
        {tasks.map((task) => <Task key={task.id} task={task} onError={onError} onDone={onDone} />)}
      </ul>
    </section>
  );
}

/** "call after 18:00 · in 2:10:05" or "· 0:05:00 overdue": the customer's own wish, counted down. */
function Wish({ task }) {
  const now = useNow();
  const left = (Date.parse(task.preferred_at) - now) / 1000;
  return (
    <div class="wish" data-preferred-at={task.preferred_at}>
      <strong>{tr.t("callbacks.wish", { when: task.preferred_label || when(task.preferred_at) })}</strong>{" · "}
      <span class={"countdown" + (left < 0 ? " due" : "")}>
        {left >= 0 ? tr.t("callbacks.in", { time: duration(left) }) : tr.t("callbacks.due", { time: duration(-left) })}
      </span>
    </div>
  );
}

function Task({ task, onError, onDone }) {
  const [outcome, setOutcome] = useState("");
  const name = task.customer_name || tr.t("row.guest");
  async function done(ev) {
    ev.preventDefault();
    try {
      await api("POST", "/api/console/callbacks/" + task.id + "/done", { outcome });
      onDone({ kind: "ok", text: tr.t("banner.callbackDone") });
    } catch (err) { onError(err); }
  }
  return (
    <li class="row task" data-task-id={task.id}>
      <div class="line1"><span class="name">{name}</span> <span class="tag">{tr.t("callbacks.kind." + task.kind)}</span></div>
      {task.phone ? <div class="phone"><a href={"tel:" + task.phone}>{task.phone}</a></div> : null}
      {task.preferred_at ? <Wish task={task} /> : null}
      {task.text ? <div class="preview" lang={task.language || undefined}>{task.text}</div> : null}
      <div class="line3">{tr.t("callbacks.requested", { time: when(task.requested_at) })} ·{" "}
        <a href={conversationHref(task.conversation_id)} onClick={(e) => { e.preventDefault(); openConversation(task.conversation_id); }}>{tr.t("callbacks.open")}</a>
      </div>
      <form class="done" onSubmit={done}>
        <select aria-label={tr.t("callbacks.outcome")} value={outcome} onChange={(e) => setOutcome(e.currentTarget.value)} required>
          <option value="">{tr.t("callbacks.outcome")}…</option>
          {OUTCOMES.map((o) => <option value={o} key={o}>{tr.t("outcome." + o)}</option>)}
        </select>
        <button type="submit">{tr.t("callbacks.done")}</button>
      </form>
    </li>
  );
}
