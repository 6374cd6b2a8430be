// One conversation: header with state and actions, the timeline (messages and private notes), the composer,
// and the customer panel beside it. A conversation that is not the operator's own opens read only.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { useLanguage } from "../lib/i18n.js";
import { Actions } from "./Actions.jsx";
import { Composer } from "./Composer.jsx";
import { CustomerPanel } from "./CustomerPanel.jsx";
import { ChannelIcon } from "./Inbox.jsx";
import { openConversation } from "./router.js";
import { Timeline } from "./Timeline.jsx";
import { Triage } from "./Triage.jsx";
import { tr } from "./tr.js";

// Events about the conversation that change its panel or timeline (the conversation.* ones reload too).
const RELOAD_ON = new Set(["customer.verified", "card.blocked", "callback.requested", "rating.created", "sla.breached"]);
// conversation.* events (assigned, priority_changed, labels_changed, snoozed, woken...) reload it as well.
const drafts = new Map();  // conversation id -> {text, mode}: switching conversations keeps each draft

export function Conversation({ id, me, subscribe, onChanged, setBanner, onError, setPanelOpen, triage }) {
  useLanguage();
  const [ctx, setCtx] = useState(null);
  const [row, setRow] = useState(null);
  const [messages, setMessages] = useState([]);
  const [notes, setNotes] = useState([]);
  const [typing, setTyping] = useState(false);
  const [draft, setDraftState] = useState(drafts.get(id) || { text: "", mode: "reply" });
  const typingTimer = useRef(null);

  const setDraft = useCallback((next) => { drafts.set(id, next); setDraftState(next); }, [id]);

  const load = useCallback(async () => {
    const found = await api("GET", "/api/console/conversations/" + id);
    const conv = found.conversation;
    if (conv.state === "assigned" && conv.assignee_id === me.login) {
      // Opening is accepting: only now is the customer told that an operator joined. Accepted before the tools
      // show: FerretDB writes a document whole, so a priority or label set while the acceptance is written
      // could be lost to it.
      await api("POST", "/api/console/conversations/" + id + "/accept").catch(() => {});
    }
    setCtx(found);
    api("GET", "/api/console/inbox/rows/" + encodeURIComponent(id)).then((r) => setRow({ ...r, readAt: Date.now() })).catch(() => {});
    setMessages((shown) => mergeMessages(found.messages, shown));
    setNotes(found.notes);
    return found;
  }, [id, me.login]);

  // Live events first, then the load: a message arriving while the context loads is kept and merged.
  useEffect(() => {
    if (!id) return undefined;
    const unsubscribe = subscribe((event) => {
      if (event.conversation_id !== id) return;
      if (event.name === "message.created") {
        setMessages((shown) => mergeMessages([event.data], shown));
        if (event.data.author === "customer") { setTyping(false); load().catch(() => {}); }
      } else if (event.name === "customer.typed") {
        setTyping(true);
        clearTimeout(typingTimer.current);
        typingTimer.current = setTimeout(() => setTyping(false), 3000);
      } else if (event.name === "note.created" || RELOAD_ON.has(event.name)) {
        load().catch(() => {});
      } else if (event.name.startsWith("conversation.")) {
        if (event.name === "conversation.assigned" && event.data.operator_id !== me.login) {
          setBanner({ kind: "info", text: tr.t("banner.takenBy", { name: event.data.operator_name }) });
        }
        load().catch(() => {});
      }
    });
    load().catch(onError);
    return unsubscribe;
  }, [id]);

  // Mark what the operator has seen as read while the page has focus, and when she comes back to it.
  useEffect(() => {
    if (!id || !messages.length) return undefined;
    const seq = messages[messages.length - 1].seq;
    const markRead = () => api("POST", "/api/console/conversations/" + id + "/read", { seq }).then(onChanged).catch(() => {});
    if (document.hasFocus()) markRead();
    window.addEventListener("focus", markRead);
    return () => window.removeEventListener("focus", markRead);
  }, [id, messages.length]);

  if (!id) return <main class="conversation empty-state" id="conversation"><p>{tr.t("conv.none")}</p></main>;
  if (!ctx) return <main class="conversation" id="conversation" aria-busy="true"><p>{tr.t("conv.loading")}</p></main>;

  const conv = ctx.conversation;
  const mine = conv.state === "assigned" && conv.assignee_id === me.login;
  const name = (ctx.profile && ctx.profile.customer && ctx.profile.customer.full_name) || tr.t("row.guest");
  const stateText = conv.state === "assigned" ? tr.t("state.assignedTo", { name: conv.assignee_name }) : tr.word("state", conv.state);

  const reloadAfter = async (bannerMessage) => {
    setBanner(bannerMessage);
    await load().catch(onError);
    onChanged();
  };

  return (
    <>
      <main class="conversation" id="conversation" aria-labelledby="conv-title" data-state={conv.state}>
        <header class="conv-head">
          <div class="pane-nav">
            <button type="button" class="narrow-only" id="back-to-list" onClick={() => openConversation(null)}>{tr.t("conv.backToList")}</button>
            <button type="button" class="drawer-only" id="show-panel" aria-controls="panel" onClick={() => setPanelOpen(true)}>{tr.t("conv.showPanel")}</button>
          </div>
          <h2 id="conv-title"><ChannelIcon channel={conv.channel} /> {name}</h2>
          <p class="facts">
            <span id="conv-state" class={"state " + conv.state}>{stateText}</span>
            {ctx.reason ? <> · <span class="visually-hidden">{tr.t("conv.reason")}: </span><span id="reason">{tr.word("reason", ctx.reason)}</span></> : null}
            {conv.language ? <> · {tr.word("value", conv.language)}</> : null}
            {" · "}<span class="conv-id">{tr.t("conv.id", { id: conv.id.slice(0, 8) })}</span>
            {!mine ? <> · <span class="tag readonly" id="read-only">{tr.t("conv.readOnly")}</span></> : null}
          </p>
          {(mine || me.roles.includes("supervisor")) && conv.state !== "closed" && conv.state !== "bot" ? (
            <Triage conv={conv} row={row} triage={triage} onDone={reloadAfter} onError={onError} />
          ) : null}
          {mine ? <Actions id={id} me={me} teams={triage.teams} subscribe={subscribe} onDone={reloadAfter} onError={onError} /> : null}
        </header>
        <Timeline messages={messages} notes={notes} activity={ctx.activity} language={conv.language} />
        {typing ? <p class="typing" id="typing" role="status">{tr.t("conv.typing")}</p> : null}
        {mine ? (
          <Composer id={id} conv={conv} draft={draft} setDraft={setDraft} me={me}
            onSent={(message) => setMessages((shown) => mergeMessages([message], shown))}
            onNote={() => reloadAfter({ kind: "ok", text: tr.t("banner.noteSaved") })} onError={onError}
            onNotice={(notice) => setBanner({ kind: "info", text: tr.has("notice." + notice.code) ? tr.t("notice." + notice.code) : notice.text })} />
        ) : conv.state === "queued" && me.operator ? (
          <div class="composer-off">
            <button type="button" id="take-open" onClick={async () => {
              try { await api("POST", "/api/console/conversations/" + id + "/take"); await reloadAfter(null); } catch (err) { onError(err); }
            }}>{tr.t("compose.take")}</button>
          </div>
        ) : conv.state !== "closed" ? <p class="composer-off">{tr.t("compose.notYours")}</p> : null}
      </main>
      <CustomerPanel ctx={ctx} mine={mine} me={me} onDone={reloadAfter} onError={onError} onHide={() => setPanelOpen(false)}
        onInsert={(text) => { setDraft({ text, mode: "reply" }); setTimeout(() => document.getElementById("composer-text")?.focus(), 0); }} />
    </>
  );
}

function mergeMessages(incoming, shown) {
  const bySeq = new Map(shown.map((m) => [m.seq, m]));
  for (const m of incoming) bySeq.set(m.seq, { ...bySeq.get(m.seq), ...m });
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}
