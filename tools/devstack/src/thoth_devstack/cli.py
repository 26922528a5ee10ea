"""`thoth dev up|down|status|logs|env`: the local stack without Docker (`make up`, `make down`).

`thoth.cli` adds this group when the package is installed (the development virtualenv)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from thoth.cli.context import console, friendly_errors, out

dev_app = typer.Typer(help="The local stack: emulators + both services, no Docker.")
SAMPLE = "How many days of paid time off do we get?"


@dev_app.command("up")
def up_command(
    handbook: Annotated[
        Path | None,
        typer.Option(
            help="Folder ingested as the 'handbook' source (default: examples/handbook).",
            exists=True,
        ),
    ] = None,
    ingest: Annotated[bool, typer.Option(help="Ingest the handbook after start.")] = True,
) -> None:
    """Start the local stack, ingest the sample handbook, return once it answers searches.

    The stack: fake GCS, the Cloud Tasks emulator, the metadata server, the local GitLab, the
    worker, the webhook receiver and the MCP server (each behind its Cloud Run front door)."""
    from thoth.ingest.pipeline.start import JobConflict
    from thoth_devstack.processes import StackError
    from thoth_devstack.services import SAMPLE_HANDBOOK, STATE_DIR
    from thoth_devstack.stack import up, wait_searchable

    with friendly_errors(StackError, JobConflict):
        started = up(STATE_DIR, console.print)
        if started:
            _fail_orphans()
        else:
            console.print("the stack is already running (`make down` stops it)")
        if ingest:
            _ingest(handbook or SAMPLE_HANDBOOK)
        wait_searchable(STATE_DIR)
    _print_endpoints()
    _sample_search()


@dev_app.command("down")
def down_command() -> None:
    """Stop exactly the processes `thoth dev up` started."""
    from thoth_devstack.services import STATE_DIR
    from thoth_devstack.stack import down

    down(STATE_DIR, console.print)
    console.print("stack stopped")


@dev_app.command("status")
def status_command() -> None:
    """Each service: pid, health, ports, log file."""
    from rich.table import Table

    from thoth_devstack.services import STATE_DIR
    from thoth_devstack.stack import status

    table = Table("service", "pid", "health", "ports", "log")
    rows = status(STATE_DIR)
    for row in rows:
        health = "[green]healthy[/green]" if row.healthy else "[red]down[/red]"
        ports = ", ".join(map(str, row.ports))
        table.add_row(row.name, str(row.pid or "-"), health, ports, str(row.log))
    out.print(table)
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


@dev_app.command("logs")
def logs_command(
    service: Annotated[str | None, typer.Argument(help="One service; all when omitted.")] = None,
    follow_: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
    lines: Annotated[int, typer.Option("-n", help="Lines from the end.")] = 40,
) -> None:
    """Print the stack's logs (they live under .thoth/dev/logs/)."""
    from thoth_devstack.services import STATE_DIR, services

    names = [s.name for s in services(STATE_DIR)]
    if service is not None and service not in names:
        raise typer.BadParameter(f"unknown service {service!r}; one of {', '.join(names)}")
    files = [STATE_DIR / "logs" / f"{name}.log" for name in ([service] if service else names)]
    files = [f for f in files if f.exists()]
    if not files:
        console.print("no logs yet: run `make up`")
        raise typer.Exit(1)
    command = ["tail", f"-n{lines}", *(["-F"] if follow_ else []), *map(str, files)]
    raise typer.Exit(subprocess.call(command))


@dev_app.command("token")
def token_command(
    audience: Annotated[
        str | None,
        typer.Option(
            help="The audience (a service URL). Default: gcloud's own client, the audience "
            "`gcloud auth print-identity-token` gives a user account, which Cloud Run accepts."
        ),
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="Whose token (default: the stack's user).")
    ] = None,
) -> None:
    """Print an ID token for a local user, as `gcloud auth print-identity-token` does.

    curl -H "Authorization: Bearer $(thoth dev token)" http://127.0.0.1:8081/v1/jobs"""
    from thoth_devstack.front_door import DEV_USER
    from thoth_devstack.tokens import TokenUnavailable, user_token

    with friendly_errors(TokenUnavailable):
        typer.echo(user_token(audience, email or DEV_USER))


