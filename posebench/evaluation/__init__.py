"""Evaluation: the runner (method x dataset -> per-sample records), the per-sample prediction
cache, the environment recorded with each run, the paper's reported numbers and the leaderboard."""
