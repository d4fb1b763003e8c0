"""Benchmark harness comparing srcdiff with hand-written NumPy and peer AD libraries."""
