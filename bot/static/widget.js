/* supportbot web chat widget: one <script> tag, no build step, no framework.
 * Message text only ever reaches the page through textContent / text nodes; markdown is
 * turned into DOM nodes here, and links are limited to http(s) and mailto. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.supportbotWidget) return;
  var opts = script.dataset;
  var base = new URL(".", script.src);
  var wsUrl = base.href.replace(/^http/, "ws") + "ws";
  var storeKey = "supportbot-webchat:" + base.href;
  var L = {
    open: "Open chat", close: "Close chat", message: "Message", placeholder: "Type your message",
    send: "Send", typing: "The assistant is typing", you: "You said", bot: "Assistant said",
    helpful: "Helpful", unhelpful: "Not helpful", reconnecting: "Reconnecting…",
    suggestions: "Suggested replies", unread: "unread", log: "Conversation"
  };

  var token = readToken(), ws = null, live = false, attempts = 0, seq = 0, unread = 0;
  var started = false, restReady = false, pending = {}, rated = {}, queue = [];

  function readToken() {
    try { return localStorage.getItem(storeKey); } catch (e) { return null; }
  }
  function saveToken(value) {
    token = value;
    try { localStorage.setItem(storeKey, value); } catch (e) { /* private mode: session only */ }
  }

  var CHAT = "M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z";
  var THUMB = "M2 10h4v11H2zM8 21h9.5a2 2 0 0 0 2-1.6l1.4-7A2 2 0 0 0 19 10h-5.2l.8-4.2" +
    "A2 2 0 0 0 12.6 3L8 9z";
  function icon(d, parent) {
    var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg");
    var path = document.createElementNS(ns, "path");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    path.setAttribute("d", d);
    svg.appendChild(path);
    parent.appendChild(svg);
  }

  function el(tag, cls, text, parent) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  /* ---- safe markdown: **bold**, *italic*, `code`, [label](url), bare URLs, "- " lists ---- */
  var INLINE = "(`[^`\\n]+`)|(\\*\\*[^*\\n]+\\*\\*)|(\\*[^*\\s][^*\\n]*\\*)" +
    "|(\\[[^\\]\\n]+\\]\\([^)\\s]+\\))|(\\b(?:https?://|mailto:)[^\\s<>\"]*[^\\s<>\".,;:!?)'])";

  function safeUrl(href) {
    try {
      var url = new URL(href);
      return /^(https?|mailto):$/.test(url.protocol) ? url.href : null;
    } catch (e) { return null; }
  }
  function link(parent, href, label) {
    var url = safeUrl(href);
    if (!url) { parent.appendChild(document.createTextNode(label)); return; }
    var a = el("a", null, label, parent);
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
  }
  function inline(parent, text) {
    var re = new RegExp(INLINE, "g"), last = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      var t = m[0];
      if (m[1]) el("code", null, t.slice(1, -1), parent);
      else if (m[2]) inline(el("strong", null, null, parent), t.slice(2, -2));
      else if (m[3]) inline(el("em", null, null, parent), t.slice(1, -1));
      else if (m[4]) {
        var split = t.indexOf("](");
        link(parent, t.slice(split + 2, -1), t.slice(1, split));
      } else link(parent, t, t);
      last = re.lastIndex;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }
  function renderMarkdown(parent, text) {
    var list = null;
    String(text).split("\n").forEach(function (line, i) {
      var item = /^\s*[-*]\s+(.*)$/.exec(line);
      if (item) {
        list = list || el("ul", null, null, parent);
        inline(el("li", null, null, list), item[1]);
        return;
      }
      if (i && !list) el("br", null, null, parent);
      list = null;
      inline(parent, line);
    });
  }

  /* ---- DOM ---- */
  var host = el("div");
  host.id = "supportbot-chat";
  if (document.body) document.body.appendChild(host);
  else document.addEventListener("DOMContentLoaded", function () { document.body.appendChild(host); });
  var root = host.attachShadow({ mode: "open" });
  var css = el("link", null, null, root);
  css.rel = "stylesheet";
  css.href = base.href + "widget.css";
  var frame = el("div", "sb-root sb-" + (opts.position === "left" ? "left" : "right"), null, root);
  var launcher = el("button", "sb-launcher", null, frame);
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "sb-panel");
  icon(CHAT, launcher);
  var badge = el("span", "sb-badge", null, launcher);
  badge.hidden = true;
  badge.setAttribute("aria-hidden", "true");

  var panel = el("section", "sb-panel", null, frame);
  panel.id = "sb-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  var header = el("header", "sb-header", null, panel);
  var title = el("h2", "sb-title", opts.title || "Support", header);
  title.id = "sb-title";
  panel.setAttribute("aria-labelledby", "sb-title");
  var closer = el("button", "sb-close", "\u00D7", header);
  closer.type = "button";
  closer.setAttribute("aria-label", L.close);
  var notice = el("p", "sb-notice", null, panel);
  notice.setAttribute("role", "status");
  notice.hidden = true;
  var status = el("p", "sb-status", null, panel);
  status.setAttribute("role", "status");
  status.hidden = true;
  var log = el("ol", "sb-log", null, panel);
  log.setAttribute("role", "log");
  log.setAttribute("aria-label", L.log);
  log.tabIndex = 0;
  var typing = el("p", "sb-typing", null, panel);
  typing.hidden = true;
  typing.setAttribute("role", "status");
  el("span", "sb-dots", null, typing).setAttribute("aria-hidden", "true");
  el("span", "sb-sr", L.typing, typing);
  var quick = el("div", "sb-quick", null, panel);
  quick.setAttribute("role", "group");
  quick.setAttribute("aria-label", L.suggestions);
  var form = el("form", "sb-form", null, panel);
  var label = el("label", "sb-sr", L.message, form);
  label.htmlFor = "sb-input";
  var input = el("textarea", "sb-input", null, form);
  input.id = "sb-input";
  input.rows = 1;
  input.maxLength = 2000;
  input.placeholder = L.placeholder;
  el("button", "sb-send", L.send, form).type = "submit";

  function setLauncherLabel() {
    var open = !panel.hidden;
    launcher.setAttribute("aria-label", (open ? L.close : L.open) +
      (unread ? ", " + unread + " " + L.unread : ""));
    badge.textContent = unread > 9 ? "9+" : String(unread);
    badge.hidden = !unread;
  }
  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open) { unread = 0; start(); input.focus(); scrollDown(); }
    setLauncherLabel();
  }
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closer.addEventListener("click", function () { setOpen(false); launcher.focus(); });
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { setOpen(false); launcher.focus(); }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (text) { input.value = ""; sendText(text, text); }
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });

  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function stamp(meta, at) {
    var when = new Date(at * 1000), time = el("time", null, null, meta);
    time.dateTime = when.toISOString();
    time.title = when.toLocaleString();
    time.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function addMessage(who, text, at) {
    var item = el("li", "sb-msg sb-" + who, null, log);
    el("span", "sb-sr", (who === "bot" ? L.bot : L.you) + ": ", item);
    renderMarkdown(el("div", "sb-bubble", null, item), text);
    var meta = el("div", "sb-meta", null, item);
    stamp(meta, at || Date.now() / 1000);
    scrollDown();
    return meta;
  }
  /* An agent's message shows who wrote it; a notice ("Dana joined") is a line of its own. */
  function addPerson(m, at) {
    if (m.kind === "notice") {
      var line = el("li", "sb-event", m.text, log);
      line.setAttribute("role", "status");
      scrollDown();
      return;
    }
    if (m.kind !== "agent") { addMessage("bot", m.text, at || m.at); return; }
    var item = el("li", "sb-msg sb-agent", null, log);
    el("span", "sb-agent-name", m.agent || "", item);
    renderMarkdown(el("div", "sb-bubble", null, item), m.text);
    stamp(el("div", "sb-meta", null, item), at || m.at);
    scrollDown();
  }
  function addFeedback(meta, turnId, value) {
    var group = el("span", "sb-feedback", null, meta);
    [["up", L.helpful], ["down", L.unhelpful]].forEach(function (f) {
      var b = el("button", "sb-rate sb-" + f[0], null, group);
      icon(THUMB, b);
      b.type = "button";
      b.dataset.value = f[0];
      b.setAttribute("aria-label", f[1]);
      b.setAttribute("aria-pressed", String(value === f[0]));
      b.addEventListener("click", function () { rate(turnId, f[0], group); });
    });
    rated[turnId] = group;
  }
  function markRated(group, value) {
    Array.prototype.forEach.call(group.children, function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.value === value));
    });
  }
  function showQuick(buttons) {
    quick.textContent = "";
    buttons.forEach(function (q) {
      var b = el("button", "sb-quick-reply", q.title, quick);
      b.type = "button";
      b.addEventListener("click", function () { sendText(q.payload, q.title); });
    });
  }
  function renderTurn(turn, isLive) {
    var mine = turn.client_id && pending[turn.client_id];
    delete pending[turn.client_id];
    if (!mine && turn.customer) addMessage("customer", turn.customer, turn.at);
    var buttons = [];
    turn.replies.forEach(function (reply, i) {
      if (reply.kind) { addPerson(reply, turn.at); return; }
      var meta = addMessage("bot", reply.text, turn.at);
      buttons = buttons.concat(reply.buttons || []);
      if (turn.turn_id && i === turn.replies.length - 1) addFeedback(meta, turn.turn_id, turn.feedback);
    });
    showQuick(buttons);
    if (isLive && panel.hidden && turn.replies.length) { unread += turn.replies.length; setLauncherLabel(); }
  }
  function renderWelcome(w) {
    if (!opts.title) title.textContent = w.title;
    log.textContent = "";
    quick.textContent = "";
    pending = {};
    var greeting = opts.greeting || w.greeting;
    if (greeting) addMessage("bot", greeting, w.turns.length ? w.turns[0].at : null);
    w.turns.forEach(function (turn) { renderTurn(turn, false); });
    setState(w.state);
  }
  function setState(s) {
    notice.hidden = !s.handed_off;
    notice.textContent = s.notice || "";
  }
  function setStatus(text) {
    status.hidden = !text;
    status.textContent = text || "";
  }
  function showTyping(on) { typing.hidden = !on; if (on) scrollDown(); }

  /* ---- transport: WebSocket with back-off, REST while it is down ---- */
  function onFrame(f) {
    if (f.type === "welcome") {
      attempts = 0; live = true; restReady = true;
      saveToken(f.token); setStatus(""); renderWelcome(f);
      queue.splice(0).forEach(function (frame) { ws.send(JSON.stringify(frame)); });
    } else if (f.type === "typing") showTyping(f.on);
    else if (f.type === "turn") renderTurn(f.turn, true);
    else if (f.type === "person") {
      addPerson(f.message);
      if (panel.hidden) { unread += 1; setLauncherLabel(); }
    }
    else if (f.type === "state" || f.type === "handoff") setState(f);
    else if (f.type === "feedback" && rated[f.turn_id]) markRated(rated[f.turn_id], f.value);
    else if (f.type === "error") { showTyping(false); setStatus(f.error); }
  }
  function connect() {
    if (!("WebSocket" in window)) { restStart(); return; }
    var socket = ws = new WebSocket(wsUrl);
    socket.onopen = function () { socket.send(JSON.stringify({ type: "hello", token: token })); };
    socket.onmessage = function (e) {
      try { onFrame(JSON.parse(e.data)); } catch (err) { /* ignore a malformed frame */ }
    };
    socket.onclose = function () {
      if (ws !== socket) return;
      ws = null; live = false; attempts += 1;
      setStatus(L.reconnecting);
      if (queue.length || (attempts >= 2 && !restReady)) {
        restStart().then(function () { queue.splice(0).forEach(restSend); });
      }
      var delay = Math.min(30000, 500 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
      setTimeout(connect, delay);
    };
  }
  function start() {
    if (started) return;
    started = true;
    connect();
  }
  function api(method, path, body) {
    var headers = { "Content-Type": "application/json" };
    if (token) headers["X-Webchat-Token"] = token;
    return fetch(base.href + "api/" + path, {
      method: method, headers: headers, body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) { var err = new Error(data.error); err.status = r.status; throw err; }
        return data;
      });
    });
  }
  function restStart() {
    var welcome = token ? api("GET", "history") : Promise.reject({ status: 401 });
    return welcome.catch(function (err) {
      if (err.status !== 401) throw err;
      return api("POST", "sessions");
    }).then(function (w) {
      if (w.token) saveToken(w.token);
      restReady = true;
      if (!live) renderWelcome(w);
    }).catch(function () { setStatus(L.reconnecting); });
  }
  function restSend(frame) {
    showTyping(true);
    (restReady ? Promise.resolve() : restStart()).then(function () {
      return api("POST", "messages", frame);
    }).then(function (result) {
      onFrame({ type: "turn", turn: result.turn });
      setState(result.state);
    }).catch(function (err) { setStatus(err.message || L.reconnecting); })
      .then(function () { showTyping(false); });
  }
  function sendText(text, shown) {
    quick.textContent = "";
    setStatus("");
    var id = "m" + (++seq);
    pending[id] = true;
    addMessage("customer", shown, null);
    var frame = { type: "message", text: text, client_id: id };
    if (live) ws.send(JSON.stringify(frame));
    else if (ws && ws.readyState === WebSocket.CONNECTING) queue.push(frame);
    else restSend(frame);
  }
  function rate(turnId, value, group) {
    markRated(group, value);
    if (live) ws.send(JSON.stringify({ type: "feedback", turn_id: turnId, value: value }));
    else api("POST", "feedback", { turn_id: turnId, value: value }).catch(function (err) {
      setStatus(err.message);
    });
  }

  setLauncherLabel();
  window.supportbotWidget = { open: function () { setOpen(true); }, close: function () { setOpen(false); } };
  if (token) start();
  if (opts.open === "true") setOpen(true);
})();
