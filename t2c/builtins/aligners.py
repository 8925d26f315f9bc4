"""Built-in aligners, registered through the same hook as plugin aligners."""

from t2c.aligners import LinearAligner, LstsqAligner, ProcrustesAligner, RidgeAligner
from t2c.hookspecs import hookimpl


@hookimpl
def register_aligners(register):
    register("lstsq", LstsqAligner)
    register("ridge", RidgeAligner)
    register("procrustes", ProcrustesAligner)
    register("linear", LinearAligner)
