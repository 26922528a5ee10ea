"""What a source is (`SourceConfig`) and how its files are cited (`citation_url`,
`Citations`)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import SplitResult, quote, urlsplit

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from thoth.paths import safe_prefix, safe_relative_path

SOURCE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
SOURCE_NAME = re.compile(SOURCE_PATTERN)
_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}"
_PROJECT = re.compile(rf"^(\d{{1,19}}|{_SEGMENT}(/{_SEGMENT})+)$")
MAX_PROJECT_ID = 2**63 - 1  # GitLab's ids are bigints
MAX_PROJECT_PATH = 2048
# git check-ref-format: no space, control character, ~^:?*[\ nor "@{" or ".."; no part
# that starts with "." or ends with ".lock"; no empty part; not "@"; no "-" first.
_REF = re.compile(r"^[^\s~^:?*\[\\\x00-\x1f\x7f]{1,255}$")
_REF_PART = re.compile(r"^(?!\.)[^/]+(?<!\.lock)$")
MAX_URL = 2048
_HOST_LABEL = re.compile(r"^[\w-]{1,63}$")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
MAX_DIRECTORY = 4096
_MARKDOWN = (".md", ".markdown")
_INDEX_PAGES = ("index.md", "_index.md", "index.markdown", "_index.markdown")

SourceKind = Literal["gitlab", "dir", "upload"]


def validate_source_name(name: str) -> str:
    """`name` when it is a valid source name (it becomes part of object keys)."""
    if not SOURCE_NAME.match(name):
        raise ValueError(
            f"invalid source name {name[:80]!r}: use 1-63 lowercase letters, digits, '-' "
            "or '_', starting with a letter or digit"
        )
    return name


class InputModel(BaseModel):
    """A body from outside: unknown fields are refused, and so is any string that is not
    valid UTF-8 (a lone surrogate, which JSON can spell as "\\ud800"): saved, it could
    never be written out again."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _utf8(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("the text is not valid UTF-8 (a lone surrogate)") from None
        return value


