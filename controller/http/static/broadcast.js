/* /broadcast: make a bulletin through the API. The sound is typed text (previewed with
   POST /api/v1/contents/tts) or a recording (uploaded with XMLHttpRequest, to show its
   progress); the targets come from the village tree; the send is POST /api/v1/bulletins,
   then the page goes to the bulletin's delivery page. The emergency button asks for a
   typed confirmation word first. Mistakes show next to their field; nothing typed is lost. */
(function () {
  "use strict";
  const Loa = window.Loa;
  const t = Loa.t;
  const root = document.querySelector(".broadcast");
  const form = document.getElementById("broadcast");
  if (!root || !form) { return; }
  const members = JSON.parse(document.getElementById("group-members").textContent);
  const words = JSON.parse(document.getElementById("confirm-words").textContent);
  const maxBytes = Number(root.dataset.maxBytes);
  const total = Number(root.dataset.total);
  const player = document.getElementById("player");
  const playerBox = document.querySelector(".player-box");
  const preparedNote = document.getElementById("prepared");
  const formError = form.querySelector(".form-error");
  const fileInput = document.getElementById("file");
  const previewButton = document.getElementById("preview");
  const sendButton = document.getElementById("send");
  const sendStatus = document.getElementById("send-status");
  const dialog = document.getElementById("emergency-dialog");
  const boxes = Array.from(form.querySelectorAll("input[name=targets]"));
  // The content made from the text or the file, and what it was made from.
  let prepared = null;
  let uploading = null;

  function value(name) { const el = form.elements[name]; return el ? el.value : ""; }
  function source() { return form.querySelector("input[name=source]:checked").value; }
  function textKey() { return "text|" + value("text").trim() + "|" + value("language") + "|" + value("chime"); }
  function fileKey(file) { return "file|" + file.name + "|" + file.size + "|" + file.lastModified + "|" + value("chime"); }

  /* Errors: one per field next to it, the rest (and the summary) above the form. */
  function clearErrors() {
    formError.hidden = true; formError.textContent = "";
    for (const el of form.querySelectorAll(".field-error")) { el.hidden = true; el.textContent = ""; }
    for (const el of form.querySelectorAll("[aria-invalid]")) {
      el.removeAttribute("aria-invalid"); el.removeAttribute("aria-describedby");
    }
  }
  function fieldError(field, message) {
    const el = form.querySelector('.field-error[data-for="' + field + '"]');
    if (!el) { return false; }
    el.textContent = message; el.hidden = false;
    el.setAttribute("role", "alert");
    // The field itself (not a group of boxes) says it is wrong, and where it says why.
    el.id = "err-" + field;
    const control = form.elements[field];
    if (control && !(control instanceof RadioNodeList)) {
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", el.id);
    }
    // A mistake in "more options" must not stay hidden in a closed section.
    const section = el.closest("details");
    if (section) { section.open = true; }
    return true;
  }
  function showProblem(error) {
    const problem = error.problem || {};
    let placed = false;
    for (const e of (problem.errors || [])) {
      const field = e.field === "contents" && source() === "file" ? "file" : e.field;
      placed = fieldError(field === "contents" ? "text" : field, Loa.said(e)) || placed;
    }
    if (!placed || !(problem.errors || []).length) {
      formError.textContent = t("broadcast.error.prefix") + " " + (error.message || t("common.error.title"));
      formError.hidden = false;
    }
    const first = form.querySelector(".field-error:not([hidden]), .form-error:not([hidden])");
    if (first) { first.scrollIntoView({ block: "center", behavior: "smooth" }); }
  }

  /* The sound: text or file. */
  function showSource() {
    const mode = source();
    form.querySelector(".source-text").hidden = mode !== "text";
    form.querySelector(".source-file").hidden = mode !== "file";
    const matches = prepared && prepared.mode === mode
      && prepared.key === (mode === "text" ? textKey() : chosenFileKey());
    playerBox.hidden = !matches;
  }
  for (const radio of form.querySelectorAll("input[name=source]")) { radio.addEventListener("change", showSource); }
  // A preview of other words is not what will be sent: hide it once the text changes.
  for (const name of ["text", "language", "chime"]) {
    form.elements[name].addEventListener("input", () => {
      if (prepared && prepared.mode === "text" && prepared.key !== textKey()) { playerBox.hidden = true; }
    });
  }

  function showPlayer(content, created) {
    player.src = content.audio_url;
    playerBox.hidden = false;
    preparedNote.textContent = t(created ? "broadcast.prepared" : "broadcast.prepared_again", {
      title: content.title, seconds: content.duration_s.toFixed(1) });
  }

  previewButton.addEventListener("click", async () => {
    clearErrors();
    const text = value("text").trim();
    if (!text) { fieldError("text", t("broadcast.error.no_text")); return; }
    previewButton.disabled = true;
    const label = previewButton.textContent;
    previewButton.textContent = t("broadcast.previewing");
    try {
      const key = textKey();
      const body = { text: text, language: value("language"), chime: value("chime") };
      if (value("title").trim()) { body.title = value("title").trim(); }
      const added = await Loa.api("POST", "/api/v1/contents/tts", body);
      prepared = { mode: "text", key: key, content: added.content };
      showPlayer(added.content, added.created);
      player.play().catch(() => {});
    } catch (error) {
      showProblem(error);
    } finally {
      previewButton.disabled = false;
      previewButton.textContent = label;
    }
  });

  fileInput.addEventListener("change", () => {
    clearErrors();
    const file = fileInput.files[0];
    if (!file) { return; }
    if (file.size > maxBytes) {
      fieldError("file", t("broadcast.error.too_large", { mb: root.dataset.maxMb }));
      return;
    }
    upload(file);
  });

  function chosenFileKey() {
    const file = form.elements.file && form.elements.file.files[0];
    return file ? fileKey(file) : null;
  }

  function upload(file) {
    if (uploading) { uploading.abort(); }
    // Whatever was prepared before is not this file: never send it in its place.
    if (prepared && prepared.mode === "file") { prepared = null; }
    const box = form.querySelector(".upload");
    const bar = document.getElementById("upload-progress");
    const status = document.getElementById("upload-status");
    box.hidden = false; bar.value = 0; bar.removeAttribute("data-done");
    status.textContent = t("broadcast.uploading", { pct: 0 });
    playerBox.hidden = true;
    const data = new FormData();
    data.append("title", value("title").trim());
    data.append("language", value("language"));
    data.append("chime", value("chime"));
    data.append("file", file);
    const xhr = new XMLHttpRequest();
    uploading = xhr;
    xhr.open("POST", "/api/v1/contents");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (ev) => {
      if (!ev.lengthComputable) { return; }
      const pct = Math.round(100 * ev.loaded / ev.total);
      bar.value = pct;
      status.textContent = pct < 100 ? t("broadcast.uploading", { pct: pct }) : t("broadcast.processing");
    });
    xhr.addEventListener("load", () => {
      uploading = null;
      let answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
      if (xhr.status >= 200 && xhr.status < 300 && answer) {
        bar.value = 100; bar.dataset.done = "1";
        status.textContent = t("broadcast.uploaded");
        prepared = { mode: "file", key: fileKey(file), content: answer.content };
        showPlayer(answer.content, answer.created);
      } else {
        box.hidden = true;
        const error = new Error((answer && answer.detail) || xhr.statusText);
        error.problem = answer ? { errors: [{ field: "file", message: answer.detail }] } : null;
        showProblem(error);
      }
    });
    xhr.addEventListener("error", () => {
      uploading = null; box.hidden = true;
      fieldError("file", t("broadcast.error.upload_failed"));
    });
    xhr.send(data);
  }

  /* Targets: a group checks everything under it; the count is of distinct receivers. */
  function childBoxes(box) {
    const li = box.closest("li");
    return Array.from(li.querySelectorAll(":scope > ul input[name=targets]"));
  }
  function parentBox(box) {
    const li = box.closest("li").parentElement.closest("li");
    return li ? li.querySelector(":scope > label input[name=targets]") : null;
  }
  function picked() {
    return boxes.filter((box) => box.checked && !(parentBox(box) && parentBox(box).checked))
      .map((box) => box.value);
  }
  function reached(targets) {
    const ids = new Set();
    for (const group of targets) { for (const id of (members[group] || [])) { ids.add(id); } }
    return ids.size;
  }
  function showCount() {
    const targets = picked();
    const line = document.getElementById("target-count");
    line.textContent = targets.length
      ? t("broadcast.picked", { n: reached(targets), groups: targets.length })
      : t("broadcast.picked_none");
  }
  for (const box of boxes) {
    box.addEventListener("change", () => {
      for (const child of childBoxes(box)) { child.checked = box.checked; }
      if (!box.checked) {
        for (let up = parentBox(box); up; up = parentBox(up)) { up.checked = false; }
      }
      showCount();
    });
  }

  /* When: now, or a local time in the controller's zone, sent as UTC. */
  const playAt = document.getElementById("play_at");
  function zoneOffset(ms) {
    const parts = new Intl.DateTimeFormat("en-US", { timeZone: Loa.zone, hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      second: "2-digit" }).formatToParts(new Date(ms));
    const v = {};
    for (const p of parts) { v[p.type] = p.value; }
    const wall = Date.UTC(+v.year, +v.month - 1, +v.day, +v.hour % 24, +v.minute, +v.second);
    return wall - Math.floor(ms / 1000) * 1000;
  }
  function localToUtc(text) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(text);
    if (!m) { return null; }
    const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
    let guess = wall - zoneOffset(wall);
    guess = wall - zoneOffset(guess);
    return new Date(guess).toISOString();
  }
  function localInput(ms) {
    const d = new Date(ms + zoneOffset(ms));
    return d.toISOString().slice(0, 16);
  }
  for (const radio of form.querySelectorAll("input[name=when]")) {
    radio.addEventListener("change", () => {
      const at = form.querySelector("input[name=when]:checked").value === "at";
      playAt.hidden = !at;
      form.querySelector(".when-hint").hidden = !at;
      if (at && !playAt.value) {
        playAt.value = localInput(Date.now() + 3600 * 1000 - (Date.now() % (300 * 1000)));
      }
      if (at) { playAt.focus(); }
    });
  }

  /* The send. */
  function body(priority) {
    const data = {
      targets: picked(),
      priority: priority,
      language: value("language"),
      chime: value("chime"),
      repeat: Number(value("repeat") || 1),
    };
    if (value("title").trim()) { data.title = value("title").trim(); }
    if (value("volume").trim()) { data.volume = Number(value("volume")); }
    if (value("expires").trim()) { data.expires = value("expires").trim(); }
    const mode = source();
    if (mode === "text") {
      if (prepared && prepared.mode === "text" && prepared.key === textKey()) {
        data.contents = [prepared.content.id];
      } else {
        data.text = value("text");
      }
    } else if (prepared && prepared.mode === "file" && prepared.key === chosenFileKey()) {
      data.contents = [prepared.content.id];
    }
    if (form.querySelector("input[name=when]:checked").value === "at" && priority !== "emergency") {
      data.play_at = localToUtc(playAt.value);
    }
    return data;
  }

  /* What must be there before asking the server (it checks all again). */
  function check(data, emergency) {
    let fine = true;
    if (source() === "text" && !value("text").trim()) {
      fine = fieldError("text", t("broadcast.error.no_text")) && false;
    }
    if (source() === "file" && !data.contents) {
      fine = fieldError("file", t(uploading ? "broadcast.error.still_uploading" : "broadcast.error.no_file")) && false;
    }
    if (!emergency && !data.targets.length) {
      fine = fieldError("targets", t("broadcast.error.no_targets")) && false;
    }
    if (!emergency && form.querySelector("input[name=when]:checked").value === "at" && !data.play_at) {
      fine = fieldError("play_at", t("broadcast.error.no_time")) && false;
    }
    return fine;
  }

  // One send at a time: a second click (or a second emergency) while the first is on its
  // way would put the bulletin on air twice. The buttons come back only if it failed.
  let sending = false;
  const emergencyButton = document.getElementById("emergency");
  function busy(on) {
    sending = on;
    sendButton.disabled = on;
    emergencyButton.disabled = on;
  }
  async function send(data) {
    if (sending) { return false; }
    busy(true);
    sendStatus.textContent = t("broadcast.sending");
    try {
      const sent = await Loa.api("POST", "/api/v1/bulletins", data);
      sendStatus.textContent = t("broadcast.sent");
      window.location.assign(sent.url);
      return true;
    } catch (error) {
      sendStatus.textContent = "";
      showProblem(error);
      busy(false);
      return false;
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (ev.submitter !== sendButton || sending) { return; }  // Enter in a field sends nothing
    clearErrors();
    if (value("priority") === "emergency") { openEmergency(); return; }
    const data = body(value("priority"));
    if (!check(data, false)) { showProblem({ message: t("broadcast.error.fix_fields"), problem: { errors: [] } }); return; }
    await send(data);
  });

  /* The emergency: a typed word, and how many receivers it will interrupt. */
  const wordInput = document.getElementById("emergency-word");
  const wordError = document.getElementById("emergency-error");
  // "KHẨN CẤP" or "KHAN CAP" (a keyboard without Vietnamese marks), any case or spacing.
  function normalise(text) {
    return text.replace(/[đĐ]/g, "D").normalize("NFD").replace(/\p{M}/gu, "")
      .trim().replace(/\s+/g, " ").toUpperCase();
  }
  function openEmergency() {
    if (sending) { return; }
    clearErrors();
    const data = body("emergency");
    if (!check(data, true)) { showProblem({ message: t("broadcast.error.fix_fields"), problem: { errors: [] } }); return; }
    const targets = data.targets;
    document.getElementById("emergency-count").textContent = targets.length
      ? t("broadcast.emergency.count", { n: reached(targets) })
      : t("broadcast.emergency.count_all", { n: total });
    wordInput.value = "";
    wordError.hidden = true;
    dialog.showModal();
    wordInput.focus();
  }
  emergencyButton.addEventListener("click", openEmergency);
  document.getElementById("emergency-cancel").addEventListener("click", () => dialog.close());
  document.getElementById("emergency-confirm").addEventListener("click", async () => {
    const typed = normalise(wordInput.value);
    if (!words.map(normalise).includes(typed)) {
      wordError.textContent = t("broadcast.emergency.wrong_word", { word: words[Loa.lang === "vi" ? 0 : 1] });
      wordError.hidden = false;
      wordInput.focus();
      return;
    }
    if (sending) { return; }
    const data = body("emergency");
    if (!data.targets.length) { data.targets = ["all"]; }
    data.confirm = true;
    dialog.close();
    await send(data);
  });
  wordInput.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { ev.preventDefault(); document.getElementById("emergency-confirm").click(); }
  });

  showSource();
  showCount();
})();
