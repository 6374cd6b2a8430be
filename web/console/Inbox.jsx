// The inbox: views (queue, mine, all open, closed, callbacks), search, and one row per conversation.
import { useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { useLanguage } from "../lib/i18n.js";
import { Callbacks } from "./Callbacks.jsx";
import { since, when } from "./format.js";
import { ChannelSvg } from "./icons.jsx";
import { useNow } from "./hooks.js";
import { conversationHref, openConversation } from "./router.js";
import { tr } from "./tr.js";

const VIEWS = ["queue", "mine", "open", "closed", "callbacks"];

export function ChannelIcon({ channel }) {
  return (
    <span class="channel" title={tr.word("channel", channel)}>
      <ChannelSvg channel={channel} />
      <span class="visually-hidden">{tr.word("channel", channel)}</span>
    </span>
  );
}

export function Inbox({ view, setView, query, setQuery, inbox, callbacks, current, me, onError, onDone }) {
  useLanguage();
  const [typed, setTyped] = useState(query);
  const searching = query !== "";
  return (
    <nav class="inbox" aria-label={tr.t("inbox.label")}>
      <form class="search" role="search" onSubmit={(e) => { e.preventDefault(); setQuery(typed.trim()); }}>
        <input id="search" type="search" value={typed} aria-label={tr.t("inbox.search")} placeholder={tr.t("inbox.search")}
          onInput={(e) => { setTyped(e.currentTarget.value); if (!e.currentTarget.value) setQuery(""); }} />
        <button type="submit">{tr.t("inbox.searchButton")}</button>
      </form>
      {searching ? (
        <p class="results" role="status">
          {tr.t("inbox.results", { count: inbox.rows.length })}{" "}
          <button type="button" class="link" onClick={() => { setTyped(""); setQuery(""); }}>{tr.t("inbox.clear")}</button>
        </p>
      ) : (
        <div class="views" role="group" aria-label={tr.t("inbox.label")}>
          {VIEWS.map((v) => (
            <button type="button" key={v} id={"view-" + v} aria-pressed={String(v === view)} onClick={() => setView(v)}>
              {tr.t("view." + v)}{inbox.counts[v] !== undefined ? <span class="count"> {inbox.counts[v]}</span> : null}
            </button>
          ))}
        </div>
      )}
      {view === "callbacks" && !searching ? (
        <Callbacks tasks={callbacks} onError={onError} onDone={onDone} />
      ) : (
        <Rows rows={inbox.rows} current={current} me={me} searching={searching} onError={onError} />
      )}
    </nav>
  );
}

function Rows({ rows, current, me, searching, onError }) {
  const now = useNow();
  if (!rows.length) return <p class="empty">{searching ? tr.t("inbox.noResults") : tr.t("inbox.empty")}</p>;
  return (
    <ul class="rows" id="rows">
      {rows.map((row) => <Row key={row.id} row={row} now={now} current={current === row.id} me={me} onError={onError} />)}
    </ul>
  );
}

function Row({ row, now, current, me, onError }) {
  const name = row.customer_name || tr.t("row.guest");
  const last = row.last_message || {};
  async function take(ev) {
    ev.preventDefault();
    try {
      await api("POST", "/api/console/conversations/" + row.id + "/take");
      openConversation(row.id);
    } catch (err) { onError(err); }
  }
  const fresh = row.state === "assigned" && row.assignee_id === me.login && !row.accepted;
  return (
    <li class={"row" + (current ? " current" : "") + (row.unread ? " unread" : "") + (fresh ? " fresh" : "")} data-conversation-id={row.id}>
      <a href={conversationHref(row.id)} aria-current={current ? "page" : undefined}
        onClick={(e) => { e.preventDefault(); openConversation(row.id); }}>
        <span class="line1">
          <ChannelIcon channel={row.channel} />
          <span class="name">{name}</span>
          {row.language ? <span class="lang">{tr.word("language", row.language)}</span> : null}
          {fresh ? <span class="tag new">{tr.t("row.new")}</span> : null}
          {row.unread ? <span class="unread-count" aria-label={tr.t("row.unread", { count: row.unread })}>{row.unread}</span> : null}
        </span>
        <span class="line2">
          <span class="preview" lang={last.author === "customer" && row.language ? row.language : undefined}>{last.text || tr.word("reason", row.handoff_reason)}</span>
        </span>
        <span class="line3">
          {row.waiting_since && row.state !== "closed" ? <span class="waiting">{tr.t("row.waiting", { time: since(row.waiting_since, now) })}</span> : null}
          {row.state === "assigned" && row.assignee_id === me.login ? null : (
            <span class="state">{row.state === "assigned" ? tr.t("row.assignee", { name: row.assignee_name }) : tr.word("state", row.state)}</span>
          )}
          {row.state === "closed" ? <span class="at">{when(row.updated_at)}</span> : null}
        </span>
      </a>
      {row.state === "queued" && me.operator ? <button type="button" class="take" onClick={take}>{tr.t("row.take")}</button> : null}
    </li>
  );
}
