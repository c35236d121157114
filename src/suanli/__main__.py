"""``python -m suanli`` runs the CLI."""

from suanli.cli.main import run

run()
