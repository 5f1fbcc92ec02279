"""Telling a weighted split from another by counting answers, with a stated error bound.

Envoy (and every proxy the course uses) picks a weighted backend at random for each request, so the
number of requests a backend with share p gets out of n is Binomial(n, p). `acceptance_band` gives the
counts a correct split produces except with probability at most `alpha`: a check that accepts
exactly that band fails a correct answer by chance with probability < alpha, and `pass_probability`
says how often a wrong split (50/50, swapped weights) would slip through.
"""

from __future__ import annotations

from math import comb

FALSE_FAIL_BOUND = 1e-6  # the course's checks never fail a correct split more often than this


def _below(n: int, p: float, k: int) -> float:
    """P(X < k) for X ~ Binomial(n, p), exactly."""
    return sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(0, max(k, 0)))


def acceptance_band(n: int, p: float, alpha: float = FALSE_FAIL_BOUND) -> tuple[int, int]:
    """(lo, hi): out of n requests, a backend with share p gets between lo and hi of them (inclusive)
    except with probability at most alpha (alpha/2 on each side)."""
    lo = 0
    while lo < n and _below(n, p, lo + 1) <= alpha / 2:
        lo += 1
    hi = n
    while hi > 0 and 1 - _below(n, p, hi) <= alpha / 2:
        hi -= 1
    return lo, hi


def pass_probability(n: int, p: float, band: tuple[int, int]) -> float:
    """How likely a backend with true share p lands in the band (a wrong split passing by chance)."""
    lo, hi = band
    return _below(n, p, hi + 1) - _below(n, p, lo)
