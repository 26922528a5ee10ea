"""`python -m thoth.ingest.budget FD`: a parse child, started by ParseBudget."""

from thoth.ingest.budget.child import main

main()
