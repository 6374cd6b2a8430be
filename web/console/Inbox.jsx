// The inbox: views (queue, mine, all open, snoozed, closed, callbacks), search, filters and saved views,
// and one row per conversation: the customer's own last words, the reason, the priority, the service-level
// clock. Supervisors reassign from the row and close or transfer several conversations at once.
import { useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { useLanguage } from "../lib/i18n.js";
import { Callbacks } from "./Callbacks.jsx";
import { Filters } from "./Filters.jsx";
import { duration, since, when } from "./format.js";
import { ChannelSvg } from "./icons.jsx";
import { useNow } from "./hooks.js";
import { conversationHref, openConversation } from "./router.js";
import { tr } from "./tr.js";

const VIEWS = ["queue", "mine", "open", "snoozed", "closed", "callbacks"];

export function ChannelIcon({ channel }) {
  return (
    <span class="channel" title={tr.word("channel", channel)}>
      <ChannelSvg channel={channel} />
      <span class="visually-hidden">{tr.word("channel", channel)}</span>
    </span>
  );
}

export function Inbox({ view, setView, query, setQuery, inbox, callbacks, current, me, onError, onDone,
  filters, setFilters, triage, reloadTriage, onRefresh }) {
  useLanguage();
  const [typed, setTyped] = useState(query);
  const [picked, setPicked] = useState(new Set());
  const searching = query !== "";
  const supervisor = me.roles.includes("supervisor");
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
      {!searching && view !== "callbacks" ? (
        <Filters view={view} setView={setView} filters={filters} setFilters={setFilters} triage={triage}
          onSaved={reloadTriage} onError={onError} />
      ) : null}
      {supervisor && picked.size ? (
        <Bulk ids={[...picked]} triage={triage} onError={onError}
          onDone={(b) => { setPicked(new Set()); onDone(b); }} />
      ) : null}
      {view === "callbacks" && !searching ? (
        <Callbacks tasks={callbacks} onError={onError} onDone={onDone} />
      ) : (
        <Rows rows={inbox.rows} current={current} me={me} searching={searching} onError={onError}
          triage={triage} picked={picked} setPicked={setPicked} onChanged={onRefresh} />
      )}
    </nav>
  );
}

function Rows({ rows, current, me, searching, onError, triage, picked, setPicked, onChanged }) {
  const now = useNow();
  if (!rows.length) return <p class="empty">{searching ? tr.t("inbox.noResults") : tr.t("inbox.empty")}</p>;
  const toggle = (id) => { const next = new Set(picked); if (next.has(id)) next.delete(id); else next.add(id); setPicked(next); };
  return (
    <ul class="rows" id="rows">
      {rows.map((row) => <Row key={row.id} row={row} now={now} current={current === row.id} me={me} onError={onError}
        triage={triage} picked={picked.has(row.id)} onPick={() => toggle(row.id)} onChanged={onChanged} />)}
    </ul>
  );
}

/** "3:12 left" / "1:05 over": the service-level clock, counted down from when the row was read. */
export function SlaClock({ sla, readAt, now }) {
  if (!sla) return null;
  const left = sla.left_seconds - (sla.paused ? 0 : (now - readAt) / 1000);
  const over = left < 0;
  return (
    <span class={"sla" + (over ? " over" : left < 60 ? " soon" : "") + (sla.paused ? " paused" : "")} data-sla={over ? "over" : "left"}
      title={tr.t("sla.title", { target: tr.word("sla", sla.target) })}>
      {over ? tr.t("sla.over", { time: duration(-left) }) : tr.t("sla.left", { time: duration(left) })}
      {sla.paused ? " · " + tr.t("sla.paused") : ""}
    </span>
  );
}