class SourceConfig(InputModel):
    """One registered source. Its files are mirrored to `sources/<name>/<path>`, where
    `path` is relative to `path_prefix` (for GitLab) or to `directory` (for dir)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: SourceKind
    base_url: str | None = None
    gitlab_project: str | None = None
    gitlab_ref: str = "main"
    path_prefix: str = ""
    directory: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_source_name(value)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return _citation_base(value)

    @field_validator("gitlab_project")
    @classmethod
    def _project(cls, value: str | None) -> str | None:
        if value is not None and not _valid_project(value):
            raise ValueError(
                "gitlab_project must be a numeric id or a path like 'group/project' (ids up "
                f"to 2^63-1, parts of at most 255 characters), got {value[:100]!r}"
            )
        return value

    @field_validator("gitlab_ref")
    @classmethod
    def _ref(cls, value: str) -> str:
        if not _valid_ref(value):
            raise ValueError(f"gitlab_ref is not a valid branch, tag or commit: {value[:100]!r}")
        return value

    @field_validator("path_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if _PERCENT_ESCAPE.search(value):
            # Stored as typed and never decoded: "%2e%2e" would name a folder called that.
            raise ValueError(f"path_prefix must not be URL-encoded, got {value[:100]!r}")
        return safe_prefix(value)

    @field_validator("directory")
    @classmethod
    def _directory(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > MAX_DIRECTORY or _has_control(value)):
            raise ValueError(
                f"directory must be a folder path of at most {MAX_DIRECTORY} characters "
                f"without control characters, got {value[:100]!r}"
            )
        return value

    @model_validator(mode="after")
    def _kind_needs(self) -> SourceConfig:
        if self.kind == "gitlab" and not self.gitlab_project:
            raise ValueError("a gitlab source needs gitlab_project (id or 'group/project')")
        if self.kind == "dir" and not self.directory:
            raise ValueError("a dir source needs directory (the local folder to mirror)")
        return self


def _has_control(value: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 for char in value)


def _valid_project(value: str) -> bool:
    if len(value) > MAX_PROJECT_PATH or not _PROJECT.match(value):
        return False
    return not value.isdigit() or int(value) <= MAX_PROJECT_ID


def _valid_ref(value: str) -> bool:
    if not _REF.match(value) or value == "@" or value.startswith("-") or value.endswith("."):
        return False
    if ".." in value or "@{" in value:
        return False
    return all(_REF_PART.match(part) for part in value.split("/"))


def _citation_base(value: str) -> str:
    """Search results hand these links to people: https only, or http on this machine;
    a host that could resolve and a port that could answer."""
    parts = _url_parts(value)
    if parts.username or parts.password or not parts.hostname:
        raise ValueError(f"base_url must be a plain https:// URL, got {value[:200]!r}")
    if not _valid_host(parts.hostname):
        raise ValueError(f"base_url has an invalid host name, got {value[:200]!r}")
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname)):
        return value.rstrip("/")
    raise ValueError(
        f"base_url must start with https:// (http:// only for localhost), got {value[:200]!r}"
    )


def _url_parts(value: str) -> SplitResult:
    # urlsplit silently drops tabs and newlines: refuse them here instead. A space stays
    # allowed in the path, as sources registered before this check may have one.
    if len(value) > MAX_URL or not value.isprintable():
        raise ValueError(
            f"base_url must be at most {MAX_URL} characters, without control characters, "
            f"got {value[:200]!r}"
        )
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"base_url is not a valid URL ({exc}), got {value[:200]!r}") from None
    if port == 0 or " " in parts.netloc:
        raise ValueError(
            f"base_url needs a host without spaces and a port of 1-65535, got {value[:200]!r}"
        )
    return parts


def _valid_host(host: str) -> bool:
    """A DNS name (labels of letters, digits, '-' or '_') or an IP address."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    return len(host) <= 253 and all(_HOST_LABEL.match(label) for label in labels)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def citation_url(base_url: str | None, path: str) -> str | None:
    """The public URL of a source file, handbook-site style (Hugo, Next, GitLab Pages):

    - no `base_url`: no link (None);
    - `a/b.md` or `a/b.markdown` -> `<base_url>/a/b` (extension dropped);
    - `a/index.md` or `a/_index.md` -> `<base_url>/a/` (the folder's page); top-level
      `index.md` -> `<base_url>/`;
    - any other file (PDF, image, ...) -> `<base_url>/<path>`, the file itself;
    - every path segment is percent-encoded (`a b.md` -> `a%20b`).
    """
    if not base_url:
        return None
    parts = safe_relative_path(path).split("/")
    name = parts[-1]
    trailing = ""
    if name.lower() in _INDEX_PAGES:
        parts, trailing = parts[:-1], "/"
    elif name.lower().endswith(_MARKDOWN):
        parts[-1] = name.rsplit(".", 1)[0]
    quoted = "/".join(quote(part, safe="") for part in parts)
    base = base_url.rstrip("/")
    if not quoted:
        return f"{base}/"
    return f"{base}/{quoted}{trailing}"


@dataclass(frozen=True)
class Citations:
    """How a job links a source's files and their headings:

    - with a `base_url` (a rendered site): `citation_url` plus `#anchor`;
    - a GitLab source without one: the permalink at the job's commit,
      `{web_url}/-/blob/{commit}/{path_prefix/}{path}#anchor`, which keeps showing the text
      that was indexed however the branch moves on;
    - otherwise no link ("").

    Anchors (GitLab's heading ids, thoth.parsing.anchors) are added to markdown files only.
    """

    base_url: str | None = None
    web_url: str | None = None
    commit: str | None = None
    path_prefix: str = ""

    def url(self, path: str, anchor: str = "") -> str:
        markdown = path.lower().endswith(_MARKDOWN)
        fragment = f"#{quote(anchor, safe='-_')}" if anchor and markdown else ""
        if self.base_url:
            return f"{citation_url(self.base_url, path)}{fragment}"
        if self.web_url and self.commit:
            in_repo = f"{self.path_prefix}/{path}" if self.path_prefix else path
            return f"{self.web_url}/-/blob/{self.commit}/{quote(in_repo, safe='/')}{fragment}"
        return ""
