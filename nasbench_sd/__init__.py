"""nasbench-sd: differentiable NAS on NAS-Bench-201, centred on SD-DARTS.

Importing the package is cheap and has no side effects: torch, pandas and the
benchmark table are loaded only by the modules and functions that need them.
"""

__version__ = "0.1.0"
