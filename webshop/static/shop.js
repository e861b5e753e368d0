// Progressive enhancement only: every page works without this file.
"use strict";

// The consent banner closes in place instead of reloading the page.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches(".banner-form")) return;
  event.preventDefault();
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error(String(response.status));
    const banner = document.getElementById("consent-banner");
    banner.remove();
    document.getElementById("main").focus({ preventScroll: true });
  } catch (error) {
    form.submit();  // fall back to the ordinary POST and redirect
  }
});
