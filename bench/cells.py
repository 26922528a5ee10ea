"""What probing cells (thoth.bucket.cells) costs and keeps: dense search over the synthetic
snapshots of bench/query.py, probed as the server does and exact, for real questions.

    .venv/bin/python bench/cells.py [--scales 50000,200000] [--questions 418]

Per scale: how long writing the cells took when the snapshot was built (k-means on the
snapshot's vectors, timed again here), the dense stage's CPU per query both ways (one thread,
the way a request runs it), and what probing keeps of the exact ranking: the share of the
exact top 5, 10 and 50 found in the probed top 50 (the candidates fusion sees). Questions
are the labelled ones of bench/quality_questions.yaml, embedded by the serving encoder.
Writes bench/results/cells.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, markdown_table
from query import MODEL, snapshot_dir

from thoth.bucket import cells
from thoth.bucket.snapshot import open_snapshot
from thoth.embedding import load_query_encoder
from thoth.serve.search import SourceIndex
from thoth.serve.search.dense import Rows

QUESTIONS = Path(__file__).resolve().parent / "quality_questions.yaml"
DEPTH = 50


def questions(limit: int) -> list[str]:
    loaded = yaml.safe_load(QUESTIONS.read_text())["questions"]
    return [q["question"] for q in loaded][:limit]


def measure(chunks: int, vectors: np.ndarray) -> dict[str, Any]:
    directory, manifest = snapshot_dir(chunks, 2000, 7)
    if not manifest.cells:
        sys.exit(f"the {chunks}-chunk snapshot has no cells (fewer than {cells.MIN_ROWS:,})")
    started = time.perf_counter()
    index = SourceIndex(open_snapshot(directory))
    load_s = time.perf_counter() - started
    dense = index.dense_index
    started = time.perf_counter()
    cells.partition(dense.matrix, manifest.cells)  # as build_snapshot does (row order aside)
    partition_s = time.perf_counter() - started
    probed: list[Rows] = []
    exact: list[Rows] = []
    cpu = {"probed": 0.0, "exact": 0.0}
    for name, flag in (("exact", True), ("probed", False)):
        out = exact if flag else probed
        started = time.process_time()
        for query in vectors:
            out.append(dense.search(query, DEPTH, exact=flag)[0])
        cpu[name] = (time.process_time() - started) * 1000 / len(vectors)
    kept = {
        k: float(
            np.mean([len(set(e[:k]) & set(p)) / k for e, p in zip(exact, probed, strict=True)])
        )
        for k in (5, 10, 50)
    }
    worst = min(len(set(e[:10]) & set(p)) / 10 for e, p in zip(exact, probed, strict=True))
    return {
        "chunks": chunks,
        "cells": manifest.cells,
        "probed_cells": cells.probe_count(manifest.cells),
        "load_s": round(load_s, 2),
        "partition_s": round(partition_s, 2),
        "dense_cpu_ms": {k: round(v, 2) for k, v in cpu.items()},
        "exact_top_k_in_probed_50": {str(k): round(v, 3) for k, v in kept.items()},
        "worst_top10_kept": worst,
        "questions": len(vectors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="50000,200000")
    parser.add_argument("--questions", type=int, default=418)
    parser.add_argument(
        "--probe-share",
        type=float,
        default=cells.PROBE_SHARE,
        help=f"share of the cells a query scans (the server's: {cells.PROBE_SHARE})",
    )
    args = parser.parse_args()
    cells.PROBE_SHARE = args.probe_share
    from thoth.serve.search.dense import single_threaded_blas

    single_threaded_blas()
    encoder = load_query_encoder(MODEL)
    vectors = np.stack([encoder.encode_query(q) for q in questions(args.questions)])
    results = [measure(int(n), vectors) for n in args.scales.split(",")]
    rows = [
        [
            f"{r['chunks']:,}",
            f"{r['probed_cells']} of {r['cells']}",
            r["partition_s"],
            r["dense_cpu_ms"]["exact"],
            r["dense_cpu_ms"]["probed"],
            *r["exact_top_k_in_probed_50"].values(),
            r["worst_top10_kept"],
        ]
        for r in results
    ]
    header = [
        "chunks",
        "cells probed",
        "k-means s",
        "dense CPU ms, exact",
        "probed",
        "exact top 5 kept",
        "top 10",
        "top 50",
        "worst top 10",
    ]
    md = markdown_table(header, rows) + "\n"
    print(md)
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"bench": "cells", "machine": machine(), "results": results}
    (RESULTS / "cells.json").write_text(json.dumps(payload, indent=1) + "\n")
    (RESULTS / "cells.md").write_text(md)


if __name__ == "__main__":
    main()
