"""GitLab's offset pagination: `page` and `per_page` in, X-* headers and `Link` out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from starlette.datastructures import URL, QueryParams

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    number: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page


def requested_page(query: QueryParams) -> Page:
    """Out-of-range values fall back as GitLab's do: page < 1 is 1, per_page is capped."""
    number = _positive(query.get("page"), 1)
    per_page = min(_positive(query.get("per_page"), DEFAULT_PER_PAGE), MAX_PER_PAGE)
    return Page(number, per_page)


def slice_page(items: Sequence[T], page: Page) -> list[T]:
    return list(items[page.offset : page.offset + page.per_page])


def page_headers(url: URL, page: Page, total: int) -> dict[str, str]:
    total_pages = max(1, math.ceil(total / page.per_page))
    has_next = page.number < total_pages
    headers = {
        "X-Page": str(page.number),
        "X-Per-Page": str(page.per_page),
        "X-Next-Page": str(page.number + 1) if has_next else "",
        "X-Prev-Page": str(page.number - 1) if page.number > 1 else "",
        "X-Total": str(total),
        "X-Total-Pages": str(total_pages),
    }
    links = []
    if page.number > 1:
        links.append(_link(url, page, min(page.number - 1, total_pages), "prev"))
    if has_next:
        links.append(_link(url, page, page.number + 1, "next"))
    links.append(_link(url, page, 1, "first"))
    links.append(_link(url, page, total_pages, "last"))
    headers["Link"] = ", ".join(links)
    return headers


def _link(url: URL, page: Page, number: int, rel: str) -> str:
    target = url.include_query_params(page=number, per_page=page.per_page)
    return f'<{target}>; rel="{rel}"'


def _positive(value: str | None, default: int) -> int:
    if value is None or not value.strip().lstrip("-").isdigit():
        return default
    return max(1, int(value))
