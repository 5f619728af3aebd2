/* Loa dashboard: what every page shares. Plain JavaScript, no libraries.
   Loa.live() follows /api/v1/events (Server-Sent Events); Loa.time() shows an instant in
   the controller's zone; Loa.t() gives a text the page put in <script id="loa-strings">. */
(function () {
  "use strict";
  const body = document.body;
  const zone = body.dataset.zone || "Asia/Ho_Chi_Minh";
  const lang = body.dataset.lang || "vi";
  const locale = lang === "vi" ? "vi-VN" : "en-GB";
  // The page's texts (<script id="loa-strings" type="application/json">), read on first
  // use: a page may put them after this script.
  let strings = null;
  function json(id, fallback) {
    const holder = document.getElementById(id);
    try { return holder ? JSON.parse(holder.textContent) : fallback; } catch (e) { return fallback; }
  }
  function texts() {
    if (strings === null) { strings = Object.assign(json("loa-common", {}), json("loa-strings", {})); }
    return strings;
  }
  const causes = json("loa-causes", []).map(([pattern, key]) => [new RegExp(pattern), key]);

  const timeFormat = new Intl.DateTimeFormat(locale, {
    timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  const dateTimeFormat = new Intl.DateTimeFormat(locale, {
    timeZone: zone, hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit",
    year: "numeric", hour12: false });

  function t(key, values) {
    let text = texts()[key] || key;
    if (values) { for (const k in values) { text = text.split("{" + k + "}").join(values[k]); } }
    return text;
  }

  function parse(iso) { return iso ? new Date(iso) : null; }

  const Loa = {
    zone: zone, lang: lang, t: t,
    time(iso) { const d = parse(iso); return d ? timeFormat.format(d) : ""; },
    dateTime(iso) { const d = parse(iso); return d ? dateTimeFormat.format(d) : ""; },
    /* Why a receiver's state changed, in the page's language (controller/http/causes.py). */
    cause(text) {
      if (!text) { return ""; }
      for (const [pattern, key] of causes) {
        const found = pattern.exec(text);
        if (found) { return t(key, found.groups || {}); }
      }
      return text;
    },
    /* One of a problem's errors ({field, message, code, params}) in the page's language
       where the server named the mistake (common.server.*), else in the server's words. */
    said(e) {
      const key = "common.server." + e.code;
      return e.code && t(key) !== key ? t(key, e.params || {}) : e.message;
    },
    /* A receiver's signal as the pages' server side writes it (receivers_macros.html). */
    signal(ev) {
      if (ev.rsrp_dbm != null) { return ev.rsrp_dbm + " dBm"; }
      if (ev.rssi_dbm != null) { return ev.rssi_dbm + " dBm RSSI"; }
      return "–";
    },
    /* "5 phút trước" / "5 min ago". */
    ago(iso) {
      if (!iso) { return t("common.never"); }
      const s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
      if (s < 60) { return t("common.ago_seconds", { n: s }); }
      if (s < 3600) { return t("common.ago_minutes", { n: Math.floor(s / 60) }); }
      if (s < 86400) { return t("common.ago_hours", { n: Math.floor(s / 3600) }); }
      return t("common.ago_days", { n: Math.floor(s / 86400) });
    },
    /* Follow live events. kinds: ["receiver", "alerts", "delivery", "occurrence", "link"];
       extra: {occurrence: id}; onBatch(events) gets arrays in order; onResync() is called
       when events were missed (the page fell behind, or the stream broke and came back):
       reload its data; without it, the page reloads. onOpen() is called when the stream
       first opens (what moved between the page's drawing and then was not sent). */
    live(kinds, extra, onBatch, onResync, onOpen) {
      const all = kinds.includes("link") ? kinds : kinds.concat(["link"]);
      const params = new URLSearchParams({ kinds: all.join(",") });
      for (const k in (extra || {})) { params.set(k, extra[k]); }
      const status = document.getElementById("live-status");
      let source = null;
      function setLive(on) {
        if (!status) { return; }
        status.classList.toggle("on", on);
        status.title = on ? status.dataset.on : status.dataset.off;
      }
      let broken = false;
      function resync() { if (onResync) { onResync(); } else { location.reload(); } }
      function open() {
        source = new EventSource("/api/v1/events?" + params.toString());
        source.addEventListener("open", () => {
          setLive(true);
          // Changes made while the stream was down were not sent: fetch the page's data again.
          if (broken) { broken = false; resync(); } else if (onOpen) { onOpen(); }
        });
        source.addEventListener("error", () => {
          setLive(false); broken = true;
          // A stream answered with an error (a proxy while the controller restarts) is
          // not retried by the browser: open it again.
          if (source.readyState === EventSource.CLOSED) { setTimeout(open, 3000); }
        });
        source.addEventListener("batch", (msg) => {
          const events = JSON.parse(msg.data);
          const mine = [];
          for (const ev of events) {
            if (ev.kind === "link") { Loa.showLink(ev); } else { mine.push(ev); }
          }
          if (mine.length) { onBatch(mine); }
          Loa.applied += events.length;
        });
        source.addEventListener("resync", resync);
      }
      open();
      return { close() { if (source) { source.close(); } } };
    },
    applied: 0,
    showLink(ev) {
      const el = document.getElementById("link-status");
      if (!el) { return; }
      el.hidden = ev.connected;
      el.textContent = ev.connected ? el.dataset.up : el.dataset.down;
    },
    /* fetch() JSON from the API; throws an Error whose message is the problem's detail. */
    async api(method, path, body) {
      const init = { method: method, headers: { "Accept": "application/json" } };
      if (body instanceof FormData) { init.body = body; }
      else if (body !== undefined) {
        init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json";
      }
      const response = await fetch(path, init);
      const text = await response.text();
      const data = text ? JSON.parse(text) : null;
      if (!response.ok) {
        const error = new Error((data && data.detail) || response.statusText);
        error.problem = data; error.status = response.status;
        throw error;
      }
      return data;
    },
    escape(text) {
      return String(text == null ? "" : text).replace(/[&<>"']/g, (c) => (
        { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
    },
  };
  window.Loa = Loa;
  // Pages that do not follow events themselves still show the broker link's state.
  if (!document.querySelector("[data-live-page]")) {
    Loa.live(["link"], {}, () => {}, () => {});
  }
})();
