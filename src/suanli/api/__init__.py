"""The exchange's HTTP API (service layer): routes, auth, errors, metrics.

:func:`suanli.app.create_app` assembles the application (these routers plus the
dashboard's); ``suanli.api.deps`` holds the shared state and the dependencies routers use
(``DatabaseDep``, ``MetricsDep``, ``get_caller``, ``require_roles``, paging).
"""

__all__: list[str] = []  # import the modules: deps, errors, routes.*
