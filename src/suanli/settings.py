"""Every setting of the exchange server in one place, read once from the environment.

:class:`Settings` (pydantic-settings) names each setting, its ``SUANLI_*`` environment
variable and its default. ``suanli serve`` builds one from its options and the
environment and hands that object to every worker process
(:class:`suanli.cli.serve_cmd.AppFactory`), so a worker never reads configuration from
``os.environ`` itself. The service and the CLI read it; the pure core never does (it takes
its parameters as arguments). Defaults of the domain itself (SLO percentile, serving
headroom) are not settings: they live in :mod:`suanli.defaults`.

:func:`settings_table` renders the table shown in the README (a test keeps the two equal).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024
ENV_PREFIX = "SUANLI_"


class Settings(BaseSettings):
    """The exchange server's configuration (environment variable = ``SUANLI_`` + name)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, validate_default=True
    )

    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL (sqlite:///... or postgresql://...); "
        "unset: an SQLite file in the user's data directory",
    )
    db_pool: Literal["queue", "null"] = Field(
        "queue", description="PostgreSQL connection pool: queue (pooled, pre-pinged) or null"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="level of the JSON logs (INFO includes one access line a request)"
    )
    clear_every_s: float = Field(
        0.0, ge=0, le=86_400, description="seconds between call-auction rounds (0: on demand)"
    )
    serve_gateway: bool = Field(
        False, description="also serve the buyers' OpenAI-compatible gateway at /gateway/v1"
    )
    max_body_bytes: int = Field(
        MIB, ge=1024, le=1024 * MIB, description="largest request body; larger ones get 413"
    )
    rate_limit_per_key: str = Field(
        "1200/minute", description="requests per API key (limits syntax; empty: no limit)"
    )
    rate_limit_per_ip: str = Field(
        "3000/minute", description="requests per client address (empty: no limit)"
    )
    rate_limit_auth_failures: str = Field(
        "30/minute", description="requests with an unknown key per client address"
    )
    rate_limit_storage: str = Field(
        "memory://",
        description="where counters live: memory:// (one node) or redis://host:port (several)",
    )
    rate_limit_prefix: str = Field(
        "suanli-ratelimit", max_length=100, description="prefix of the counters' keys in Redis"
    )
    metrics_dir: str | None = Field(
        None,
        description="folder for prometheus_client's multiprocess files "
        "(suanli serve makes a fresh one when unset)",
    )
    shutdown_grace_s: float = Field(
        5.0, ge=0, le=600, description="seconds a worker waits for open requests on SIGTERM"
    )

    @field_validator("rate_limit_per_key", "rate_limit_per_ip", "rate_limit_auth_failures")
    @classmethod
    def _limit_syntax(cls, value: str) -> str:
        if value.strip():
            from limits import parse_many

            try:
                parse_many(value)
            except ValueError as exc:
                raise ValueError(
                    f"{value!r} is not a rate limit such as '100/minute' or '10/second'"
                ) from exc
        return value.strip()


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with ``overrides`` (None values ignored) on top; a bad
    value is an :class:`~suanli.errors.InvalidRequest` naming its variable."""
    from pydantic import ValidationError

    from suanli.errors import InvalidRequest

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first.get("loc") else "?"
        variable = ENV_PREFIX + name.upper()
        raise InvalidRequest(
            f"setting {variable}: {first['msg']}",
            field=variable,
            hint=f"fix or unset {variable} (see the settings table in the README)",
        ) from None


def settings_table() -> str:
    """A Markdown table of every setting: variable, default, meaning."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(unset)" if default is None else f"`{default}`"
        rows.append(f"| `{ENV_PREFIX}{name.upper()}` | {shown} | {field.description} |")
    return "\n".join(rows)
