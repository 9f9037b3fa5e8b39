"""Measuring a model: generation backends, the single-turn and replay protocols, judges, eval
sets with frozen labels, the evaluation step, eval reports, paired comparisons and the
archive's Pareto front."""
