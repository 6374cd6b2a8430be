// The console: sign-in gate, then the header, the inbox, the open conversation and the customer panel.
// One live socket feeds everything; the inbox and the summary (tab counts, unread, my conversations) are
// re-read from the API after events, the open conversation applies its own events directly.
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, setCsrf } from "../lib/api.js";
import { Banner, LanguageSwitch, SignIn } from "../lib/components.jsx";
import { errorText, useLanguage } from "../lib/i18n.js";
import { connectLive } from "../lib/live.js";
import { alertOperator, askNotifications, enableSound, isMuted, notificationState, setMuted, watchSound } from "./alerts.js";
import { Conversation } from "./Conversation.jsx";
import { Inbox } from "./Inbox.jsx";
import { Keyboard } from "./Keyboard.jsx";
import { openConversation, useRoute } from "./router.js";
import { tr } from "./tr.js";

export function App() {
  useLanguage();
  const [me, setMe] = useState(undefined);
  useEffect(() => {
    document.title = tr.t("title");
    api("GET", "/api/console/me").then((found) => { setCsrf(found.csrf); setMe(found); }).catch(() => setMe(null));
  }, []);
  if (me === undefined) return null;
  if (me === null) return <SignIn tr={tr} heading={tr.t("signIn.heading")} onSignedIn={setMe} />;
  return <Workspace me={me} />;
}

const VIEW_KEY = "console.view";

function savedView() {
  try { return localStorage.getItem(VIEW_KEY) || "mine"; } catch (e) { return "mine"; }
}

