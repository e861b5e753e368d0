"""The favicon: every browser asks for /favicon.ico, so it must be there and cost nothing."""

import struct

from webshop.db import db
from webshop.models import Visit
from webshop.visits import flush


def test_favicon_is_a_real_icon_and_every_page_links_it(client):
    with client.get("/favicon.ico") as response:
        data = response.get_data()
    assert response.status_code == 200
    assert response.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind, count) == (0, 1, 1)  # an ICO directory holding one image
    assert data[22:30] == b"\x89PNG\r\n\x1a\n"
    assert "Cache-Control" in response.headers
    for page in ("/", "/admin/login"):
        assert 'rel="icon" href="/favicon.ico"' in client.get(page).get_data(as_text=True)


def test_favicon_is_not_recorded_as_a_visit_and_sets_no_cookie(app, client):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    flush(app)
    with app.app_context():
        paths = db.session.scalars(db.select(Visit.path)).all()
    assert "/favicon.ico" not in paths
