"""Ranking variants of Thoth's rankers, tried on the dev split (`quality.py --variants`).

Fused here from the engine's own dense ranking (SourceIndex.dense, DEEP deep) and a BM25
ranking: the engine's own (SourceIndex.fulltext) or one of the bench-only indexes over other
fields or analysers (quality_thoth.FTS_VARIANTS). Each variant names its full-text side.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from quality_thoth import ENGINE_DEPTH, FTS_VARIANTS, Ranking, Retrieved, Scored, ranking_of
from question_parts import RULES

from thoth.serve.search.fusion import weighted_minmax_fusion, weighted_rrf


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    rank: Callable[[Retrieved], Ranking]
    parts_rule: str | None = None  # ranks with Retrieved.parts[parts_rule] (question_parts)


def engine_fused(got: Retrieved) -> Scored:
    """The engine's own fusion: 0.5 x min-max cosine + 0.5 x min-max BM25 of each top 50."""
    return weighted_minmax_fusion(
        [got.dense[:ENGINE_DEPTH], got.fulltext[:ENGINE_DEPTH]], (0.5, 0.5)
    )


def _fulltext(got: Retrieved, fts: str) -> Scored:
    return got.fulltext if fts == "engine" else got.fts[fts]


def rrf(dense: Scored, fulltext: Scored, *, k: int, depth: int, w: float) -> Ranking:
    """RRF of the two rankings cut to `depth`, dense weighted `w`, full text 1."""
    fused = weighted_rrf([ranking_of(dense[:depth]), ranking_of(fulltext[:depth])], (w, 1.0), k)
    return [row for row, _ in fused]


def minmax(dense: Scored, fulltext: Scored, *, alpha: float, depth: int) -> Ranking:
    """alpha * min-max(cosine) + (1 - alpha) * min-max(BM25), missing scores count 0."""
    fused = weighted_minmax_fusion([dense[:depth], fulltext[:depth]], (alpha, 1.0 - alpha))
    return [row for row, _ in fused]


QUESTION_WORDS = "how|what|who|when|where|why|which|can|do|does|is|are|should"
KEYWORDISH = re.compile(rf"^(?!.*\?)(?!({QUESTION_WORDS})\b)")


def keyword_like(query: str) -> bool:
    """A short query with no question mark and no question word in front."""
    words = query.split()
    return len(words) <= 5 and bool(KEYWORDISH.match(query.strip().lower()))


def _rrf_variant(fts: str, k: int, w: float, depth: int = ENGINE_DEPTH) -> Variant:
    def rank(got: Retrieved) -> Ranking:
        return rrf(got.dense, _fulltext(got, fts), k=k, depth=depth, w=w)

    name = f"rrf k={k} w={w:g} d={depth} [{fts}]"
    return Variant(name, f"RRF, dense weight {w:g} : full text 1, over {fts}", rank)


def _minmax_variant(fts: str, alpha: float, depth: int = ENGINE_DEPTH) -> Variant:
    def rank(got: Retrieved) -> Ranking:
        return minmax(got.dense, _fulltext(got, fts), alpha=alpha, depth=depth)

    name = f"minmax a={alpha:g} d={depth} [{fts}]"
    return Variant(name, f"min-max cosine x {alpha:g} + min-max BM25, over {fts}", rank)


def _adaptive_variant(fts: str, alpha: float, keyword_alpha: float) -> Variant:
    def rank(got: Retrieved) -> Ranking:
        a = keyword_alpha if keyword_like(got.query) else alpha
        return minmax(got.dense, _fulltext(got, fts), alpha=a, depth=ENGINE_DEPTH)

    name = f"minmax a={alpha:g}/kw {keyword_alpha:g} [{fts}]"
    return Variant(name, "min-max, leaning to full text for keyword-like queries", rank)


