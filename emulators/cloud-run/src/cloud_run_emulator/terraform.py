"""Reads a `google_cloud_run_v2_service` and its invoker bindings from Terraform HCL.

Literal settings (timeout, concurrency, cpu_idle, CPU and memory limits, scaling, probes) and
the container's `env` names come straight from the .tf file, so a change there changes the
emulator. Members that
are expressions (variables, resource attributes) stay as expression text, e.g.
`var.invoker_members`; the local config maps each one to concrete members.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import hcl2

from .cpus import DEFAULT_CPU, parse_cpu
from .memory import parse_quantity

SERVICE_TYPE = "google_cloud_run_v2_service"
IAM_TYPES = ("google_cloud_run_v2_service_iam_member", "google_cloud_run_v2_service_iam_binding")
INVOKER_ROLE = "roles/run.invoker"
# Cloud Run's defaults when the block or attribute is absent.
DEFAULT_TIMEOUT_SECONDS = 300.0
DEFAULT_CONCURRENCY = 80
DEFAULT_MAX_INSTANCES = 100
DEFAULT_MEMORY = "512Mi"


class TerraformError(ValueError):
    """The .tf file lacks what the emulator needs, or holds a value it cannot read."""


@dataclass(frozen=True)
class Probe:
    kind: str  # "http" or "tcp"
    path: str = "/"
    initial_delay_seconds: float = 0.0
    period_seconds: float = 10.0
    timeout_seconds: float = 1.0
    failure_threshold: int = 3
    wait_for_port: bool = False  # a TCP attempt keeps dialling until its timeout


# Cloud Run's default startup probe: TCP on the container port, waiting up to 240 s for the
# container to listen (a refused connection is not yet a failure).
DEFAULT_STARTUP_PROBE = Probe(
    kind="tcp",
    period_seconds=240.0,
    timeout_seconds=240.0,
    failure_threshold=1,
    wait_for_port=True,
)


# Set by Cloud Run itself (container contract); the API refuses a service declaring them.
RESERVED_ENV = frozenset({"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"})


class EnvKind(Enum):
    LITERAL = "literal"  # the value as deployed ("" when the block has none)
    EXPRESSION = "expression"  # a variable or resource attribute: the local side supplies it
    SECRET = "secret"  # noqa: S105 (a kind, not a password). value_source: an instance whose secret cannot be read does not start
    OPTIONAL = "optional"  # a `dynamic "env"` block: present only in some deployments


@dataclass(frozen=True)
class EnvVar:
    """One `env` block of the container; `value` only for a literal."""

    name: str
    kind: EnvKind
    value: str | None = None


@dataclass(frozen=True)
class TerraformService:
    resource: str
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    concurrency: int = DEFAULT_CONCURRENCY
    cpu_idle: bool = True
    min_instances: int = 0
    max_instances: int = DEFAULT_MAX_INSTANCES
    container_port: int = 8080
    memory_bytes: int = 512 * 1024 * 1024  # resources.limits.memory
    cpu: float = 1.0  # resources.limits.cpu, in vCPUs
    startup_cpu_boost: bool = False
    startup_probe: Probe = DEFAULT_STARTUP_PROBE
    liveness_probe: Probe | None = None
    # Literal members ("allUsers", "serviceAccount:x") or expressions ("var.invoker_members").
    invoker_members: tuple[str, ...] = field(default_factory=tuple)
    # invoker_iam_disabled = true: Cloud Run skips the invoker check, as for allUsers.
    invoker_iam_disabled: bool = False
    env: tuple[EnvVar, ...] = field(default_factory=tuple)


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _expression(value: str) -> str | None:
    """`var.x` for "${var.x}", None for a literal."""
    match = re.fullmatch(r"\$\{(.*)\}", value.strip())
    return match.group(1).strip() if match else None


def _block(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    blocks = body.get(name)
    if not blocks:
        return None
    if isinstance(blocks, list):
        return blocks[0] if isinstance(blocks[0], dict) else None
    return blocks if isinstance(blocks, dict) else None


def _literal(body: dict[str, Any], key: str, default: Any) -> Any:
    if key not in body:
        return default
    value = _unquote(body[key])
    if isinstance(value, str) and _expression(value) is not None:
        raise TerraformError(f"{key} = {value} is an expression; the emulator needs a literal")
    return value


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(text))
    if not match:
        raise TerraformError(f"duration {text!r} is not of the form '300s'")
    return float(match.group(1))


def _probe(container: dict[str, Any], name: str) -> Probe | None:
    body = _block(container, name)
    if body is None:
        return None
    http = _block(body, "http_get")
    kind = "http" if http is not None else "tcp"
    if kind == "tcp" and _block(body, "tcp_socket") is None:
        raise TerraformError(f"{name}: only http_get and tcp_socket probes are emulated")
    return Probe(
        kind=kind,
        path=str(_literal(http, "path", "/")) if http is not None else "/",
        initial_delay_seconds=float(_literal(body, "initial_delay_seconds", 0)),
        period_seconds=float(_literal(body, "period_seconds", 10)),
        timeout_seconds=float(_literal(body, "timeout_seconds", 1)),
        failure_threshold=int(_literal(body, "failure_threshold", 3)),
    )


def _env(container: dict[str, Any]) -> tuple[EnvVar, ...]:
    blocks = container.get("env") or []
    listed = blocks if isinstance(blocks, list) else [blocks]
    found = [_env_var(block, optional=False) for block in listed]
    for dynamic in container.get("dynamic") or []:
        for kind, body in dynamic.items():
            if _unquote(kind) == "env" and isinstance(body, dict):
                found += [_env_var(c, optional=True) for c in body.get("content", [])]
    reserved = sorted(RESERVED_ENV & {var.name for var in found})
    if reserved:
        raise TerraformError(f"env names Cloud Run reserves (the deploy is refused): {reserved}")
    return tuple(found)


def _env_var(block: Any, *, optional: bool) -> EnvVar:
    if not isinstance(block, dict) or "name" not in block:
        raise TerraformError("an env block without a name")
    name = str(_unquote(block["name"]))
    if optional:
        return EnvVar(name, EnvKind.OPTIONAL)
    if "value_source" in block:
        return EnvVar(name, EnvKind.SECRET)
    value = _unquote(block.get("value", ""))
    if isinstance(value, bool):  # HCL true/false reach the container as "true"/"false"
        return EnvVar(name, EnvKind.LITERAL, str(value).lower())
    if isinstance(value, str) and "${" in value:  # whole or partly interpolated
        return EnvVar(name, EnvKind.EXPRESSION)
    return EnvVar(name, EnvKind.LITERAL, str(value))


def _limit(resources: dict[str, Any], key: str, default: str) -> str:
    limits = resources.get("limits") or {}
    if not isinstance(limits, dict):
        raise TerraformError(f"limits = {limits} is an expression; the emulator needs a literal")
    text = str(_unquote(limits.get(key, default)))
    if _expression(text) is not None:
        raise TerraformError(f"{key} = {text} is an expression; the emulator needs a literal")
    return text


def _memory(resources: dict[str, Any]) -> int:
    try:
        return parse_quantity(_limit(resources, "memory", DEFAULT_MEMORY))
    except ValueError as exc:
        raise TerraformError(str(exc)) from exc


def _cpu(resources: dict[str, Any]) -> float:
    try:
        return parse_cpu(_limit(resources, "cpu", DEFAULT_CPU))
    except ValueError as exc:
        raise TerraformError(str(exc)) from exc


def _resources(doc: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for entry in doc.get("resource", []):
        for rtype, named in entry.items():
            if _unquote(rtype) != kind:
                continue
            for name, body in named.items():
                found.append((_unquote(name), body))
    return found


def _members(doc: dict[str, Any], service_resource: str) -> tuple[str, ...]:
    target = f"{SERVICE_TYPE}.{service_resource}.name"
    members: list[str] = []
    for kind in IAM_TYPES:
        for _, body in _resources(doc, kind):
            if _unquote(body.get("role")) != INVOKER_ROLE:
                continue
            if _expression(str(body.get("name", ""))) != target:
                continue
            members.extend(_binding_members(body))
    return tuple(members)


def _binding_members(body: dict[str, Any]) -> list[str]:
    if "members" in body:
        raw = body["members"]
        values = raw if isinstance(raw, list) else [raw]
    else:
        values = [body.get("member", "")]
    out: list[str] = []
    for value in values:
        text = str(_unquote(value))
        expr = _expression(text)
        if expr == "each.key" or expr == "each.value":
            expr = _for_each_source(str(body.get("for_each", "")))
        out.append(expr if expr is not None else text)
    return out


def _for_each_source(for_each: str) -> str:
    expr = _expression(for_each) or for_each
    match = re.fullmatch(r"toset\((.*)\)", expr)
    return (match.group(1) if match else expr).strip()


def read_service(path: Path, resource: str | None = None) -> TerraformService:
    """The Cloud Run service `resource` (or the only one) declared in `path`."""
    with path.open() as handle:
        doc = hcl2.load(handle)
    services = dict(_resources(doc, SERVICE_TYPE))
    if resource is None:
        if len(services) != 1:
            raise TerraformError(f"{path}: {len(services)} Cloud Run services; name one")
        resource = next(iter(services))
    if resource not in services:
        raise TerraformError(f"{path}: no {SERVICE_TYPE}.{resource}")
    return _service(resource, services[resource], _members(doc, resource))


def _service(resource: str, body: dict[str, Any], members: tuple[str, ...]) -> TerraformService:
    template = _block(body, "template") or {}
    scaling = _block(template, "scaling") or {}
    container = _block(template, "containers") or {}
    ports = _block(container, "ports") or {}
    resources = _block(container, "resources")
    limits = resources or {}
    return TerraformService(
        resource=resource,
        timeout_seconds=_seconds(_literal(template, "timeout", f"{DEFAULT_TIMEOUT_SECONDS:g}s")),
        concurrency=int(_literal(template, "max_instance_request_concurrency", 80)),
        # True by default only without a `resources` block: with one, the API (and so the
        # provider) allocates CPU always unless cpu_idle = true is written out.
        cpu_idle=bool(_literal(limits, "cpu_idle", resources is None)),
        min_instances=int(_literal(scaling, "min_instance_count", 0)),
        max_instances=int(_literal(scaling, "max_instance_count", DEFAULT_MAX_INSTANCES)),
        container_port=int(_literal(ports, "container_port", 8080)),
        memory_bytes=_memory(limits),
        cpu=_cpu(limits),
        startup_cpu_boost=bool(_literal(limits, "startup_cpu_boost", False)),
        startup_probe=_probe(container, "startup_probe") or DEFAULT_STARTUP_PROBE,
        liveness_probe=_probe(container, "liveness_probe"),
        invoker_members=members,
        invoker_iam_disabled=bool(_literal(body, "invoker_iam_disabled", False)),
        env=_env(container),
    )
