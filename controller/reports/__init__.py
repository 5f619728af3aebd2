"""Reports on what was broadcast and how well: the as-run log (`asrun`), report periods."""
