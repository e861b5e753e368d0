// Progressive enhancement only: every page works without this file.
"use strict";

// The consent banner closes in place instead of reloading the page.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches(".banner-form")) return;
  event.preventDefault();
  // The pressed button carries the choice: send it, in the background or in the fallback POST.
  const choice = event.submitter ? event.submitter.value : "";
  try {
    const body = new FormData(form);
    body.set("choice", choice);
    const response = await fetch(form.action, {
      method: "POST",
      body,
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error(String(response.status));
    const banner = document.getElementById("consent-banner");
    banner.remove();
    document.getElementById("main").focus({ preventScroll: true });
  } catch (error) {
    const field = document.createElement("input");
    field.type = "hidden";
    field.name = "choice";
    field.value = choice;
    form.append(field);
    form.submit();  // fall back to the ordinary POST and redirect
  }
});
