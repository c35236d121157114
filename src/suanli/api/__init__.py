"""The exchange's HTTP API (service layer): app factory, routes, auth, errors, metrics.

``suanli.api.app.create_app(database_url=None)`` builds the app; ``suanli.api.deps`` holds
the dependencies routers use (``DatabaseDep``, ``get_caller``, ``require_roles``, paging).
"""
