"""Serving: the micro-batcher, gRPC interceptors, the server and its client."""
