"""The search loop, its run directory and checkpoints.

``run_search(run_config, out_dir)`` runs or resumes one (method, seed) search.
"""

from nasbench_sd.search.loop import run_search
from nasbench_sd.search.schedule import cosine_lr

__all__ = ["cosine_lr", "run_search"]
