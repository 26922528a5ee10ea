"""A small GitLab REST API v4 client: resolve a ref, list a repository tree, compare two
commits, fetch blobs by id or files at a commit.

Rate limits (429) honour Retry-After (capped); 5xx and transport errors back off
exponentially; a limited number of attempts ends in GitLabError. The token travels only
in the `PRIVATE-TOKEN` header and never appears in errors or logs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from thoth.errors import ForbiddenError, InvalidInputError, NotFoundError, UnavailableError
from thoth.ingest.sources.lfs import LfsPointer, lfs_pointer
from thoth.ingest.sources.report import FileError
from thoth.paths import UnsafePathError, safe_prefix, safe_relative_path

MAX_RETRY_AFTER_SECONDS = 60.0
PER_PAGE = 100
MAX_REDIRECTS = 5
_BLOB_ID = re.compile(r"^[0-9a-fA-F]{1,64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
TOKEN_HINT = "check THOTH_GITLAB_TOKEN / the gitlab-token secret"  # noqa: S105 (a hint, not a token)


class GitLabError(UnavailableError):
    """GitLab could not answer (after retries), or answered with an unexpected error."""


class GitLabAuthError(ForbiddenError, GitLabError):
    """GitLab rejected the token (401/403)."""


class GitLabNotFoundError(NotFoundError, GitLabError):
    """The project, ref, path or blob does not exist (or the token cannot see it)."""


class FileTooLargeError(InvalidInputError, GitLabError):
    """A blob is larger than the caller's limit; it was not downloaded whole."""


class LfsObjectUnavailable(InvalidInputError, GitLabError):
    """A file is a Git LFS pointer whose object could not be read: GitLab serves none (LFS
    off, or the object not pushed yet) or its storage refused the download. That file alone
    is left out, and tried again at the next sync."""


@dataclass(frozen=True)
class TreeEntry:
    """One file of the repository tree: its repository path and its git blob id."""

    path: str
    blob_id: str


@dataclass(frozen=True)
class FileChange:
    """One file of a compare's `diffs`, with repository paths."""

    old_path: str
    new_path: str
    new_file: bool
    renamed_file: bool
    deleted_file: bool


@dataclass(frozen=True)
class Compare:
    """What `repository/compare` answered. `complete` is False when GitLab says the diffs
    were cut short (a timeout, an `overflow`, or as many files as its diff limit)."""

    commits: list[str]
    changes: list[FileChange]
    complete: bool


# GitLab stops listing a compare's diffs at its diff limit (max_files, 1,000 by default; a
# response that reaches it may be missing files) and says so with `overflow` where it can.
COMPARE_MAX_FILES = 1000


@dataclass
class Tree:
    """The files under a path, and entries rejected for unsafe paths."""

    entries: list[TreeEntry] = field(default_factory=list)
    rejected: list[FileError] = field(default_factory=list)


