"""`thoth jobs [ID]`: recent jobs, or one job in detail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from thoth.cli.context import friendly_errors, out, pipeline_context

if TYPE_CHECKING:
    from thoth.ingest.jobs import JobProgress

SKIPPED_SHOWN = 10


def register(app: typer.Typer) -> None:
    app.command("jobs")(jobs)
    app.command("cancel")(cancel)


def cancel(job_id: Annotated[str, typer.Argument(help="The job to stop.")]) -> None:
    """Mark a running job failed and release its source, so a new ingest can start.

    Tasks still queued for it find it finished and do nothing."""
    from thoth.bucket.store import NotFound

    store = pipeline_context().jobs
    with friendly_errors(NotFound):
        before, _ = store.get(job_id)
        job = store.fail(job_id, "cancelled by `thoth cancel`")
    if before.status.finished:  # fail() leaves a finished job as it was
        out.print(f"{job.job_id} had already ended ({job.status}); nothing to cancel")
    else:
        out.print(f"{job.job_id}: cancelled; its source is free for a new ingest")


def jobs(
    job_id: Annotated[str | None, typer.Argument(help="Show this job in detail.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
) -> None:
    """List recent ingestion jobs, or show one with its counts and per-file errors."""
    from rich.table import Table

    from thoth.bucket.store import NotFound

    ctx = pipeline_context()
    with friendly_errors(NotFound):
        if job_id:
            print_job(ctx.jobs.progress(job_id))
            return
        table = Table("job", "source", "status", "batches", "embedded", "errors")
        for jid in ctx.jobs.list_ids(limit):
            p = ctx.jobs.progress(jid)
            table.add_row(
                jid,
                p.job.source,
                str(p.job.status),
                f"{p.batches_done}/{p.batches_total}",
                str(p.counts.chunks_embedded),
                str(len(p.errors)),
            )
        out.print(table)


def print_job(progress: JobProgress) -> None:
    job, counts = progress.job, progress.counts
    out.print(f"[bold]{job.job_id}[/bold] source={job.source} status={job.status}")
    out.print(
        f"files: {counts.added} added, {counts.changed} changed, {counts.deleted} deleted, "
        f"{counts.unchanged} unchanged, {counts.skipped} skipped, {counts.failed} failed"
    )
    out.print(
        f"chunks: {counts.chunks_embedded} embedded, {counts.chunks_total} in the index; "
        f"batches {progress.batches_done}/{progress.batches_total}"
    )
    if job.version is not None and job.version != job.job_id:
        out.print(f"nothing changed: version {job.version} stays served")
    if job.error:
        out.print(f"[red]reason:[/red] {job.error}")
    for error in progress.errors[:50]:
        out.print(f"  [yellow]{error.path}[/yellow]: {error.error}")
    if len(progress.errors) > 50:
        out.print(f"  … and {len(progress.errors) - 50} more")
    _print_unsupported(progress)


def _print_unsupported(progress: JobProgress) -> None:
    """Files skipped for their type carry no error, so they are named here: a folder of the
    wrong files must not look like a successful ingest."""
    from thoth.ingest.jobs import JobStatus
    from thoth.parsing import SUPPORTED_EXTENSIONS

    plan = progress.job.plan
    unsupported = [f.path for f in plan.skipped if f.error is None] if plan else []
    if unsupported:
        shown = ", ".join(unsupported[:SKIPPED_SHOWN])
        hidden = len(unsupported) - SKIPPED_SHOWN
        more = f" and {hidden} more" if hidden > 0 else ""
        out.print(f"  [yellow]not a supported type[/yellow] ({len(unsupported)}): {shown}{more}")
    if progress.job.status == JobStatus.succeeded and progress.counts.chunks_total == 0:
        kinds = " ".join(sorted(SUPPORTED_EXTENSIONS))
        out.print(
            f"[yellow]warning:[/yellow] the index of {progress.job.source!r} is empty: "
            f"no file gave any text (supported: {kinds})"
        )
