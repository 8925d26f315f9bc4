"""Input checks shared by the aligners, the sufficient statistics and the R² metrics.

Every check raises `ShapeError` naming the array, the shape or values it holds, what was
expected and how to fix it.
"""

import numpy as np

from t2c.errors import ShapeError

ROLES = {
    "X": "encoder features",
    "Y": "target features",
    "Y_pred": "predicted target features",
}


def as_float_array(array, name: str) -> np.ndarray:
    """Convert `array` to a float32 or float64 numpy array.

    float32 stays float32 (products of float32 batches may run in float32), every other
    numeric dtype becomes float64.
    """
    values = np.asarray(array)

    if values.dtype.kind not in "biuf":
        raise ShapeError(
            f"{name} has dtype {values.dtype}, expected a numeric array of {ROLES.get(name, 'features')}; "
            f"convert it with np.asarray({name}, dtype=np.float32)"
        )

    if values.dtype == np.float32:
        return values
    return values.astype(np.float64, copy=False)


def check_matrix(array, name: str, width: int | None = None) -> np.ndarray:
    """Check that `array` is a finite (n, width) matrix with n >= 1 and return it as floats.

    Args:
        array: array-like, expected (n, width).
        name: the name used in messages, such as "X" or "Y".
        width: the expected number of columns, or None to accept any.

    Returns:
        (n, width) float32 or float64 array (float32 input stays float32).
    """
    values = as_float_array(array, name)
    role = ROLES.get(name, "features")
    expected = f"(n, {width})" if width is not None else "(n, d)"

    if values.ndim != 2:
        hint = f"reshape a single sample with {name}.reshape(1, -1)" if values.ndim == 1 else f"flatten it to 2-D {expected}"
        raise ShapeError(f"{name} has shape {values.shape}, expected a 2-D array {expected} of {role}; {hint}")

    if values.shape[0] == 0:
        raise ShapeError(f"{name} has shape {values.shape} with no rows, expected {expected} {role} with n >= 1; pass at least one sample")

    if width is not None and values.shape[1] != width:
        raise ShapeError(
            f"{name} has shape {values.shape}, expected {expected} {role}; "
            f"pass {width}-d {role} from the model this aligner was built for"
        )

    finite = np.isfinite(values)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        raise ShapeError(
            f"{name} contains {int((~finite).sum())} NaN or infinite values in {bad_rows.size} rows "
            f"(first at row {int(bad_rows[0])}), expected finite {role}; drop or impute those rows"
        )

    return values


def check_pair(X, Y, p: int | None = None, q: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Check paired features: X (n, p) encoder features and Y (n, q) target features.

    Returns:
        X and Y as float arrays, both float32 when both are float32, else both float64.
    """
    X = check_matrix(X, "X", p)
    Y = check_matrix(Y, "Y", q)

    if X.shape[0] != Y.shape[0]:
        raise ShapeError(
            f"X has {X.shape[0]} rows but Y has {Y.shape[0]}, expected one row of Y per row of X; "
            "pass the encoder and target features of the same images in the same order"
        )

    if X.dtype != Y.dtype:
        X = X.astype(np.float64, copy=False)
        Y = Y.astype(np.float64, copy=False)

    return X, Y
