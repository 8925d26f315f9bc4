"""The text side of the offline target: a ridge map from MiniLM space onto EfficientNet's classifier rows.

Row c of EfficientNet-Lite0's ImageNet classifier `_fc.weight` (1000, 1280) is a direction in
the encoder's feature space that scores class c. A ridge regression fitted on the 1000 pairs
(prompt-ensemble MiniLM embedding of class name c, row c) predicts such a direction for any
text, which makes MiniLM + map a text encoder into the same space as the image features.

The class-name embeddings (1000 names x the templates) and the fitted map are cached as
safetensors under the t2c cache folder "targets". Their keys hold the sha256s of the model
files, the class names and the template strings. MiniLM encoded about 200 prompts/s on an idle
2-core AMD EPYC VM, so 7 templates take about 35 s and 80 templates about 7 minutes.
"""

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock
from safetensors.numpy import load_file, save

from t2c.aligners.ridge import RidgeAligner
from t2c.features.atomic import commit, write_temp
from t2c.paths import cache_dir
from t2c.targets.concepts import normalize_rows

from t2c_plugin_offline import minilm

log = logging.getLogger("t2c.offline.text_map")

ALPHAS = np.logspace(-2, 3, 11)  # ridge CV grid, absolute (1000 unit-norm 384-d embeddings)
N_FOLDS = 5
N_HELDOUT = 200  # class names held out to measure retrieval@1 of the fitted map
HELDOUT_SEED = 0


@dataclass
class TextMap:
    """An affine map from MiniLM space (384-d, unit-norm inputs) into encoder space (1280-d).

    Attributes:
        coef: (1280, 384) float32.
        intercept: (1280,) float32.
        alpha: the ridge penalty chosen by cross-validation.
        heldout_retrieval: retrieval@1 of predicted rows among `N_HELDOUT` held-out classes,
            with the map refitted without them; NaN when not measured.
    """

    coef: np.ndarray
    intercept: np.ndarray
    alpha: float
    heldout_retrieval: float = float("nan")

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        """Map (n, 384) unit-norm MiniLM embeddings to (n, 1280) float32 vectors in encoder space."""
        return (embeddings @ self.coef.T + self.intercept).astype(np.float32)


def imagenet_classnames() -> list[str]:
    """Return open_clip's cleaned names of the 1000 ImageNet-1k classes, in label order."""
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

    return list(IMAGENET_CLASSNAMES)


