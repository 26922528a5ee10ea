"""Git LFS: the batch API and basic transfer that `git lfs push` uses (spoken here with httpx,
as git-lfs would), pointers committed with git, and `raw?lfs=true` serving the object."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import httpx

from .support import PROJECT, TOKEN, Emulator, Git, encoded

LFS = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}


def pointer(data: bytes) -> bytes:
    oid = hashlib.sha256(data).hexdigest()
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n".encode()
    )


def lfs_push(emulator: Emulator, data: bytes) -> None:
    """What `git lfs push` does for one object: ask the batch API, PUT where it says."""
    oid = hashlib.sha256(data).hexdigest()
    auth = ("oauth2", TOKEN)
    batch = httpx.post(
        f"{emulator.url}/{PROJECT}.git/info/lfs/objects/batch",
        json={
            "operation": "upload",
            "transfers": ["basic"],
            "objects": [{"oid": oid, "size": len(data)}],
        },
        headers=LFS,
        auth=auth,
        timeout=10,
    )
    assert batch.status_code == 200, batch.text
    upload = batch.json()["objects"][0]["actions"]["upload"]
    assert upload["href"].endswith(f"/gitlab-lfs/objects/{oid}/{len(data)}")
    put = httpx.put(upload["href"], content=data, headers=upload["header"], timeout=10)
    assert put.status_code == 200, put.text
    again = httpx.post(batch.request.url, content=batch.request.content, headers=LFS, auth=auth)
    assert "actions" not in again.json()["objects"][0]  # the server has it now


def test_raw_with_lfs_serves_the_object_and_without_it_the_pointer(
    emulator: Emulator, clone: Callable[..., Git]
) -> None:
    data = b"%PDF-1.4 a handbook's policy, stored in LFS\n" + bytes(range(256))
    work = clone(emulator.git_url(PROJECT))
    (work.cwd / "policies").mkdir(exist_ok=True)
    (work.cwd / "policies" / "travel.pdf").write_bytes(pointer(data))
    (work.cwd / "policies" / "lost.pdf").write_bytes(pointer(b"never pushed"))
    work.commit_all("LFS pointers")
    work.run("push", "--quiet", "origin", "main")
    lfs_push(emulator, data)
    api = emulator.api()
    url = f"/projects/{encoded(PROJECT)}/repository/files/{encoded('policies/travel.pdf')}/raw"

    assert api.get(url, params={"ref": "main"}).content == pointer(data)
    assert api.get(url, params={"ref": "main", "lfs": "true"}).content == data
    lost = api.get(url.replace("travel", "lost"), params={"ref": "main", "lfs": "true"})
    assert lost.status_code == 404
    assert lost.json() == {"message": "404 LFS object Not Found"}
    # A file that is no pointer is its blob, with or without lfs.
    plain = f"/projects/{encoded(PROJECT)}/repository/files/{encoded('people/leave.md')}/raw"
    assert api.get(plain, params={"lfs": "true"}).content == api.get(plain).content


def test_uploads_need_a_token_and_the_right_bytes(emulator: Emulator) -> None:
    data = b"some object"
    oid = hashlib.sha256(data).hexdigest()
    href = f"{emulator.url}/{PROJECT}.git/gitlab-lfs/objects/{oid}/{len(data)}"
    assert httpx.put(href, content=data, timeout=10).status_code == 401
    wrong = httpx.put(href, content=b"other bytes", auth=("oauth2", TOKEN), timeout=10)
    assert wrong.status_code == 422
    batch = httpx.post(
        f"{emulator.url}/{PROJECT}.git/info/lfs/objects/batch",
        json={"operation": "download", "objects": [{"oid": oid, "size": len(data)}]},
        headers=LFS,
        auth=("oauth2", TOKEN),
        timeout=10,
    )
    assert batch.json()["objects"][0]["error"]["code"] == 404
    assert httpx.get(batch.request.url, auth=("oauth2", TOKEN), timeout=10).status_code == 404
