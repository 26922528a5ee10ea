"""The local half of a service's configuration: what Terraform leaves to variables.

A TOML file lists the fronted services. Each names its Terraform file (literal settings are read
from there) and supplies what only exists in the cloud: the command that runs the container,
the listening port, the URL used as token audience, the issuers whose tokens are trusted, and a
concrete member list for every member expression in the invoker bindings. Local-only knobs
(idle period, queue bounds) and test overrides of Terraform values live here too.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .cpus import parse_cpu
from .environment import DEFAULT_INHERIT, MODES
from .terraform import Probe, TerraformService, read_service

# gcloud's own OAuth client: the `aud` of the ID token gcloud prints for a user account.
GCLOUD_CLIENT_ID = "32555940559.apps.googleusercontent.com"

DEFAULT_ISSUER = "http://127.0.0.1:8124"
JWKS_PATH = "/oauth2/v3/certs"
# Cloud Run scales an idle instance in after up to 15 minutes.
DEFAULT_IDLE_SECONDS = 900.0
# Cloud Run holds a request that finds no free instance for up to 10 s (or 3.5 x the average
# startup time when longer: pool.py), then answers 429 ("about instance autoscaling").
DEFAULT_QUEUE_SECONDS = 10.0
DEFAULT_QUEUE_LENGTH = 1000
SHUTDOWN_GRACE_SECONDS = 10.0
MAX_REQUEST_BYTES = 32 * 1024 * 1024
MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # HTTP/1, unless chunked or streamed
PUBLIC = "allUsers"
ANY_AUTHENTICATED = "allAuthenticatedUsers"


class ConfigError(ValueError):
    """The local config is missing something or contradicts the Terraform file."""


@dataclass(frozen=True)
class Issuer:
    issuer: str
    jwks_uri: str


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    port: int
    command: tuple[str, ...]
    url: str
    terraform: TerraformService
    members: frozenset[str]
    issuers: tuple[Issuer, ...]
    audiences: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    container_port: int = 0  # 0: a free port picked at each start
    env: dict[str, str] = field(default_factory=dict)
    # "declared": what Terraform declares, `inherit`, `env_overrides` and `env` (environment.py);
    # "inherited": the front door's whole environment and `env`.
    environment: str = "declared"
    inherit: tuple[str, ...] = DEFAULT_INHERIT
    env_overrides: tuple[str, ...] = ()  # door variables that win over Terraform literals
    # Variables naming a directory each instance must have to itself, as every Cloud Run
    # instance has its own /tmp: the second instance gets `<value>-instance-2`, and so on.
    private_dirs: tuple[str, ...] = ()
    workdir: str | None = None
    idle_seconds: float = DEFAULT_IDLE_SECONDS
    queue_seconds: float = DEFAULT_QUEUE_SECONDS
    queue_length: int = DEFAULT_QUEUE_LENGTH
    shutdown_grace_seconds: float = SHUTDOWN_GRACE_SECONDS
    start_on_boot: bool = True
    revision: str = ""
    # X-Forwarded-Proto as the container sees it; "" is the scheme the client used here.
    # Cloud Run sends "https"; tests set that to see the URLs an app builds there.
    forwarded_proto: str = ""

    @property
    def public(self) -> bool:
        return PUBLIC in self.members

    def accepted_audiences(self) -> frozenset[str]:
        """The service URL, its custom audiences, and gcloud's own client: Cloud Run lets in
        the token `gcloud auth print-identity-token` prints for a user, whose `aud` is that
        client (gcloud takes `--audiences` from service accounts only)."""
        base = self.url.rstrip("/")
        return frozenset({base, base + "/", GCLOUD_CLIENT_ID, *self.audiences})


def _resolve_members(tf: TerraformService, mapping: dict[str, Any]) -> frozenset[str]:
    members: set[str] = {PUBLIC} if tf.invoker_iam_disabled else set()
    unmapped: list[str] = []
    for member in tf.invoker_members:
        if ":" in member or member in (PUBLIC, ANY_AUTHENTICATED):
            members.add(member)
        elif member in mapping:
            value = mapping[member]
            members.update([value] if isinstance(value, str) else list(value))
        else:
            unmapped.append(member)
    if unmapped:
        raise ConfigError(
            f"{tf.resource}: map these Terraform member expressions under [service.members]: "
            + ", ".join(unmapped)
        )
    return frozenset(members)


def _overrides(tf: TerraformService, table: dict[str, Any]) -> TerraformService:
    """Test and local overrides of Terraform values, e.g. a 1 s timeout or faster probes."""
    changes: dict[str, Any] = {}
    keys = ("timeout_seconds", "concurrency", "cpu_idle", "max_instances", "memory_bytes")
    for key in (*keys, "startup_cpu_boost"):
        if key in table:
            changes[key] = table[key]
    if "cpu" in table:
        try:
            changes["cpu"] = parse_cpu(str(table["cpu"]))
        except ValueError as exc:
            raise ConfigError(f"{tf.resource}: overrides: {exc}") from exc
    for probe in ("startup_probe", "liveness_probe"):
        if probe in table:
            current: Probe | None = getattr(tf, probe)
            if current is None:
                raise ConfigError(f"{tf.resource}: no {probe} in Terraform to override")
            changes[probe] = replace(current, **table[probe])
    return replace(tf, **changes)


def _issuers(raw: list[Any]) -> tuple[Issuer, ...]:
    out: list[Issuer] = []
    for item in raw:
        if isinstance(item, str):
            out.append(Issuer(item.rstrip("/"), item.rstrip("/") + JWKS_PATH))
        else:
            issuer = str(item["issuer"]).rstrip("/")
            out.append(Issuer(issuer, str(item.get("jwks_uri", issuer + JWKS_PATH))))
    return tuple(out)


def service_from_table(table: dict[str, Any], base: Path) -> ServiceConfig:
    try:
        name = str(table["name"])
        port = int(table["port"])
        command = tuple(str(part) for part in table["command"])
        tf_path = base / str(table["terraform"])
    except KeyError as exc:
        raise ConfigError(f"service needs {exc.args[0]!r}") from exc
    tf = _overrides(read_service(tf_path, table.get("resource")), table.get("overrides", {}))
    host = str(table.get("host", "127.0.0.1"))
    environment = str(table.get("environment", "declared"))
    if environment not in MODES:
        raise ConfigError(f"{name}: environment = {environment!r}; one of {', '.join(MODES)}")
    forwarded_proto = str(table.get("forwarded_proto", ""))
    if forwarded_proto not in ("", "http", "https"):
        raise ConfigError(f"{name}: forwarded_proto = {forwarded_proto!r}; http or https")
    return ServiceConfig(
        name=name,
        port=port,
        command=command,
        url=str(table.get("url", f"http://{host}:{port}")),
        terraform=tf,
        members=_resolve_members(tf, table.get("members", {})),
        issuers=_issuers(table.get("issuers", [DEFAULT_ISSUER])),
        audiences=tuple(table.get("audiences", ())),
        host=host,
        container_port=int(table.get("container_port", 0)),
        env={str(k): str(v) for k, v in table.get("env", {}).items()},
        environment=environment,
        inherit=(*DEFAULT_INHERIT, *(str(p) for p in table.get("inherit", ()))),
        env_overrides=tuple(str(n) for n in table.get("env_overrides", ())),
        private_dirs=tuple(str(name) for name in table.get("private_dirs", ())),
        workdir=str(base / table["workdir"]) if "workdir" in table else None,
        idle_seconds=float(table.get("idle_seconds", DEFAULT_IDLE_SECONDS)),
        queue_seconds=float(table.get("queue_seconds", DEFAULT_QUEUE_SECONDS)),
        queue_length=int(table.get("queue_length", DEFAULT_QUEUE_LENGTH)),
        shutdown_grace_seconds=float(table.get("shutdown_grace_seconds", SHUTDOWN_GRACE_SECONDS)),
        start_on_boot=bool(table.get("start_on_boot", True)),
        revision=str(table.get("revision", f"{name}-00001-local")),
        forwarded_proto=forwarded_proto,
    )


def load(path: Path) -> list[ServiceConfig]:
    """Every [[service]] in the TOML file at `path`; relative paths are from its folder."""
    with path.open("rb") as handle:
        doc = tomllib.load(handle)
    tables = doc.get("service", [])
    if not tables:
        raise ConfigError(f"{path}: no [[service]] tables")
    services = [service_from_table(t, path.parent) for t in tables]
    ports = [s.port for s in services]
    if len(set(ports)) != len(ports):
        raise ConfigError(f"{path}: two services share a port")
    return services
