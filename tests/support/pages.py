"""Pages as a browser uses them: their text, ticked boxes and CSRF token; posting their forms and buttons."""

import html
import re

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


SUBMISSION_TOKEN_RE = re.compile(r'name="submission_token"[^>]*value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


def hidden_fields(html: str) -> dict:
    """The tokens a browser sends back with the (first) form of a page: CSRF, and a personal-data form's own."""
    fields = {"csrf_token": csrf_token_from(html)}
    if match := SUBMISSION_TOKEN_RE.search(html):
        fields["submission_token"] = match.group(1)
    return fields


def submit(client, page_url: str, data: dict, action: str | None = None, **kwargs):
    """Open ``page_url``, take its tokens and post ``data`` like a browser would."""
    page = client.get(page_url, **kwargs)
    return client.post(action or page_url, data={**hidden_fields(page.get_data(as_text=True)), **data}, **kwargs)


def press_button(client, path):
    """Open a link page and press its one button (a POST carrying the page's CSRF token)."""
    page = client.get(path)
    if page.status_code != 200:
        return page
    return client.post(path, data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})


def acknowledge_banner(client):
    """Press "OK" on the banner, as a browser does; the visitor id cookie follows."""
    response = submit(client, "/", {"next": "/", "choice": "accept"}, action="/consent")
    assert response.status_code == 303


def text_of(fragment: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())
    return re.sub(r" ([,.;)])", r"\1", text)


def element_text(page: str, element_id: str) -> str:
    """The text of the element with ``element_id`` (up to its first closing tag of the same name)."""
    match = re.search(rf'<(\w+)[^>]*id="{re.escape(element_id)}"[^>]*>', page)
    assert match, f"no element #{element_id}"
    tag = match.group(1)
    return text_of(page[match.end() : page.index(f"</{tag}>", match.end())])


def is_checked(page: str, **attributes: str) -> bool:
    """Whether the one ``<input>`` with these attributes (``id``, ``name``, ``value``) carries ``checked``."""
    tags = [
        tag
        for tag in re.findall(r"<input\b[^>]*>", page)
        if all(re.search(rf'\s{name}="{re.escape(value)}"', tag) for name, value in attributes.items())
    ]
    assert len(tags) == 1, f"{len(tags)} inputs with {attributes}"
    return re.search(r"\schecked(?=[\s=/>])", tags[0]) is not None
