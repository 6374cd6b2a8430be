// The keyboard: Ctrl/Cmd+K opens the command palette; Alt+letter shortcuts (by key position, so they work
// in the Russian layout too) for the frequent actions; "?" or F1 opens the list of shortcuts. The actions
// press the page's own buttons and fields, so a shortcut does exactly what a click does.
import { useEffect, useRef, useState } from "preact/hooks";
import { useLanguage } from "../lib/i18n.js";
import { openConversation } from "./router.js";
import { tr } from "./tr.js";

function typing(target) {
  return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

function click(id) {
  const node = document.getElementById(id);
  if (node) node.click();
  return Boolean(node);
}

function focusComposer(mode, text) {
  click("mode-" + mode);
  const area = document.getElementById("composer-text");
  if (!area) return false;
  if (text !== undefined) {
    area.value = text;
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }
  setTimeout(() => area.focus(), 0);
  return true;
}

function nextConversation(step) {
  const ids = [...document.querySelectorAll("#rows li.row")].map((li) => li.dataset.conversationId);
  if (!ids.length) return false;
  const here = ids.indexOf(location.pathname.split("/").pop());
  openConversation(ids[(here + step + ids.length) % ids.length] || ids[0]);
  return true;
}

// Each command: an id, the Alt+key (KeyboardEvent.code) that runs it, and what it does.
export const COMMANDS = [
  { id: "next", code: "KeyJ", run: () => nextConversation(1) },
  { id: "previous", code: "KeyK", run: () => nextConversation(-1) },
  { id: "reply", code: "KeyR", run: () => focusComposer("reply") },
  { id: "note", code: "KeyN", run: () => focusComposer("note") },
  { id: "canned", code: "Slash", run: () => focusComposer("reply", "/") },
  { id: "transfer", code: "KeyT", run: () => click("open-transfer") },
  { id: "close", code: "KeyC", run: () => { const pick = document.getElementById("resolution"); if (pick) pick.focus(); return Boolean(pick); } },
  { id: "queue", code: "Digit1", run: () => click("view-queue") },
  { id: "mine", code: "Digit2", run: () => click("view-mine") },
  { id: "open", code: "Digit3", run: () => click("view-open") },
  { id: "search", code: "KeyF", run: () => { const s = document.getElementById("search"); if (s) s.focus(); return Boolean(s); } },
];

function keyName(code) {
  return code.startsWith("Key") ? code.slice(3) : code.startsWith("Digit") ? code.slice(5) : code === "Slash" ? "/" : code;
}

export function Keyboard() {
  useLanguage();
  const [palette, setPalette] = useState(false);
  const [help, setHelp] = useState(false);
  useEffect(() => {
    function onKey(e) {
      if ((e.ctrlKey || e.metaKey) && e.code === "KeyK") { e.preventDefault(); setHelp(false); setPalette(true); return; }
      if (e.altKey && !e.ctrlKey && !e.metaKey) {
        const command = COMMANDS.find((c) => c.code === e.code);
        if (command) { e.preventDefault(); command.run(); }
        return;
      }
      if (!typing(e.target) && (e.key === "?" || e.code === "F1")) { e.preventDefault(); setHelp(true); }
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  return (
    <>
      <button type="button" id="open-help" class="link" onClick={() => setHelp(true)} title={tr.t("keys.helpTitle")}>{tr.t("keys.help")}</button>
      {palette ? <Palette onClose={() => setPalette(false)} onHelp={() => { setPalette(false); setHelp(true); }} /> : null}
      {help ? <Help onClose={() => setHelp(false)} /> : null}
    </>
  );
}

function Dialog({ id, labelledBy, onClose, children }) {
  const ref = useRef(null);
  useEffect(() => { if (ref.current && !ref.current.open) ref.current.showModal(); }, []);
  return <dialog ref={ref} id={id} class="keys-dialog" aria-labelledby={labelledBy} onClose={onClose}>{children}</dialog>;
}

function Palette({ onClose, onHelp }) {
  const [query, setQuery] = useState("");
  const [chosen, setChosen] = useState(0);
  const all = [...COMMANDS, { id: "help", code: "", run: onHelp }];
  const found = all.filter((c) => tr.t("command." + c.id).toLowerCase().includes(query.trim().toLowerCase()));
  const index = Math.min(chosen, Math.max(0, found.length - 1));
  function run(command) { onClose(); setTimeout(() => command.run(), 0); }
  function onKeyDown(e) {
    if (e.key === "ArrowDown") { e.preventDefault(); setChosen((index + 1) % Math.max(1, found.length)); }
    else if (e.key === "ArrowUp") { e.preventDefault(); setChosen((index - 1 + found.length) % Math.max(1, found.length)); }
    else if (e.key === "Enter" && found[index]) { e.preventDefault(); run(found[index]); }
  }
  return (
    <Dialog id="palette" labelledBy="palette-heading" onClose={onClose}>
      <h2 id="palette-heading" class="visually-hidden">{tr.t("keys.palette")}</h2>
      <input id="palette-input" autofocus value={query} placeholder={tr.t("keys.palettePlaceholder")} aria-label={tr.t("keys.palette")}
        role="combobox" aria-expanded="true" aria-controls="palette-list" aria-activedescendant={found[index] ? "cmd-" + found[index].id : undefined}
        onInput={(e) => { setQuery(e.currentTarget.value); setChosen(0); }} onKeyDown={onKeyDown} />
      <ul id="palette-list" role="listbox" aria-label={tr.t("keys.palette")}>
        {found.map((c, i) => (
          <li key={c.id} id={"cmd-" + c.id} role="option" aria-selected={String(i === index)} class={i === index ? "on" : ""}
            onMouseDown={(e) => { e.preventDefault(); run(c); }}>
            <span>{tr.t("command." + c.id)}</span>{c.code ? <kbd>Alt+{keyName(c.code)}</kbd> : null}
          </li>
        ))}
      </ul>
    </Dialog>
  );
}

function Help({ onClose }) {
  return (
    <Dialog id="keys-help" labelledBy="keys-help-heading" onClose={onClose}>
      <h2 id="keys-help-heading">{tr.t("keys.helpHeading")}</h2>
      <dl class="keys-list">
        <div><dt><kbd>Ctrl/⌘+K</kbd></dt><dd>{tr.t("keys.palette")}</dd></div>
        {COMMANDS.map((c) => <div key={c.id}><dt><kbd>Alt+{keyName(c.code)}</kbd></dt><dd>{tr.t("command." + c.id)}</dd></div>)}
        <div><dt><kbd>?</kbd></dt><dd>{tr.t("keys.helpHeading")}</dd></div>
      </dl>
      <div class="dialog-buttons"><button type="button" id="keys-help-close" onClick={(e) => e.currentTarget.closest("dialog").close()}>{tr.t("keys.closeHelp")}</button></div>
    </Dialog>
  );
}
