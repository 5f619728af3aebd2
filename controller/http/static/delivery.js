/* A bulletin's delivery page, live: each `delivery` event moves its receiver's row (a
   receiver not in the table yet gets a row), the counts and the progress bar follow from
   the rows, and an `occurrence` event changes the airing's state. Cancel asks first. */
(function () {
  "use strict";
  const Loa = window.Loa;
  const t = Loa.t;
  const root = document.querySelector(".delivery[data-occurrence]");
  if (!root) { return; }
  const occurrence = root.dataset.occurrence;
  const tbody = root.querySelector("table.deliveries tbody");
  const MISSED = ["failed", "rejected", "preempted", "expired", "cancelled"];
  const ORDER = ["waiting", "queued", "offered", "accepted", "downloading", "armed", "playing",
    "played", "failed", "rejected", "preempted", "expired", "cancelled"];

  function stateLabel(state) {
    return state === "waiting" ? t("bulletins.state.waiting") : t("common.delivery." + state);
  }

  function rowFor(receiver) {
    const found = tbody.querySelector('tr[data-receiver="' + CSS.escape(receiver) + '"]');
    if (found) { return found; }
    const tr = document.createElement("tr");
    tr.dataset.receiver = receiver;
    tr.innerHTML = "<td><b>" + Loa.escape(receiver) + "</b></td><td class=\"opt\"></td>"
      + "<td><span class=\"badge\"></span><div class=\"phone-only small reason\"></div></td>"
      + "<td class=\"opt reason small\"></td>"
      + "<td class=\"opt\"></td><td class=\"opt small muted nowrap updated\"></td>";
    tbody.appendChild(tr);
    return tr;
  }

  function apply(ev) {
    const tr = rowFor(ev.receiver);
    const badge = tr.querySelector(".badge[data-state], td:nth-child(3) .badge");
    const rank = (s) => ORDER.indexOf(s);
    const current = badge.dataset.state;
    // Events come in order, but a reload may have shown a later state already.
    if (current && rank(current) > rank(ev.state) && rank(ev.state) <= ORDER.indexOf("played")
        && rank(current) <= ORDER.indexOf("played")) { return; }
    badge.dataset.state = ev.state;
    badge.className = "badge dl-" + ev.state;
    badge.textContent = stateLabel(ev.state);
    // A receipt from the receiver (accepted and on) shows it is back: no longer "offline".
    if (rank(ev.state) >= rank("accepted")) { tr.removeAttribute("data-offline"); }
    const offline = tr.hasAttribute("data-offline") && ev.state !== "played" && !MISSED.includes(ev.state);
    const reason = ev.reason || (offline ? t("bulletins.reason.offline") : "");
    for (const cell of tr.querySelectorAll(".reason")) { cell.textContent = reason; }
    tr.querySelector(".updated").textContent = Loa.time(ev.at);
    const missed = MISSED.includes(ev.state) || offline;
    tr.classList.toggle("missed", missed);
    if (missed && tbody.firstElementChild !== tr) { tbody.insertBefore(tr, tbody.firstElementChild); }
  }

  function recount() {
    const counts = {};
    for (const state of ORDER) { counts[state] = 0; }
    const badges = tbody.querySelectorAll("tr[data-receiver] .badge[data-state]");
    for (const badge of badges) { counts[badge.dataset.state] = (counts[badge.dataset.state] || 0) + 1; }
    const total = badges.length;
    for (const state of ORDER) {
      for (const el of root.querySelectorAll('[data-count="' + state + '"]')) {
        el.textContent = counts[state];
        const box = el.closest(".kpi");
        if (box) { box.toggleAttribute("data-zero", counts[state] === 0); }
      }
    }
    for (const el of root.querySelectorAll('[data-count="total"]')) { el.textContent = total; }
    const missed = MISSED.reduce((n, s) => n + counts[s], 0);
    const moving = total - counts.played - missed - counts.waiting;
    const pct = (n) => (total ? (100 * n / total) : 0) + "%";
    root.querySelector(".p-played").style.width = pct(counts.played);
    root.querySelector(".p-moving").style.width = pct(moving);
    root.querySelector(".p-missed").style.width = pct(missed);
    root.querySelector(".progress-track").setAttribute("aria-valuenow", counts.played);
    const missedRows = tbody.querySelectorAll("tr.missed").length;
    const card = root.querySelector(".missed-card");
    card.hidden = missedRows === 0;
    document.getElementById("missed-count").textContent = missedRows;
  }

  function showOccurrence(state) {
    const badge = document.getElementById("occurrence-state");
    badge.dataset.state = state;
    badge.className = "badge occ occ-" + state;
    badge.textContent = t("bulletins.occ." + state);
    const cancel = document.getElementById("cancel");
    if (cancel && !["scheduled", "dispatched"].includes(state)) { cancel.remove(); }
  }

  /* The whole status again: when the delivery has started (its first moves come as
     events, but receivers only queued do not) and when the page fell behind. */
  let refreshing = null;
  function refresh() {
    if (refreshing) { return; }
    refreshing = setTimeout(async () => {
      try {
        const status = await Loa.api("GET", "/api/v1/bulletins/" + occurrence);
        for (const r of status.receivers) {
          if (r.state !== "waiting") {
            apply({ receiver: r.receiver, state: r.state, reason: r.reason, at: r.updated_at });
          }
        }
        showOccurrence(status.state);
        recount();
      } catch (e) {
        // The next event tries again; the live status in the top bar shows a lost stream.
      } finally {
        refreshing = null;
      }
    }, 300);
  }
  function waiting() { return tbody.querySelector('.badge[data-state="waiting"]') !== null; }

  Loa.live(["delivery", "occurrence"], { occurrence: occurrence }, (events) => {
    let moved = false;
    for (const ev of events) {
      if (ev.kind === "delivery" && ev.occurrence === occurrence) { apply(ev); moved = true; }
      else if (ev.kind === "occurrence" && ev.id === occurrence) { showOccurrence(ev.state); }
    }
    if (moved) { recount(); }
    if (waiting()) { refresh(); }
  }, refresh, refresh);  // and once the stream is up: what moved before it is not sent

  const cancel = document.getElementById("cancel");
  if (cancel) {
    cancel.addEventListener("click", async () => {
      if (!window.confirm(cancel.dataset.confirm)) { return; }
      const error = document.getElementById("cancel-error");
      error.hidden = true;
      cancel.disabled = true;
      try {
        await Loa.api("POST", "/api/v1/bulletins/" + occurrence + "/cancel");
        showOccurrence("cancelled");
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
        cancel.disabled = false;
      }
    });
  }
})();
