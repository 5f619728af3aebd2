/* /receivers: follow receivers' health and alerts live and change only what changed
   (map circle classes, state badges, signal, last heard, alerts, counts), in one
   animation frame per batch. The page itself is rendered by the server. */
(function () {
  "use strict";
  const rows = new Map();
  const circles = new Map();
  for (const tr of document.querySelectorAll("#receivers-table tbody tr[data-id]")) { rows.set(tr.dataset.id, tr); }
  for (const c of document.querySelectorAll("#receiver-map circle[data-id]")) { circles.set(c.dataset.id, c); }
  // Every receiver the page counts (the table shows one page of them): state, alerts.
  const known = JSON.parse(document.getElementById("receiver-states").textContent);
  const states = new Map(Object.entries(known.states));
  const alerted = new Set(known.alerted);
  const kpis = {};
  for (const b of document.querySelectorAll("#kpis [data-kpi]")) { kpis[b.dataset.kpi] = b; }

  const map = document.getElementById("receiver-map");
  if (map) {
    map.addEventListener("click", (ev) => {
      const id = ev.target && ev.target.getAttribute && ev.target.getAttribute("data-id");
      if (id) { location.href = "/receivers/" + encodeURIComponent(id); }
    });
  }

  const ago = Loa.ago;
  function power(ev) {
    if (!ev.power) { return "–"; }
    const key = "receivers.power." + ev.power;
    let text = Loa.t(key) === key ? ev.power : Loa.t(key);
    if (ev.battery_v != null) { text += " · " + Number(ev.battery_v).toFixed(1) + " V"; }
    return text;
  }
  function alertsHtml(list) {
    return list.map((a) => '<span class="alert-' + Loa.escape(a.severity) + '" title="' +
      Loa.escape(a.message) + '">' + Loa.escape(Loa.t("receivers.alert." + a.kind)) + "</span>").join(", ");
  }
  function count(name, delta) {
    const b = kpis[name];
    if (b) { b.textContent = String(Math.max(0, Number(b.textContent) + delta)); }
  }

  function applyReceiver(ev) {
    const old = states.get(ev.id);
    if (old === undefined) { return; }  // filtered out of this page
    if (old !== ev.state) {
      states.set(ev.id, ev.state);
      count(old, -1); count(ev.state, +1);
    }
    const tr = rows.get(ev.id);
    const circle = circles.get(ev.id);
    if (tr) {
      const badge = tr.querySelector(".badge[data-state]");
      if (badge.dataset.state !== ev.state) {
        badge.dataset.state = ev.state;
        badge.className = "badge st-" + ev.state;
        badge.textContent = Loa.t("common.state." + ev.state);
      }
      const heard = tr.querySelector(".heard");
      heard.dataset.at = ev.last_heard || "";
      heard.textContent = ago(ev.last_heard);
      tr.querySelector(".sig").textContent = Loa.signal(ev);
      tr.querySelector(".pow").textContent = power(ev);
    }
    if (circle && circle.getAttribute("class") !== "st-" + ev.state) {
      circle.setAttribute("class", "st-" + ev.state);
      const title = circle.querySelector("title");
      if (title) { title.textContent = title.textContent.replace(/: [^:]*$/, ": " + Loa.t("common.state." + ev.state)); }
    }
  }
  function applyAlerts(ev) {
    if (!states.has(ev.receiver)) { return; }  // filtered out of this page
    const before = alerted.has(ev.receiver);
    const after = ev.alerts.length > 0;
    if (before !== after) {
      if (after) { alerted.add(ev.receiver); } else { alerted.delete(ev.receiver); }
      count("alerts", after ? 1 : -1);
    }
    const tr = rows.get(ev.receiver);
    if (tr) { tr.querySelector(".alerts").innerHTML = alertsHtml(ev.alerts); }
  }

  let pending = [];
  let scheduled = false;
  function flush() {
    scheduled = false;
    const batch = pending; pending = [];
    for (const ev of batch) {
      if (ev.kind === "receiver") { applyReceiver(ev); }
      else if (ev.kind === "alerts") { applyAlerts(ev); }
    }
  }
  Loa.live(["receiver", "alerts"], {}, (events) => {
    pending = pending.concat(events);
    if (!scheduled) { scheduled = true; requestAnimationFrame(flush); }
  }, () => location.reload());

  // "5 phút trước" grows old: refresh the last-heard texts every 30 s, in one frame.
  setInterval(() => requestAnimationFrame(() => {
    for (const cell of document.querySelectorAll("#receivers-table td.heard")) {
      if (cell.dataset.at) { cell.textContent = ago(cell.dataset.at); }
    }
  }), 30000);
})();
