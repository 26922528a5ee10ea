"""`thoth model export-onnx`, `thoth model show`: the embedding model's files."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from thoth.cli.context import console, friendly_errors
from thoth.config import get_settings

model_app = typer.Typer(help="The embedding model: its ONNX export, which encoder serves.")

ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="Model name or path; default THOTH_EMBEDDING_MODEL."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model", no_args_is_help=True)


@model_app.command("export-onnx")
def export_onnx_command(
    model: ModelOption = None,
    force: Annotated[bool, typer.Option(help="Export again even if the file exists.")] = False,
) -> None:
    """Write the model's ONNX export, which the MCP server embeds queries with.

    Queries embed ~3x faster with it. Needs torch: run it where the image or virtualenv is
    built."""
    from thoth.embedding import EmbeddingModelError
    from thoth.embedding.onnx_export import export_onnx

    name = model or get_settings().embedding_model
    start = time.perf_counter()
    status = console.status(f"exporting {name} to ONNX (torch import, export, check)")
    with friendly_errors(EmbeddingModelError), status:
        path, written = export_onnx(name, force=force)
    seconds = time.perf_counter() - start
    if written:
        console.print(
            f"wrote {path.parent} in {seconds:.1f} s (fp32 and int8, checked)", soft_wrap=True
        )
    else:
        console.print(f"up to date: {path} (--force exports again)", soft_wrap=True)


@model_app.command("show")
def show_command(model: ModelOption = None) -> None:
    """Say where the model is, its ONNX files, and the query encoder the MCP server picks.

    The encoder follows THOTH_EMBEDDING_VARIANT."""
    from pathlib import Path

    from thoth.embedding import (
        VARIANTS,
        EmbeddingModelError,
        load_query_encoder,
        resolve_model,
        variant_file,
    )

    settings = get_settings()
    name = model or settings.embedding_model
    with friendly_errors(EmbeddingModelError):
        encoder = load_query_encoder(name, settings.embedding_variant)
    location = Path(resolve_model(name))
    files = [v for v in VARIANTS if variant_file(location, v).is_file()]
    typer.echo(f"model:         {name}")
    typer.echo(f"location:      {location}")
    typer.echo(f"onnx files:    {', '.join(files) or 'none (thoth model export-onnx)'}")
    typer.echo(f"variant:       {settings.embedding_variant}")
    typer.echo(f"query encoder: {type(encoder).__name__}")
    typer.echo(f"dimensions:    {encoder.dimensions}")
