"""An Arrow string column read as a sequence of str behaves like the list it replaces."""

from __future__ import annotations

import pyarrow as pa
import pytest

from thoth.serve.search.source_index import StringColumn

VALUES = ["alpha", "", "été 中文", "delta"]


def column() -> StringColumn:
    return StringColumn(pa.chunked_array([VALUES[:2], VALUES[2:]]))


def test_indexing_slicing_and_iterating_match_a_list() -> None:
    col = column()
    assert len(col) == len(VALUES)
    assert [col[i] for i in range(len(VALUES))] == VALUES
    assert col[-1] == "delta"
    assert col[1:3] == VALUES[1:3]
    assert list(col) == VALUES
    assert "delta" in col


def test_out_of_range_is_an_index_error() -> None:
    with pytest.raises(IndexError):
        column()[len(VALUES)]
    with pytest.raises(IndexError):
        column()[-len(VALUES) - 1]
