// Demo-Bank customer web chat. Plain JS, no build step.
//
// Every message text is put on the page with textContent, never innerHTML:
// whatever a customer, the bot or an operator writes shows as text.
//
// Delivery: a typed message goes into an outbox in localStorage under a random
// client id and stays there until the server acks it, so it survives a dropped
// network and a reload; after a reconnect the outbox is sent again and the
// server drops the copies it already handled. Stored messages carry a seq:
// the page shows each (conversation, seq) once and, on reconnect, asks for
// everything after the last seq it has.
(function () {
  "use strict";

  var BASE = document.body.dataset.base || "/chat";
  var KEYS = {
    visitor: "bankchat.visitor_id",
    lang: "bankchat.language",
    token: "bankchat.customer_token",
    name: "bankchat.customer_name",
    outbox: "bankchat.outbox",
    guest: "bankchat.guest_chosen",
    conversation: "bankchat.conversation_id"
  };
  // Reconnect delays grow to this cap, with jitter so a restarted server is not hit by every page at once.
  var RECONNECT_MAX_MS = 10000;
  // A socket that answered no ping for this long is dead even if the browser has not noticed.
  var PING_EVERY_MS = 15000;
  var PONG_TIMEOUT_MS = 10000;
  // The operator console shows "customer is typing"; one signal per this many ms is enough.
  var TYPING_SIGNAL_MS = 3000;
  // The console repeats "operator is typing" while the operator types; without a repeat the line goes.
  var OPERATOR_TYPING_SHOWN_MS = 6000;
  // The view follows new messages while the reader is within this distance of the bottom.
  var PINNED_SLACK_PX = 48;
  // The button that asks the customer to sign in (sent by an operator who needs to verify them).
  var SIGN_IN_PAYLOAD = "/sign_in";

  var TEXTS = {
    ru: {
      title: "Демо-Банк",
      subtitle: "Онлайн-чат поддержки",
      welcome: "Здравствуйте! Я виртуальный помощник Демо-Банка. Спросите про баланс, операции или блокировку карты.",
      placeholder: "Напишите сообщение…",
      inputLabel: "Сообщение",
      messagesLabel: "Сообщения",
      send: "Отправить",
      typing: "Ассистент печатает",
      operatorTyping: "{name} печатает",
      operatorTypingNoName: "Оператор печатает",
      operatorNamed: "Оператор · {name}",
      signIn: "Войти",
      signOut: "Выйти",
      signOutOthers: "Выйти на других устройствах",
      signedOutOthers: "Готово: на других устройствах и вкладках вход завершён.",
      signedOutHere: "Вход на этом устройстве завершён с другого устройства. Войдите снова, чтобы продолжить разговор.",
      guestWho: "Вы: гость",
      signedIn: "Вы вошли в интернет-банк",
      signedInAs: "Вы: {name}",
      demoHint: "Только для локального стенда: войдите как тестовый клиент, чтобы бот видел ваши карты и счета. Настоящий банк делает это на своём сайте.",
      guest: "Продолжить как гость",
      signInAgain: "Сессия входа истекла или недействительна. Пожалуйста, войдите снова — пока вы в чате как гость.",
      signInFailed: "Не удалось войти. Попробуйте ещё раз.",
      newConversation: "Начат новый разговор.",
      author_bot: "Ассистент",
      author_operator: "Оператор",
      author_system: "Демо-Банк",
      sending: "Отправляется…",
      waitingNetwork: "Ждёт сети — отправится автоматически",
      notSent: "Не отправлено: {error}",
      status_connecting: "Подключение…",
      status_online: "В сети",
      status_reconnecting: "Связь потеряна, переподключаемся…",
      status_offline: "Нет сети. Сообщения отправятся, когда связь восстановится."
    },
    en: {
      title: "Demo-Bank",
      subtitle: "Online support chat",
      welcome: "Hello! I'm Demo-Bank's virtual assistant. Ask me about your balance, transactions or blocking a card.",
      placeholder: "Type a message…",
      inputLabel: "Message",
      messagesLabel: "Messages",
      send: "Send",
      typing: "Assistant is typing",
      operatorTyping: "{name} is typing",
      operatorTypingNoName: "The operator is typing",
      operatorNamed: "Operator · {name}",
      signIn: "Sign in",
      signOut: "Sign out",
      signOutOthers: "Sign out other devices",
      signedOutOthers: "Done: your other devices and tabs are signed out.",
      signedOutHere: "You were signed out here from another device. Sign in again to carry on the conversation.",
      guestWho: "You: guest",
      signedIn: "You are signed in to online banking",
      signedInAs: "You: {name}",
      demoHint: "Local runs only: sign in as a test customer so the bot can see your cards and accounts. The real bank does this on its own website.",
      guest: "Continue as guest",
      signInAgain: "Your sign-in has expired or is not valid. Please sign in again — meanwhile you are chatting as a guest.",
      signInFailed: "Sign-in failed. Please try again.",
      newConversation: "A new conversation has started.",
      author_bot: "Assistant",
      author_operator: "Operator",
      author_system: "Demo-Bank",
      sending: "Sending…",
      waitingNetwork: "Waiting for the network — will be sent automatically",
      notSent: "Not sent: {error}",
      status_connecting: "Connecting…",
      status_online: "Online",
      status_reconnecting: "Connection lost, reconnecting…",
      status_offline: "You're offline. Messages will be sent when you're back online."
    }
  };

  // ---- storage (private mode and full quotas make localStorage throw) ------------------------------

  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function save(key, value) {
    try {
      if (value === null || value === undefined) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (e) { /* the page still works, it just forgets on reload */ }
  }

  function newId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function initialLanguage() {
    var saved = load(KEYS.lang);
    if (saved === "ru" || saved === "en") return saved;
    var nav = (navigator.language || "").toLowerCase();
    return nav.indexOf("en") === 0 ? "en" : "ru";
  }

  function loadOutbox() {
    try {
      var parsed = JSON.parse(load(KEYS.outbox) || "[]");
      return Array.isArray(parsed) ? parsed.filter(function (e) { return e && typeof e.id === "string" && typeof e.text === "string"; }) : [];
    } catch (e) { return []; }
  }

  // ---- state -------------------------------------------------------------------------------------

  var state = {
    lang: initialLanguage(),
    visitorId: load(KEYS.visitor),
    token: load(KEYS.token),
    name: load(KEYS.name),
    verified: false,
    demo: { on: false, customers: [] },
    ws: null,
    ready: false,
    conversationId: load(KEYS.conversation),
    lastSeq: 0,
    pinned: true,
    typingTimer: null,
    typing: null,
    seen: new Set(),
    payloadTitles: new Map(),
    outbox: loadOutbox(),
    inflight: new Set(),
    attempt: 0,
    reconnectTimer: null,
    pingTimer: null,
    lastPong: 0,
    lastTypingSignal: 0,
    statusKey: "status_connecting",
    embedHost: null
  };
  if (!state.visitorId) {
    state.visitorId = newId();
    save(KEYS.visitor, state.visitorId);
  }

  var el = {};
  ["messages", "stored", "pending", "typing", "composer", "input", "status", "notice", "notice-text", "notice-close",
    "identity-who", "sign-in-open", "sign-out", "sign-out-others", "demo-panel", "demo-list", "guest", "welcome"].forEach(function (id) {
    el[id] = document.getElementById(id);
  });

  function t(key, vars) {
    var text = (TEXTS[state.lang] && TEXTS[state.lang][key]) || TEXTS.ru[key] || key;
    Object.keys(vars || {}).forEach(function (name) { text = text.split("{" + name + "}").join(vars[name]); });
    return text;
  }

  // ---- language ----------------------------------------------------------------------------------

  function applyLanguage(lang) {
    state.lang = lang === "en" ? "en" : "ru";
    save(KEYS.lang, state.lang);
    document.documentElement.lang = state.lang;
    document.title = t("title") + " — " + (state.lang === "en" ? "chat" : "чат");
    document.querySelectorAll("[data-i18n]").forEach(function (node) { node.textContent = t(node.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (node) {
      node.placeholder = t(node.dataset.i18nPlaceholder);
    });
    document.querySelectorAll("[data-i18n-aria]").forEach(function (node) {
      node.setAttribute("aria-label", t(node.dataset.i18nAria));
    });
    document.querySelectorAll(".lang__btn").forEach(function (btn) {
      btn.setAttribute("aria-pressed", String(btn.dataset.lang === state.lang));
    });
    document.querySelectorAll(".msg__label[data-author]").forEach(function (node) {
      node.textContent = authorLabel(node);
    });
    if (el.typing) renderTypingLabel();
    document.querySelectorAll(".msg--pending").forEach(function (node) { setPendingMeta(node); });
    renderIdentity();
    setStatus(state.statusKey);
  }

  // ---- identity and the demo sign-in -------------------------------------------------------------

  function renderIdentity() {
    var who = el["identity-who"];
    if (state.token) {
      who.textContent = state.name ? t("signedInAs", { name: state.name }) : t("signedIn");
      who.classList.add("verified");
    } else {
      who.textContent = t("guestWho");
      who.classList.remove("verified");
    }
    el["sign-in-open"].hidden = !!state.token || !state.demo.on;
    el["sign-out"].hidden = !state.token;
    el["sign-out-others"].hidden = !state.token;
  }

  function showNotice(text) {
    el["notice-text"].textContent = text;
    el.notice.hidden = false;
  }

  function renderDemoPanel() {
    var list = el["demo-list"];
    list.replaceChildren();
    state.demo.customers.forEach(function (customer) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "demo__customer";
      button.dataset.customerId = customer.id;
      var avatar = document.createElement("span");
      avatar.className = "demo__avatar";
      avatar.textContent = String(customer.name || "?").charAt(0);
      var label = document.createElement("span");
      var name = document.createElement("strong");
      name.textContent = customer.name;
      var id = document.createElement("span");
      id.className = "demo__id";
      id.textContent = customer.id;
      label.append(name, id);
      button.append(avatar, label);
      button.addEventListener("click", function () { demoSignIn(customer.id); });
      item.append(button);
      list.append(item);
    });
  }

  function openDemoPanel(open) {
    el["demo-panel"].hidden = !open;
  }

  function demoSignIn(customerId) {
    fetch(BASE + "/demo-sign-in", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ customer_id: customerId })
    }).then(function (resp) {
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      return resp.json();
    }).then(function (body) {
      setToken(body.customer_token, body.name);
      openDemoPanel(false);
      el.notice.hidden = true;
    }).catch(function () {
      showNotice(t("signInFailed"));
    });
  }

  function setToken(token, name) {
    state.token = token || null;
    state.name = token ? (name || null) : null;
    save(KEYS.token, state.token);
    save(KEYS.name, state.name);
    renderIdentity();
    reconnectNow();
  }

  function signOut() {
    // The next person at this computer must not see the signed-in customer's conversation.
    state.token = null;
    state.name = null;
    save(KEYS.token, null);
    save(KEYS.name, null);
    startOver();
    renderIdentity();
    reconnectNow();
  }

  function startOver() {
    state.visitorId = newId();
    save(KEYS.visitor, state.visitorId);
    state.outbox = [];
    persistOutbox();
    state.inflight.clear();
    state.conversationId = null;
    save(KEYS.conversation, null);
    state.lastSeq = 0;
    state.seen.clear();
    state.payloadTitles.clear();
    el.stored.replaceChildren();
    el.pending.replaceChildren();
    showTyping(null);
    reportStateToHost();
  }

  // ---- connection --------------------------------------------------------------------------------

  function setStatus(key) {
    state.statusKey = key;
    el.status.textContent = t(key);
    el.status.dataset.state = key.replace("status_", "").replace("reconnecting", "connecting");
  }

  function socketUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + BASE + "/ws";
  }

  function connect() {
    if (state.ws && (state.ws.readyState === WebSocket.OPEN || state.ws.readyState === WebSocket.CONNECTING)) return;
    clearTimeout(state.reconnectTimer);
    if (!navigator.onLine) {
      setStatus("status_offline");
      return;
    }
    setStatus(state.attempt ? "status_reconnecting" : "status_connecting");
    var ws = new WebSocket(socketUrl());
    state.ws = ws;
    ws.addEventListener("open", function () {
      if (state.ws !== ws) return;
      state.lastPong = Date.now();
      sendHello();
    });
    ws.addEventListener("message", function (event) {
      if (state.ws !== ws) return;
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame.type === "string") onFrame(frame);
    });
    ws.addEventListener("close", function () {
      if (state.ws !== ws) return;
      state.ws = null;
      state.ready = false;
      state.inflight.clear();
      showTyping(null);
      refreshPendingMeta();
      scheduleReconnect();
    });
  }

  function sendHello() {
    sendFrame({
      type: "hello",
      visitor_id: state.visitorId,
      customer_token: state.token,
      last_seq: state.lastSeq,
      conversation_id: state.conversationId,
      language: state.lang
    });
  }

  function scheduleReconnect() {
    clearTimeout(state.reconnectTimer);
    if (!navigator.onLine) {
      setStatus("status_offline");
      return;
    }
    setStatus("status_reconnecting");
    var delay = Math.min(RECONNECT_MAX_MS, 500 * Math.pow(2, state.attempt));
    state.attempt += 1;
    state.reconnectTimer = setTimeout(connect, delay / 2 + Math.random() * delay / 2);
  }

  function reconnectNow() {
    clearTimeout(state.reconnectTimer);
    state.attempt = 0;
    var old = state.ws;
    state.ws = null;
    state.ready = false;
    state.inflight.clear();
    if (old) old.close(1000, "reconnect");
    connect();
  }

  function sendFrame(frame) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
    state.ws.send(JSON.stringify(frame));
    return true;
  }

  function heartbeat() {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - state.lastPong > PING_EVERY_MS + PONG_TIMEOUT_MS) {
      state.ws.close(4000, "no pong");
      return;
    }
    sendFrame({ type: "ping" });
  }

  // ---- frames from the server --------------------------------------------------------------------

  function onFrame(frame) {
    switch (frame.type) {
      case "ready": onReady(frame); break;
      case "history":
        (frame.messages || []).forEach(function (m) { render(frame.conversation_id || state.conversationId, m); });
        state.ready = true;
        state.attempt = 0;
        setStatus("status_online");
        flushOutbox();
        break;
      case "message":
        render(frame.conversation_id || state.conversationId, frame.message || {});
        if (frame.message && frame.message.author !== "customer") toHost({ type: "message" });
        break;
      case "typing": onTyping(frame); break;
      case "ack": settle(frame.id, null); break;
      case "error": onError(frame); break;
      case "pong": state.lastPong = Date.now(); break;
      case "signed_out_others": showNotice(t("signedOutOthers")); break;
      case "signed_out":
        // Another device ended this session: the signed-in customer's conversation leaves this screen.
        state.token = null;
        state.name = null;
        save(KEYS.token, null);
        save(KEYS.name, null);
        startOver();
        renderIdentity();
        showNotice(t("signedOutHere"));
        break;
      default: break;
    }
  }

  // "Ассистент печатает" while the bot works on a turn; "<name> печатает" while an operator types.
  function onTyping(frame) {
    if (!frame.on) {
      if (!state.typing || state.typing.who !== "operator") showTyping(null);
      return;
    }
    var who = frame.who === "operator" ? "operator" : "bot";
    showTyping({ who: who, name: typeof frame.name === "string" && frame.name ? frame.name : null });
    if (who === "operator") state.typingTimer = setTimeout(function () { showTyping(null); }, OPERATOR_TYPING_SHOWN_MS);
  }

  function showTyping(typing) {
    clearTimeout(state.typingTimer);
    state.typing = typing;
    el.typing.hidden = !typing;
    renderTypingLabel();
  }

  function renderTypingLabel() {
    var label = el.typing.querySelector(".typing__label");
    var typing = state.typing;
    if (!typing || typing.who !== "operator") label.textContent = t("typing");
    else label.textContent = typing.name ? t("operatorTyping", { name: typing.name }) : t("operatorTypingNoName");
  }

  function onReady(frame) {
    state.lastPong = Date.now();
    state.verified = !!frame.verified;
    var id = frame.conversation_id || null;
    if (id !== state.conversationId) {
      if (state.conversationId && id && state.seen.size) addSystemLine(t("newConversation"));
      state.conversationId = id;
      save(KEYS.conversation, id);
      state.lastSeq = 0;
    }
    renderIdentity();
    reportStateToHost();
  }

  function onError(frame) {
    if (frame.code === "invalid_token") {
      state.token = null;
      state.name = null;
      save(KEYS.token, null);
      save(KEYS.name, null);
      renderIdentity();
      showNotice(t("signInAgain"));
      if (state.demo.on) openDemoPanel(true);
      return;
    }
    if (frame.code === "conversation_locked") {
      // The stored conversation is a signed-in customer's; carry on as a guest in a new one.
      var keep = state.outbox.slice();
      startOver();
      state.outbox = keep;
      persistOutbox();
      keep.forEach(renderPending);
      sendHello();
      return;
    }
    if (frame.code === "server_error" && frame.id && retryLater(frame.id)) return;
    if (frame.id) {
      settle(frame.id, frame.error || "error");
      return;
    }
    if (window.console) window.console.warn("web chat:", frame.code, frame.error);
  }

  // ---- rendering ---------------------------------------------------------------------------------

  function segment(conversationId) {
    var key = conversationId || "none";
    var found = Array.prototype.find.call(el.stored.children, function (node) { return node.dataset.conversation === key; });
    if (found) return found;
    var created = document.createElement("div");
    created.className = "segment";
    created.dataset.conversation = key;
    el.stored.append(created);
    return created;
  }

  function isPayload(text) { return typeof text === "string" && text.charAt(0) === "/"; }

  function authorLabel(node) {
    var name = node.dataset.name;
    return node.dataset.author === "operator" && name ? t("operatorNamed", { name: name }) : t("author_" + node.dataset.author);
  }

  function bubble(kind, author, text, operatorName) {
    var wrap = document.createElement("div");
    wrap.className = "msg " + (author === "customer" ? "msg--out" : "msg--in msg--" + author) + (kind ? " " + kind : "");
    if (author !== "customer") {
      var label = document.createElement("div");
      label.className = "msg__label";
      label.dataset.author = author;
      if (operatorName) label.dataset.name = operatorName;
      label.textContent = authorLabel(label);
      wrap.append(label);
    }
    var body = document.createElement("div");
    body.className = "msg__bubble";
    body.textContent = text;
    wrap.append(body);
    return wrap;
  }

  function timeOf(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    return date.toLocaleTimeString(state.lang === "en" ? "en-GB" : "ru-RU", { hour: "2-digit", minute: "2-digit" });
  }

  function render(conversationId, m) {
    if (typeof m.seq !== "number") return;
    var key = (conversationId || "none") + ":" + m.seq;
    if (state.seen.has(key)) return;
    state.seen.add(key);
    if (conversationId === state.conversationId) state.lastSeq = Math.max(state.lastSeq, m.seq);

    var author = ["customer", "bot", "operator", "system"].indexOf(m.author) >= 0 ? m.author : "system";
    var text = String(m.text || "");
    if (author === "customer" && isPayload(text) && state.payloadTitles.has(text)) text = state.payloadTitles.get(text);
    var operatorName = author === "operator" && typeof m.operator_name === "string" ? m.operator_name : null;
    var node = bubble("", author, text, operatorName);
    node.dataset.seq = String(m.seq);
    // A standing offer (leave a message / callback) stays usable until one of its buttons is pressed.
    if (m.custom && m.custom.standing_offer === true) node.dataset.standing = "1";
    if (!m.text && author !== "customer") node.querySelector(".msg__bubble").hidden = true;

    var buttons = Array.isArray(m.buttons) ? m.buttons : [];
    if (buttons.length) {
      var row = document.createElement("div");
      row.className = "msg__buttons";
      buttons.forEach(function (b) {
        if (!b || typeof b.title !== "string" || typeof b.payload !== "string") return;
        state.payloadTitles.set(b.payload, b.title);
        var button = document.createElement("button");
        button.type = "button";
        button.className = "choice";
        button.dataset.payload = b.payload;
        button.textContent = b.title;
        button.addEventListener("click", function () {
          if (b.payload === SIGN_IN_PAYLOAD) {
            askToSignIn();
            return;
          }
          disableChoices();
          send(b.payload, b.title);
        });
        row.append(button);
      });
      node.append(row);
    }
    var meta = document.createElement("div");
    meta.className = "msg__meta";
    meta.textContent = timeOf(m.at);
    node.append(meta);

    var target = segment(conversationId);
    var before = null;
    for (var i = target.children.length - 1; i >= 0; i -= 1) {
      var child = target.children[i];
      if (Number(child.dataset.seq) > m.seq) before = child; else break;
    }
    target.insertBefore(node, before);
    if (author === "customer") {
      // Choices offered before the customer's next message are answered or moot, except a standing
      // offer, which only its own button press ends.
      Array.prototype.forEach.call(target.children, function (child) {
        if (Number(child.dataset.seq) >= m.seq) return;
        var choices = child.querySelectorAll(".choice");
        var pressed = Array.prototype.some.call(choices, function (b) { return b.dataset.payload === m.text; });
        if (child.dataset.standing === "1" && !pressed) return;
        choices.forEach(function (b) { b.disabled = true; });
      });
      state.pinned = true;
    } else if (!state.typing || state.typing.who !== "operator" || author === "operator") {
      showTyping(null);
    }
    el.welcome.hidden = true;
    followBottom();
  }

  function addSystemLine(text) {
    var line = document.createElement("p");
    line.className = "welcome";
    line.textContent = text;
    el.stored.append(line);
  }

  function disableChoices() {
    document.querySelectorAll(".choice").forEach(function (b) { b.disabled = true; });
  }

  function askToSignIn() {
    if (state.demo.on) {
      openDemoPanel(true);
    } else if (window.BankChat && typeof window.BankChat.onSignInRequest === "function") {
      window.BankChat.onSignInRequest();
    }
  }

  // ---- keeping the newest message in view ---------------------------------------------------------
  //
  // The view is "pinned" to the bottom while the reader is at the bottom; then every change of the
  // content's or the window's size (a new message, its buttons, the typing line, fonts arriving,
  // a phone keyboard opening) scrolls to the very bottom, so the newest message and its buttons are
  // fully visible. Scrolling up to read unpins it; sending a message or scrolling back down pins it.

  function atBottom() {
    var box = el.messages;
    return box.scrollHeight - box.scrollTop - box.clientHeight <= PINNED_SLACK_PX;
  }

  function followBottom() {
    if (state.pinned) el.messages.scrollTop = el.messages.scrollHeight;
  }

  el.messages.addEventListener("scroll", function () { state.pinned = atBottom(); }, { passive: true });
  if (typeof window.ResizeObserver === "function") {
    var follower = new window.ResizeObserver(followBottom);
    [el.messages, el.stored, el.pending, el.typing].forEach(function (node) { follower.observe(node); });
  }
  window.addEventListener("resize", followBottom);

  // ---- sending and the outbox --------------------------------------------------------------------

  function persistOutbox() { save(KEYS.outbox, JSON.stringify(state.outbox)); }

  function pendingNode(id) {
    return Array.prototype.find.call(el.pending.children, function (node) { return node.dataset.id === id; });
  }

  function setPendingMeta(node) {
    var meta = node.querySelector(".msg__meta");
    if (meta && !node.classList.contains("msg--failed")) {
      meta.textContent = state.ready && navigator.onLine ? t("sending") : t("waitingNetwork");
    }
  }

  function refreshPendingMeta() {
    Array.prototype.forEach.call(el.pending.children, setPendingMeta);
  }

  function renderPending(entry) {
    var node = bubble("msg--pending", "customer", entry.title || entry.text);
    node.dataset.id = entry.id;
    var meta = document.createElement("div");
    meta.className = "msg__meta";
    node.append(meta);
    setPendingMeta(node);
    el.pending.append(node);
    el.welcome.hidden = true;
    state.pinned = true;
    followBottom();
  }

  function send(text, title) {
    var entry = { id: newId(), text: text, title: title || null };
    state.outbox.push(entry);
    persistOutbox();
    renderPending(entry);
    transmit(entry);
  }

  function transmit(entry) {
    if (!state.ready || state.inflight.has(entry.id)) return;
    if (sendFrame({ type: "message", id: entry.id, text: entry.text })) state.inflight.add(entry.id);
  }

  function flushOutbox() {
    refreshPendingMeta();
    state.outbox.forEach(transmit);
  }

  // The server could not store the message (nothing was stored under its id): it stays in the outbox and
  // goes again with the same id after a growing pause, so a database hiccup loses nothing and stores it once.
  function retryLater(id) {
    var entry = state.outbox.find(function (candidate) { return candidate.id === id; });
    if (!entry) return false;
    state.inflight.delete(id);
    entry.attempts = (entry.attempts || 0) + 1;
    window.setTimeout(function () {
      if (state.outbox.indexOf(entry) !== -1) transmit(entry);
    }, Math.min(1000 * Math.pow(2, entry.attempts), 15000));
    return true;
  }

  // The server acked (the echo came before the ack) or refused the message: it leaves the outbox.
  function settle(id, error) {
    state.inflight.delete(id);
    state.outbox = state.outbox.filter(function (entry) { return entry.id !== id; });
    persistOutbox();
    var node = pendingNode(id);
    if (!node) return;
    if (error === null) {
      node.remove();
      return;
    }
    node.classList.remove("msg--pending");
    node.classList.add("msg--failed");
    node.querySelector(".msg__meta").textContent = t("notSent", { error: error });
  }

  // ---- wiring ------------------------------------------------------------------------------------

  el.composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = el.input.value.trim();
    if (!text) return;
    el.input.value = "";
    el.input.style.height = "";
    send(text, null);
    el.input.focus();
  });
  el.input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      el.composer.requestSubmit();
    }
  });
  el.input.addEventListener("input", function () {
    el.input.style.height = "";
    el.input.style.height = Math.min(el.input.scrollHeight, 120) + "px";
    if (state.ready && Date.now() - state.lastTypingSignal > TYPING_SIGNAL_MS) {
      state.lastTypingSignal = Date.now();
      sendFrame({ type: "typing" });
    }
  });
  document.querySelectorAll(".lang__btn").forEach(function (btn) {
    btn.addEventListener("click", function () { applyLanguage(btn.dataset.lang); });
  });
  el["notice-close"].addEventListener("click", function () { el.notice.hidden = true; });
  el["sign-in-open"].addEventListener("click", function () { openDemoPanel(true); });
  el["sign-out"].addEventListener("click", signOut);
  el["sign-out-others"].addEventListener("click", function () { sendFrame({ type: "sign_out_others" }); });
  el.guest.addEventListener("click", function () {
    save(KEYS.guest, "1");
    openDemoPanel(false);
    el.input.focus();
  });
  window.addEventListener("offline", function () {
    // Close at once: a socket on a dead network can look open for a long time.
    setStatus("status_offline");
    var old = state.ws;
    state.ws = null;
    state.ready = false;
    state.inflight.clear();
    showTyping(null);
    if (old) old.close(1000, "offline");
    refreshPendingMeta();
  });
  window.addEventListener("online", function () { reconnectNow(); });

  // A token from the embedding site arrives in the fragment (never the query string: fragments stay
  // out of server logs and Referer headers); it is removed from the address bar at once.
  function tokenFromFragment() {
    if (!location.hash) return null;
    var params = new URLSearchParams(location.hash.slice(1));
    var token = params.get("customer_token");
    if (token) history.replaceState(null, "", location.pathname + location.search);
    return token;
  }

  var fragmentToken = tokenFromFragment();
  if (fragmentToken) {
    state.token = fragmentToken;
    state.name = null;
    save(KEYS.token, state.token);
    save(KEYS.name, null);
  }

  // ---- inside a bank's page (embed.js) ---------------------------------------------------------------
  // The embedding page says who the customer is and keeps the conversation's visitor id in its own
  // storage (ours may be partitioned or cleared by the browser). Messages go only to the parent, and
  // only when its origin is one of the sites allowed to frame the chat (CHAT_FRAME_ANCESTORS); messages
  // are taken only from that parent and that origin.
  var EMBED_TAG = "demobank-chat";
  var query = new URLSearchParams(location.search);
  var embedHost = query.get("embed") === "1" && window.parent !== window ? query.get("host") : null;
  var embedTimer = null;
  var embedStarted = false;

  function originAllowed(origin, patterns) {
    return patterns.some(function (pattern) {
      if (pattern === "'self'") return origin === location.origin;
      if (pattern.indexOf("://*.") > 0) {
        var scheme = pattern.split("://")[0];
        var domain = pattern.split("://*.")[1];
        var url;
        try { url = new URL(origin); } catch (e) { return false; }
        return url.protocol === scheme + ":" && url.host.slice(-(domain.length + 1)) === "." + domain;
      }
      return pattern.replace(/\/$/, "") === origin;
    });
  }

  function toHost(message) {
    if (!state.embedHost) return;
    message.source = EMBED_TAG;
    window.parent.postMessage(message, state.embedHost);
  }

  function reportStateToHost() {
    toHost({ type: "state", visitor_id: state.visitorId, conversation_id: state.conversationId });
  }

  function startEmbedded() {
    if (embedStarted) return;
    embedStarted = true;
    clearTimeout(embedTimer);
    connect();
  }

  function adoptHost(data) {
    var saved = data.state;
    if (saved && typeof saved.visitor_id === "string" && /^[0-9a-f-]{8,64}$/i.test(saved.visitor_id) &&
        saved.visitor_id !== state.visitorId) {
      state.visitorId = saved.visitor_id;
      save(KEYS.visitor, state.visitorId);
      state.conversationId = typeof saved.conversation_id === "string" ? saved.conversation_id : null;
      save(KEYS.conversation, state.conversationId);
      state.lastSeq = 0;
      state.seen.clear();
      el.stored.replaceChildren();
    }
    // The page is the one that knows whether its customer is signed in.
    if ("customer_token" in data) {
      var token = typeof data.customer_token === "string" && data.customer_token ? data.customer_token : null;
      if (!token && state.token) {
        state.token = null;
        save(KEYS.token, null);
        startOver();
      }
      state.token = token;
      state.name = null;
      save(KEYS.token, token);
      save(KEYS.name, null);
    }
    if (data.language === "ru" || data.language === "en") applyLanguage(data.language);
    renderIdentity();
    reportStateToHost();
    startEmbedded();
  }

  window.addEventListener("message", function (event) {
    if (!state.embedHost || event.source !== window.parent || event.origin !== state.embedHost) return;
    var data = event.data;
    if (!data || data.source !== EMBED_TAG || typeof data.type !== "string") return;
    if (data.type === "init") adoptHost(data);
    else if (data.type === "sign-in" && typeof data.customer_token === "string" && data.customer_token) {
      el.notice.hidden = true;
      setToken(data.customer_token, null);
    } else if (data.type === "sign-out") signOut();
    else if (data.type === "language" && (data.language === "ru" || data.language === "en")) applyLanguage(data.language);
    else if (data.type === "focus") el.input.focus();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") toHost({ type: "close" });
  });

  window.BankChat = {
    // Called by the embedding site: init({customerToken, language}).
    init: function (options) {
      var opts = options || {};
      if (opts.language === "ru" || opts.language === "en") applyLanguage(opts.language);
      if (typeof opts.customerToken === "string" && opts.customerToken) {
        el.notice.hidden = true;
        openDemoPanel(false);
        setToken(opts.customerToken, typeof opts.customerName === "string" ? opts.customerName : null);
      }
    }
  };

  applyLanguage(state.lang);
  state.outbox.forEach(renderPending);
  if (embedHost && (query.get("lang") === "ru" || query.get("lang") === "en")) applyLanguage(query.get("lang"));
  fetch(BASE + "/config").then(function (resp) { return resp.json(); }).then(function (config) {
    var origins = Array.isArray(config.embed_origins) ? config.embed_origins : [];
    if (embedHost && originAllowed(embedHost, origins)) {
      // Embedded: the bank's page signs the customer in; no demo sign-in inside its panel.
      state.embedHost = embedHost;
      document.body.classList.add("embedded");
      toHost({ type: "ready" });
      embedTimer = setTimeout(startEmbedded, 3000); // a page that never answers still gets a working chat
      return;
    }
    if (embedHost && window.console) window.console.warn("web chat: " + embedHost + " may not embed this chat");
    state.demo.on = !!config.demo_sign_in;
    state.demo.customers = Array.isArray(config.demo_customers) ? config.demo_customers : [];
    renderDemoPanel();
    renderIdentity();
    if (state.demo.on && !state.token && !load(KEYS.guest)) openDemoPanel(true);
    connect();
  }).catch(function () { connect(); /* no demo sign-in then */ });
  state.pingTimer = setInterval(heartbeat, PING_EVERY_MS);
  if (!embedHost) connect();
})();
