"""Torch networks of the NAS-Bench-201 space.

* :mod:`nasbench_sd.nn.supernet` -- :class:`SuperNet`, the (fast) search network
  driven by caller-owned edge weights (dense, sampled, partial-channel);
* :mod:`nasbench_sd.nn.batched` -- :class:`BatchedSuperNet`, S seeds' SuperNets as
  one network (grouped convolutions over stacked parameters; dense);
* :mod:`nasbench_sd.nn.reference` -- :class:`ReferenceSuperNet`, the plain
  per-edge version it is tested against;
* :mod:`nasbench_sd.nn.evalnet` -- :class:`EvalNet`, the discrete network of one cell;
* :mod:`nasbench_sd.nn.params` -- parameter counts without torch.

Importing this package imports nothing heavy; import the submodules you need.
"""
