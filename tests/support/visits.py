"""Visit rows as the tests read them: what the writer stored."""

from webshop.db import db
from webshop.models import Visit
from webshop.visits import flush


def recorded(app) -> list[Visit]:
    """Every stored visit, oldest first, after the writer stored what it holds."""
    flush(app)
    with app.app_context():
        visits = db.session.execute(db.select(Visit).order_by(Visit.id)).scalars().all()
        db.session.expunge_all()
        return visits
