"""Latency and quality benchmarks: LazyDiT against DDIM."""
