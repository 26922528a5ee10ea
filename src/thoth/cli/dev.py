"""`thoth dev`: the local stack's commands, from the `thoth-devstack` package when it is
installed (the development virtualenv). The runtime images do not ship it."""

from __future__ import annotations

import importlib.util

import typer

from thoth.cli.context import console

DEVSTACK = "thoth_devstack"


def register(app: typer.Typer) -> None:
    if importlib.util.find_spec(DEVSTACK) is None:
        app.add_typer(_missing, name="dev")
        return
    # Imported only when the package exists; it stands on thoth, never the other way round.
    from thoth_devstack.cli import dev_app

    app.add_typer(dev_app, name="dev")


_missing = typer.Typer(help="The local stack (not installed here: run `make install`).")


@_missing.callback(invoke_without_command=True)
def _not_installed() -> None:
    console.print("[red]error:[/red] the local stack is not installed here; run `make install`")
    raise typer.Exit(1)