@dev_app.command("env")
def env_command() -> None:
    """Shell exports pointing the CLI at the stack: eval "$(thoth dev env)"."""
    from thoth_devstack.services import STATE_DIR, stack_env

    for key, value in stack_env(STATE_DIR).items():
        typer.echo(f"export {key}={shlex.quote(value)}")


def _fail_orphans() -> None:
    """The emulator keeps its queue in memory: jobs running before a restart lost their
    tasks and would hold their source's lock. Mark them failed."""
    from thoth.ingest.pipeline.context import Context
    from thoth_devstack.services import STATE_DIR, stack_settings

    ctx = Context.from_settings(stack_settings(STATE_DIR))
    ctx.store.ensure_bucket()
    for job in ctx.jobs.unfinished():
        ctx.jobs.fail(job.job_id, "the local stack restarted and its task queue was lost")
        console.print(f"marked {job.job_id} ({job.source}) failed: its tasks were lost")


def _ingest(handbook: Path) -> None:
    """The sample handbook comes from the local GitLab (a push updates it through the
    webhook); any other folder is uploaded as the source's files."""
    from thoth.cli.ingest import follow, register_gitlab
    from thoth.ingest.jobs import JobStatus
    from thoth.ingest.pipeline.context import Context
    from thoth.ingest.pipeline.start import start_job
    from thoth.ingest.sources.models import SourceConfig
    from thoth.ingest.sources.registry import save_source
    from thoth.ingest.sources.sync import upload_directory
    from thoth_devstack.processes import StackError
    from thoth_devstack.services import (
        GITLAB_PROJECT,
        SAMPLE_HANDBOOK,
        SOURCE,
        STATE_DIR,
        stack_settings,
    )

    ctx = Context.from_settings(stack_settings(STATE_DIR))
    ctx.store.ensure_bucket()
    if handbook.resolve() == SAMPLE_HANDBOOK.resolve():
        register_gitlab(ctx, SOURCE, GITLAB_PROJECT, "main")
    else:
        save_source(ctx.store, SourceConfig(name=SOURCE, kind="upload", base_url=None))
        report = upload_directory(ctx.store, SOURCE, handbook)
        console.print(f"handbook: {report.summary()}")
    job = start_job(ctx, SOURCE)
    result = follow(ctx, job.job_id, timeout=1800)
    if result.job.status != JobStatus.succeeded:
        raise StackError(f"ingesting the handbook failed: {result.job.error}")
    counts = result.counts
    console.print(
        f"indexed: {counts.chunks_total} chunks ({counts.chunks_embedded} embedded now), "
        f"{counts.failed} files failed"
    )


def _print_endpoints() -> None:
    from thoth_devstack.services import STATE_DIR
    from thoth_devstack.stack import endpoints

    console.print("\n[bold]Thoth is up[/bold]")
    for name, url in endpoints(STATE_DIR).items():
        console.print(f"  {name:<22} {url}")
    console.print(f"  {'logs':<22} {STATE_DIR / 'logs'}/ (thoth dev logs [SERVICE])")


def _sample_search() -> None:
    from thoth_devstack.probe import mcp_search
    from thoth_devstack.services import STATE_DIR, stack_settings
    from thoth_devstack.tokens import iam_headers

    url = f"http://127.0.0.1:{stack_settings(STATE_DIR).port}"
    results = mcp_search(f"{url}/mcp", SAMPLE, headers=iam_headers(url))
    console.print(f'\nsample search over MCP: "{SAMPLE}"')
    for rank, hit in enumerate(results, start=1):
        console.print(f"  {rank}. {hit['path']} — {hit['heading']} ({hit['score']:.2f})")
