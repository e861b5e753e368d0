"""Templates compiled once per process (webshop/templating.py), never served stale."""

from jinja2 import FileSystemLoader

from tests.support.apps import TEST_KEY
from webshop import create_app
from webshop.templating import COMPILED


def fresh_app(tmp_path, folder):
    app = create_app(
        {"TESTING": True, "SECRET_KEY": TEST_KEY, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}"},
        instance_path=str(tmp_path / "instance"),
    )
    app.jinja_env.loader = FileSystemLoader(folder)
    return app


def test_a_template_edited_between_two_apps_is_rendered_as_edited(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    page = folder / "page.html"
    page.write_text("{{ 3 | plural('record') }} before")
    assert fresh_app(tmp_path, folder).jinja_env.get_template("page.html").render() == "3 records before"
    page.write_text("{{ 1 | plural('record') }} after")
    assert fresh_app(tmp_path, folder).jinja_env.get_template("page.html").render() == "1 record after"


def test_a_second_app_renders_pages_from_the_code_the_first_compiled(database, instance_path, tmp_path):
    def served():
        app = create_app(
            {"TESTING": True, "SECRET_KEY": TEST_KEY, "SQLALCHEMY_DATABASE_URI": database, "RDNS_ENABLED": False},
            instance_path=str(instance_path),
        )
        compiled = []
        compile_template = app.jinja_env.compile
        app.jinja_env.compile = lambda *args, **kwargs: compiled.append(args[1]) or compile_template(*args, **kwargs)
        page = app.test_client().get("/privacy")
        return page, compiled

    COMPILED.clear()
    first, compiled_first = served()
    second, compiled_second = served()
    assert first.status_code == second.status_code == 200
    assert "privacy/policy.html" in compiled_first
    assert compiled_second == []
    assert second.get_data(as_text=True).count("<h2") == first.get_data(as_text=True).count("<h2") > 3


# Links built once per worker (linked_url): each request still gets its own addresses.


def test_the_same_page_under_another_path_prefix_links_under_that_prefix(client):
    assert 'href="/privacy"' in client.get("/").get_data(as_text=True)
    behind_prefix = client.get("/", environ_overrides={"SCRIPT_NAME": "/shop"}).get_data(as_text=True)
    assert 'href="/shop/privacy"' in behind_prefix and 'href="/privacy"' not in behind_prefix
    assert 'href="/shop/static/shop.css"' in behind_prefix
    assert 'href="/shop/privacy"' not in client.get("/").get_data(as_text=True)


def test_a_category_given_a_new_slug_is_linked_at_its_new_address(app, client):
    from webshop.db import db
    from webshop.models import Category

    assert 'href="/category/audio"' in client.get("/product/hush-anc").get_data(as_text=True)
    with app.app_context():
        db.session.execute(db.update(Category).where(Category.slug == "audio").values(slug="sound"))
        db.session.commit()
    page = client.get("/product/hush-anc").get_data(as_text=True)
    assert 'href="/category/sound"' in page and 'href="/category/audio"' not in page
    assert client.get("/category/sound").status_code == 200


def test_a_link_carrying_a_token_is_built_for_its_request_and_not_kept(app):
    from flask import render_template_string

    token = "Tk-0123456789abcdefghijklmnopqrstuv"
    with app.test_request_context("/"):
        page = render_template_string(
            "{{ url_for('newsletter.preferences', token=token) }} {{ url_for('privacy.policy') }}", token=token
        )
    assert f"/newsletter/preferences/{token}" in page and "/privacy" in page
    kept = app.extensions["webshop.links"]
    assert ("", "privacy.policy") in kept
    assert not any(token in repr(key) or token in url for key, url in kept.items())