function Workspace({ me }) {
  const lang = useLanguage();
  const current = useRoute();
  const [view, setView] = useState(savedView());
  const [query, setQuery] = useState("");
  const [filters, setFilters] = useState({});
  const [triage, setTriage] = useState({ priorities: [], teams: [], labels: [], operators: [], views: [] });
  const loadTriage = useCallback(() => api("GET", "/api/console/triage").then(setTriage).catch(() => {}), []);
  useEffect(() => { loadTriage(); }, []);
  const [inbox, setInbox] = useState({ rows: [], counts: {}, unread: 0, mine_ids: [] });
  const [callbacks, setCallbacks] = useState([]);
  const [connection, setConnection] = useState("offline");
  const [status, setStatus] = useState(me.operator ? me.operator.status : "offline");
  const [muted, setMute] = useState(isMuted());
  const [notifications, setNotifications] = useState(notificationState());
  const [soundBlocked, setSoundBlocked] = useState(false);
  useEffect(() => watchSound(setSoundBlocked), []);
  const rowsById = useRef(new Map());
  const [banner, setBanner] = useState(null);
  // Narrow screens show one pane at a time: the list, the conversation, or the customer panel over it.
  const [panelOpen, setPanelOpen] = useState(false);
  useEffect(() => setPanelOpen(false), [current]);
  const subscribers = useRef(new Set());
  const isSupervisorRef = useRef(me.roles.includes("supervisor"));
  const mine = useRef(new Set());
  const currentRef = useRef(current);
  currentRef.current = current;
  const refreshTimer = useRef(null);
  const viewRef = useRef({ view, query, filters });
  viewRef.current = { view, query, filters };

  const refresh = useCallback(async () => {
    const { view: v, query: q, filters: f } = viewRef.current;
    const params = new URLSearchParams({ view: v === "callbacks" ? "mine" : v });
    if (q) params.set("q", q);
    for (const [key, value] of Object.entries(f)) if (value) params.set(key, value);
    const data = await api("GET", "/api/console/inbox?" + params);
    mine.current = new Set(data.mine_ids);
    const readAt = Date.now();  // the service-level clocks count down from here
    for (const row of data.rows) { row.readAt = readAt; rowsById.current.set(row.id, row); }
    setInbox(data);
    if (v === "callbacks") setCallbacks((await api("GET", "/api/console/queue")).callbacks);
    return data;
  }, []);

  // A customer's message changes one row: read that row alone instead of the whole view.
  const refreshRow = useCallback(async (id) => {
    if (!rowsById.current.has(id)) { scheduleRefresh(); return; }
    const row = await api("GET", "/api/console/inbox/rows/" + encodeURIComponent(id));
    row.readAt = Date.now();
    const before = rowsById.current.get(id);
    rowsById.current.set(id, row);
    setInbox((shown) => ({
      ...shown,
      rows: shown.rows.map((r) => (r.id === id ? row : r)),
      unread: mine.current.has(id) ? Math.max(0, shown.unread + row.unread - ((before && before.unread) || 0)) : shown.unread,
    }));
  }, []);

  const scheduleRefresh = useCallback(() => {
    clearTimeout(refreshTimer.current);
    refreshTimer.current = setTimeout(() => refresh().catch(() => {}), 150);
  }, [refresh]);

  const showError = useCallback((err) => setBanner({ kind: "error", ...errorText(tr, err) }), []);

  // Alerts come straight from the live event, before any list is re-read (the bench measures this path).
  const onEvent = useCallback((event) => {
    const id = event.conversation_id;
    const watching = id && id === currentRef.current && document.hasFocus();
    const toMe = (event.name === "conversation.assigned" && event.data.operator_id === me.login)
      || (event.name === "conversation.transferred" && event.data.to_operator_id === me.login);
    if (toMe) {
      mine.current.add(id);
      const facts = { ...(rowsById.current.get(id) || {}), ...event.data };
      alertOperator({ kind: "assigned", conversationId: id, title: tr.t("alert.assignedFrom", { name: customerOf(facts) }),
        body: alertBody(facts, event.name === "conversation.transferred" ? event.data.note : ""), onOpen: () => openConversation(id) });
    } else if (event.name === "message.created" && event.data.author === "customer" && mine.current.has(id) && !watching) {
      const facts = rowsById.current.get(id) || {};
      alertOperator({ kind: "message", conversationId: id, title: tr.t("alert.messageFrom", { name: customerOf(facts) }),
        body: tr.word("channel", facts.channel || event.data.channel) + ": " + String(event.data.text || "").slice(0, 120),
        onOpen: () => openConversation(id) });
    }
    for (const fn of subscribers.current) fn(event);
    if (event.name === "message.created" || event.name === "message.delivered") {
      if (id && rowsById.current.has(id)) refreshRow(id).catch(() => {});
      else if (id && mine.current.has(id) && event.data.author === "customer") scheduleRefresh();  // unread total
    } else if (event.name === "sla.breached") {
      if (event.data.operator_id === me.login || (isSupervisorRef.current && !event.data.operator_id)) {
        alertOperator({ kind: "sla", conversationId: id, title: tr.t("alert.sla", { target: tr.word("sla", event.data.target) }),
          body: alertBody(rowsById.current.get(id) || event.data, ""), onOpen: () => openConversation(id) });
      }
      scheduleRefresh();
    } else if (event.name !== "customer.typed" && event.name !== "operator.typed" && event.name !== "note.created") {
      scheduleRefresh();
    }
  }, [me.login, scheduleRefresh]);

  useEffect(() => {
    let live = null;
    refresh().then((data) => {
      live = connectLive({ after: data.last_event_seq, onEvent, onState: setConnection });
      window.consoleDropConnection = () => live.drop();
    }).catch(showError);
    return () => live && live.stop();
  }, []);

  useEffect(() => { refresh().catch(showError); }, [view, query, filters]);
  useEffect(() => { try { localStorage.setItem(VIEW_KEY, view); } catch (e) { /* this page only */ } }, [view]);
  useEffect(() => {
    document.title = inbox.unread > 0 ? tr.t("title.unread", { count: inbox.unread }) : tr.t("title");
  }, [inbox.unread, lang]);

  const subscribe = useCallback((fn) => { subscribers.current.add(fn); return () => subscribers.current.delete(fn); }, []);

  async function changeStatus(value) {
    try {
      const op = await api("POST", "/api/console/status", { status: value });
      setStatus(op.status);
    } catch (err) { showError(err); }
  }

  async function signOut() {
    await api("POST", "/api/console/sign-out").catch(() => {});
    location.assign("/console");
  }

  const isSupervisor = me.roles.includes("supervisor");
  const header = useMemo(() => (
    <header class="top">
      <h1 class="brand">{tr.t("signIn.heading")}</h1>
      <span class="me" id="me">{me.display_name}</span>
      {me.operator ? (
        <label class="status">{tr.t("header.status")}
          <select id="status" value={status} onChange={(e) => changeStatus(e.currentTarget.value)}>
            {["online", "away", "offline"].map((s) => <option value={s} key={s}>{tr.word("opStatus", s)}</option>)}
          </select>
        </label>
      ) : null}
      <span id="connection" class={"badge " + connection} data-state={connection} role="status">{tr.t("connection." + connection)}</span>
      <span class="spacer" />
      {soundBlocked && !muted ? (
        <span class="sound-blocked" role="status" id="sound-blocked">{tr.t("header.soundBlocked")}{" "}
          <button type="button" id="enable-sound" class="primary" onClick={() => enableSound()}>{tr.t("header.enableSound")}</button>
        </span>
      ) : null}
      <button type="button" id="mute" aria-pressed={String(!muted)} title={tr.t("header.sound")}
        onClick={() => { setMuted(!muted); setMute(!muted); }}>
        {muted ? tr.t("header.soundOff") : tr.t("header.soundOn")}
      </button>
      {notifications === "default" ? (
        <button type="button" id="notify" onClick={async () => setNotifications(await askNotifications())}>{tr.t("header.notify")}</button>
      ) : <span class="hint">{notifications === "granted" ? tr.t("header.notifyOn") : notifications === "denied" ? tr.t("header.notifyBlocked") : ""}</span>}
      {isSupervisor ? <a href="/supervisor" id="to-supervisor">{tr.t("header.supervisor")}</a> : null}
      <Keyboard />
      <LanguageSwitch tr={tr} />
      <button type="button" id="sign-out" onClick={signOut}>{tr.t("header.signOut")}</button>
    </header>
  ), [lang, status, connection, muted, notifications, soundBlocked]);

  return (
    <div class="workspace">
      {header}
      <div id="alert-live" class="visually-hidden" aria-live="assertive" />
      <Banner tr={tr} message={banner} onDismiss={() => setBanner(null)} />
      <div class="columns" data-pane={current ? (panelOpen ? "panel" : "conversation") : "list"}>
        <Inbox view={view} setView={setView} query={query} setQuery={setQuery} inbox={inbox} callbacks={callbacks}
          filters={filters} setFilters={setFilters} triage={triage} reloadTriage={loadTriage} onRefresh={() => refresh().catch(showError)}
          current={current} me={me} onError={showError} onDone={(b) => { setBanner(b); refresh().catch(() => {}); }} />
        <Conversation key={current || "none"} id={current} me={me} subscribe={subscribe}
          onChanged={scheduleRefresh} setBanner={setBanner} onError={showError} setPanelOpen={setPanelOpen} triage={triage} />
      </div>
    </div>
  );
}

function customerOf(facts) {
  return facts.customer_name || tr.t("row.guest");
}

/** "Web chat · customer request" (+ the transfer note): what the operator needs before opening it. */
function alertBody(facts, note) {
  const parts = [tr.word("channel", facts.channel), tr.word("reason", facts.reason || facts.handoff_reason)].filter(Boolean);
  return parts.join(" · ") + (note ? " — " + note : "");
}
