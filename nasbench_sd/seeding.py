"""Named RNG streams derived from one run seed.

Every source of randomness in a run (weight init, architecture init, data
order, augmentation, Gumbel sampling, random cells) draws from its own
generator seeded by ``derive_seed(seed, "<stream>")``, so changing how much one
stream consumes never shifts another, and a resumed run restores each one.
"""

from __future__ import annotations

import hashlib


def derive_seed(seed: int, stream: str) -> int:
    """A stable 63-bit seed for the named stream of run ``seed``."""
    digest = hashlib.sha256(f"{int(seed)}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
