// One conversation, read live: the transcript as the customer saw it, the operators' notes, and the
// supervisor's actions on it (join and write to the customer, take it over). Closed ones are read only.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { errorText, useLanguage } from "../lib/i18n.js";
import { dateTime } from "./format.js";
import { tr } from "./tr.js";

function authorLabel(message) {
  if (message.author === "operator" && message.operator_name) return tr.t("author.operatorNamed", { name: message.operator_name });
  return tr.word("author", message.author);
}

function Message({ message, language }) {
  return (
    <li class={"line " + message.author}>
      <span class="who">{authorLabel(message)}</span>
      <span class="at">{dateTime(message.at)}</span>
      <p class="text" lang={message.author === "customer" ? language || undefined : undefined}>{message.label || message.text}</p>
    </li>
  );
}

export function ConversationViewer({ id, subscribe, onClose, onBanner, onChanged }) {
  useLanguage();
  const [context, setContext] = useState(null);
  const [joined, setJoined] = useState(false);
  const [owned, setOwned] = useState(false);
  const [draft, setDraft] = useState("");
  const heading = useRef(null);
  const transcript = useRef(null);
  const count = context ? context.messages.length : 0;
  // The newest line in view, as in the chat itself.
  useEffect(() => { if (transcript.current) transcript.current.scrollTop = transcript.current.scrollHeight; }, [count]);

  async function load() {
    try {
      setContext(await api("GET", "/api/console/conversations/" + encodeURIComponent(id)));
    } catch (err) {
      onBanner({ kind: "error", ...errorText(tr, err) });
    }
  }

  useEffect(() => {
    setContext(null); setJoined(false); setOwned(false); setDraft("");
    load();
    if (heading.current) heading.current.focus();
    return subscribe((event) => {
      if (event.conversation_id !== id) return;
      if (event.name === "message.created") {
        setContext((ctx) => {
          if (!ctx || ctx.messages.some((m) => m.seq === event.data.seq)) return ctx;
          return { ...ctx, messages: [...ctx.messages, { ...event.data }] };
        });
      } else if (event.name === "note.created") {
        setContext((ctx) => ctx && { ...ctx, notes: [...ctx.notes, { ...event.data, at: event.at }] });
      } else if (event.name.startsWith("conversation.")) {
        load();
      }
    });
  }, [id]);

  async function act(path, body) {
    try {
      const answer = await api("POST", `/api/supervisor/conversations/${encodeURIComponent(id)}/${path}`, body);
      onChanged();
      return answer;
    } catch (err) {
      onBanner({ kind: "error", ...errorText(tr, err) });
      return null;
    }
  }

  async function join() { if (await act("join")) setJoined(true); }
  async function takeOver() { if (await act("take-over")) { setOwned(true); setJoined(true); load(); } }
  async function send(ev) {
    ev.preventDefault();
    const text = draft.trim();
    if (!text) return;
    if (await act("say", { text })) { setDraft(""); setJoined(true); }
  }

  const conversation = context ? context.conversation : null;
  const closed = conversation && conversation.state === "closed";
  return (
    <section class="panel viewer" id="viewer" aria-labelledby="viewer-heading">
      <header class="viewer-head">
        <h2 id="viewer-heading" tabIndex={-1} ref={heading}>{tr.t("viewer.heading", { id: id.slice(0, 8) })}</h2>
        {conversation ? <span class={"state " + conversation.state} id="viewer-state">{tr.word("state", conversation.state)}
          {conversation.assignee_name ? " · " + conversation.assignee_name : ""}</span> : null}
        <button type="button" class="link" onClick={onClose} aria-label={tr.t("viewer.close")}>×</button>
      </header>
      {!context ? <p class="hint">{tr.t("viewer.loading")}</p> : (
        <>
          <ol class="transcript" id="viewer-transcript" aria-live="polite" tabIndex={0} aria-labelledby="viewer-heading" ref={transcript}>
            {context.messages.map((m) => <Message key={m.seq} message={m} language={conversation.language} />)}
          </ol>
          {context.notes.length ? (
            <details class="notes" open>
              <summary>{tr.t("viewer.notes")} ({context.notes.length})</summary>
              <ul id="viewer-notes">{context.notes.map((n, i) => <li key={i}><span class="at">{dateTime(n.at)}</span> {n.kind === "supervisor_joined" ? tr.t("viewer.supervisorJoined", { name: n.operator_name || n.operator_id }) : n.text}</li>)}</ul>
            </details>
          ) : null}
          {closed ? <p class="hint" id="viewer-read-only">{tr.t("viewer.readOnly")}</p> : (
            <div class="viewer-actions">
              <div class="buttons">
                <button type="button" id="join" onClick={join} disabled={joined}>{tr.t("open.join")}</button>
                <button type="button" id="take-over" onClick={takeOver} disabled={owned}>{tr.t("open.takeOver")}</button>
              </div>
              {owned ? <p class="hint" role="status">{tr.t("viewer.takenOver")} <a href={"/console/c/" + encodeURIComponent(id)}>{tr.t("viewer.openConsole")}</a></p>
                : joined ? <p class="hint" role="status">{tr.t("viewer.joined")}</p> : null}
              <form class="say" onSubmit={send}>
                <label for="say-text">{tr.t("viewer.say")}</label>
                <textarea id="say-text" rows={2} value={draft} onInput={(e) => setDraft(e.currentTarget.value)}
                  disabled={!joined} aria-describedby={joined ? undefined : "say-join-first"}
                  onKeyDown={(e) => { if (e.key === "Enter" && !e.shiftKey) send(e); }} />
                <button type="submit" id="say-send" disabled={!joined}>{tr.t("viewer.send")}</button>
                {joined ? null : <p class="hint" id="say-join-first">{tr.t("viewer.joinFirst")}</p>}
              </form>
            </div>
          )}
        </>
      )}
    </section>
  );
}
