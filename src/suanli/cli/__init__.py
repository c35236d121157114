"""The command line: a Typer app, one module per command group (see ``main``)."""

__all__: list[str] = []  # `suanli.cli.main.app` is the command
