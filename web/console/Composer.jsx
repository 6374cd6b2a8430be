// The composer: Reply / Private note switch, Enter sends (Shift+Enter: new line), "/" opens the canned
// responses with search, and the customer sees that the operator is typing.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { useLanguage } from "../lib/i18n.js";
import { tr } from "./tr.js";

const TYPING_EVERY_MS = 2500;

export function Composer({ id, conv, draft, setDraft, onSent, onNote, onNotice, onError }) {
  useLanguage();
  const [canned, setCanned] = useState([]);
  const [picked, setPicked] = useState(0);
  const [busy, setBusy] = useState(false);
  const lastTyping = useRef(0);
  const note = draft.mode === "note";

  useEffect(() => {
    api("GET", "/api/console/conversations/" + id + "/canned")
      .catch(() => api("GET", "/api/console/canned?language=" + encodeURIComponent(conv.language || "ru")))
      .then((data) => setCanned(data.canned))
      .catch(() => setCanned([]));
  }, [id]);

  const slash = !note && draft.text.startsWith("/") && !draft.text.includes("\n");
  const query = slash ? draft.text.slice(1).trim().toLowerCase() : "";
  const matches = slash ? canned.filter((c) => (c.title + " " + c.text).toLowerCase().includes(query)) : [];
  const chosen = Math.min(picked, Math.max(0, matches.length - 1));

  function pick(item) {
    setDraft({ ...draft, text: item.text });
    setPicked(0);
  }

  async function submit() {
    const text = draft.text.trim();
    if (!text || busy) return;
    setBusy(true);
    try {
      if (note) {
        const stored = await api("POST", "/api/console/conversations/" + id + "/notes", { text });
        setDraft({ text: "", mode: "note" });
        onNote();
        if (stored.notice) onNotice(stored.notice);
      } else {
        const message = await api("POST", "/api/console/conversations/" + id + "/reply", { text });
        setDraft({ text: "", mode: "reply" });
        onSent(message);
        if (message.notice) onNotice(message.notice);
      }
    } catch (err) {
      onError(err);
    } finally {
      setBusy(false);
    }
  }

  function onKeyDown(e) {
    if (slash && matches.length) {
      if (e.key === "ArrowDown") { e.preventDefault(); setPicked((chosen + 1) % matches.length); return; }
      if (e.key === "ArrowUp") { e.preventDefault(); setPicked((chosen - 1 + matches.length) % matches.length); return; }
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); pick(matches[chosen]); return; }
    }
    if (slash && e.key === "Escape") { setDraft({ ...draft, text: "" }); return; }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
  }

  function onInput(e) {
    setDraft({ ...draft, text: e.currentTarget.value });
    const now = Date.now();
    if (!note && now - lastTyping.current > TYPING_EVERY_MS && !e.currentTarget.value.startsWith("/")) {
      lastTyping.current = now;
      api("POST", "/api/console/conversations/" + id + "/typing").catch(() => {});
    }
  }

  return (
    <form class={"composer" + (note ? " note-mode" : "")} id="composer" onSubmit={(e) => { e.preventDefault(); submit(); }}>
      <fieldset class="mode">
        <legend class="visually-hidden">{tr.t("compose.mode")}</legend>
        {["reply", "note"].map((mode) => (
          <label key={mode} class={draft.mode === mode ? "on" : ""}>
            <input type="radio" name={"mode-" + id} value={mode} id={"mode-" + mode} checked={draft.mode === mode}
              onChange={() => setDraft({ ...draft, mode })} />
            {tr.t("compose." + mode)}
          </label>
        ))}
      </fieldset>
      {slash ? (
        <ul class="canned" id="canned" role="listbox" aria-label={tr.t("compose.canned")}>
          {matches.length ? matches.map((item, i) => (
            <li key={item.id} role="option" aria-selected={String(i === chosen)} class={i === chosen ? "on" : ""}
              onMouseDown={(e) => { e.preventDefault(); pick(item); }}>
              <strong>{item.title}</strong> <span>{item.text}</span>
            </li>
          )) : <li class="none" role="option" aria-selected="false" aria-disabled="true">{tr.t("compose.cannedNone", { query })}</li>}
        </ul>
      ) : null}
      <textarea id="composer-text" rows="3" value={draft.text} onInput={onInput} onKeyDown={onKeyDown}
        aria-label={note ? tr.t("compose.note") : tr.t("compose.reply")}
        placeholder={note ? tr.t("compose.placeholderNote") : tr.t("compose.placeholderReply")}
        aria-expanded={slash ? "true" : "false"} aria-controls={slash ? "canned" : undefined} role="combobox" aria-autocomplete="list" />
      <button type="submit" id="send" disabled={busy}>{note ? tr.t("compose.saveNote") : tr.t("compose.send")}</button>
    </form>
  );
}
