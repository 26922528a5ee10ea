"""The environment a container starts with.

Cloud Run gives a container the image's own variables, the ones its service declares
(`env` blocks, which win over the image's), and PORT and K_*; nothing of the machine that
deploys it. So a variable the code needs but Terraform does not declare is missing there, and
must be missing here too: by default (`environment = "declared"`) the container gets, each
over the one before,

- the front door's variables whose names match `inherit`: the stand-in for the image's ENV
  and for local endpoints the cloud provides otherwise (OS basics by default);
- each variable Terraform declares: its literal value, or for an expression, a secret or a
  `dynamic` block the front door's own value of that name (the local stand-in), if any;
- the front door's value of each name in `env_overrides`: a local difference from a deployed
  literal, named as such (e.g. text logs where Terraform asks for json);
- the TOML's `env`, as written.

A declared secret that nothing local supplies stops the instance from starting, as Cloud Run
does not start an instance whose secret it cannot read. `environment = "inherited"` passes
the front door's whole environment on, as a plain child process would.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

from .terraform import EnvKind, EnvVar

DECLARED = "declared"
INHERITED = "inherited"
MODES = (DECLARED, INHERITED)
# What a container image's base layers commonly set, and what a Python process needs to run.
DEFAULT_INHERIT = (
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_*",
    "TZ",
    "TMPDIR",
    "PYTHON*",
    "VIRTUAL_ENV",
    "SSL_CERT_*",
)


def inherited(name: str, patterns: Iterable[str]) -> bool:
    """Whether `inherit` patterns (fnmatch, case-sensitive) name the variable `name`."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def container_env(
    door_env: Mapping[str, str],
    declared: Iterable[EnvVar],
    local: Mapping[str, str],
    *,
    mode: str = DECLARED,
    inherit: Iterable[str] = DEFAULT_INHERIT,
    overrides: Iterable[str] = (),
) -> dict[str, str]:
    """The container's variables, before PORT and K_* are added."""
    if mode == INHERITED:
        return {**door_env, **local}
    patterns = tuple(inherit)
    env = {name: value for name, value in door_env.items() if inherited(name, patterns)}
    for var in declared:
        value = var.value if var.kind is EnvKind.LITERAL else door_env.get(var.name)
        if value is not None:
            env[var.name] = value
    env.update({name: door_env[name] for name in overrides if name in door_env})
    return {**env, **local}


def missing_secrets(
    door_env: Mapping[str, str], declared: Iterable[EnvVar], local: Mapping[str, str]
) -> list[str]:
    """Declared secrets with no local value: an instance needing them cannot start."""
    return [
        var.name
        for var in declared
        if var.kind is EnvKind.SECRET and var.name not in local and var.name not in door_env
    ]
