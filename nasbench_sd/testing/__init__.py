"""Tools for testing search methods, shipped so plugin authors run the same suite.

``nasbench_sd.testing.contract`` holds the contract checks every registered
method passes (built-ins and plugins) and the tiny CPU :class:`Harness` they
run on. Importing this package imports torch but runs nothing.
"""

from nasbench_sd.testing.contract import (
    CONTRACT_CHECKS,
    Harness,
    ToyBatch,
    TracePoint,
    check_arch_gradients,
    check_checkpoint_safe,
    check_config,
    check_deterministic,
    check_edge_weights,
    check_genotype_valid,
    check_midepoch_resume,
    check_own_term,
    check_state_roundtrip,
    check_step_stats,
    contract_case_id,
    contract_cases,
    method_class,
    run_contract,
    toy_search_config,
)
from nasbench_sd.testing.seedbatch import check_seed_batching, compare_seed_batch

__all__ = [
    "CONTRACT_CHECKS", "Harness", "ToyBatch", "TracePoint", "check_arch_gradients", "check_checkpoint_safe",
    "check_config", "check_deterministic", "check_edge_weights", "check_genotype_valid", "check_midepoch_resume",
    "check_own_term", "check_seed_batching", "check_state_roundtrip", "compare_seed_batch",
    "check_step_stats",
    "contract_case_id", "contract_cases", "method_class", "run_contract", "toy_search_config",
]
