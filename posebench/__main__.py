"""``python -m posebench``: the same as the ``posebench`` command."""

from posebench.entry import main

main()
