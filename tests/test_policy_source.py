"""From a clause to its code: links to the line of each definition, and a read-only view of only those files."""

import html
import re

import pytest

from webshop.privacy.practice import PRACTICES
from webshop.privacy.source import PROJECT_ROOT, mapped_paths

LINK_RE = re.compile(r'<a href="(?P<href>[^"]+)"><code>(?P<text>[^<]+)</code></a>')


def code_links(page_html: str) -> dict[str, str]:
    return {html.unescape(m["text"]): html.unescape(m["href"]) for m in LINK_RE.finditer(page_html)}


def defined_at(path: str, line: int, name: str) -> bool:
    text = (PROJECT_ROOT / path).read_text(encoding="utf-8").splitlines()[line - 1]
    last = re.escape(name.split(".")[-1])
    return re.match(rf"\s*((async def|def|class) {last}\b|{last}\s*[:=])", text) is not None


def test_every_code_and_test_name_on_the_policy_links_to_the_line_that_defines_it(client):
    links = code_links(client.get("/privacy").get_data(as_text=True))
    named = {str(ref): (ref.path, ref.name) for p in PRACTICES.values() for ref in p.code}
    named |= {t: (t.split("::")[0], ".".join(t.split("::")[1:])) for p in PRACTICES.values() for t in p.tests}
    assert set(named) <= set(links), sorted(set(named) - set(links))
    for text, (path, name) in named.items():
        href = links[text]
        assert href.startswith(f"/privacy/source/{path}#L"), href
        line = int(href.rsplit("#L", 1)[1])
        assert defined_at(path, line, name), f"{text}: line {line} does not define {name}"


def test_a_followed_link_shows_the_file_with_numbered_anchored_escaped_lines(client):
    ref = PRACTICES["collect-ip"].code[0]
    href = code_links(client.get("/privacy").get_data(as_text=True))[str(ref)]
    url, anchor = href.split("#")
    page = client.get(url)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert f'<li id="{anchor}" class="definition" data-name="{ref.name}">' in body
    source = (PROJECT_ROOT / ref.path).read_text(encoding="utf-8").splitlines()
    assert body.count('<a class="line-number"') == len(source)
    # Source text is shown as text: a line holding markup arrives escaped.
    path = next(p for p in sorted(mapped_paths()) if "<" in (PROJECT_ROOT / p).read_text(encoding="utf-8"))
    marked = next(line for line in (PROJECT_ROOT / path).read_text(encoding="utf-8").splitlines() if "<" in line)
    shown = client.get(f"/privacy/source/{path}").get_data(as_text=True)
    assert html.escape(marked, quote=False).replace('"', "&#34;").replace("'", "&#39;") in shown


def test_with_source_url_the_links_point_at_the_repository_line(app, client):
    app.config["SOURCE_URL"] = "https://git.example.org/shop/blob/main/"
    links = code_links(client.get("/privacy").get_data(as_text=True))
    ref = PRACTICES["cookies"].code[0]
    href = links[str(ref)]
    assert href.startswith(f"https://git.example.org/shop/blob/main/{ref.path}#L"), href
    assert defined_at(ref.path, int(href.rsplit("#L", 1)[1]), ref.name)


@pytest.mark.parametrize(
    "path",
    [
        "/privacy/source/../../etc/passwd",
        "/privacy/source/%2e%2e/%2e%2e/etc/passwd",
        "/privacy/source//etc/passwd",
        "/privacy/source/%2Fetc%2Fpasswd",
        "/privacy/source/instance/secret_key",
        "/privacy/source/webshop/db.py",
        "/privacy/source/webshop/../webshop/db.py",
        "/privacy/source/webshop/visits/./writer.py",
        "/privacy/source/webshop/visits/writer.py%00",
        "/privacy/source/",
    ],
)
def test_nothing_outside_the_clause_map_is_ever_served(client, path):
    assert "webshop/db.py" not in mapped_paths()
    response = client.get(path, follow_redirects=True)  # werkzeug merges "//" with a redirect first
    assert response.status_code in (400, 404)
    body = response.get_data(as_text=True)
    assert "root:" not in body and "SECRET_KEY" not in body and "def init_db_command" not in body
