"""The search loop, its run directory and checkpoints.

``run_search(run_config, out_dir)`` runs or resumes one (method, seed) search.
"""

from nasbench_sd.search.loop import cosine_lr, run_search

__all__ = ["cosine_lr", "run_search"]
