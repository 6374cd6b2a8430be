// The supervisor dashboard: sign-in gate, then the live view (open conversations, queues, operators),
// the conversation being read, and the figures. One live socket marks the views stale; they re-read the API.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, setCsrf } from "../lib/api.js";
import { Banner, SignIn } from "../lib/components.jsx";
import { errorText, useLanguage } from "../lib/i18n.js";
import { connectLive } from "../lib/live.js";
import { CampaignsSection } from "./campaigns/CampaignsSection.jsx";
import { ConversationViewer } from "./ConversationViewer.jsx";
import { FiguresPanel } from "./FiguresPanel.jsx";
import { Canned } from "./Canned.jsx";
import { Header } from "./Header.jsx";
import { Labels } from "./Labels.jsx";
import { Operators, Queues } from "./LivePanel.jsx";
import { OpenConversations } from "./OpenConversations.jsx";
import { tr } from "./tr.js";
import { VerificationLocks } from "./VerificationLocks.jsx";

// The live lists are re-read at most this often while events arrive, and at least this often without.
const REFRESH_DEBOUNCE_MS = 300;
const REFRESH_EVERY_MS = 10000;
const CLOCK_TICK_MS = 1000;

export function App() {
  useLanguage();
  const [me, setMe] = useState(undefined);
  useEffect(() => {
    api("GET", "/api/console/me").then((found) => { setCsrf(found.csrf); setMe(found); }).catch(() => setMe(null));
  }, []);
  useEffect(() => { document.title = tr.t("title"); });
  if (me === undefined) return null;
  if (me === null) return <SignIn tr={tr} heading={tr.t("signIn.heading")} onSignedIn={setMe} />;
  return <Dashboard me={me} onSignedOut={() => setMe(null)} />;
}

function conversationInUrl() {
  return new URLSearchParams(location.search).get("conversation");
}

/** "campaigns" for the Campaigns section, else "overview" (live view and figures). */
function viewInUrl() {
  return new URLSearchParams(location.search).get("view") === "campaigns" ? "campaigns" : "overview";
}

function Dashboard({ me, onSignedOut }) {
  useLanguage();
  const [live, setLive] = useState({ queues: [], operators: [], conversations: [] });
  const [connection, setConnection] = useState("offline");
  const [now, setNow] = useState(Date.now());
  const [selected, setSelected] = useState(conversationInUrl());
  const [view, setView] = useState(viewInUrl());
  const [banner, setBanner] = useState(null);
  const [figuresKey, setFiguresKey] = useState(0);
  const subscribers = useRef(new Set());
  const timer = useRef(null);

  const refresh = useCallback(async () => {
    try {
      setLive(await api("GET", "/api/supervisor/live"));
    } catch (err) {
      if (err.status === 401) onSignedOut();
      else setBanner({ kind: "error", ...errorText(tr, err) });
    }
  }, []);
  const refreshSoon = useCallback(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(refresh, REFRESH_DEBOUNCE_MS);
  }, [refresh]);

  useEffect(() => {
    refresh();
    const feed = connectLive({
      onEvent: (event) => {
        for (const fn of subscribers.current) fn(event);
        if (event.name === "sla.breached" && !event.replay) {
          // A missed target is the supervisor's business too: say it where it cannot be missed.
          setBanner({ kind: "error", text: tr.t("sla.breachedBanner", {
            target: tr.word("sla", event.data.target), channel: tr.word("channel", event.data.channel),
            priority: tr.word("priority", event.data.priority) }) });
        }
        if (!event.name.endsWith(".typed")) refreshSoon();
      },
      onState: setConnection,
    });
    const poll = setInterval(refresh, REFRESH_EVERY_MS);
    const tick = setInterval(() => setNow(Date.now()), CLOCK_TICK_MS);
    const onPop = () => { setSelected(conversationInUrl()); setView(viewInUrl()); };
    window.addEventListener("popstate", onPop);
    return () => { feed.stop(); clearInterval(poll); clearInterval(tick); window.removeEventListener("popstate", onPop); };
  }, []);

  const subscribe = useCallback((fn) => { subscribers.current.add(fn); return () => subscribers.current.delete(fn); }, []);

  function show(next) {
    setView(next);
    history.pushState(null, "", next === "campaigns" ? "?view=campaigns" : location.pathname);
  }

  function open(id) {
    setView("overview");
    setSelected(id);
    const url = id ? "?conversation=" + encodeURIComponent(id) : location.pathname;
    history.pushState(null, "", url);
  }

  async function act(id, path) {
    try {
      await api("POST", `/api/supervisor/conversations/${encodeURIComponent(id)}/${path}`);
      open(id);
      refresh();
    } catch (err) {
      setBanner({ kind: "error", ...errorText(tr, err) });
    }
  }

  async function signOut() {
    await api("POST", "/api/console/sign-out").catch(() => null);
    onSignedOut();
  }

  return (
    <div class="sv">
      <Header me={me} connection={connection} onSignOut={signOut} view={view} onView={show} />
      <Banner message={banner} tr={tr} onDismiss={() => setBanner(null)} />
      {view === "campaigns" ? (
        <main class="sv-main sv-main--campaigns">
          <CampaignsSection subscribe={subscribe} onBanner={setBanner} />
        </main>
      ) : (
      <main class="sv-main">
        <div class="sv-live">
          <OpenConversations rows={live.conversations} now={now} selected={selected}
            onRead={open} onJoin={(id) => act(id, "join")} onTakeOver={(id) => act(id, "take-over")} />
          {selected ? (
            <ConversationViewer id={selected} subscribe={subscribe} onClose={() => open(null)}
              onBanner={setBanner} onChanged={() => { refresh(); setFiguresKey((k) => k + 1); }} />
          ) : null}
        </div>
        <aside class="sv-side" aria-label={tr.t("live.heading")}>
          <Queues queues={live.queues} />
          <Operators operators={live.operators} />
          <VerificationLocks locks={live.verification_locks || []} onLifted={refresh} onBanner={setBanner} />
          <Labels onBanner={setBanner} />
        </aside>
        <FiguresPanel onOpen={open} onBanner={setBanner} refreshKey={figuresKey} />
        <Canned onBanner={setBanner} />
      </main>
      )}
    </div>
  );
}
