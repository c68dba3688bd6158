"""Pipelines: filter whole datasets locally, with a server, or on Ray."""
