"""The search loop, its run directory and checkpoints.

``run_search(run_config, out_dir)`` runs or resumes one (method, seed) search;
``run_seed_batch(run_configs, out_dirs)`` runs several seeds of one method as
one seed-batched supernet (:mod:`nasbench_sd.search.batched`).
"""

from nasbench_sd.search.batched import run_seed_batch
from nasbench_sd.search.loop import run_search
from nasbench_sd.search.schedule import cosine_lr

__all__ = ["cosine_lr", "run_search", "run_seed_batch"]
