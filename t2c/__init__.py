"""t2c: make any frozen vision encoder speak text by aligning it to a vision-language model.

The names below load lazily, so `import t2c` stays fast and pulls in torch only when needed.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load_encoder": "t2c.registry",
    "load_target": "t2c.registry",
    "load_dataset": "t2c.registry",
    "get_aligner": "t2c.registry",
    "fit_head": "t2c.pipeline",
    "align": "t2c.pipeline",
    "embed": "t2c.pipeline",
    "Runtime": "t2c.pipeline",
    "Head": "t2c.heads",
    "zeroshot_classifier": "t2c.apps.zeroshot",
    "run_zeroshot": "t2c.apps.zeroshot",
    "predict_images": "t2c.apps.predict",
    "run_stitch": "t2c.apps.stitch",
    "run_search": "t2c.apps.search",
    "run_drift": "t2c.apps.drift",
    "run_cbm": "t2c.apps.cbm",
    "run_decode": "t2c.apps.decode",
    "decode_vectors": "t2c.apps.decode",
    "T2CError": "t2c.errors",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 't2c' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
