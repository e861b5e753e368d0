"""The WSGI entry point gunicorn serves: ``gunicorn wsgi:app``."""

from webshop import create_app

app = create_app()
