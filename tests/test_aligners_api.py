"""The aligner interface: scikit-learn shape, errors, the ALIGNERS table and the plugin hook."""

import numpy as np
import pluggy
import pytest

import t2c.builtins.aligners
from t2c import hookspecs
from t2c.aligners import ALIGNERS, LinearAligner, LstsqAligner, RidgeAligner, SufficientStats, make_aligner
from t2c.errors import ConfigError, NotFittedError, NotFoundError, ShapeError

# Small settings keep the linear aligner fast; the others use their defaults.
QUICK_PARAMS = {
    "lstsq": {},
    "ridge": {},
    "procrustes": {},
    "linear": {"epochs": 2, "batch_size": 20},
}


def paired_features(n: int = 60, p: int = 5, q: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    Y = X @ rng.normal(size=(p, q)) + 0.1 * rng.normal(size=(n, q))
    return X, Y


@pytest.fixture(params=list(QUICK_PARAMS), ids=list(QUICK_PARAMS))
def aligner(request):
    return make_aligner(request.param, **QUICK_PARAMS[request.param])


def test_kind_matches_table_key():
    for name, factory in ALIGNERS.items():
        assert factory.kind == name


def test_table_lists_four_aligners():
    assert sorted(ALIGNERS) == ["linear", "lstsq", "procrustes", "ridge"]


def test_get_params_round_trip(aligner):
    rebuilt = make_aligner(aligner.kind, **aligner.get_params())
    assert rebuilt.get_params() == aligner.get_params()
    assert repr(rebuilt) == repr(aligner)


def test_fitted_attributes(aligner):
    X, Y = paired_features()
    aligner.fit(X, Y)

    assert aligner.coef_.shape == (3, 5)
    assert aligner.intercept_.shape == (3,)
    assert aligner.n_features_in_ == 5
    assert isinstance(aligner.hyperparameters_, dict)
    np.testing.assert_allclose(aligner.transform(X), X @ aligner.coef_.T + aligner.intercept_, rtol=1e-12)


def test_transform_keeps_float32(aligner):
    X, Y = paired_features()
    aligner.fit(X, Y)
    assert aligner.transform(X.astype(np.float32)).dtype == np.float32


def test_unfitted_transform_raises(aligner):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        aligner.transform(np.zeros((2, 5)))


def test_unfitted_coef_raises(aligner):
    with pytest.raises(NotFittedError, match="has no coef_"):
        _ = aligner.coef_
    assert not hasattr(aligner, "intercept_")


BAD_FITS = {
    "1-d X": (np.zeros(5), np.zeros((5, 3)), r"X has shape \(5,\), expected a 2-D array"),
    "3-d Y": (np.zeros((5, 2)), np.zeros((5, 3, 1)), r"Y has shape \(5, 3, 1\), expected a 2-D array"),
    "no rows": (np.zeros((0, 2)), np.zeros((0, 3)), "with no rows"),
    "row mismatch": (np.zeros((5, 2)), np.zeros((4, 3)), "X has 5 rows but Y has 4"),
    "nan in X": (np.where(np.eye(5, 2) > 0, np.nan, 1.0), np.ones((5, 3)), r"X contains 2 NaN or infinite values in 2 rows \(first at row 0\)"),
    "inf in Y": (np.ones((5, 2)), np.where(np.eye(5, 3) > 0, np.inf, 1.0), "Y contains 3 NaN or infinite values"),
    "strings": (np.asarray([["a", "b"]]), np.ones((1, 3)), "X has dtype <U1, expected a numeric array"),
}


@pytest.mark.parametrize(("X", "Y", "message"), BAD_FITS.values(), ids=BAD_FITS.keys())
def test_fit_rejects_bad_arrays(aligner, X, Y, message):
    with pytest.raises(ShapeError, match=message):
        aligner.fit(X, Y)


def test_transform_rejects_wrong_width(aligner):
    X, Y = paired_features()
    aligner.fit(X, Y)
    with pytest.raises(ShapeError, match=r"X has shape \(4, 6\), expected \(n, 5\) encoder features; pass 5-d encoder features"):
        aligner.transform(np.zeros((4, 6)))


def test_transform_rejects_nan(aligner):
    X, Y = paired_features()
    aligner.fit(X, Y)
    X[3, 1] = np.nan
    with pytest.raises(ShapeError, match=r"first at row 3\), expected finite encoder features; drop or impute"):
        aligner.transform(X)


def test_partial_fit_rejects_new_width(aligner):
    X, Y = paired_features()
    aligner.partial_fit(X, Y)
    with pytest.raises(ShapeError, match=r"X has shape \(60, 4\), expected \(n, 5\)"):
        aligner.partial_fit(X[:, :4], Y)


@pytest.mark.parametrize("name", ["lstsq", "ridge", "procrustes"])
def test_partial_fit_equals_fit(name):
    X, Y = paired_features(seed=1)
    streamed = make_aligner(name)
    for start in range(0, 60, 20):
        streamed.partial_fit(X[start : start + 20], Y[start : start + 20])

    whole = make_aligner(name).fit(X, Y)
    np.testing.assert_allclose(streamed.coef_, whole.coef_, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["lstsq", "ridge", "procrustes"])
def test_fit_stats_equals_fit(name):
    X, Y = paired_features(seed=2)
    keys = [f"k{i}" for i in range(60)]
    stats = SufficientStats(5, 3, n_folds=5)
    for start in range(0, 60, 25):
        stats.update(X[start : start + 25], Y[start : start + 25], keys[start : start + 25])

    streamed = make_aligner(name).fit_stats(stats)
    whole = make_aligner(name).fit(X, Y, keys=keys)
    np.testing.assert_allclose(streamed.coef_, whole.coef_, rtol=1e-9, atol=1e-12)


def test_fit_batches_rejects_empty_stream():
    with pytest.raises(ShapeError, match="yielded no batches"):
        LinearAligner().fit_batches(lambda epoch: [])


def test_fit_batches_rejects_bad_batch():
    with pytest.raises(ShapeError, match=r"expected a tuple \(X, Y\) or \(X, Y, keys\)"):
        LinearAligner().fit_batches(lambda epoch: [np.zeros((3, 2))])


@pytest.mark.parametrize("name", ["lstsq", "ridge", "procrustes"])
def test_closed_forms_have_no_fit_batches(name):
    # Callers pick the SGD path by the presence of fit_batches and fit the rest from statistics.
    assert not hasattr(make_aligner(name), "fit_batches")


def test_fit_stats_keeps_caller_stats():
    X, Y = paired_features(seed=3)
    stats = SufficientStats(5, 3, n_folds=5).update(X, Y)
    before = stats.to_arrays()

    aligner = RidgeAligner().fit_stats(stats)
    aligner.partial_fit(X[:10], Y[:10])

    for name, array in stats.to_arrays().items():
        np.testing.assert_array_equal(array, before[name], err_msg=name)
    assert aligner.stats_.n_samples == 70


def test_fit_stats_rejects_empty_stats():
    with pytest.raises(ShapeError, match="contains no samples"):
        LstsqAligner().fit_stats(SufficientStats(5, 3))


def test_ridge_cv_needs_folds():
    stats = SufficientStats(5, 3, n_folds=1).update(*paired_features())
    with pytest.raises(ConfigError, match="n_folds >= 2 or pass a fixed alpha"):
        RidgeAligner().fit_stats(stats)


def test_linear_rejects_fit_stats():
    stats = SufficientStats(5, 3).update(*paired_features())
    with pytest.raises(ConfigError, match="cannot be fitted from sufficient statistics"):
        LinearAligner().fit_stats(stats)


def test_make_aligner_suggests_close_name():
    with pytest.raises(NotFoundError, match="aligner 'rige' not found.*did you mean 'ridge'"):
        make_aligner("rige")


def test_make_aligner_unknown_without_suggestion():
    with pytest.raises(NotFoundError, match=r"expected one of \['linear', 'lstsq', 'procrustes', 'ridge'\]$"):
        make_aligner("zzzz")


def test_make_aligner_names_unknown_parameter():
    with pytest.raises(ConfigError, match=r"aligner 'ridge' has no parameter alpah; valid parameters are \['alpha', 'alphas', 'n_folds'\]"):
        make_aligner("ridge", alpah=1.0)


INVALID_PARAMS = {
    "negative alpha": ("ridge", {"alpha": -1.0}, "ridge alpha=-1.0 is invalid"),
    "string alpha": ("ridge", {"alpha": "big"}, "ridge alpha='big' is invalid"),
    "zero in grid": ("ridge", {"alphas": [0.0, 1.0]}, r"ridge alphas=\[0.0, 1.0\] is invalid"),
    "one fold cv": ("ridge", {"n_folds": 1}, "cannot choose alpha by cross-validation"),
    "rcond above one": ("lstsq", {"rcond": 2.0}, "lstsq rcond=2.0 is invalid"),
    "scale not bool": ("procrustes", {"scale": "yes"}, "procrustes scale='yes' is invalid"),
    "zero epochs": ("linear", {"epochs": 0}, "linear epochs=0 is invalid, expected an integer > 0"),
    "negative lr": ("linear", {"lr": -0.1}, "linear lr=-0.1 is invalid"),
    "device not str": ("linear", {"device": 0}, "linear device=0 is invalid"),
}


@pytest.mark.parametrize(("name", "params", "message"), INVALID_PARAMS.values(), ids=INVALID_PARAMS.keys())
def test_make_aligner_rejects_invalid_value(name, params, message):
    with pytest.raises(ConfigError, match=message):
        make_aligner(name, **params)


def test_ridge_with_alpha_has_no_cv_results():
    aligner = RidgeAligner(alpha=3.0).fit(*paired_features())
    assert aligner.cv_results_ is None
    assert aligner.alpha_ == 3.0
    assert aligner.hyperparameters_ == {"alpha": 3.0}


def test_hook_registers_every_aligner():
    manager = pluggy.PluginManager("t2c")
    manager.add_hookspecs(hookspecs)
    manager.register(t2c.builtins.aligners)

    registered = {}
    manager.hook.register_aligners(register=lambda name, factory: registered.__setitem__(name, factory))

    assert registered == ALIGNERS
    assert isinstance(registered["ridge"](alpha=1.0), RidgeAligner)
