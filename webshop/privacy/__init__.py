"""The privacy policy and what hangs off it: live evidence, the clause map, the tour.

``/privacy`` shows every clause of :mod:`webshop.policy_text` with a "see
it in practice" panel computed for the current visitor (:mod:`.evidence`)
and the code and tests that keep it (:mod:`.practice`).
``/privacy/practice.json`` serves that map; ``/privacy/tour`` walks a
reviewer through watching each practice happen (:mod:`.tour`); :mod:`.p3p`
adds the optional, obsolete P3P header.
"""

from . import p3p, pages, source


def init_app(app):
    p3p.init_app(app)
    app.register_blueprint(pages.bp)
    source.init_app(app)
