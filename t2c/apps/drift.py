"""Distribution-shift diagnosis: which concepts differ between two image sets, with a test per concept.

Each image of set A and set B gets a cosine similarity to every concept (aligned features,
centered by the head's target mean unless `center=False`). Per concept:
- `mean_difference`: mean similarity in A minus mean similarity in B;
- Welch's t statistic and its two-sided p-value (unequal variances; scipy.stats.ttest_ind);
- `p_adjusted`: corrected over all concepts tested, Benjamini–Hochberg by default, Holm optionally;
- Cohen's d: the mean difference over the pooled standard deviation
  sqrt(((n_a - 1) var_a + (n_b - 1) var_b) / (n_a + n_b - 2)), with ddof=1 variances.
Concepts are ranked by |d|, so the ranking does not grow with the sample size as t does.
"""

import logging

import numpy as np

from t2c import pipeline
from t2c.apps.aligned import prepare_aligned
from t2c.apps.multiple_testing import adjust_p_values
from t2c.apps.outputs import output_folder, write_csv, write_json
from t2c.apps.samples import SplitFeatures, filter_classes, load_split_features, resolve_split
from t2c.apps.vocabulary import Vocabulary, load_vocabulary, vocabulary_embeddings
from t2c.data.base import Dataset
from t2c.encoders.base import Encoder
from t2c.errors import ConfigError
from t2c.heads import Head
from t2c.pipeline import Runtime
from t2c.targets.base import Target

log = logging.getLogger("t2c.drift")

DEFAULT_DATASET = "fashion-mnist"
DEFAULT_ALPHA = 0.05
DEFAULT_TOP = 10  # concepts per side in the summary and the chart


