// Demo-Bank web chat for a bank's own website: one line on the page,
//
//   <script src="https://chat.example-bank.ru/chat/static/embed.js" async></script>
//
// adds a launcher button and the chat panel (an iframe of /chat from the script's own origin). The page
// passes the signed-in customer's token with a documented call (docs/integrations.md, "Embedding the chat"):
//
//   (window.DemoBankChat = window.DemoBankChat || []).push(["signIn", "<customer token>"]);
//
// which works before and after this script has loaded (afterwards also DemoBankChat.signIn(token)).
// Messages between the page and the chat are postMessage with origin checks both ways: the page accepts
// only messages from the chat's origin and its own iframe; the chat accepts only its parent, and only when
// the parent's origin is among the sites allowed to frame it (CHAT_FRAME_ANCESTORS).
//
// Browsers partition an iframe's storage by the top-level site (and some clear it), so the conversation's
// visitor id is kept by this script in the bank site's own storage and handed to the chat on every page
// load: the customer finds the conversation after a reload or on the next page of the site.
// No innerHTML, no inline styles in markup (styles are set through the DOM, which CSP allows).
(function () {
  "use strict";

  var existing = window.DemoBankChat;
  if (existing && existing.loaded) return;

  var script = document.currentScript;
  var source = new URL(script.src, location.href);
  var CHAT_ORIGIN = source.origin;
  var CHAT_BASE = source.pathname.replace(/\/static\/embed\.js$/, "");
  var STORE_KEY = "demobankchat.state";
  var TAG = "demobank-chat";
  var PHONE = window.matchMedia("(max-width: 480px)");
  var TEXTS = {
    ru: { open: "Чат с банком", close: "Свернуть чат", title: "Демо-Банк — чат", unread: "новое сообщение" },
    en: { open: "Chat with the bank", close: "Minimise the chat", title: "Demo-Bank chat", unread: "new message" }
  };

  var language = (script.dataset.language || document.documentElement.lang || "ru").slice(0, 2) === "en" ? "en" : "ru";
  var token = null;
  var tokenKnown = false; // signIn/signOut called before the chat asked: the page said who the customer is
  var frame = null;
  var frameReady = false;
  var outbox = [];
  var isOpen = false;
  var unread = 0;

  function texts() { return TEXTS[language]; }

  function loadState() {
    try {
      var parsed = JSON.parse(window.localStorage.getItem(STORE_KEY) || "null");
      return parsed && typeof parsed.visitor_id === "string" ? parsed : null;
    } catch (e) { return null; }
  }

  function saveState(data) {
    var value = { visitor_id: data.visitor_id, conversation_id: data.conversation_id || null };
    try { window.localStorage.setItem(STORE_KEY, JSON.stringify(value)); } catch (e) { /* private mode: the chat's own storage still works */ }
  }

  function post(message) {
    message.source = TAG;
    if (!frameReady) { outbox.push(message); return; }
    frame.contentWindow.postMessage(message, CHAT_ORIGIN);
  }

  function style(node, rules) { Object.keys(rules).forEach(function (name) { node.style[name] = rules[name]; }); }

  // ---- the launcher and the panel ---------------------------------------------------------------------

  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "demobank-chat-launcher";
  launcher.setAttribute("aria-expanded", "false");
  style(launcher, {
    position: "fixed", right: "20px", bottom: "20px", zIndex: "2147483000", width: "60px", height: "60px",
    borderRadius: "50%", border: "none", background: "#0b5d3b", color: "#fff", cursor: "pointer",
    boxShadow: "0 4px 16px rgba(0,0,0,.25)", display: "flex", alignItems: "center", justifyContent: "center"
  });
  var svgNs = "http://www.w3.org/2000/svg";
  var icon = document.createElementNS(svgNs, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("width", "28");
  icon.setAttribute("height", "28");
  icon.setAttribute("aria-hidden", "true");
  var path = document.createElementNS(svgNs, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z");
  icon.appendChild(path);
  launcher.appendChild(icon);
  var badge = document.createElement("span");
  badge.className = "demobank-chat-badge";
  badge.hidden = true;
  style(badge, {
    position: "absolute", top: "2px", right: "2px", minWidth: "20px", height: "20px", borderRadius: "10px",
    background: "#d93025", color: "#fff", font: "bold 12px/20px system-ui, sans-serif", textAlign: "center"
  });
  launcher.appendChild(badge);

  var panel = document.createElement("div");
  panel.className = "demobank-chat-panel";
  panel.setAttribute("role", "dialog");
  panel.hidden = true;
  var bar = document.createElement("div");
  style(bar, {
    display: "flex", alignItems: "center", justifyContent: "flex-end", height: "36px", padding: "0 6px",
    background: "#074028"
  });
  var closeButton = document.createElement("button");
  closeButton.type = "button";
  closeButton.className = "demobank-chat-close";
  closeButton.textContent = "×";
  style(closeButton, {
    width: "32px", height: "32px", border: "none", background: "transparent", color: "#fff",
    font: "24px/32px system-ui, sans-serif", cursor: "pointer"
  });
  bar.appendChild(closeButton);
  panel.appendChild(bar);

  function layout() {
    if (PHONE.matches) {
      style(panel, {
        position: "fixed", left: "0", top: "0", right: "0", bottom: "0", width: "100%", height: "100%",
        borderRadius: "0", zIndex: "2147483001", background: "#fff", boxShadow: "none"
      });
      launcher.style.display = isOpen ? "none" : "flex";
    } else {
      style(panel, {
        position: "fixed", left: "auto", top: "auto", right: "20px", bottom: "92px", width: "380px",
        height: "min(620px, calc(100vh - 112px))", borderRadius: "12px", overflow: "hidden", zIndex: "2147483001",
        background: "#fff", boxShadow: "0 8px 32px rgba(0,0,0,.25)"
      });
      launcher.style.display = "flex";
    }
    panel.style.display = isOpen ? "flex" : "none";
    panel.style.flexDirection = "column";
  }

  function renderTexts() {
    launcher.setAttribute("aria-label", isOpen ? texts().close : texts().open);
    launcher.title = launcher.getAttribute("aria-label");
    closeButton.setAttribute("aria-label", texts().close);
    panel.setAttribute("aria-label", texts().title);
    badge.textContent = unread ? String(unread) : "";
    badge.hidden = !unread;
    if (frame) frame.title = texts().title;
  }

  function setOpen(open) {
    isOpen = open;
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) unread = 0;
    layout();
    renderTexts();
    if (open) post({ type: "focus" });
    else launcher.focus();
  }

  function createFrame() {
    frame = document.createElement("iframe");
    frame.className = "demobank-chat-frame";
    var params = new URLSearchParams({ embed: "1", host: location.origin, lang: language });
    frame.src = CHAT_ORIGIN + CHAT_BASE + "?" + params.toString();
    frame.setAttribute("allow", "clipboard-write");
    style(frame, { border: "none", width: "100%", flex: "1 1 auto", minHeight: "0" });
    panel.appendChild(frame);
  }

  // ---- messages from the chat -------------------------------------------------------------------------

  window.addEventListener("message", function (event) {
    if (event.origin !== CHAT_ORIGIN || !frame || event.source !== frame.contentWindow) return;
    var data = event.data;
    if (!data || data.source !== TAG || typeof data.type !== "string") return;
    if (data.type === "ready") {
      frameReady = true;
      var init = { type: "init", state: loadState(), language: language, source: TAG };
      if (tokenKnown) init.customer_token = token;
      frame.contentWindow.postMessage(init, CHAT_ORIGIN);
      outbox.splice(0).forEach(function (message) { frame.contentWindow.postMessage(message, CHAT_ORIGIN); });
    } else if (data.type === "state" && typeof data.visitor_id === "string") {
      saveState(data);
    } else if (data.type === "message" && !isOpen) {
      unread += 1;
      renderTexts();
    } else if (data.type === "close") {
      setOpen(false);
    }
  });

  // ---- the page's calls ------------------------------------------------------------------------------

  var api = {
    loaded: true,
    // The signed-in customer's token (minted by the bank's site, as for the REST channel). Call it on every
    // page load while the customer is signed in.
    signIn: function (customerToken) {
      if (typeof customerToken !== "string" || !customerToken) return;
      token = customerToken;
      tokenKnown = true;
      post({ type: "sign-in", customer_token: customerToken });
    },
    // The customer signed out of the site: the chat forgets them and starts a new guest conversation.
    signOut: function () {
      token = null;
      tokenKnown = true;
      try { window.localStorage.removeItem(STORE_KEY); } catch (e) { /* nothing stored */ }
      post({ type: "sign-out" });
    },
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    setLanguage: function (lang) {
      if (lang !== "ru" && lang !== "en") return;
      language = lang;
      renderTexts();
      post({ type: "language", language: lang });
    },
    push: function (call) {
      if (!Array.isArray(call) || typeof api[call[0]] !== "function" || call[0] === "push") return;
      api[call[0]].apply(api, call.slice(1));
    }
  };

  launcher.addEventListener("click", function () { setOpen(!isOpen); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  document.addEventListener("keydown", function (event) { if (event.key === "Escape" && isOpen) setOpen(false); });
  if (PHONE.addEventListener) PHONE.addEventListener("change", layout);

  function mount() {
    createFrame();
    document.body.appendChild(panel);
    document.body.appendChild(launcher);
    layout();
    renderTexts();
  }

  window.DemoBankChat = api;
  (Array.isArray(existing) ? existing : []).forEach(api.push);
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
