/* supportbot agent console: plain JavaScript, no build step. Signs in with the agent's
   name and secret (the session is an HttpOnly cookie; POSTs carry the CSRF token), shows
   the queue live over server-sent events, and claims, answers, notes and releases. */
(function () {
  "use strict";
  var API = "/agent/api";
  var csrf = sessionStorage.getItem("supportbot-agent-csrf");
  var me = null, open = null, events = null;
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text, parent) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }
  function call(method, path, body) {
    var headers = { "Content-Type": "application/json" };
    if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
    return fetch(API + path, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) { var e = new Error(data.error || r.statusText); e.status = r.status; throw e; }
        return data;
      });
    });
  }
  function showError(err) { $("error").textContent = err ? err.message : ""; }
  function signedIn(agent) {
    me = agent;
    $("who").textContent = agent.display_name + " (" + agent.name + ")";
    $("login").hidden = true; $("desk").hidden = false; $("logout").hidden = false;
    loadQueue(); listen();
  }
  $("login").addEventListener("submit", function (e) {
    e.preventDefault();
    call("POST", "/login", { name: $("name").value, secret: $("secret").value }).then(function (d) {
      csrf = d.csrf; sessionStorage.setItem("supportbot-agent-csrf", csrf);
      $("secret").value = ""; $("login-error").textContent = "";
      signedIn(d.agent);
    }).catch(function (err) { $("login-error").textContent = err.message; });
  });
  $("logout").addEventListener("click", function () {
    call("POST", "/logout", {}).finally(function () { location.reload(); });
  });
  function wait(seconds) {
    return seconds < 60 ? Math.round(seconds) + " s" : Math.round(seconds / 60) + " min";
  }
  function loadQueue() {
    return call("GET", "/conversations").then(function (d) {
      var list = $("queue");
      list.textContent = "";
      $("queue-empty").hidden = d.conversations.length > 0;
      d.conversations.forEach(function (c) {
        var item = el("li", "queue-item", null, list);
        item.dataset.conversation = c.conversation_id;
        item.setAttribute("aria-current", String(open === c.conversation_id));
        var b = el("button", null, null, item);
        b.type = "button";
        el("strong", null, c.summary.last_customer_message || c.conversation_id, b);
        var state = c.status === "claimed" ? "claimed by " + c.agent : "waiting " + wait(c.wait_seconds);
        el("div", "meta", c.channel + " · " + state + " · " + (c.reason || ""), b);
        b.addEventListener("click", function () { openConversation(c.conversation_id); });
      });
    }).catch(handleAuth);
  }
  function handleAuth(err) {
    if (err && err.status === 401) { $("login").hidden = false; $("desk").hidden = true; }
    else showError(err);
  }
  function line(speaker, text, agent) {
    var item = el("li", "t-" + speaker, null, $("transcript"));
    var who = speaker === "agent" ? (agent || "Agent") : speaker === "customer" ? "Customer" : speaker === "bot" ? "Bot" : null;
    if (who) el("span", "who", who, item);
    el("span", "text", text, item);
    $("transcript").scrollTop = $("transcript").scrollHeight;
  }
  function openConversation(id) {
    open = id;
    return call("GET", "/conversations/" + encodeURIComponent(id)).then(function (d) {
      var c = d.conversation;
      $("conversation").hidden = false;
      $("conv-title").textContent = c.channel + " · " + c.conversation_id;
      var s = c.summary || {};
      var slots = Object.keys(s.slots || {}).map(function (k) { return k + "=" + s.slots[k]; });
      $("summary").textContent = "Reason: " + (c.reason || "-") + ". Intents: " +
        ((s.intents || []).join(", ") || "-") + ". Slots: " + (slots.join(", ") || "-") + ".";
      $("transcript").textContent = "";
      d.transcript.forEach(function (t) { line(t.speaker, t.text, t.agent); });
      $("notes").textContent = "";
      d.notes.forEach(function (n) { el("li", null, n.agent + ": " + n.text, $("notes")); });
      var mine = c.status === "claimed" && c.agent === me.name;
      $("claim").hidden = c.status !== "waiting";
      $("release").hidden = $("resolve").hidden = !mine;
      $("reply").hidden = !mine;
      loadSuggestions(mine);
      Array.prototype.forEach.call($("queue").children, function (li) {
        li.setAttribute("aria-current", String(li.dataset.conversation === id));
      });
      showError(null);
    }).catch(handleAuth);
  }
  function loadSuggestions(mine) {
    var box = $("suggestions");
    box.textContent = "";
    if (!mine) return;
    call("GET", "/conversations/" + encodeURIComponent(open) + "/suggestions").then(function (d) {
      d.suggestions.forEach(function (s) {
        var b = el("button", null, s.text, box);
        b.type = "button";
        b.title = "from the " + s.source;
        b.addEventListener("click", function () { $("reply-text").value = s.text; $("reply-text").focus(); });
      });
    }).catch(function () {});
  }
  function act(name, body) {
    return call("POST", "/conversations/" + encodeURIComponent(open) + "/" + name, body || {})
      .then(function () { return Promise.all([loadQueue(), openConversation(open)]); })
      .catch(showError);
  }
  $("claim").addEventListener("click", function () { act("claim"); });
  $("release").addEventListener("click", function () { act("release", { survey: $("survey").checked }); });
  $("resolve").addEventListener("click", function () { act("resolve"); });
  $("reply").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("reply-text").value;
    if (!text.trim()) return;
    call("POST", "/conversations/" + encodeURIComponent(open) + "/messages", { text: text })
      .then(function () { $("reply-text").value = ""; }).catch(showError);
  });
  $("reply-text").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("reply").requestSubmit(); }
  });
  $("note").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("note-text").value;
    if (!text.trim()) return;
    act("notes", { text: text }).then(function () { $("note-text").value = ""; });
  });
  function listen() {
    if (events) events.close();
    events = new EventSource(API + "/events");
    events.onmessage = function (m) {
      var ev = JSON.parse(m.data);
      if (ev.type === "queue") loadQueue();
      else if (ev.conversation_id === open && ev.type === "customer_message") line("customer", ev.text);
      else if (ev.conversation_id === open && ev.type === "agent_message") {
        line(ev.kind === "agent" ? "agent" : ev.kind === "bot" ? "bot" : "notice", ev.text, ev.agent);
      }
    };
  }
  call("GET", "/me").then(function (d) { signedIn(d.agent); }).catch(function () {});
})();
