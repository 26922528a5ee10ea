"""Source configuration validation and citation URLs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from thoth.ingest.sources.models import SourceConfig, citation_url
from thoth.paths import UnsafePathError


def test_gitlab_source_with_defaults() -> None:
    config = SourceConfig(
        name="gitlab-handbook",
        kind="gitlab",
        gitlab_project="gitlab-com/content-sites/handbook",
        path_prefix="./content/handbook/",
        base_url="https://handbook.gitlab.com/handbook/",
    )
    assert config.gitlab_ref == "main"
    assert config.path_prefix == "content/handbook"
    assert config.base_url == "https://handbook.gitlab.com/handbook"


def test_round_trips_through_json() -> None:
    config = SourceConfig(name="docs_1", kind="dir", directory="/srv/docs")
    assert SourceConfig.model_validate_json(config.model_dump_json()) == config


@pytest.mark.parametrize("name", ["a", "hb-2", "x_y", "0" + "a" * 62])
def test_valid_names(name: str) -> None:
    assert SourceConfig(name=name, kind="upload").name == name


@pytest.mark.parametrize("name", ["", "-a", "_a", "A", "a/b", "../x", "a b", "a" * 64, "a.b"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(ValidationError, match="invalid source name"):
        SourceConfig(name=name, kind="upload")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "gitlab"}, "needs gitlab_project"),
        ({"kind": "dir"}, "needs directory"),
        ({"kind": "svn"}, "kind"),
        ({"kind": "gitlab", "gitlab_project": "no spaces/x y"}, "numeric id or a path"),
        ({"kind": "gitlab", "gitlab_project": "../etc"}, "numeric id or a path"),
        ({"kind": "gitlab", "gitlab_project": "g/p", "gitlab_ref": "a..b"}, "gitlab_ref"),
        ({"kind": "gitlab", "gitlab_project": "g/p", "gitlab_ref": "a b"}, "gitlab_ref"),
        ({"kind": "upload", "path_prefix": "../up"}, "'..'"),
        ({"kind": "upload", "base_url": "ftp://x"}, "https"),
        ({"kind": "upload", "base_url": "http://phish.example/handbook"}, "https"),
        ({"kind": "upload", "base_url": "https://user:pw@hb.example"}, "plain https"),
        ({"kind": "upload", "base_url": "javascript:alert(1)"}, "plain https"),
        ({"kind": "upload", "colour": "red"}, "Extra inputs"),
        ({"kind": "gitlab", "gitlab_project": "g/p", "gitlab_ref": "@{-1}"}, "gitlab_ref"),
        ({"kind": "gitlab", "gitlab_project": "g/p", "gitlab_ref": "-rf"}, "gitlab_ref"),
        ({"kind": "gitlab", "gitlab_project": "g/p", "gitlab_ref": "main.lock/"}, "gitlab_ref"),
        ({"kind": "gitlab", "gitlab_project": "9" * 400}, "numeric id or a path"),
        ({"kind": "gitlab", "gitlab_project": "g/" + "p" * 5000}, "numeric id or a path"),
        ({"kind": "upload", "path_prefix": "%2e%2e/x"}, "URL-encoded"),
        ({"kind": "upload", "base_url": "https://example.com:0"}, "port"),
        ({"kind": "upload", "base_url": "https://exa\nmple.com"}, "control"),
        ({"kind": "dir", "directory": "/srv/a\x00b"}, "control characters"),
        ({"kind": "upload", "path_prefix": "\ud800"}, "UTF-8"),
    ],
)
def test_invalid_configs(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SourceConfig.model_validate({"name": "s", **fields})


@pytest.mark.parametrize("project", ["42", "group/project", "group/sub.group/my_project-2"])
def test_project_ids_and_paths(project: str) -> None:
    assert SourceConfig(name="s", kind="gitlab", gitlab_project=project).gitlab_project == project


BASE = "https://handbook.example.com"


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("values.md", f"{BASE}/values"),
        ("engineering/on-call.markdown", f"{BASE}/engineering/on-call"),
        ("engineering/index.md", f"{BASE}/engineering/"),
        ("engineering/_index.md", f"{BASE}/engineering/"),
        ("index.md", f"{BASE}/"),
        ("_index.md", f"{BASE}/"),
        ("people/Benefits 2026.pdf", f"{BASE}/people/Benefits%202026.pdf"),
        ("a b/c#d?.md", f"{BASE}/a%20b/c%23d%3F"),
        ("Team/README.MD", f"{BASE}/Team/README"),
        ("./docs/x.md", f"{BASE}/docs/x"),
    ],
)
def test_citation_url(path: str, url: str) -> None:
    assert citation_url(BASE, path) == url
    assert citation_url(BASE + "/", path) == url


def test_no_base_url_no_link() -> None:
    assert citation_url(None, "a.md") is None
    assert citation_url("", "a.md") is None


def test_citation_of_unsafe_path_is_refused() -> None:
    with pytest.raises(UnsafePathError):
        citation_url(BASE, "../x.md")


@pytest.mark.parametrize(
    "base_url", ["https://hb.example/docs", "http://localhost:1313", "http://127.0.0.1:8000"]
)
def test_citation_links_are_https_or_on_this_machine(base_url: str) -> None:
    assert SourceConfig(name="s", kind="upload", base_url=base_url + "/").base_url == base_url
