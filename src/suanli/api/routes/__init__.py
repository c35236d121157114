"""HTTP routers, one module per resource; ``create_app`` includes them."""

__all__: list[str] = []  # one module per resource, each with its `router`