def _length_variant(min_words: int, long_alpha: float) -> Variant:
    """Long questions (a context, a qualifier, two needs) lean to full text: one MiniLM vector
    averages all their clauses, while BM25 still matches each clause's rare words."""

    def rank(got: Retrieved) -> Ranking:
        long = len(got.query.split()) >= min_words
        a = long_alpha if long else 0.5
        return minmax(got.dense, got.fulltext, alpha=a, depth=ENGINE_DEPTH)

    name = f"length >={min_words} words a={long_alpha:g}"
    return Variant(name, f"min-max, dense {long_alpha:g} for questions of {min_words}+ words", rank)


def _normalised(ranking: Scored, how: str) -> dict[int, float]:
    """One ranker's scores on a common scale: z-scores ("z"), or the mean +- 3 sigma range
    mapped to 0..1 and clipped ("dbsf", distribution-based score fusion)."""
    values = np.array([score for _, score in ranking], dtype=np.float64)
    mean, std = float(values.mean()), float(values.std()) or 1.0
    if how == "z":
        scaled = (values - mean) / std
    else:
        scaled = np.clip((values - (mean - 3 * std)) / (6 * std), 0.0, 1.0)
    return {row: float(v) for (row, _), v in zip(ranking, scaled, strict=True)}


def distribution_fusion(dense: Scored, fulltext: Scored, *, alpha: float, how: str) -> Ranking:
    """alpha x normalised cosine + (1 - alpha) x normalised BM25; a chunk missing from one
    ranker gets that ranker's lowest normalised score."""
    lists = [(_normalised(r, how), w) for r, w in ((dense, alpha), (fulltext, 1 - alpha)) if r]
    rows = list(dict.fromkeys(row for ranking in (dense, fulltext) for row, _ in ranking))
    fused = {
        row: sum(w * scores.get(row, min(scores.values())) for scores, w in lists) for row in rows
    }
    return sorted(rows, key=lambda row: -fused[row])


def _distribution_variant(how: str, alpha: float) -> Variant:
    def rank(got: Retrieved) -> Ranking:
        return distribution_fusion(
            got.dense[:ENGINE_DEPTH], got.fulltext[:ENGINE_DEPTH], alpha=alpha, how=how
        )

    return Variant(f"{how} a={alpha:g}", f"{how}-normalised fusion, cosine x {alpha:g}", rank)


def file_decay(fused: Scored, paths: Sequence[str], decay: float) -> Ranking:
    """Greedy re-ranking for questions whose answer spans files: each pick's score is
    multiplied by `decay` for every chunk of its file already picked."""
    left = list(fused)
    picked: Ranking = []
    per_file: dict[str, int] = {}
    while left:
        best = max(
            range(len(left)),
            key=lambda i: left[i][1] * decay ** per_file.get(paths[left[i][0]], 0),
        )
        row, _ = left.pop(best)
        picked.append(row)
        per_file[paths[row]] = per_file.get(paths[row], 0) + 1
    return picked


def file_cap(ranking: Ranking, paths: Sequence[str], cap: int, within: int) -> Ranking:
    """At most `cap` chunks of one file among the first `within`; the rest keep their order
    after them."""
    head: Ranking = []
    rest: Ranking = []
    per_file: dict[str, int] = {}
    for row in ranking:
        n = per_file.get(paths[row], 0)
        if len(head) < within and n < cap:
            head.append(row)
            per_file[paths[row]] = n + 1
        else:
            rest.append(row)
    return head + rest


def _decay_variant(decay: float) -> Variant:
    def rank(got: Retrieved) -> Ranking:
        fused = engine_fused(got)
        return file_decay(fused[:DIVERSE_POOL], got.paths, decay)[:DIVERSE_POOL]

    name = f"minmax a=0.5 file decay {decay:g}"
    return Variant(name, f"min-max 0.5, score x {decay:g} per earlier chunk of its file", rank)


def _cap_variant(cap: int, within: int) -> Variant:
    def rank(got: Retrieved) -> Ranking:
        fused = minmax(got.dense, got.fulltext, alpha=0.5, depth=ENGINE_DEPTH)
        return file_cap(fused, got.paths, cap, within)

    name = f"minmax a=0.5 file cap {cap} in {within}"
    return Variant(name, f"min-max 0.5, at most {cap} chunks per file in the top {within}", rank)