def digest(*parts) -> str:
    """Return a 16-hex-digit sha256 of the JSON form of `parts`."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def class_embeddings(model_loader, classnames: list[str], templates: list[str]) -> np.ndarray:
    """Return prompt-ensemble MiniLM embeddings of `classnames`, cached on disk.

    Each name is formatted into every template, embedded, normalised, averaged over templates
    and normalised again, as open_clip builds zero-shot classifiers.

    Args:
        model_loader: a callable returning the MiniLM SentenceTransformer (called on a cache miss).

    Returns:
        (n_classes, 384) float32 unit vectors in MiniLM space.
    """
    key = digest("minilm-class-embeddings", minilm.minilm_sha256(), classnames, templates)
    path = cache_dir("targets") / f"minilm-class-embeddings-{key}.safetensors"

    with FileLock(str(path) + ".lock"):
        if path.is_file():
            log.debug("text embedding cache hit: %s", path)
            return load_file(str(path))["embeddings"]

        prompts = [template.format(name) for name in classnames for template in templates]
        log.info("cache miss: embedding %d prompts (%d class names x %d templates) with MiniLM", len(prompts), len(classnames), len(templates))
        started = time.perf_counter()

        per_prompt = minilm.embed(model_loader(), prompts).reshape(len(classnames), len(templates), -1)
        embeddings = normalize_rows(per_prompt.mean(axis=1)).astype(np.float32)

        commit(write_temp(path, save({"embeddings": embeddings})), path)
        log.info("embedded class names in %.1f s; cached at %s", time.perf_counter() - started, path)
        return embeddings


def fit_ridge(embeddings: np.ndarray, rows: np.ndarray, keys: list[str]) -> RidgeAligner:
    """Fit ridge from (n, 384) embeddings to (n, 1280) classifier rows, alpha by 5-fold CV over `ALPHAS`.

    Folds are chosen by a hash of each class name in `keys`.
    """
    aligner = RidgeAligner(alphas=ALPHAS, n_folds=N_FOLDS)
    return aligner.fit(embeddings.astype(np.float64), rows.astype(np.float64), keys=keys)


def heldout_retrieval(embeddings: np.ndarray, rows: np.ndarray, keys: list[str]) -> float:
    """Return retrieval@1 of a map fitted without `N_HELDOUT` random classes.

    The predicted row of each held-out class is compared by cosine with the true rows of all
    held-out classes. A hit is when its own row is the closest, so chance is 1 / `N_HELDOUT`.
    """
    order = np.random.default_rng(HELDOUT_SEED).permutation(len(keys))
    heldout, kept = order[:N_HELDOUT], order[N_HELDOUT:]

    aligner = fit_ridge(embeddings[kept], rows[kept], [keys[i] for i in kept])
    predicted = normalize_rows(aligner.transform(embeddings[heldout].astype(np.float64)))
    truth = normalize_rows(rows[heldout].astype(np.float64))

    nearest = np.argmax(predicted @ truth.T, axis=1)
    return float(np.mean(nearest == np.arange(N_HELDOUT)))


def load_text_map(model_loader, rows: np.ndarray, rows_sha256: str, templates: list[str]) -> TextMap:
    """Return the MiniLM -> classifier-row map, fitting and caching it on first use.

    Args:
        model_loader: a callable returning the MiniLM SentenceTransformer (called on a cache miss).
        rows: (1000, 1280) EfficientNet-Lite0 `_fc.weight`, the regression targets.
        rows_sha256: sha256 of the weights file `rows` come from, part of the cache key.
        templates: prompt templates averaged per class name.
    """
    classnames = imagenet_classnames()
    key = digest("minilm-to-effnet-rows", minilm.minilm_sha256(), rows_sha256, classnames, templates, ALPHAS.tolist(), N_FOLDS)
    path = cache_dir("targets") / f"effnet-lite0-minilm-{key}.safetensors"

    with FileLock(str(path) + ".lock"):
        if path.is_file():
            log.debug("text map cache hit: %s", path)
            return read_text_map(path)

        log.info("text map cache miss: fitting MiniLM -> EfficientNet-Lite0 classifier rows")
        started = time.perf_counter()

        embeddings = class_embeddings(model_loader, classnames, templates)
        aligner = fit_ridge(embeddings, rows, classnames)
        text_map = TextMap(
            coef=aligner.coef_.astype(np.float32),
            intercept=aligner.intercept_.astype(np.float32),
            alpha=float(aligner.alpha_),
            heldout_retrieval=heldout_retrieval(embeddings, rows, classnames),
        )

        write_text_map(text_map, path)
        log.info(
            "fitted text map in %.1f s: alpha %g, retrieval@1 among %d held-out classes %.3f (chance %.3f); cached at %s",
            time.perf_counter() - started, text_map.alpha, N_HELDOUT, text_map.heldout_retrieval, 1 / N_HELDOUT, path,
        )
        return text_map


def write_text_map(text_map: TextMap, path: Path) -> None:
    """Save `text_map` as safetensors; alpha and the held-out score go into the metadata."""
    metadata = {"alpha": repr(text_map.alpha), "heldout_retrieval": repr(text_map.heldout_retrieval)}
    data = save({"coef": text_map.coef, "intercept": text_map.intercept}, metadata=metadata)
    commit(write_temp(path, data), path)


def read_text_map(path: Path) -> TextMap:
    """Load a map saved by `write_text_map`."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as file:
        metadata = file.metadata()
        coef = file.get_tensor("coef")
        intercept = file.get_tensor("intercept")
    return TextMap(coef, intercept, float(metadata["alpha"]), float(metadata["heldout_retrieval"]))