function Row({ row, now, current, me, onError, triage, picked, onPick, onChanged }) {
  const name = row.customer_name || tr.t("row.guest");
  const last = row.last_message || {};
  const said = row.customer_said && row.customer_said.text ? row.customer_said : null;
  const readAt = row.readAt || now;
  const supervisor = me.roles.includes("supervisor");
  async function take(ev) {
    ev.preventDefault();
    try {
      await api("POST", "/api/console/conversations/" + row.id + "/take");
      openConversation(row.id);
    } catch (err) { onError(err); }
  }
  const fresh = row.state === "assigned" && row.assignee_id === me.login && !row.accepted;
  const takeButton = row.state === "queued" && me.operator
    ? <button type="button" class="take" onClick={take}>{tr.t("row.take")}</button> : null;
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
          {said ? <span class="preview said" lang={row.language || undefined}>{said.text}</span>
            : <span class="preview">{last.text || tr.word("reason", row.handoff_reason)}</span>}
        </span>
        <span class="line-triage">
          {row.priority_level && row.priority_level !== "normal" ? <span class={"prio " + row.priority_level}>{tr.word("priority", row.priority_level)}</span> : null}
          {row.handoff_reason ? <span class="reason">{tr.word("reason", row.handoff_reason)}</span> : null}
          {(row.labels || []).map((l) => <span class="tag label" key={l}>{l}</span>)}
          {row.snooze ? <span class="tag snoozed">{row.snooze.until ? tr.t("row.snoozedUntil", { time: when(row.snooze.until) }) : tr.t("row.snoozedReply")}</span> : null}
        </span>
        <span class="line3">
          {row.state !== "closed" ? <SlaClock sla={row.sla} readAt={readAt} now={now} /> : null}
          {row.waiting_since && row.state !== "closed" ? <span class="waiting">{tr.t("row.waiting", { time: since(row.waiting_since, now) })}</span> : null}
          {row.state === "assigned" && row.assignee_id === me.login ? null : (
            <span class="state">{row.state === "assigned" ? tr.t("row.assignee", { name: row.assignee_name }) : tr.word("state", row.state)}</span>
          )}
          {row.state === "closed" ? <span class="at">{when(row.updated_at)}</span> : null}
        </span>
      </a>
      {supervisor && row.state !== "closed" ? (
        <span class="row-tools">
          <input type="checkbox" class="pick" checked={picked} onChange={onPick} aria-label={tr.t("row.pick", { name })} />
          <Reassign row={row} name={name} triage={triage} onError={onError} onChanged={onChanged} />
          {/* In the tools' line, beside the list, so the two never overlap. */}
          {takeButton}
        </span>
      ) : takeButton}
    </li>
  );
}

function Reassign({ row, name, triage, onError, onChanged }) {
  async function change(e) {
    const value = e.currentTarget.value;
    if (value === "") return;
    try {
      await api("POST", "/api/console/conversations/" + row.id + "/reassign", { to_operator_id: value === "-" ? null : value });
      onChanged();
    } catch (err) { onError(err); }
  }
  return (
    <select class="reassign" aria-label={tr.t("row.reassign", { name })} value="" onChange={change}>
      <option value="">{row.assignee_name ? tr.t("row.reassignFrom", { name: row.assignee_name }) : tr.t("row.assignTo")}</option>
      {row.state === "assigned" ? <option value="-">{tr.t("row.unassign")}</option> : null}
      {triage.operators.filter((o) => o.id !== row.assignee_id).map((o) => <option value={o.id} key={o.id}>{o.display_name}</option>)}
    </select>
  );
}

const RESOLUTIONS = ["resolved", "information_given", "no_response", "other"];

/** Close or transfer the picked conversations at once (the server audits each one). */
function Bulk({ ids, triage, onError, onDone }) {
  const [resolution, setResolution] = useState("other");
  const [team, setTeam] = useState("general");
  async function run(body, key) {
    try {
      const result = await api("POST", "/api/console/bulk", { ids, ...body });
      onDone({ kind: "ok", text: tr.t(key, { count: result.done.length, skipped: result.skipped.length }) });
    } catch (err) { onError(err); }
  }
  return (
    <div class="bulk" id="bulk" role="group" aria-label={tr.t("bulk.label", { count: ids.length })}>
      <strong>{tr.t("bulk.label", { count: ids.length })}</strong>
      <span class="bulk-action">
        <select aria-label={tr.t("actions.resolution")} value={resolution} onChange={(e) => setResolution(e.currentTarget.value)}>
          {RESOLUTIONS.map((r) => <option value={r} key={r}>{tr.word("resolution", r)}</option>)}
        </select>
        <button type="button" id="bulk-close" class="danger" onClick={() => run({ action: "close", resolution }, "bulk.closed")}>{tr.t("bulk.close")}</button>
      </span>
      <span class="bulk-action">
        <select aria-label={tr.t("actions.transferTarget")} value={team} onChange={(e) => setTeam(e.currentTarget.value)}>
          {triage.teams.map((t) => <option value={t.name} key={t.name}>{teamTitle(t)}</option>)}
        </select>
        <button type="button" id="bulk-transfer" onClick={() => run({ action: "transfer", to_team: team }, "bulk.transferred")}>{tr.t("bulk.transfer")}</button>
      </span>
    </div>
  );
}

export function teamTitle(team) {
  const titles = team.titles || {};
  return titles[document.documentElement.lang] || (tr.has("team." + team.name) ? tr.t("team." + team.name) : "") || titles.ru || team.name;
}
