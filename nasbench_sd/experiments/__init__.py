"""Multi-seed experiments: run many (method, seed) searches.

Layout of an experiment directory (``--out``; by default ``runs/<preset>``)::

    experiment.json              manifest: groups, seeds, preset, per-run status
    <label>/seed-<n>/            one run directory (see nasbench_sd.search.rundir)
    table.csv | table.md | table.tex     written by ``nasbench-sd table``
    plots/*.png | plots/*.pdf            written by ``nasbench-sd plot``

``<label>`` is the method name (``sd-darts``) for ``nasbench-sd run`` and
``<method>-<param>=<value>`` for ``nasbench-sd ablate``.

Modules: :mod:`~.layout` (names, seeds, paths, discovery), :mod:`~.runner`
(plan, validate, execute), :mod:`~.manifest`, :mod:`~.executors` (serial,
process pool, Ray), :mod:`~.worker`, :mod:`~.progress`, :mod:`~.ablate` (the
groups of a sweep), :mod:`~.reuse` (what a reused run's provenance says).
Tables, plots and the views of runs are read back by :mod:`nasbench_sd.report`,
which this package never imports.
Importing this package imports no torch, pandas, matplotlib, scipy or Ray.
"""