def _section_cap_variant(cap: int, within: int) -> Variant:
    """As context="section" answers (one result per heading section), but with chunks."""

    def rank(got: Retrieved) -> Ranking:
        fused = minmax(got.dense, got.fulltext, alpha=0.5, depth=ENGINE_DEPTH)
        sections = [f"{p}\n{h}" for p, h in zip(got.paths, got.headings, strict=True)]
        return file_cap(fused, sections, cap, within)

    name = f"minmax a=0.5 section cap {cap} in {within}"
    description = f"min-max 0.5, at most {cap} chunks per heading section in the top {within}"
    return Variant(name, description, rank)


def gated_second_file(fused: Scored, paths: Sequence[str], ratio: float, within: int) -> Ranking:
    """When the first `within` results all come from one file, the best chunk of any other
    file takes the last place, but only if its fused score is at least `ratio` x the score
    of the chunk it displaces: a near tie, which a question spanning two files produces and
    a question about one file rarely does."""
    rows = [row for row, _ in fused]
    head = fused[:within]
    if len(head) < within or len({paths[row] for row, _ in head}) > 1:
        return rows
    top_file = paths[head[0][0]]
    other = next(((row, s) for row, s in fused[within:] if paths[row] != top_file), None)
    if other is None or other[1] < ratio * head[-1][1]:
        return rows
    moved = [row for row, _ in head[:-1]] + [other[0], head[-1][0]]
    return moved + [row for row in rows[within:] if row != other[0]]


def _gated_variant(ratio: float, within: int) -> Variant:
    def rank(got: Retrieved) -> Ranking:
        fused = engine_fused(got)
        return gated_second_file(fused, got.paths, ratio, within)

    name = f"minmax a=0.5 gated second file {ratio:g} in {within}"
    description = (
        f"min-max 0.5; a one-file top {within} gives its last place to another file's best "
        f"chunk scoring >= {ratio:g} x it"
    )
    return Variant(name, description, rank)


def file_evidence(fused: Scored, paths: Sequence[str], weight: float, top: int) -> Ranking:
    """Each chunk's fused score plus `weight` x the sum of its file's `top` best fused scores
    (the file's evidence): a chunk of a file that matches in several places climbs."""
    by_file: dict[str, list[float]] = {}
    for row, score in fused:
        by_file.setdefault(paths[row], []).append(score)
    evidence = {path: sum(sorted(scores, reverse=True)[:top]) for path, scores in by_file.items()}
    rescored = [(row, score + weight * evidence[paths[row]]) for row, score in fused]
    return [row for row, _ in sorted(rescored, key=lambda pair: -pair[1])]


def _evidence_variant(weight: float, top: int) -> Variant:
    def rank(got: Retrieved) -> Ranking:
        fused = engine_fused(got)
        return file_evidence(fused, got.paths, weight, top)

    name = f"minmax a=0.5 file evidence {weight:g} top {top}"
    return Variant(name, f"min-max 0.5, plus {weight:g} x its file's best {top} scores", rank)


def _fulltext_variant(fts: str) -> Variant:
    def rank(got: Retrieved) -> Ranking:
        return ranking_of(got.fts[fts])

    return Variant(f"fulltext [{fts}]", f"BM25 alone over {fts}", rank)


DIVERSE_POOL = 20  # fused candidates a diversity variant re-ranks
FUSED_OVER = ("engine", "text", "thx", "thx nostem", "t2h2x", "t3h3x", "th2x", "t2hx")
FUSION_VARIANTS: list[Variant] = [
    *(_fulltext_variant(name) for name in FTS_VARIANTS),
    *(_minmax_variant(fts, a) for fts in FUSED_OVER for a in (0.3, 0.4, 0.5, 0.6, 0.75)),
    *(_minmax_variant(fts, 0.5, d) for fts in FUSED_OVER for d in (20, 100)),
    *(_rrf_variant(fts, k, w) for fts in FUSED_OVER for k in (5, 20, 60) for w in (0.67, 1.0, 1.5)),
    *(_adaptive_variant(fts, a, kw) for fts in FUSED_OVER for a in (0.5, 0.6) for kw in (0.2, 0.3)),
    *(_length_variant(n, a) for n in (12, 16, 20) for a in (0.3, 0.4)),
    *(_decay_variant(d) for d in (0.3, 0.5, 0.7, 0.85)),
    *(_cap_variant(cap, within) for cap in (1, 2, 3) for within in (5, 10)),
    _cap_variant(4, 5),  # a second file guaranteed a place in the top 5
    *(_gated_variant(r, 5) for r in (0.8, 0.9, 0.95)),
    *(_section_cap_variant(1, within) for within in (5, 10)),
    *(_evidence_variant(w, top) for w in (0.1, 0.25, 0.5) for top in (1, 3)),
    *(_distribution_variant(how, a) for how in ("z", "dbsf") for a in (0.4, 0.5, 0.6)),
]


