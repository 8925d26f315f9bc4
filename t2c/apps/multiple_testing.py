"""P-value corrections for testing many concepts at once: Benjamini–Hochberg and Holm."""

import numpy as np

from t2c.errors import ConfigError

CORRECTIONS = ("fdr_bh", "holm", "none")  # names as statsmodels' multipletests spells the first two


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Return Benjamini–Hochberg adjusted p-values (false discovery rate), same order as the input.

    adjusted_(i) = min over j >= i of p_(j) * m / j for sorted p_(1) <= ... <= p_(m), capped at 1.
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted_sorted = np.minimum.accumulate(scaled[::-1])[::-1]

    adjusted = np.empty(m)
    adjusted[order] = np.minimum(adjusted_sorted, 1.0)
    return adjusted


def holm(p_values: np.ndarray) -> np.ndarray:
    """Return Holm's step-down adjusted p-values (family-wise error rate), same order as the input.

    adjusted_(i) = max over j <= i of p_(j) * (m - j + 1) for sorted p-values, capped at 1.
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p)
    scaled = p[order] * (m - np.arange(m))
    adjusted_sorted = np.maximum.accumulate(scaled)

    adjusted = np.empty(m)
    adjusted[order] = np.minimum(adjusted_sorted, 1.0)
    return adjusted


def adjust_p_values(p_values: np.ndarray, method: str = "fdr_bh") -> np.ndarray:
    """Correct p-values for multiple testing with `method`: "fdr_bh", "holm" or "none".

    NaN p-values (a concept with zero variance on both sides) stay NaN and do not count as tests.
    """
    if method not in CORRECTIONS:
        raise ConfigError(f"correction {method!r} is unknown; use one of {', '.join(CORRECTIONS)}")
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    finite = np.isfinite(p)

    if method == "none":
        adjusted[finite] = p[finite]
    elif method == "fdr_bh":
        adjusted[finite] = benjamini_hochberg(p[finite])
    else:
        adjusted[finite] = holm(p[finite])
    return adjusted
