"""`/projects/:id/repository/...`: tree, blobs, raw files, compare, commits and branches,
answered from the bare repository with GitLab's shapes, statuses and headers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from starlette.datastructures import URL
from starlette.responses import JSONResponse, Response

from . import entities
from .api import ApiError, Call, Handler, not_found
from .pagination import page_headers, requested_page, slice_page

_BINARY_SNIFF = 8000


def route(call: Call) -> Handler | None:
    s = call.segments
    if call.request.method != "GET" or len(s) < 2 or s[0] != "repository":
        return None
    match s[1:]:
        case ["tree"]:
            return _threaded(tree)
        case ["blobs", _, "raw"]:
            return _threaded(blob_raw)
        case ["files", _, "raw"]:
            return _threaded(file_raw)
        case ["compare"]:
            return _threaded(compare)
        case ["commits"]:
            return _threaded(commits)
        case ["commits", _]:
            return _threaded(commit)
        case ["branches", _]:
            return _threaded(branch)
    return None


def _threaded(handler: Callable[[Call], Response]) -> Handler:
    async def run(call: Call) -> Response:
        return await asyncio.to_thread(handler, call)

    return run


# --- tree and blobs ----------------------------------------------------------------------
def tree(call: Call) -> Response:
    ref = call.param("ref") or call.project.default_branch
    sha = call.repo.resolve_commit(ref)
    path = call.param("path").strip("/")
    entries = call.repo.tree(sha, path, call.flag("recursive")) if sha else None
    if entries is None:
        raise not_found("Tree")
    page = requested_page(call.request.query_params)
    body = [entities.tree_entry(e) for e in slice_page(entries, page)]
    return JSONResponse(body, headers=page_headers(_public_url(call), page, len(entries)))


def blob_raw(call: Call) -> Response:
    sha = call.segments[2]
    if not all(c in "0123456789abcdefABCDEF" for c in sha) or call.repo.object_type(sha) != "blob":
        raise not_found("Blob")
    return _raw(call.repo.blob(sha), {})


def file_raw(call: Call) -> Response:
    path = call.segments[2].strip("/")
    ref = call.param("ref") or call.project.default_branch
    sha = call.repo.resolve_commit(ref)
    blob_id = call.repo.blob_at(sha, path) if sha and path else None
    if sha is None or blob_id is None:
        raise not_found("File")
    content = call.repo.blob(blob_id)
    if call.flag("lfs"):
        content = _lfs_content(call, content)
    headers = {
        "X-Gitlab-Blob-Id": blob_id,
        "X-Gitlab-Commit-Id": sha,
        "X-Gitlab-File-Name": path.rsplit("/", 1)[-1],
        "X-Gitlab-File-Path": path,
        "X-Gitlab-Ref": ref,
        "X-Gitlab-Size": str(len(content)),
    }
    return _raw(content, headers)


def _lfs_content(call: Call, content: bytes) -> bytes:
    """With `lfs=true` (GitLab 15.7+), a Git LFS pointer is answered with its object; any
    other file with its blob. An object the server lacks is a 404."""
    pointer = _LFS_POINTER.match(content) if len(content) <= 1024 else None
    if pointer is None:
        return content
    data = call.repo.lfs_object(pointer["oid"].decode())
    if data is None:
        raise not_found("LFS object")
    return data


_LFS_POINTER = re.compile(
    rb"\Aversion https://git-lfs\.github\.com/spec/v1\n(?:.*\n)*?oid sha256:(?P<oid>[0-9a-f]{64})\n"
)


def _raw(content: bytes, headers: dict[str, str]) -> Response:
    binary = b"\0" in content[:_BINARY_SNIFF]
    media = "application/octet-stream" if binary else "text/plain; charset=utf-8"
    headers = headers | {"Content-Disposition": "inline", "X-Content-Type-Options": "nosniff"}
    return Response(content, media_type=media, headers=headers)


# --- history -----------------------------------------------------------------------------
def compare(call: Call) -> Response:
    base_ref, head_ref = call.param("from"), call.param("to")
    if not base_ref or not head_ref:
        missing = "from" if not base_ref else "to"
        raise ApiError(400, f"{missing} is missing", key="error")
    base, head = call.repo.resolve_commit(base_ref), call.repo.resolve_commit(head_ref)
    if base is None or head is None:
        raise not_found("Ref")
    start = base if call.flag("straight") else (call.repo.merge_base(base, head) or base)
    commits = list(reversed(call.repo.log([f"{base}..{head}"])))
    changes = call.repo.changes(start, head)
    patches = call.repo.patches(start, head)
    body: dict[str, Any] = {
        "commit": entities.commit(commits[-1], call.project, call.urls) if commits else None,
        "commits": [entities.commit(c, call.project, call.urls) for c in commits],
        "diffs": [entities.diff(c, patches.get(c.new_path, "")) for c in changes],
        "compare_timeout": False,
        "compare_same_ref": base_ref == head_ref,
        "web_url": f"{call.urls.web(call.project)}/-/compare/{base}...{head}",
    }
    return JSONResponse(body)


def commits(call: Call) -> Response:
    ref = call.param("ref_name") or call.project.default_branch
    sha = call.repo.resolve_commit(ref)
    if sha is None:
        raise not_found("Commit")  # what GitLab answers for an unknown ref_name
    path = call.param("path").strip("/")
    page = requested_page(call.request.query_params)
    found = call.repo.log([sha], path, skip=page.offset, limit=page.per_page)
    total = call.repo.count([sha], path)
    body = [entities.commit(c, call.project, call.urls) for c in found]
    return JSONResponse(body, headers=page_headers(_public_url(call), page, total))


def commit(call: Call) -> Response:
    found = call.repo.commit(call.segments[2])
    if found is None:
        raise not_found("Commit")
    stats = call.repo.stats(found.sha)
    return JSONResponse(entities.commit_detail(found, call.project, call.urls, stats))


def branch(call: Call) -> Response:
    name = call.segments[2]
    head = call.repo.branch_head(name)
    found = call.repo.commit(head) if head else None
    if found is None:
        raise not_found("Branch")
    return JSONResponse(entities.branch(name, found, call.project, call.urls))


def _public_url(call: Call) -> URL:
    """The request's URL on the instance's external address (what `Link` points to)."""
    raw_path = call.request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
    query = call.request.url.query
    return URL(f"{call.urls.base}{raw_path}" + (f"?{query}" if query else ""))
