"""`metadata-server-emulator [serve] [options]` and `metadata-server-emulator token ...`.

Every option also reads an environment variable (METADATA_SERVER_EMULATOR_*); the flag wins.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .routes import Identity
from .server import Settings, serve
from .signing import GCLOUD_CLIENT_ID, Signer

ENV = "METADATA_SERVER_EMULATOR_"
DEFAULTS = Settings()


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV + name, default)


def _signing_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--issuer",
        default=_env("ISSUER", DEFAULTS.issuer),
        help="`iss` of ID tokens: the Cloud Tasks emulator's HTTP URL, whose JWKS covers the "
        "shared key [env METADATA_SERVER_EMULATOR_ISSUER]",
    )
    p.add_argument(
        "--signing-key",
        default=_env("SIGNING_KEY", str(DEFAULTS.signing_key)),
        metavar="PEM_FILE",
        help="RSA key shared with the Cloud Tasks emulator, created (0600) if missing "
        "[env METADATA_SERVER_EMULATOR_SIGNING_KEY]",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="metadata-server-emulator",
        description="Local GCE/Cloud Run metadata server: ID and access tokens for a service "
        "account, project and region; point google-auth at it with GCE_METADATA_HOST "
        "and GCE_METADATA_IP.",
    )
    sub = p.add_subparsers(dest="command")
    serve_p = sub.add_parser("serve", help="run the server (the default)")
    for target in (p, serve_p):
        target.add_argument("--host", default=_env("BIND_HOST", DEFAULTS.host))
        target.add_argument("--port", type=int, default=int(_env("PORT", str(DEFAULTS.port))))
        target.add_argument(
            "--service-account",
            default=_env("SERVICE_ACCOUNT", DEFAULTS.identity.email),
            help="email of the default service account [env ..._SERVICE_ACCOUNT]",
        )
        target.add_argument(
            "--extra-identity",
            action="append",
            default=[],
            metavar="PORT=EMAIL",
            help="also listen on PORT as EMAIL, e.g. one port per calling service (repeatable)",
        )
        target.add_argument("--project-id", default=_env("PROJECT_ID", "local-project"))
        target.add_argument(
            "--numeric-project-id", default=_env("NUMERIC_PROJECT_ID", "123456789012")
        )
        target.add_argument("--region", default=_env("REGION", "us-central1"))
        _signing_args(target)
    token_p = sub.add_parser(
        "token", help="print an ID token for a user, as `gcloud auth print-identity-token`"
    )
    token_p.add_argument("--email", required=True)
    token_p.add_argument(
        "--audience",
        default=GCLOUD_CLIENT_ID,
        help="the token's aud (default: gcloud's own client, as gcloud gives a user)",
    )
    _signing_args(token_p)
    return p


def _settings(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Settings:
    extra: dict[int, str] = {}
    for item in args.extra_identity:
        port, sep, email = item.partition("=")
        if not sep or not port.isdigit() or "@" not in email:
            parser.error(f"--extra-identity wants PORT=EMAIL, got {item!r}")
        extra[int(port)] = email
    identity = Identity(args.service_account, args.project_id, args.numeric_project_id, args.region)
    return Settings(
        host=args.host,
        port=args.port,
        identity=identity,
        issuer=args.issuer,
        signing_key=Path(args.signing_key),
        extra=extra,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "token":
        signer = Signer(args.issuer, Path(args.signing_key))
        print(signer.user_token(args.email, args.audience))
        return
    try:
        asyncio.run(serve(_settings(args, parser)))
    except OSError as exc:
        print(f"metadata-server-emulator: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
