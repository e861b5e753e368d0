"""The consent banner is rendered once per policy version and script root; each page gets its own token and path."""

import re

from flask import render_template, template_rendered

from tests.support.pages import csrf_token_from, submit
from webshop.consent_banner import TEMPLATE

BANNER = re.compile(r'<section class="banner" id="consent-banner".*?</section>', re.S)


def banner_of(page: str) -> str:
    match = BANNER.search(page)
    assert match, "page has no consent banner"
    return match.group(0)


def test_the_banner_is_the_template_rendered_with_this_pages_token_and_path(client, app):
    client.get("/")  # the first banner, kept
    for url in ["/category/audio", '/search?q=<b>"hush"&x=1']:
        page = client.get(url).get_data(as_text=True)
        token = csrf_token_from(page)
        with app.test_request_context(url):
            app.preprocess_request()
            whole = render_template(TEMPLATE, csrf_value=token, next_path=url, policy_changes=())
        assert banner_of(page) == whole


def test_each_visitor_gets_their_own_token_in_the_banner_and_it_works(app):
    first, second = app.test_client(), app.test_client()
    tokens = [csrf_token_from(banner_of(c.get("/category/audio").get_data(as_text=True))) for c in (first, second)]
    assert tokens[0] != tokens[1]
    response = submit(second, "/category/audio", {"next": "/category/audio", "choice": "accept"}, action="/consent")
    assert response.status_code == 303 and response.headers["Location"] == "/category/audio"
    assert 'id="consent-banner"' not in second.get("/").get_data(as_text=True)
    assert 'id="consent-banner"' in first.get("/").get_data(as_text=True)


def test_the_banner_is_rendered_once_for_many_pages(client, app):
    rendered = []

    def note(sender, template, context, **extra):
        if template.name == TEMPLATE:
            rendered.append(context["next_path"])

    with template_rendered.connected_to(note, app):
        for url in ["/", "/category/audio", "/product/hush-anc", "/privacy"]:
            assert 'id="consent-banner"' in client.get(url).get_data(as_text=True)
    assert len(rendered) == 1


def test_under_another_script_root_the_banners_links_start_there(client):
    assert 'action="/consent"' in banner_of(client.get("/").get_data(as_text=True))
    page = client.get("/", environ_overrides={"SCRIPT_NAME": "/shop"}).get_data(as_text=True)
    banner = banner_of(page)
    assert 'action="/shop/consent"' in banner and 'href="/shop/privacy"' in banner


def test_a_new_policy_version_shows_the_banner_again_with_what_changed(client, monkeypatch):
    from webshop.policy_text import POLICY_VERSION, REVISIONS

    client.get("/")  # the banner of the current version, kept
    submit(client, "/", {"next": "/", "choice": "accept"}, action="/consent")
    assert 'id="consent-banner"' not in client.get("/").get_data(as_text=True)
    monkeypatch.setattr("webshop.consent.POLICY_VERSION", "2099-01")
    monkeypatch.setattr("webshop.consent.changes_since", lambda version: [] if version == "2099-01" else REVISIONS[-1:])
    banner = banner_of(client.get("/").get_data(as_text=True))
    assert f"since your last visit (version {POLICY_VERSION})" in banner
    fresh = banner_of(client.__class__(client.application).get("/").get_data(as_text=True))
    assert "since your last visit" not in fresh
