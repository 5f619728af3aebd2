/* /receivers/{id}: the receiver's live health (state, signal, power, last heard, alerts)
   and its action buttons (volume, test tone, restart), which answer in #action-result. */
(function () {
  "use strict";
  const root = document.querySelector(".receiver-page");
  if (!root) { return; }
  const id = root.dataset.id;
  const base = "/api/v1/receivers/" + encodeURIComponent(id);
  const result = document.getElementById("action-result");
  // On a phone the chart scrolls sideways: start at its right end, the latest hours.
  const chartWrap = document.querySelector(".chart-wrap");
  if (chartWrap) { chartWrap.scrollLeft = chartWrap.scrollWidth; }
  const field = (name) => document.querySelector('#live-health [data-field="' + name + '"]');

  const ago = Loa.ago;
  function set(name, text) { const el = field(name); if (el) { el.textContent = text; } }

  function applyReceiver(ev) {
    const badge = document.querySelector("#live-badge .badge");
    if (badge && badge.dataset.state !== ev.state) {
      badge.dataset.state = ev.state;
      badge.className = "badge st-" + ev.state;
      badge.textContent = Loa.t("common.state." + ev.state);
    }
    set("state", Loa.t("common.state." + ev.state));
    set("since", Loa.dateTime(ev.since));
    set("cause", Loa.cause(ev.cause));
    const heard = field("last_heard");
    if (heard) { heard.dataset.at = ev.last_heard || ""; heard.textContent = ago(ev.last_heard); }
    set("signal", Loa.signal(ev) + (ev.network ? " · " + ev.network : ""));
    if (ev.power) {
      const key = "receivers.power." + ev.power;
      const name = Loa.t(key) === key ? ev.power : Loa.t(key);
      set("power", name + (ev.battery_v != null ? " · " + Number(ev.battery_v).toFixed(1) + " V" : ""));
    }
    set("volume", ev.volume != null ? String(ev.volume) : "–");
  }
  function applyAlerts(ev) {
    const list = document.getElementById("alert-list");
    if (!list) { return; }
    if (!ev.alerts.length) {
      list.innerHTML = '<li class="muted">' + Loa.escape(Loa.t("receivers.detail.no_alerts")) + "</li>";
      return;
    }
    list.innerHTML = ev.alerts.map((a) => '<li class="alert-' + Loa.escape(a.severity) + '">' +
      Loa.escape(Loa.t("receivers.alert." + a.kind)) + ': <span class="muted">' +
      Loa.escape(a.message) + "</span></li>").join("");
  }

  let pending = [];
  let scheduled = false;
  Loa.live(["receiver", "alerts"], {}, (events) => {
    for (const ev of events) {
      if ((ev.kind === "receiver" && ev.id === id) || (ev.kind === "alerts" && ev.receiver === id)) { pending.push(ev); }
    }
    if (pending.length && !scheduled) {
      scheduled = true;
      requestAnimationFrame(() => {
        scheduled = false;
        const batch = pending; pending = [];
        for (const ev of batch) { if (ev.kind === "receiver") { applyReceiver(ev); } else { applyAlerts(ev); } }
      });
    }
  }, () => location.reload());

  function show(text, isError) {
    result.hidden = false;
    result.textContent = text;
    result.classList.toggle("error", Boolean(isError));
  }
  async function send(action, body, button) {
    const buttons = root.querySelectorAll(".actions button");
    buttons.forEach((b) => { b.disabled = true; });
    show(Loa.t("receivers.action.sending"), false);
    try {
      const answer = await Loa.api("POST", base + "/" + action, body);
      const key = answer && answer.online === false ? "receivers.action.sent_offline" : "receivers.action.sent_online";
      show(Loa.t(key, { command: (answer && answer.command) || action }), false);
    } catch (error) {
      const first = ((error.problem && error.problem.errors) || [])[0];
      show(Loa.t("receivers.action.failed", { detail: first && first.code ? Loa.said(first) : error.message }), true);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
      if (button) { button.focus(); }
    }
  }

  const form = document.getElementById("volume-form");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = Number(form.elements.volume.value);
    if (!Number.isInteger(value) || value < 0 || value > 100) {
      show(Loa.t("receivers.action.bad_volume"), true);
      return;
    }
    send("volume", { volume: value }, form.querySelector("button"));
  });
  for (const button of root.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => {
      const action = button.dataset.action;
      if (action === "restart") {
        const name = document.querySelector("h1").firstChild.textContent.trim();
        if (!window.confirm(Loa.t("receivers.action.confirm_restart", { name: name }))) { return; }
      }
      send(action, undefined, button);
    });
  }
})();
