"""`python -m thoth.budget FD`: a parse child, started by ParseBudget."""

from thoth.budget.child import main

main()
