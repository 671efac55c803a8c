"""Reading experiments: tables, plots, comparisons with the published rows, and views of one run or one experiment.

The ``experiments`` room runs searches and writes run directories; this room
only reads them: :mod:`~.table` (mean ± std per group, tests against a
baseline; written by :mod:`~.render`, compared by :mod:`~.compare`),
:mod:`~.published` (the papers' rows), :mod:`~.curves` (per-epoch records),
:mod:`~.plot` and :mod:`~.plot_final` (figures, sharing :mod:`~.figure`),
:mod:`~.ablation` (an ablation's summary), :mod:`~.show` (one run) and
:mod:`~.status` (an experiment while it runs). Importing this package imports
no torch, pandas, matplotlib or scipy.
"""
