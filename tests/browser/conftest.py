"""Real Chromium (Debian's, driven by Playwright) against a live server.

The live server (tests/support/live_server.py) is the real app on a real
SQLite file, served by werkzeug in a thread on 127.0.0.1. Browser tests use
SQLite only; the database behaviour itself is covered on both databases by
the other tests.
"""

import pytest
from playwright.sync_api import sync_playwright

from tests.support.live_server import serving

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def playwright_browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_config():
    """Extra configuration for the live server; override in a test module."""
    return {}


@pytest.fixture
def live_server(sqlite_template, instance_path, live_config):
    with serving(sqlite_template, instance_path, live_config) as server:
        yield server


@pytest.fixture
def browser_context(playwright_browser):
    context = playwright_browser.new_context()
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    page = browser_context.new_page()
    page.set_default_timeout(10_000)
    return page


@pytest.fixture
def new_page(playwright_browser):
    """A factory of pages, each in its own context (another browser, another visitor)."""
    contexts = []

    def make(**context_options):
        context = playwright_browser.new_context(**context_options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield make
    for context in contexts:
        context.close()
