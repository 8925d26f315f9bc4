"""Solvers of the centered normal equations (C + αI) W = D through an eigendecomposition of C.

C is the (p, p) centered Gram matrix of encoder features and D the (p, q) centered cross-product
with target features, both sums over samples (see `Moments`).
"""

import numpy as np


def eigh_gram(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigendecompose a symmetric positive semi-definite (p, p) matrix.

    Returns:
        eigenvalues (p,) clipped at 0 (rounding can make them slightly negative) and
        eigenvectors (p, p) as columns.
    """
    symmetric = (gram + gram.T) / 2
    eigenvalues, eigenvectors = np.linalg.eigh(symmetric)
    return np.maximum(eigenvalues, 0.0), eigenvectors


def default_rcond(p: int) -> float:
    """Relative eigenvalue cutoff below which a direction of C counts as rank-deficient.

    Eigenvalues of C are squared singular values of the centered X, and `eigh` resolves them
    only to about machine epsilon times the largest one, so the cutoff is p · eps of λ_max.
    """
    return p * np.finfo(np.float64).eps


def pinv_solve(gram: np.ndarray, cross: np.ndarray, rcond: float | None = None) -> tuple[np.ndarray, int]:
    """Minimum-norm least-squares solution W = C⁺ D, as scikit-learn's LinearRegression finds.

    Args:
        gram: (p, p) centered Gram matrix C.
        cross: (p, q) centered cross-product D.
        rcond: eigenvalues below rcond · λ_max are treated as zero; None uses `default_rcond`.

    Returns:
        W (p, q) in encoder-to-target orientation, and the numerical rank of C.
    """
    eigenvalues, eigenvectors = eigh_gram(gram)
    if rcond is None:
        rcond = default_rcond(gram.shape[0])

    largest = eigenvalues.max(initial=0.0)
    above_cutoff = eigenvalues > rcond * largest
    if largest == 0.0:
        above_cutoff[:] = False

    inverse = np.zeros_like(eigenvalues)
    inverse[above_cutoff] = 1.0 / eigenvalues[above_cutoff]

    weights = eigenvectors @ (inverse[:, None] * (eigenvectors.T @ cross))
    return weights, int(above_cutoff.sum())


def ridge_solve(gram: np.ndarray, cross: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge solution W = (C + αI)⁻¹ D for alpha > 0.

    C + αI is symmetric positive definite, so an LU solve (about 3x cheaper than `eigh`) is
    stable here.

    Returns:
        W (p, q).
    """
    regularized = (gram + gram.T) / 2 + alpha * np.eye(gram.shape[0])
    return np.linalg.solve(regularized, cross)
