"""Aligners: maps from encoder space into a target's image space.

`lstsq`, `ridge` and `procrustes` are computed in closed form from streaming sufficient
statistics (`SufficientStats`); `linear` is the text-to-concept authors' SGD recipe. Every
fitted aligner is an affine map: `transform(X) = X @ coef_.T + intercept_`.
"""

import difflib
import inspect

from t2c.aligners.base import Aligner, StatsAligner
from t2c.aligners.linear import LinearAligner
from t2c.aligners.lstsq import LstsqAligner
from t2c.aligners.metrics import r2_from_stats, r2_paper, r2_sklearn
from t2c.aligners.procrustes import ProcrustesAligner
from t2c.aligners.ridge import RidgeAligner
from t2c.aligners.stats import Moments, SufficientStats, fold_index
from t2c.errors import ConfigError, NotFoundError

ALIGNERS: dict[str, type[Aligner]] = {  # kind -> aligner class
    LstsqAligner.kind: LstsqAligner,
    RidgeAligner.kind: RidgeAligner,
    ProcrustesAligner.kind: ProcrustesAligner,
    LinearAligner.kind: LinearAligner,
}


def make_aligner(name: str, **params) -> Aligner:
    """Create the built-in aligner `name` ("lstsq", "ridge", "procrustes", "linear") with `params`.

    Raises:
        NotFoundError: `name` is not a built-in aligner (the message suggests close names).
        ConfigError: a parameter is unknown or has an invalid value.
    """
    if name not in ALIGNERS:
        close = difflib.get_close_matches(str(name), list(ALIGNERS), n=3)
        suggestion = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise NotFoundError(f"aligner {name!r} not found, expected one of {sorted(ALIGNERS)}{suggestion}")

    factory = ALIGNERS[name]
    valid = [parameter for parameter in inspect.signature(factory.__init__).parameters if parameter != "self"]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(f"aligner {name!r} has no parameter {', '.join(unknown)}; valid parameters are {valid or 'none'}")

    return factory(**params)


__all__ = [
    "ALIGNERS",
    "Aligner",
    "LinearAligner",
    "LstsqAligner",
    "Moments",
    "ProcrustesAligner",
    "RidgeAligner",
    "StatsAligner",
    "SufficientStats",
    "fold_index",
    "make_aligner",
    "r2_from_stats",
    "r2_paper",
    "r2_sklearn",
]
