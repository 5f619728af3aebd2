/* The calendar page: the commune select shows its week at once, and "Approve" asks who
   approves (a second person, not the schedule's author) and approves through the API. */
(function () {
  "use strict";
  const select = document.getElementById("cal-commune");
  if (select) { select.addEventListener("change", () => select.form.submit()); }
  const message = document.getElementById("cal-message");

  function show(text, bad) {
    if (!message) { return; }
    message.hidden = false;
    message.textContent = text;
    message.className = bad ? "form-error" : "notice";
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-approve]");
    if (!button) { return; }
    const id = button.dataset.approve;
    const name = window.prompt(Loa.t("calendar.approve_prompt"));
    if (name === null || !name.trim()) { return; }
    button.disabled = true;
    try {
      await Loa.api("POST", "/api/v1/schedules/" + encodeURIComponent(id) + "/approve", { by: name.trim() });
      show(Loa.t("calendar.approved", { id: id }), false);
      window.setTimeout(() => window.location.reload(), 600);
    } catch (error) {
      button.disabled = false;
      show(Loa.t("calendar.approve_failed", { detail: error.message }), true);
    }
  });
})();
