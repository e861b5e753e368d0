"""Readable contrast on the pages people use, measured in real Chromium (WCAG 2 AA)."""

import pytest

pytestmark = pytest.mark.browser

# For every element that holds text: its colour against the first opaque
# background behind it, as the WCAG 2 contrast ratio; large text needs 3:1,
# the rest 4.5:1.
LOW_CONTRAST = """
() => {
  const channel = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const rgba = text => {
    const n = text.match(/[\\d.]+/g).map(Number);
    return [n[0], n[1], n[2], n.length > 3 ? n[3] : 1];
  };
  const background = element => {
    for (let node = element; node; node = node.parentElement) {
      const color = rgba(getComputedStyle(node).backgroundColor);
      if (color[3] > 0.99) return color;
    }
    return [255, 255, 255, 1];
  };
  const found = [];
  for (const element of document.querySelectorAll("body *")) {
    const hasText = [...element.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(element);
    if (!hasText || style.visibility === "hidden" || style.display === "none") continue;
    if (element.closest(".visually-hidden, .skip, svg")) continue;
    const fg = rgba(style.color), bg = background(element);
    const [light, dark] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (light + 0.05) / (dark + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < needed) {
      const text = element.textContent.trim().slice(0, 40);
      found.push(`${element.tagName.toLowerCase()}.${element.className} "${text}" ${ratio.toFixed(2)}:1`);
    }
  }
  return found;
}
"""

PAGES = [
    "/",
    "/category/audio",
    "/product/aurora-x1",
    "/cart",
    "/privacy",
    "/privacy/tour",
    "/newsletter",
    "/board",
    "/chat",
    "/my-data",
    "/admin/login",
    "/no-such-page",
]


def test_text_has_readable_contrast_on_every_main_page(live_server, page):
    page.goto(live_server.url + "/product/aurora-x1")
    page.get_by_role("button", name="Add to cart").click()  # a cart line, a notice and a count to check too
    problems = {}
    for path in PAGES:
        page.goto(live_server.url + path)
        found = page.evaluate(LOW_CONTRAST)
        if found:
            problems[path] = found
    page.goto(live_server.url + "/checkout")
    page.get_by_role("button", name="Place order").click()  # error messages beside their fields
    found = page.evaluate(LOW_CONTRAST)
    if found:
        problems["/checkout with errors"] = found
    assert problems == {}