def welch_t_test(scores_a: np.ndarray, scores_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return Welch's t statistics and two-sided p-values per column of (n_a, c) and (n_b, c) scores."""
    try:
        from scipy import stats
    except ImportError as error:
        raise ConfigError(f"drift needs scipy for Welch's t-test ({error}); install it with `pip install scipy`") from None

    result = stats.ttest_ind(scores_a, scores_b, axis=0, equal_var=False)
    return np.asarray(result.statistic, dtype=float), np.asarray(result.pvalue, dtype=float)


def cohens_d(scores_a: np.ndarray, scores_b: np.ndarray) -> np.ndarray:
    """Return Cohen's d per column: mean difference (A - B) over the pooled standard deviation (ddof=1)."""
    n_a, n_b = len(scores_a), len(scores_b)
    pooled = ((n_a - 1) * scores_a.var(axis=0, ddof=1) + (n_b - 1) * scores_b.var(axis=0, ddof=1)) / (n_a + n_b - 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (scores_a.mean(axis=0) - scores_b.mean(axis=0)) / np.sqrt(pooled)


def concept_drift(
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    concepts: list[str],
    correction: str = "fdr_bh",
    alpha: float = DEFAULT_ALPHA,
) -> list[dict]:
    """Test every concept for a difference in similarity between A and B.

    Args:
        scores_a: (n_a, c) similarities of set A's images to the c concepts.
        scores_b: (n_b, c) similarities of set B's images.
        concepts: the c concept texts.
        correction: "fdr_bh", "holm" or "none".
        alpha: level at which `significant` is set, applied to the corrected p-value.

    Returns:
        One row per concept, ranked by |Cohen's d| (largest first): concept, mean_a, mean_b,
        mean_difference, t, p_value, p_adjusted, cohens_d, significant, higher_in ("a" or "b").
    """
    if scores_a.ndim != 2 or scores_b.ndim != 2 or scores_a.shape[1] != scores_b.shape[1] or scores_a.shape[1] != len(concepts):
        raise ConfigError(
            f"scores of shapes {scores_a.shape} and {scores_b.shape} do not match {len(concepts)} concepts; "
            "expected (n_a, c) and (n_b, c)"
        )
    if len(scores_a) < 2 or len(scores_b) < 2:
        raise ConfigError(f"each set needs at least 2 images for a t-test, got {len(scores_a)} and {len(scores_b)}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha={alpha} must be between 0 and 1, such as 0.05")

    t, p = welch_t_test(scores_a, scores_b)
    adjusted = adjust_p_values(p, correction)
    effect = cohens_d(scores_a, scores_b)
    mean_a, mean_b = scores_a.mean(axis=0), scores_b.mean(axis=0)

    rows = []
    for index, concept in enumerate(concepts):
        rows.append({
            "concept": concept,
            "mean_a": float(mean_a[index]),
            "mean_b": float(mean_b[index]),
            "mean_difference": float(mean_a[index] - mean_b[index]),
            "t": float(t[index]),
            "p_value": float(p[index]),
            "p_adjusted": float(adjusted[index]),
            "cohens_d": float(effect[index]),
            "significant": bool(np.isfinite(adjusted[index]) and adjusted[index] < alpha),
            "higher_in": "a" if mean_a[index] > mean_b[index] else "b",
        })
    rows.sort(key=lambda row: -abs(row["cohens_d"]) if np.isfinite(row["cohens_d"]) else 0.0)
    return rows


def resolve_concepts(concepts: str | list[str] | Vocabulary | None) -> Vocabulary:
    """Resolve the concept list: None (the built-in WordNet vocabulary), a vocabulary name, a file, a comma list or a list."""
    return load_vocabulary(concepts)


def _side(spec, classes: list[str] | None, encoder: Encoder, limit: int | None, runtime: Runtime) -> SplitFeatures:
    dataset, split = resolve_split(spec)
    samples = load_split_features(encoder, dataset, split, limit, runtime)
    return filter_classes(samples, classes)


def run_drift(
    a: str | Dataset = DEFAULT_DATASET,
    b: str | Dataset | None = None,
    *,
    a_classes: list[str] | None = None,
    b_classes: list[str] | None = None,
    concepts: str | list[str] | Vocabulary | None = None,
    templates: list[str] | None = None,
    limit: int | None = None,
    correction: str = "fdr_bh",
    alpha: float = DEFAULT_ALPHA,
    top: int = DEFAULT_TOP,
    encoder: str | Encoder | None = None,
    target: str | Target | None = None,
    head: str | Head | None = None,
    aligner: str = "ridge",
    fit_dataset: str | Dataset | None = None,
    train_samples: int | None = pipeline.DEFAULT_FIT_SAMPLES,
    use_zoo: bool = True,
    center: bool = True,
    runtime: Runtime | None = None,
    output: str | None = None,
) -> dict:
    """Compare set A with set B over concepts and rank the concepts that differ.

    Args:
        a, b: "DATASET" or "DATASET/SPLIT" (evaluation split by default); `b` defaults to `a`,
            which makes sense with class filters.
        a_classes, b_classes: keep only these classes on each side (names or label indices).
        concepts: concept texts: a list, a comma list, a word file or a built-in vocabulary
            (default "wordnet", about 22k nouns and adjectives).
        templates: prompt templates for the concepts (default "a photo of {}.").
        limit: read only the first `limit` samples of each side's split (before class filters).
        correction: "fdr_bh" (Benjamini–Hochberg, default), "holm" or "none".
        top: concepts per direction in `higher_in_a` / `higher_in_b` and in the chart.
        output: folder for drift.json, drift.csv (every concept) and drift.png.

    The head is fitted on the fit split of `fit_dataset` (default: A's data set), labels unused.
    """
    runtime = runtime or Runtime()
    b = a if b is None else b
    dataset_a, _ = resolve_split(a)

    aligned = prepare_aligned(
        encoder, target, dataset_a, head=head, aligner=aligner, fit_dataset=fit_dataset,
        train_samples=train_samples, use_zoo=use_zoo, center=center, runtime=runtime,
    )
    side_a = _side(a, a_classes, aligned.encoder, limit, runtime)
    side_b = _side(b, b_classes, aligned.encoder, limit, runtime)
    notes = _overlap_notes(side_a, side_b)

    vocabulary = resolve_concepts(concepts)
    concept_vectors = vocabulary_embeddings(aligned.target, vocabulary, templates)
    scores_a = aligned.similarities(side_a.features, concept_vectors)
    scores_b = aligned.similarities(side_b.features, concept_vectors)
    ranking = concept_drift(scores_a, scores_b, list(vocabulary.words), correction, alpha)

    results = {
        "task": "drift",
        "a": _describe_side(side_a, a_classes),
        "b": _describe_side(side_b, b_classes),
        "concepts": {"name": vocabulary.name, "size": len(vocabulary), "templates": templates or None},
        "test": "Welch's t-test, two-sided",
        "correction": correction,
        "alpha": alpha,
        "ranked_by": "absolute Cohen's d",
        "n_significant": sum(row["significant"] for row in ranking),
        **aligned.describe(),
        "higher_in_a": _top_side(ranking, "a", top),
        "higher_in_b": _top_side(ranking, "b", top),
        "notes": notes,
        "ranking": ranking,
    }
    if output is not None:
        results["files"] = write_drift(results, output)
    return results


def _describe_side(samples: SplitFeatures, classes: list[str] | None) -> dict:
    return {"dataset": samples.dataset.id, "split": samples.split, "classes": classes or None, "n": len(samples)}


def _overlap_notes(side_a: SplitFeatures, side_b: SplitFeatures) -> list[str]:
    if side_a.dataset.id != side_b.dataset.id or side_a.split != side_b.split:
        return []
    shared = len(set(side_a.keys) & set(side_b.keys))
    if not shared:
        return []
    message = (
        f"{shared} images are in both sets (same split, overlapping classes); the t-test assumes independent "
        "sets, so p-values are too large and differences too small; use disjoint class filters or splits"
    )
    log.warning(message)
    return [message]


def _top_side(ranking: list[dict], side: str, top: int) -> list[dict]:
    rows = [row for row in ranking if row["higher_in"] == side and row["significant"]][:top]
    return [{key: row[key] for key in ("concept", "cohens_d", "mean_difference", "t", "p_adjusted")} for row in rows]


def write_drift(results: dict, output: str) -> dict[str, str]:
    """Write drift.json, drift.csv (every concept, ranked) and drift.png (top concepts per side) into `output`."""
    from t2c.apps.plots import drift_chart

    folder = output_folder(output)
    files = {"json": str(folder / "drift.json"), "csv": str(write_csv(folder / "drift.csv", results["ranking"]))}

    by_concept = {row["concept"]: row for row in results["ranking"]}
    shown = [by_concept[row["concept"]] for row in results["higher_in_a"] + results["higher_in_b"][::-1]]
    if shown:
        title = f"A = {_side_name(results['a'])}  vs  B = {_side_name(results['b'])}"
        files["png"] = str(drift_chart(shown, folder / "drift.png", "A", "B", title=title))
    write_json(folder / "drift.json", {**results, "files": files})
    return files


def _side_name(side: dict) -> str:
    name = f"{side['dataset']}/{side['split']}"
    if side["classes"]:
        name += f" [{', '.join(side['classes'])}]"
    return f"{name} (n={side['n']})"
