"""What the tests share; no test module imports another.

- ``apps``: the suite's secret key, a schema built as ``flask init-db`` builds it, an empty database;
- ``pages``, ``cart``, ``forms``, ``my_data``, ``staff``: using the shop as a shopper, the owner of an
  address and a staff member do; ``visits``: the visit rows stored;
- ``postgres``, ``gunicorn``, ``nginx``, ``smtp``, ``dns``, ``live_server``: the real servers the tests start;
- ``processes``: the registry that stops every server a run started, however the run ends;
- ``slow_headers``: slow clients, for the proxy tests;
- ``ports``: a free port for a server.
"""
