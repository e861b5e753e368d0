"""Words for numbers: one way to say "1 record" and "2 records" everywhere."""


def plural(count: int, word: str, words: str | None = None) -> str:
    """``count`` with ``word`` (singular) or ``words`` (default: ``word`` + "s")."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def init_app(app):
    app.jinja_env.filters["plural"] = plural
