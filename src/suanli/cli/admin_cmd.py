"""``suanli admin ...``: API keys, straight on the database (no server needed)."""

from __future__ import annotations

import typer

from suanli.cli.common import console, print_json, table

admin_app = typer.Typer(help="Administer the exchange: API keys.", no_args_is_help=True)

DB_OPTION = typer.Option(
    None, "--database-url", help="default: $SUANLI_DATABASE_URL or a file in the data dir"
)


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")


@admin_app.command("create-key")
def create_key(
    role: str = typer.Option(..., help="seller, buyer or operator"),
    name: str = typer.Option(..., help="who the key is for"),
    tenant: str | None = typer.Option(None, help="tenant the key acts for (default: NAME)"),
    region: str | None = typer.Option(
        None, help="city the key's gateway calls come from by default (e.g. Shanghai)"
    ),
    database_url: str | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from suanli.store import Database
    from suanli.store import create_key as make

    db = Database.connect(database_url)
    try:
        with db.write() as session:
            key = make(session, role=role, name=name, tenant=tenant, region=region)
    finally:
        db.dispose()
    if as_json:
        print_json(
            {"key": key.secret, "key_id": key.key_id, "role": key.role, "tenant": key.tenant}
        )
        return
    console.print(f"key id {key.key_id}: {key.role} for tenant {key.tenant!r}", highlight=False)
    console.print("API key (shown once; store it now):", highlight=False)
    print(key.secret)


@admin_app.command("list-keys")
def list_keys(
    database_url: str | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Key ids, roles and tenants (never the keys themselves)."""
    from sqlalchemy import select

    from suanli.store import Database
    from suanli.store.models import ApiKey

    db = Database.connect(database_url)
    try:
        with db.read() as session:
            rows = [
                {
                    "key_id": k.id,
                    "name": k.name,
                    "role": k.role,
                    "tenant": k.tenant,
                    "revoked": k.revoked_at is not None,
                }
                for k in session.scalars(select(ApiKey).order_by(ApiKey.created_at))
            ]
    finally:
        db.dispose()
    if as_json:
        print_json(rows)
        return
    columns = ["key_id", "name", "role", "tenant", "revoked"]
    console.print(table("API keys", columns, [[r[c] for c in columns] for r in rows]))


@admin_app.command("revoke-key")
def revoke_key(
    key_id: str = typer.Argument(..., help="the key id (from list-keys)"),
    database_url: str | None = DB_OPTION,
) -> None:
    """Revoke a key (servers stop accepting it within a few seconds)."""
    from suanli.errors import NotFound
    from suanli.store import Database
    from suanli.store.models import ApiKey, utcnow

    db = Database.connect(database_url)
    try:
        with db.write() as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                raise NotFound(f"no key {key_id!r}", hint="see: suanli admin list-keys")
            row.revoked_at = utcnow()
    finally:
        db.dispose()
    console.print(f"revoked {key_id}", highlight=False)
