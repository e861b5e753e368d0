"""Policy revisions: a changelog as data, shown on the banner to a returning visitor and on /privacy."""

import re

import pytest

from tests.support.pages import element_text, text_of
from webshop.cookies import serializer
from webshop.policy_text import POLICY_VERSION, REVISIONS, VERSIONS, changes_since


def returning(client, app, version):
    """A browser whose consent cookie says it acknowledged ``version``."""
    with app.app_context():
        client.set_cookie("consent", serializer("consent").dumps(version))


def banner(client) -> str | None:
    page = client.get("/").get_data(as_text=True)
    match = re.search(r'<section class="banner" id="consent-banner".*?</section>', page, re.S)
    return text_of(match.group(0)) if match else None


def test_the_changelog_runs_oldest_first_and_ends_at_the_current_version():
    assert VERSIONS[:2] == ["2026-11", "2026-12"]
    assert POLICY_VERSION == REVISIONS[-1].version and len(set(VERSIONS)) == len(VERSIONS)
    assert [r.date for r in REVISIONS] == sorted(r.date for r in REVISIONS)
    assert all(len(r.version) <= 20 and r.changes for r in REVISIONS)  # Submission.policy_version is String(20)
    assert changes_since(VERSIONS[0]) == REVISIONS[1:]
    assert changes_since(POLICY_VERSION) == []
    assert changes_since("1999-01") == REVISIONS


def test_a_visitor_two_versions_behind_sees_what_changed_in_both_newer_revisions_only(app, client):
    returning(client, app, "2026-11")
    text = banner(client)
    assert "What changed since your last visit (version 2026-11):" in text
    for revision in REVISIONS[1:]:
        assert f"Version {revision.version} of {revision.date.isoformat()}:" in text
        assert all(change in text for change in revision.changes)
    assert REVISIONS[0].changes[0] not in text
    assert "Version 2026-11 of" not in text


def test_a_visitor_one_version_behind_sees_only_the_latest_changes(app, client):
    returning(client, app, REVISIONS[-2].version)
    text = banner(client)
    assert f"(version {REVISIONS[-2].version}):" in text
    assert all(change in text for change in REVISIONS[-1].changes)
    assert not any(change in text for change in REVISIONS[-2].changes)


def test_a_visitor_on_the_current_version_sees_no_banner(app, client):
    returning(client, app, POLICY_VERSION)
    assert banner(client) is None


def test_a_first_visit_sees_the_banner_without_a_revision_message(client):
    text = banner(client)
    assert text and "What changed since" not in text


def test_a_signed_version_the_changelog_does_not_know_sees_every_revision(app, client):
    returning(client, app, "2001-01")
    text = banner(client)
    assert "(version 2001-01):" in text
    assert all(f"Version {r.version} of" in text for r in REVISIONS)


def test_a_long_signed_version_counts_as_no_choice_and_is_never_echoed(app, client):
    returning(client, app, "<b>" + "9" * 300)
    page = client.get("/").get_data(as_text=True)
    assert "<b>9" not in page and "&lt;b&gt;9" not in page
    text = banner(client)
    assert text and "What changed since" not in text


@pytest.mark.parametrize("cookie", ["2026-11.forged.signature", "x" * 3000, "", "\x00"])
def test_a_tampered_consent_cookie_counts_as_a_first_visit(client, cookie):
    client.set_cookie("consent", cookie)
    response = client.get("/")
    assert response.status_code == 200
    text = banner(client)
    assert text and "What changed since" not in text


def test_privacy_lists_every_revision_with_its_date_and_changes_and_marks_the_current_one(client):
    page = client.get("/privacy").get_data(as_text=True)
    history = element_text(page, "history")
    for revision in REVISIONS:
        entry = element_text(page, f"version-{revision.version}")
        assert f"Version {revision.version}, in effect from {revision.date.isoformat()}" in entry
        assert all(change in history for change in revision.changes)
        assert ("(current)" in entry) == (revision.version == POLICY_VERSION)
    assert history.index(f"Version {REVISIONS[-1].version},") < history.index(f"Version {REVISIONS[0].version},")
