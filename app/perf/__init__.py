"""Live performance: counters to rates, ring buffers for graphs, consolidated history on disk."""
