"""One module per schema revision."""

__all__: list[str] = []
