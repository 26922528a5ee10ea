"""The README's behaviour table names only tests that exist."""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).parent


def test_every_test_id_in_the_readme_exists() -> None:
    readme = (HERE.parent / "README.md").read_text()
    ids = set(re.findall(r"`(test_\w+\.py)::(test_\w+)`", readme))
    assert len(ids) > 40
    missing = [
        f"{module}::{name}"
        for module, name in sorted(ids)
        if not re.search(rf"^def {name}\(", (HERE / module).read_text(), re.MULTILINE)
    ]
    assert missing == []
