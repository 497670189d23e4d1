"""Finding VMs: the query language, its index, live results and saved searches (no
widgets; widgets/search shows them)."""
