"""`thoth config`: the settings in effect (secrets masked), or the settings table as markdown."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from thoth.config import Settings, get_settings


def register(app: typer.Typer) -> None:
    app.command("config")(config)


def env_name(name: str, field: FieldInfo) -> str:
    alias = field.validation_alias
    choices = getattr(alias, "choices", None)
    return str(choices[0]) if choices else f"THOTH_{name.upper()}"


def markdown_table() -> str:
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = ",".join(default) if isinstance(default, list) else default
        rows.append(f"| `{env_name(name, field)}` | `{shown}` | {field.description} |")
    return "\n".join(rows)


def config(
    markdown: Annotated[bool, typer.Option(help="Print the settings table instead.")] = False,
) -> None:
    """Show every setting and its current value (from the environment and .env)."""
    if markdown:
        typer.echo(markdown_table())
        return
    settings = get_settings()
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = "********" if value.get_secret_value() else ""
        if name == "mcp_tokens" and value:
            value = f"{len(value)} token(s)"
        typer.echo(f"{env_name(name, field)}={value if value is not None else ''}")
