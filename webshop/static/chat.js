// The chat room without reloading: new messages are polled from a JSON
// endpoint and sent in the background. Progressive enhancement only: the
// page works by reload without this file. Message text is put on the page
// with textContent, never as HTML.
"use strict";

(function () {
  const log = document.getElementById("chat-log");
  const form = document.getElementById("chat-form");
  if (!log || !form) return;

  const pollUrl = log.dataset.pollUrl;
  const status = document.getElementById("chat-status");
  const POLL_MS = 2000;
  const BACKOFF_MS = 10000;
  let lastId = Number(log.dataset.lastId) || 0;
  let timer = null;

  document.querySelectorAll(".no-js-note").forEach((note) => { note.hidden = true; });

  function timeLabel(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : date.toTimeString().slice(0, 5);
  }

  function isolated(text) {
    const bdi = document.createElement("bdi");
    bdi.textContent = text;
    return bdi;
  }

  function append(message) {
    if (message.id <= lastId && log.querySelector(`[data-id="${Number(message.id)}"]`)) return;
    const item = document.createElement("li");
    item.className = "chat-message";
    item.dataset.id = String(message.id);
    // <bdi>: each name and message keeps its own text direction, whatever it holds.
    const name = document.createElement("strong");
    name.className = "chat-name";
    name.append(isolated(message.name));
    const time = document.createElement("time");
    time.dateTime = message.time;
    time.textContent = timeLabel(message.time);
    const body = document.createElement("span");
    body.className = "chat-body";
    body.append(isolated(message.body));
    item.append(name, " ", time, " ", body);
    log.append(item);
    lastId = Math.max(lastId, Number(message.id));
    const empty = document.getElementById("chat-empty");
    if (empty) empty.remove();
  }

  async function poll() {
    let delay = POLL_MS;
    try {
      const response = await fetch(`${pollUrl}?after=${lastId}`, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      data.messages.forEach(append);
      // A poll returns a bounded batch; when more wait, fetch them at once.
      if (data.more) delay = 0;
    } catch (error) {
      delay = BACKOFF_MS;
    }
    schedule(delay);
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(poll, document.hidden && delay > 0 ? BACKOFF_MS : delay);
  }

  function clearErrors() {
    form.querySelectorAll(".js-error").forEach((node) => node.remove());
    form.querySelectorAll("[aria-invalid]").forEach((input) => {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    });
  }

  function showError(fieldName, text) {
    const input = form.elements.namedItem(fieldName);
    if (!input || !input.id) return false;
    const error = document.createElement("p");
    error.className = "error js-error";
    error.id = `${input.id}-error`;
    error.setAttribute("role", "alert");
    error.textContent = text;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", error.id);
    input.after(error);
    return true;
  }

  function showReceipt(url, mailSent, notice) {
    status.textContent = notice ? `${notice} ` : "Message sent. ";
    const link = document.createElement("a");
    link.href = url;
    link.textContent = "View its consent receipt";
    status.append(link, ".");
    if (mailSent === false) status.append(" The mail with your receipt could not be sent just now.");
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    status.textContent = "Sending…";
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { "X-Requested-With": "fetch", Accept: "application/json" },
        credentials: "same-origin",
      });
    } catch (error) {
      form.submit();  // fall back to the ordinary POST and reload
      return;
    }
    const type = response.headers.get("Content-Type") || "";
    if (!type.startsWith("application/json")) {
      form.submit();
      return;
    }
    const data = await response.json();
    // Each form's single-use token: the next message needs the one this answer brought.
    if (data.submission_token) form.elements.namedItem("submission_token").value = data.submission_token;
    if (response.status === 201 || data.already_received) {
      append(data.message);
      showReceipt(data.receipt_url, data.mail_sent, data.already_received);
      form.elements.namedItem("message").value = "";
      form.elements.namedItem("message").focus();
    } else if (data.errors) {
      status.textContent = "The message was not sent; see the note beside the field.";
      const shown = Object.entries(data.errors).map(([name, text]) => showError(name, text));
      if (!shown.some(Boolean)) form.submit();
    } else {
      form.submit();
    }
  });

  document.addEventListener("visibilitychange", () => { if (!document.hidden) schedule(0); });
  schedule(POLL_MS);
})();
