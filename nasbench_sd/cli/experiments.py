"""``run``, ``table``, ``plot`` and ``ablate``: multi-seed experiments."""

COMMANDS: list = []
