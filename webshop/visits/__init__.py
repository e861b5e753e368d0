"""Visit recording: who asked for what, when (SPEC §2)."""

from . import client


def init_app(app):
    client.init_app(app)
