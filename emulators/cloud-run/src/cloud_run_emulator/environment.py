"""The environment a container starts with.

Cloud Run gives a container the image's own variables, the ones its service declares
(`env` blocks) and PORT and K_*; nothing of the machine that deploys it. So a variable the
code needs but Terraform does not declare is missing there, and must be missing here too:
by default (`environment = "declared"`) the container gets only

- the front door's variables whose names match `inherit` (the stand-in for the image's
  ENV and for local endpoints the cloud provides otherwise: OS basics by default);
- each variable Terraform declares: its literal value, or for an expression or a secret
  the front door's own value of that name (the local stand-in for the variable), if any;
- the TOML's `env`, as written, over all of these.

An inherited name wins over Terraform's literal, so a local setting that overrides a
deployed literal is one the TOML names. `environment = "inherited"` passes the front door's
whole environment on, as a plain process would.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

from .terraform import EnvVar

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


def container_env(
    door_env: Mapping[str, str],
    declared: Iterable[EnvVar],
    local: Mapping[str, str],
    *,
    mode: str = DECLARED,
    inherit: Iterable[str] = DEFAULT_INHERIT,
) -> dict[str, str]:
    """The container's variables, before PORT and K_* are added."""
    if mode == INHERITED:
        return {**door_env, **local}
    patterns = tuple(inherit)
    env: dict[str, str] = {}
    for var in declared:
        value = var.value if var.value is not None else door_env.get(var.name)
        if value is not None:
            env[var.name] = value
    for name, value in door_env.items():
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
            env[name] = value
    return {**env, **local}