class _Transient(Exception):
    """A failure worth retrying: 429, 5xx or a transport error."""

    def __init__(
        self, message: str, retry_after: float | None = None, *, throttled: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.throttled = throttled


@dataclass(frozen=True)
class _Reply:
    body: bytes
    next_url: str | None


class GitLabClient:
    """GitLab REST API v4 at `base_url` (e.g. https://gitlab.com). `token` may be None for
    public projects. `sleep` is injectable so tests do not wait."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        http: httpx.Client | None = None,
        max_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(self.base_url)
        self._token = token or None
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        self._max_retries = max_retries
        self._sleep = sleep

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> GitLabClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- API --------------------------------------------------------------------------
    def list_tree(self, project: str | int, ref: str, path_prefix: str = "") -> Tree:
        """Every file (`type == "blob"`) under `path_prefix` at `ref`, all pages followed.
        Entries whose path is unsafe are not returned but listed in `Tree.rejected`."""
        params: dict[str, str | int] = {"recursive": "true", "ref": ref, "per_page": PER_PAGE}
        prefix = safe_prefix(path_prefix)
        if prefix:
            params["path"] = prefix
        tree, seen = Tree(), set()
        url: str | None = f"{self._project_url(project)}/repository/tree"
        what = f"project {project!r} at ref {ref!r}" + (f" path {prefix!r}" if prefix else "")
        while url is not None:
            seen.add(url)
            reply = self._get(url, params, what=what)
            _collect(_json_list(reply.body, url), tree)
            url, params = reply.next_url, {}
            if url in seen:
                raise GitLabError(f"GitLab pagination loops back to {_endpoint(url)}")
        return tree

    def get_file(self, project: str | int, blob_id: str, *, max_bytes: int | None = None) -> bytes:
        """The raw content of blob `blob_id`; FileTooLargeError beyond `max_bytes`."""
        if not _BLOB_ID.match(blob_id):
            raise GitLabError(f"invalid blob id {blob_id[:80]!r}")
        url = f"{self._project_url(project)}/repository/blobs/{blob_id}/raw"
        what = f"blob {blob_id} of project {project!r}"
        return self._get(url, {}, what=what, max_bytes=max_bytes).body

    def web_url(self, project: str | int) -> str:
        """The project's page (`web_url`), the base of its permalinks."""
        body = self._get_object(self._project_url(project), {}, what=f"project {project!r}")
        url = body.get("web_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise GitLabError(f"GitLab gave project {project!r} no usable web_url")
        return url.rstrip("/")

    def commit_id(self, project: str | int, ref: str) -> str:
        """The commit a branch, tag or commit id names now."""
        url = f"{self._project_url(project)}/repository/commits/{quote(ref, safe='')}"
        body = self._get_object(url, {}, what=f"ref {ref!r} of project {project!r}")
        commit = body.get("id")
        if not isinstance(commit, str) or not _COMMIT.match(commit):
            raise GitLabError(f"GitLab answered no commit id for ref {ref!r}")
        return commit

    def compare(self, project: str | int, base: str, head: str, *, straight: bool) -> Compare:
        """`repository/compare`: the commits in `base..head` and the changed files, from
        `base` itself (`straight`) or from the merge base of the two."""
        params = {"from": base, "to": head, "straight": "true" if straight else "false"}
        url = f"{self._project_url(project)}/repository/compare"
        what = f"compare {base[:12]}...{head[:12]} of project {project!r}"
        return _compare(self._get_object(url, params, what=what))

    def get_file_at(
        self, project: str | int, path: str, ref: str, *, max_bytes: int | None = None
    ) -> bytes:
        """The raw content of the repository file `path` at `ref`."""
        url = f"{self._project_url(project)}/repository/files/{quote(path, safe='')}/raw"
        what = f"file {path!r} at {ref[:40]!r} of project {project!r}"
        return self._get(url, {"ref": ref}, what=what, max_bytes=max_bytes).body

    def get_lfs_file(
        self,
        project: str | int,
        path: str,
        ref: str,
        pointer: LfsPointer,
        *,
        max_bytes: int | None = None,
    ) -> bytes:
        """The Git LFS object behind the pointer at `path` (`raw?lfs=true`). GitLab may send
        the download to object storage: a redirect is followed, with the token only to
        GitLab's own host."""
        what = f"LFS file {path!r} at {ref[:40]!r} of project {project!r}"
        if max_bytes is not None and pointer.size > max_bytes:
            raise FileTooLargeError(
                f"{what} is {pointer.size} bytes, over the {max_bytes}-byte limit"
            )
        url = f"{self._project_url(project)}/repository/files/{quote(path, safe='')}/raw"
        params = {"ref": ref, "lfs": "true"}
        missing = (
            f"{path} is a Git LFS pointer, and GitLab serves no LFS object for it (is LFS "
            "enabled for the project, and was the object pushed?); tried again at the next sync"
        )
        try:
            body = self._get(url, params, what=what, max_bytes=max_bytes, follow=True).body
        except GitLabNotFoundError:
            raise LfsObjectUnavailable(missing) from None
        except GitLabAuthError as exc:  # object storage refusing a redirected download
            raise LfsObjectUnavailable(
                f"{path} is a Git LFS pointer, and its object could not be downloaded ({exc}); "
                "tried again at the next sync"
            ) from None
        # Anything else (5xx or no answer after the retries) is an outage: the caller's
        # error, retried as any file's would be.
        if lfs_pointer(body) is not None:
            raise LfsObjectUnavailable(missing)
        return body

    # --- requests ---------------------------------------------------------------------
    def _get_object(self, url: str, params: dict[str, Any], *, what: str) -> dict[str, Any]:
        body = self._get(url, params, what=what).body
        try:
            value = json.loads(body)
        except ValueError as exc:
            raise GitLabError(f"GitLab answered invalid JSON on GET {_endpoint(url)}") from exc
        if not isinstance(value, dict):
            raise GitLabError(f"GitLab answered a JSON {type(value).__name__} ({what})")
        return value

    def _project_url(self, project: str | int) -> str:
        return f"{self.base_url}/api/v4/projects/{quote(str(project), safe='')}"

    def _get(
        self,
        url: str,
        params: dict[str, Any],
        *,
        what: str,
        max_bytes: int | None = None,
        follow: bool = False,
    ) -> _Reply:
        retrying = Retrying(
            stop=stop_after_attempt(self._max_retries + 1),
            wait=_wait,
            retry=retry_if_exception_type(_Transient),
            sleep=self._sleep,
        )
        try:
            return retrying(self._get_once, url, params, what, max_bytes, follow)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise GitLabError(
                f"GitLab GET {_endpoint(url)} failed after {exc.last_attempt.attempt_number} "
                f"attempts ({what}): {last}"
            ) from None

    def _get_once(
        self, url: str, params: dict[str, Any], what: str, max_bytes: int | None, follow: bool
    ) -> _Reply:
        request = self._http.build_request(
            "GET", url, params=params or None, headers=self._headers()
        )
        try:
            response = self._send(request, MAX_REDIRECTS if follow else 0)
            try:
                self._check_status(response, what)
                body = _read_limited(response, max_bytes, what)
            finally:
                response.close()
        except httpx.TransportError as exc:
            raise _Transient(f"{type(exc).__name__} talking to GitLab") from None
        return _Reply(body, self._next_url(response, url, params))

    def _send(self, request: httpx.Request, redirects: int) -> httpx.Response:
        """Send `request`, following up to `redirects` redirects: the token goes only to the
        configured host (httpx would keep a PRIVATE-TOKEN header on any host)."""
        response = self._http.send(request, stream=True)
        for _ in range(redirects):
            location = response.headers.get("Location")
            if not response.is_redirect or not location:
                break
            target = request.url.join(location)
            response.close()
            mine = _origin(str(target)) == self._origin
            request = self._http.build_request(
                "GET", target, headers=self._headers() if mine else {}
            )
            response = self._http.send(request, stream=True)
        return response

    def _headers(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self._token} if self._token else {}

    def _check_status(self, response: httpx.Response, what: str) -> None:
        status = response.status_code
        if status < 300:
            return
        endpoint = _endpoint(str(response.request.url))
        if status == 429:
            raise _Transient(
                f"rate limited (429) on {endpoint}", _retry_after(response), throttled=True
            )
        if status >= 500:
            raise _Transient(f"GitLab answered {status} on {endpoint}")
        if status == 403 and _insufficient_scope(response):
            raise GitLabAuthError(
                f"GitLab: the token's scopes do not allow {what} (403 insufficient_scope on "
                f"GET {endpoint}): Thoth needs a token with the read_api scope; {TOKEN_HINT}"
            )
        if status in (401, 403):
            raise GitLabAuthError(self._auth_message(status, what))
        if status == 404:
            raise GitLabNotFoundError(
                f"GitLab: {what} not found (404 on GET {endpoint}): check the project, ref "
                "and path, and that the token can read the project"
            )
        raise GitLabError(f"GitLab answered {status} on GET {endpoint} ({what})")

    def _auth_message(self, status: int, what: str) -> str:
        if self._token is None:
            return f"GitLab refused anonymous access ({status}) to {what}: {TOKEN_HINT}"
        return f"GitLab rejected the token ({status}) for {what}: {TOKEN_HINT}"

    def _next_url(self, response: httpx.Response, url: str, params: dict[str, Any]) -> str | None:
        """The next page's URL, always on the host Thoth was configured with. GitLab writes
        its Link header with the host it is configured as, which is not the address Thoth
        uses behind an internal name, an IP or a proxy: then X-Next-Page moves the page, or,
        without it, the Link's path and query are sent to Thoth's own host (the token never
        goes anywhere else)."""
        link = response.links.get("next", {}).get("url")
        if link and _origin(link) == self._origin:
            return link
        next_page = response.headers.get("X-Next-Page", "").strip()
        if next_page.isdigit():
            # Keep the request's own query (incl. a page from a Link URL) and move the page.
            query = dict(httpx.URL(url).params) | {k: str(v) for k, v in params.items()}
            query["page"] = next_page
            return str(httpx.URL(url).copy_with(params=query))
        if link:
            scheme, netloc = self._origin
            return urlunsplit((scheme, netloc, *urlsplit(link)[2:4], ""))
        return None


# --- helpers ------------------------------------------------------------------------------
def _collect(items: list[Any], tree: Tree) -> None:
    for item in items:
        if not isinstance(item, dict) or item.get("type") != "blob":
            continue
        raw_path, blob_id = str(item.get("path", "")), str(item.get("id", ""))
        try:
            tree.entries.append(TreeEntry(safe_relative_path(raw_path), blob_id))
        except UnsafePathError as exc:
            tree.rejected.append(FileError(path=raw_path, message=str(exc)))


def _compare(body: dict[str, Any]) -> Compare:
    diffs = body.get("diffs")
    commits = body.get("commits")
    if not isinstance(diffs, list) or not isinstance(commits, list):
        raise GitLabError("GitLab's compare answered without diffs or commits")
    changes = [
        FileChange(
            old_path=str(diff.get("old_path") or diff.get("new_path") or ""),
            new_path=str(diff.get("new_path") or diff.get("old_path") or ""),
            new_file=bool(diff.get("new_file")),
            renamed_file=bool(diff.get("renamed_file")),
            deleted_file=bool(diff.get("deleted_file")),
        )
        for diff in diffs
        if isinstance(diff, dict)
    ]
    cut = bool(body.get("overflow")) or bool(body.get("compare_timeout"))
    return Compare(
        commits=[str(c.get("id")) for c in commits if isinstance(c, dict)],
        changes=changes,
        complete=not cut and len(diffs) < COMPARE_MAX_FILES,
    )


def _json_list(body: bytes, url: str) -> list[Any]:
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise GitLabError(f"GitLab answered invalid JSON on GET {_endpoint(url)}") from exc
    if not isinstance(value, list):
        raise GitLabError(f"GitLab answered a JSON {type(value).__name__} on GET {_endpoint(url)}")
    return value


def _read_limited(response: httpx.Response, max_bytes: int | None, what: str) -> bytes:
    if max_bytes is None:
        return response.read()
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FileTooLargeError(f"{what} is {declared} bytes, over the {max_bytes}-byte limit")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FileTooLargeError(f"{what} is over the {max_bytes}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _insufficient_scope(response: httpx.Response) -> bool:
    """GitLab's answer to a token without the scope a route needs."""
    head = b""
    try:
        for part in response.iter_bytes():
            head += part
            if len(head) >= 4096:  # GitLab's answer is a line; read no more of another's
                break
    except httpx.HTTPError:
        return False
    return b"insufficient_scope" in head


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from `Retry-After`, else from `RateLimit-Reset` (the window's end, in
    epoch seconds); None when the answer has neither."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return _until_reset(response.headers.get("RateLimit-Reset", "").strip())
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _until_reset(value: str) -> float | None:
    try:
        return max(0.0, float(value) - time.time()) if value else None
    except ValueError:
        return None


_backoff = wait_exponential(multiplier=0.5, min=0.5, max=30)
# A 429 that says nothing of when to come back (GitLab.com has sent them bare) waits long
# enough for the retries to outlast a one-minute window: 5, 8, 16, 32 and 60 s.
_throttled_backoff = wait_exponential(multiplier=4, min=5, max=MAX_RETRY_AFTER_SECONDS)


def _wait(state: RetryCallState) -> float:
    """Retry-After or RateLimit-Reset (capped at 60 s) for 429s that carry one, a long
    exponential backoff for a bare 429, else a short exponential backoff."""
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    if isinstance(exc, _Transient) and exc.retry_after is not None:
        return min(exc.retry_after, MAX_RETRY_AFTER_SECONDS)
    if isinstance(exc, _Transient) and exc.throttled:
        return float(_throttled_backoff(state))
    return float(_backoff(state))


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _endpoint(url: str) -> str:
    """The URL without its query string or credentials (what errors may show)."""
    return str(httpx.URL(url).copy_with(query=None, userinfo=b""))
