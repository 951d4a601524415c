"""Benchmarks and quality comparisons of quants: speed, memory, cost and EQ, perplexity and KL
divergence, reports, plots, a per-machine measurement cache and measured picks.

Everything here runs in the parent process; llama.cpp work goes through edgeapp.runs and the
engine client, one engine process per model at a time.
"""