# --- multi-part questions (bench/question_parts.py) ---------------------------------------


def _part_fused(dense: Scored, fulltext: Scored, dense_only: bool) -> Scored:
    if dense_only:
        return weighted_minmax_fusion([dense[:ENGINE_DEPTH]], (1.0,))
    return weighted_minmax_fusion([dense[:ENGINE_DEPTH], fulltext[:ENGINE_DEPTH]], (0.5, 0.5))


def parts_minmax(got: Retrieved, weight: float, dense_only: bool, rule: str) -> Ranking:
    """The whole question's fused score plus `weight` x the best fused score any part (cut
    by `rule`) gives the chunk."""
    whole = engine_fused(got)
    best: dict[int, float] = {}
    for _, dense, fulltext in got.parts[rule]:
        for row, score in _part_fused(dense, fulltext, dense_only):
            best[row] = max(best.get(row, 0.0), score)
    scores = {row: score for row, score in whole}
    for row, score in best.items():
        scores[row] = scores.get(row, 0.0) + weight * score
    return [row for row, _ in sorted(scores.items(), key=lambda pair: -pair[1])]


def parts_reserve(got: Retrieved, top: int, dense_only: bool, rule: str) -> Ranking:
    """The whole question's ranking, but each part's best chunk is placed within the first
    `top` results when it is not there already (after the whole question's leaders)."""
    whole = [row for row, _ in engine_fused(got)]
    extra: list[int] = []
    for _, dense, fulltext in got.parts[rule]:
        fused = _part_fused(dense, fulltext, dense_only)
        if fused:
            extra.append(fused[0][0])
    extra = list(dict.fromkeys(extra))[: max(0, top - 1)]
    head = whole[: top - len(extra)]
    head += [r for r in extra if r not in head]
    head += [r for r in whole if r not in head][: max(0, top - len(head))]
    return head + [r for r in whole if r not in head]


# The clause rule keeps the names it was recorded under; other rules prefix theirs.
def _parts_name(rule: str) -> str:
    return "parts" if rule == "clauses" else f"{rule} parts"


def _parts_minmax_variant(weight: float, dense_only: bool, rule: str) -> Variant:
    def rank(got: Retrieved) -> Ranking:
        return parts_minmax(got, weight, dense_only, rule)

    side = "dense" if dense_only else "hybrid"
    name = f"{_parts_name(rule)} minmax {weight:g} [{side}]"
    description = f"whole + {weight:g} x best part score ({side}; parts cut at {rule})"
    return Variant(name, description, rank, parts_rule=rule)


def _parts_reserve_variant(top: int, dense_only: bool, rule: str) -> Variant:
    def rank(got: Retrieved) -> Ranking:
        return parts_reserve(got, top, dense_only, rule)

    side = "dense" if dense_only else "hybrid"
    description = f"each part's best in the top {top} (parts cut at {rule})"
    return Variant(
        f"{_parts_name(rule)} reserve {top} [{side}]", description, rank, parts_rule=rule
    )


FUSION_VARIANTS += [
    *(
        _parts_minmax_variant(w, d, rule)
        for rule in RULES
        for w in (0.25, 0.5, 1.0)
        for d in (False, True)
    ),
    *(_parts_reserve_variant(t, d, rule) for rule in RULES for t in (5,) for d in (False, True)),
]
