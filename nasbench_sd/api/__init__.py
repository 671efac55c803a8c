"""The Python API: what the ``nasbench-sd`` command line calls, for notebooks and scripts.

* :func:`~nasbench_sd.api.runs.search` - one search, returns a :class:`~nasbench_sd.api.views.Run`;
* :func:`~nasbench_sd.api.runs.run` - many (method, seed) searches, returns an
  :class:`~nasbench_sd.api.views.Experiment`; :func:`~nasbench_sd.api.runs.ablate` - one
  setting swept;
* :func:`~nasbench_sd.api.lookup.query` - a cell's benchmark figures;
* :func:`~nasbench_sd.api.views.load` - a run or an experiment directory, with
  ``.table()`` (a pandas DataFrame with the numbers of ``nasbench-sd table``),
  ``.curves()`` and ``.plot()``.

The top-level package re-exports them lazily (``nasbench_sd.search``,
``nasbench_sd.run``, ``nasbench_sd.query``, ``nasbench_sd.load``): ``import
nasbench_sd`` imports none of torch, pandas or matplotlib. Bad input raises
:class:`~nasbench_sd.errors.UserError` with one actionable line.
"""

from nasbench_sd.api.lookup import query
from nasbench_sd.api.runs import ablate, run, search
from nasbench_sd.api.views import Experiment, Run, load

__all__ = ["Experiment", "Run", "ablate", "load", "query", "run", "search"]
