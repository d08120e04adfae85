"""Offline tooling: synthetic workspaces, evaluation and model training.

The runtime (`bot`, `adapters`, `skills`, `storage`) never imports this package; it only reads the
weights these tools write into `bot/backends/weights/`. tests/test_layering.py holds that line.
"""
