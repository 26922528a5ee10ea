"""Git LFS over HTTP at `/<namespace>/<project>.git/...`: the batch API and the basic
transfer that `git lfs push` and `git lfs pull` use, with GitLab's object URLs
(`gitlab-lfs/objects/<oid>/<size>` to upload, `gitlab-lfs/objects/<oid>` to download).

Objects live in the bare repository, under `lfs/objects/<oid[0:2]>/<oid[2:4]>/<oid>`; the
REST API serves them for `repository/files/:path/raw?lfs=true` (repository_api)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from .auth import Caller, TokenCheck
from .entities import Urls
from .projects import Project, ProjectRegistry
from .repository import Repository

_LFS_PATH = re.compile(
    r"^/(?P<project>.+?)\.git/(?:info/lfs/objects/(?P<batch>batch)"
    r"|gitlab-lfs/objects/(?P<oid>[0-9a-f]{64})(?:/(?P<size>[0-9]+))?)$"
)
LFS_MEDIA = "application/vnd.git-lfs+json"
_OID = re.compile(r"^[0-9a-f]{64}$")


def is_lfs_path(path: str) -> bool:
    return _LFS_PATH.match(path) is not None


class LfsHttp:
    def __init__(self, projects: ProjectRegistry, tokens: TokenCheck, urls: Urls) -> None:
        self.projects = projects
        self.tokens = tokens
        self.urls = urls

    async def handle(self, request: Request) -> Response:
        match = _LFS_PATH.match(request.url.path)
        if match is None:
            return PlainTextResponse("Not Found\n", status_code=404)
        caller = self.tokens.git_caller(request.headers)
        project = self.projects.get(match["project"])
        # An upload needs a token; the batch API checks its operation itself.
        if project is None or not _allowed(caller, project, write=request.method == "PUT"):
            return _lfs_error(404 if caller.authenticated else 401, "Access denied")
        repo = self.projects.repository(project)
        if match["batch"]:
            if request.method != "POST":
                return PlainTextResponse("Not Found\n", status_code=404)
            return await self._batch(request, caller, project, repo)
        if request.method == "PUT" and match["size"] is not None:
            return await self._upload(request, repo, match["oid"], int(match["size"]))
        if request.method == "GET" and match["size"] is None:
            data = repo.lfs_object(match["oid"])
            if data is None:
                return _lfs_error(404, "Object does not exist on the server")
            return Response(data, media_type="application/octet-stream")
        return PlainTextResponse("Not Found\n", status_code=404)

    async def _batch(
        self, request: Request, caller: Caller, project: Project, repo: Repository
    ) -> Response:
        try:
            body = json.loads(await request.body())
            operation, objects = body["operation"], body["objects"]
        except (ValueError, KeyError, TypeError):
            return _lfs_error(422, "Unprocessable entity")
        if operation not in ("upload", "download") or not isinstance(objects, list):
            return _lfs_error(422, "Unprocessable entity")
        if operation == "upload" and not caller.authenticated:
            return _lfs_error(401, "Access denied")
        base = f"{self.urls.http_git(project)}/gitlab-lfs/objects"
        auth = {"Authorization": request.headers.get("Authorization", "")}
        answered = [_batch_object(item, operation, base, auth, repo) for item in objects]
        return JSONResponse({"transfer": "basic", "objects": answered}, media_type=LFS_MEDIA)

    async def _upload(self, request: Request, repo: Repository, oid: str, size: int) -> Response:
        data = await request.body()
        if len(data) != size or hashlib.sha256(data).hexdigest() != oid:
            return _lfs_error(422, "Unprocessable entity: the object's size or oid differs")
        repo.store_lfs_object(oid, data)
        return Response(status_code=200)


def _batch_object(
    item: Any, operation: str, base: str, auth: dict[str, str], repo: Repository
) -> dict[str, Any]:
    oid, size = (item.get("oid"), item.get("size")) if isinstance(item, dict) else (None, None)
    if not isinstance(oid, str) or not _OID.match(oid) or not isinstance(size, int) or size < 0:
        return {"oid": oid, "size": size, "error": {"code": 422, "message": "Invalid object"}}
    present = repo.lfs_object(oid) is not None
    entry: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
    if operation == "upload" and not present:
        href = f"{base}/{oid}/{size}"
        entry["actions"] = {"upload": {"href": href, "header": auth, "expires_in": 3600}}
    elif operation == "download" and present:
        entry["actions"] = {"download": {"href": f"{base}/{oid}", "header": auth}}
    elif operation == "download":
        entry["error"] = {"code": 404, "message": "Object does not exist on the server"}
    return entry


def _allowed(caller: Caller, project: Project, *, write: bool) -> bool:
    if write or not project.is_public:
        return caller.authenticated
    return True


def _lfs_error(status: int, message: str) -> Response:
    return JSONResponse({"message": message}, status_code=status, media_type=LFS_MEDIA)
