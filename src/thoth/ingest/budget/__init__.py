"""A resource budget per file: parsing and chunking one file run in a child process under a
memory ceiling and a deadline, so a hostile file costs that file, never the worker.

    with ParseBudget(limits, tokenizer_json) as budget:
        output = budget.run(FileRequest(path, data, source, max_tokens, overlap_tokens))

`run` raises BudgetExceeded (a ParseError) when the child runs out of memory, crashes or
overruns the deadline; the child is replaced and the next file goes on.
"""

from thoth.ingest.budget.limits import BudgetExceeded, BudgetLimits
from thoth.ingest.budget.pool import ParseBudget
from thoth.ingest.budget.work import FileRequest, ParseOutput

__all__ = ["BudgetExceeded", "BudgetLimits", "FileRequest", "ParseBudget", "ParseOutput"]
