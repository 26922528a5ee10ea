"""`thoth ingest SOURCE [--from-dir DIR | --gitlab PROJECT [--ref REF]] [--full] [--wait]`."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from thoth.cli.context import console, friendly_errors, out, pipeline_context
from thoth.cli.jobs import print_job

if TYPE_CHECKING:
    from thoth.ingest.jobs import JobProgress
    from thoth.ingest.pipeline.context import Context

LISTED_ERRORS = 20  # files a folder upload left out, each named up to this many


def register(app: typer.Typer) -> None:
    app.command()(ingest)


def ingest(
    source: Annotated[str, typer.Argument(help="Source name, e.g. 'handbook'.")],
    from_dir: Annotated[
        Path | None,
        typer.Option(
            "--from-dir",
            exists=True,
            file_okay=False,
            help="Upload this folder as the source's files first (deletions included).",
        ),
    ] = None,
    gitlab: Annotated[
        str | None,
        typer.Option(
            "--gitlab",
            help="Register the source as this GitLab project (id or group/name) first.",
        ),
    ] = None,
    ref: Annotated[
        str | None, typer.Option(help="The branch --gitlab follows (default: main).")
    ] = None,
    full: Annotated[bool, typer.Option(help="Re-embed every file, not only changed ones.")] = False,
    wait: Annotated[bool, typer.Option(help="Follow the job with a progress bar.")] = True,
    base_url: Annotated[
        str | None,
        typer.Option(help="Citation base URL when --from-dir or --gitlab registers the source."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1, help="Give up waiting after this many seconds.")
    ] = 3600,
) -> None:
    """Ingest a source: a new index version when anything changed.

    With --wait, follow the job and exit non-zero if it fails."""
    from thoth.bucket.store import NotFound
    from thoth.ingest.jobs import JobStatus
    from thoth.ingest.pipeline.start import JobConflict, start_job
    from thoth.ingest.sources.registry import UnknownSourceError
    from thoth.paths import UnsafePathError

    _check_registration_options(from_dir, gitlab, ref, base_url)
    if not math.isfinite(timeout):
        raise typer.BadParameter("must be a number of seconds", param_hint="--timeout")
    ctx = pipeline_context()
    with friendly_errors(UnknownSourceError, JobConflict, UnsafePathError, NotFound, ValueError):
        if from_dir is not None:
            # Refused before the upload: a running job must not see its files change, and a
            # refused ingest must leave them as they were. (A job started by the scheduler
            # between this look and start_job still wins; the upload then waits for nothing.)
            running = ctx.jobs.holder(source)
            if running is not None:
                raise JobConflict(source, running)
            _upload(ctx, source, from_dir, base_url)
        if gitlab is not None:
            register_gitlab(ctx, source, gitlab, ref or "main", base_url)
        job = start_job(ctx, source, full=full)
    out.print(f"job [bold]{job.job_id}[/bold] started for source [bold]{source}[/bold]")
    if not wait:
        return
    try:
        final = follow(ctx, job.job_id, timeout)
    except KeyboardInterrupt:
        console.print(f"stopped following; {_goes_on(job.job_id)}")
        raise typer.Exit(130) from None
    print_job(final)
    if final.job.status != JobStatus.succeeded:
        console.print(
            f"[red]job {final.job.status}[/red]" + ("" if final.job.error else ": see errors above")
        )
        raise typer.Exit(1)


def _check_registration_options(
    from_dir: Path | None, gitlab: str | None, ref: str | None, base_url: str | None
) -> None:
    """Options that only mean something while registering a source are refused without one,
    rather than ignored (the stored configuration would stay as it was)."""
    if from_dir is not None and gitlab is not None:
        raise typer.BadParameter("give --from-dir or --gitlab, not both")
    if ref is not None and gitlab is None:
        raise typer.BadParameter("--ref needs --gitlab (it names the branch to follow)")
    if base_url is not None and from_dir is None and gitlab is None:
        raise typer.BadParameter(
            "--base-url needs --from-dir or --gitlab (it is stored when the source is registered)"
        )


def register_gitlab(
    ctx: Context, source: str, project: str, ref: str, base_url: str | None = None
) -> None:
    """Register `source` as a GitLab project's branch (the worker syncs it from there)."""
    from thoth.ingest.sources.models import SourceConfig
    from thoth.ingest.sources.registry import save_source

    ctx.store.ensure_bucket()
    config = SourceConfig(
        name=source, kind="gitlab", gitlab_project=project, gitlab_ref=ref, base_url=base_url
    )
    save_source(ctx.store, config)
    console.print(f"source {source}: GitLab project {project} at {ref}")


def _upload(ctx: Context, source: str, directory: Path, base_url: str | None) -> None:
    from thoth.ingest.sources.models import SourceConfig
    from thoth.ingest.sources.registry import UnknownSourceError, get_source, save_source
    from thoth.ingest.sources.sync import upload_directory

    ctx.store.ensure_bucket()
    try:
        config: SourceConfig | None = get_source(ctx.store, source)
    except UnknownSourceError:
        config = None
    kept_url = config.base_url if config is not None else None
    wanted = SourceConfig(name=source, kind="upload", base_url=base_url or kept_url)
    if config != wanted:
        save_source(ctx.store, wanted)
    if config is not None and config.kind != "upload":
        # The folder becomes the source's files: a sync from GitLab would replace them.
        console.print(f"source {source} was a {config.kind} source; now its files are uploaded")
    report = upload_directory(ctx.store, source, directory)
    console.print(
        f"uploaded {directory}: {report.added} added, {report.changed} changed, "
        f"{report.deleted} deleted, {report.unchanged} unchanged"
    )
    for error in report.errors[:LISTED_ERRORS]:  # left out: named, not only counted
        console.print(
            f"[yellow]not uploaded:[/yellow] {error.path}: {error.message}", soft_wrap=True
        )
    if len(report.errors) > LISTED_ERRORS:
        console.print(f"... and {len(report.errors) - LISTED_ERRORS} more not uploaded")


def _goes_on(job_id: str) -> str:
    return (
        f"job {job_id} goes on. Follow it with `thoth jobs {job_id}`, stop it with "
        f"`thoth cancel {job_id}`"
    )


def follow(ctx: Context, job_id: str, timeout: float) -> JobProgress:
    """Poll the job until it ends, drawing a progress bar over its batches."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    deadline = time.monotonic() + timeout
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("planning", total=None)
        while True:
            progress = ctx.jobs.progress(job_id)
            total = progress.batches_total or None
            label = f"{progress.job.status} · {progress.counts.chunks_embedded} chunks embedded"
            bar.update(task, total=total, completed=progress.batches_done, description=label)
            if progress.job.status.finished:
                return progress
            if time.monotonic() > deadline:
                console.print(
                    f"[red]gave up waiting after {timeout:.0f}s[/red]; {_goes_on(job_id)}"
                )
                raise typer.Exit(2)
            time.sleep(0.5)
