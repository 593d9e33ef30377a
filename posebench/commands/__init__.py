"""Subcommands of the ``posebench`` CLI, one module per topic."""
