"""Properties of the closed-form aligners, checked over generated data."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from t2c.aligners import LstsqAligner, ProcrustesAligner, RidgeAligner, SufficientStats

STATS_ALIGNERS = {
    "lstsq": lambda: LstsqAligner(),
    "ridge fixed alpha": lambda: RidgeAligner(alpha=2.0),
    "ridge cv": lambda: RidgeAligner(alphas=[0.1, 1.0, 10.0], n_folds=3),
    "procrustes": lambda: ProcrustesAligner(),
}


def random_pair(seed: int, n: int, p: int, q: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + rng.normal(size=p)
    Y = X @ rng.normal(size=(p, q)) + rng.normal(size=(n, q)) + rng.normal(size=q) * 3.0
    return X, Y


@pytest.mark.parametrize("make", STATS_ALIGNERS.values(), ids=STATS_ALIGNERS.keys())
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), batch_size=st.integers(1, 40))
def test_invariant_to_order_and_batch_split(make, seed, batch_size):
    if isinstance(make(), RidgeAligner) and make().alpha is None:
        # Choosing alpha by CV needs samples in two folds from the first batch on.
        batch_size = max(batch_size, 10)
    X, Y = random_pair(seed, 40, 5, 3)
    keys = np.asarray([f"img-{i}" for i in range(40)])
    order = np.random.default_rng(seed + 1).permutation(40)

    streamed = make()
    for start in range(0, 40, batch_size):
        rows = order[start : start + batch_size]
        streamed.partial_fit(X[rows], Y[rows], keys=keys[rows].tolist())

    whole = make().fit(X, Y, keys=keys.tolist())

    np.testing.assert_allclose(streamed.coef_, whole.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(streamed.intercept_, whole.intercept_, rtol=1e-8, atol=1e-10)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(12, 60), p=st.integers(1, 8), q=st.integers(1, 5))
def test_ridge_small_alpha_equals_lstsq(seed, n, p, q):
    X, Y = random_pair(seed, n, p, q)
    lstsq = LstsqAligner().fit(X, Y)
    ridge = RidgeAligner(alpha=1e-9).fit(X, Y)

    np.testing.assert_allclose(ridge.coef_, lstsq.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ridge.intercept_, lstsq.intercept_, rtol=1e-5, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), p=st.integers(1, 8), q=st.integers(1, 8))
def test_procrustes_coef_orthogonal_up_to_scale(seed, p, q):
    X, Y = random_pair(seed, 50, p, q)
    coef = ProcrustesAligner().fit(X, Y).coef_

    # coef (q, p) has orthonormal rows (q <= p) or columns (q > p), up to one factor.
    gram = coef @ coef.T if q <= p else coef.T @ coef
    factor = gram[0, 0]
    assert factor > 0
    np.testing.assert_allclose(gram / factor, np.eye(gram.shape[0]), atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), cut=st.integers(1, 39))
def test_fit_stats_of_merged_parts_equals_fit(seed, cut):
    X, Y = random_pair(seed, 40, 4, 2)
    keys = [f"k{i}" for i in range(40)]
    first = SufficientStats(4, 2, n_folds=3).update(X[:cut], Y[:cut], keys[:cut])
    second = SufficientStats(4, 2, n_folds=3).update(X[cut:], Y[cut:], keys[cut:])

    merged = RidgeAligner(n_folds=3).fit_stats(first + second)
    whole = RidgeAligner(n_folds=3).fit(X, Y, keys=keys)

    assert merged.alpha_ == pytest.approx(whole.alpha_, rel=1e-12)
    np.testing.assert_allclose(merged.coef_, whole.coef_, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("make", STATS_ALIGNERS.values(), ids=STATS_ALIGNERS.keys())
def test_transform_is_affine(make):
    X, Y = random_pair(0, 60, 6, 4)
    aligner = make().fit(X, Y)

    np.testing.assert_allclose(aligner.transform(X), X @ aligner.coef_.T + aligner.intercept_)
    assert aligner.coef_.shape == (4, 6)
    assert aligner.intercept_.shape == (4,)
