"""Concept search and concept logic: rank a data set's images by a text query, under AND / NOT constraints.

Scores are cosine similarities between aligned image features (centered by the head's target
mean unless `center=False`) and concept vectors built from text with a prompt ensemble.

Concept logic, the rule applied (the one of the Text-To-Concept authors' `concept_logic`, with
the sign folded into k): for each constraint concept c with threshold k, take the similarities
s_c of all searched images, their mean m_c and population standard deviation sd_c (ddof=0), and
the threshold t_c = m_c + k * sd_c. Then
- `require` c@k keeps images with s_c > t_c (the concept is clearly present);
- `exclude` c@k keeps images with s_c <= t_c, exactly the images `require` c@k would drop.
Every constraint must hold (AND). Means and deviations are taken over all searched images,
before any constraint removes some. The authors' exclusion with scale s (keep s_c < m_c - s * sd_c)
is `exclude` c@-s here.
"""

import logging
from dataclasses import dataclass

import numpy as np

from t2c import pipeline
from t2c.apps.aligned import prepare_aligned, resolve_templates
from t2c.apps.outputs import output_folder, write_json
from t2c.apps.samples import load_split_features, resolve_split
from t2c.data.base import Dataset
from t2c.encoders.base import Encoder
from t2c.errors import ConfigError
from t2c.heads import Head
from t2c.pipeline import Runtime
from t2c.targets.base import Target

log = logging.getLogger("t2c.search")

DEFAULT_DATASET = "fashion-mnist"
DEFAULT_REQUIRE_STD = 1.0
DEFAULT_EXCLUDE_STD = 1.0
GRID_COLUMNS = 8


@dataclass(frozen=True)
class ConceptConstraint:
    """One AND term of concept logic: `require` or `exclude` the concept `text` at `k` standard deviations."""

    text: str
    kind: str
    k: float

    def __post_init__(self):
        if self.kind not in ("require", "exclude"):
            raise ConfigError(f"constraint kind {self.kind!r} is invalid; use 'require' or 'exclude'")
        if not self.text.strip():
            raise ConfigError(f"{self.kind} constraint has empty text; give a concept such as 'sandal'")
        if not np.isfinite(self.k):
            raise ConfigError(f"{self.kind} threshold {self.k} for {self.text!r} must be a finite number of standard deviations")


def parse_constraint(spec: str, kind: str, default_k: float) -> ConceptConstraint:
    """Parse "TEXT" or "TEXT@K" (K: standard deviations, may be negative) into a constraint."""
    text, at, tail = spec.rpartition("@")
    if at:
        try:
            return ConceptConstraint(text=text.strip(), kind=kind, k=float(tail))
        except ValueError:
            pass  # "@" is part of the text, as in "a cat @ home"
    return ConceptConstraint(text=spec.strip(), kind=kind, k=default_k)


def apply_constraints(similarities: np.ndarray, constraints: list[ConceptConstraint]) -> tuple[np.ndarray, list[dict]]:
    """Apply concept logic to (n, c) similarities, column j belonging to constraints[j].

    Returns:
        keep: (n,) bool, true where every constraint holds.
        details: per constraint its text, kind, k, mean, std, threshold and how many images
            pass it alone and how many remain after it and all earlier ones.
    """
    if similarities.shape[1] != len(constraints):
        raise ConfigError(f"{similarities.shape[1]} similarity columns for {len(constraints)} constraints; pass one column per constraint")

    keep = np.ones(len(similarities), dtype=bool)
    details = []
    for column, constraint in zip(similarities.T, constraints, strict=True):
        mean = float(column.mean())
        std = float(column.std())
        threshold = mean + constraint.k * std
        passes = column > threshold if constraint.kind == "require" else column <= threshold
        keep &= passes
        details.append({
            "text": constraint.text,
            "kind": constraint.kind,
            "k": constraint.k,
            "mean": mean,
            "std": std,
            "threshold": threshold,
            "n_pass": int(passes.sum()),
            "n_remaining": int(keep.sum()),
        })
    return keep, details


def ranking_scores(similarities: np.ndarray, constraints: list[ConceptConstraint], has_query: bool) -> np.ndarray:
    """Return (n,) scores to rank by: the query's similarity, else the mean z-score of the required concepts.

    Column 0 of `similarities` is the query when `has_query`; the constraints' columns follow in order.
    """
    if has_query:
        return similarities[:, 0]

    required = [index for index, constraint in enumerate(constraints) if constraint.kind == "require"]
    if not required:
        raise ConfigError("nothing to rank by: give a query, or at least one --require concept")
    columns = similarities[:, required]
    return ((columns - columns.mean(axis=0)) / np.maximum(columns.std(axis=0), 1e-12)).mean(axis=1)


def run_search(
    query: str | None,
    dataset: str | Dataset | None = None,
    *,
    require: list[str | ConceptConstraint] | None = None,
    exclude: list[str | ConceptConstraint] | None = None,
    top_k: int = 16,
    split: str | None = None,
    limit: int | None = None,
    templates: list[str] | str | None = None,
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
    """Rank the images of a split by similarity to `query`, keeping those that satisfy the concept logic.

    Args:
        query: text to rank by; None ranks by the mean z-score of the `require` concepts.
        dataset: "DATASET" or "DATASET/SPLIT" (default fashion-mnist, evaluation split).
        require, exclude: constraints as ConceptConstraint or "TEXT[@K]" (K defaults to 1.0).
        top_k: hits to return and draw.
        limit: search only the first `limit` samples of the split.
        templates: prompt templates for the query and constraints (default: the data set's, else
            the target's); "{}" encodes the texts as written.
        output: folder for search.json and search.png (grid of the top hits with scores).

    Returns:
        A JSON-ready dict with the hits (rank, key, index, score, label, constraint similarities),
        the constraints' statistics and counts.
    """
    if top_k < 1:
        raise ConfigError(f"top_k={top_k} must be at least 1")
    runtime = runtime or Runtime()
    dataset, split = resolve_split(dataset or DEFAULT_DATASET, split)
    constraints = _constraints(require, "require", DEFAULT_REQUIRE_STD) + _constraints(exclude, "exclude", DEFAULT_EXCLUDE_STD)
    if query is not None and not query.strip():
        raise ConfigError("the query is empty; give text such as 'sandal', or leave it out and rank by --require concepts")
    if query is None and not any(constraint.kind == "require" for constraint in constraints):
        raise ConfigError("nothing to rank by: give a query, or at least one --require concept")

    aligned = prepare_aligned(
        encoder, target, dataset, head=head, aligner=aligner, fit_dataset=fit_dataset,
        train_samples=train_samples, use_zoo=use_zoo, center=center, runtime=runtime,
    )
    samples = load_split_features(aligned.encoder, dataset, split, limit, runtime)
    templates = resolve_templates(templates, dataset.templates or aligned.target.templates)

    texts = ([query] if query is not None else []) + [constraint.text for constraint in constraints]
    similarities = aligned.similarities(samples.features, aligned.concepts(texts, templates))
    offset = 1 if query is not None else 0

    keep, details = apply_constraints(similarities[:, offset:], constraints)
    scores = ranking_scores(similarities, constraints, query is not None)
    kept = np.flatnonzero(keep)
    order = kept[np.argsort(-scores[kept], kind="stable")][:top_k]
    log.info("search kept %d of %d images of %s; returning %d", len(kept), len(samples), samples.name, len(order))

    hits = [_hit(rank, row, samples, scores, similarities[:, offset:], constraints) for rank, row in enumerate(order, start=1)]
    results = {
        "task": "search",
        "query": query,
        "dataset": dataset.id,
        "split": split,
        "n_searched": len(samples),
        "n_kept": int(len(kept)),
        "ranked_by": "query similarity" if query is not None else "mean z-score of required concepts",
        "constraints": details,
        "templates": templates,
        **aligned.describe(),
        "hits": hits,
        "top_k_label_counts": _label_counts(hits),
    }
    if output is not None:
        results["files"] = write_search(results, samples.dataset, output)
    return results


def _constraints(items, kind: str, default_k: float) -> list[ConceptConstraint]:
    constraints = []
    for item in items or []:
        if isinstance(item, ConceptConstraint):
            constraints.append(item)
        else:
            constraints.append(parse_constraint(item, kind, default_k))
    return constraints


def _hit(rank: int, row: int, samples, scores: np.ndarray, constraint_similarities: np.ndarray, constraints) -> dict:
    label = None
    if samples.labels is not None:
        label_index = int(samples.labels[row])
        classnames = samples.dataset.classnames
        label = classnames[label_index] if classnames else label_index
    return {
        "rank": rank,
        "key": samples.keys[row],
        "index": int(samples.indices[row]),
        "score": float(scores[row]),
        "label": label,
        "constraint_similarities": {
            f"{constraint.kind} {constraint.text}": float(constraint_similarities[row, column])
            for column, constraint in enumerate(constraints)
        },
    }


def _label_counts(hits: list[dict]) -> dict[str, int] | None:
    if not hits or hits[0]["label"] is None:
        return None
    counts: dict[str, int] = {}
    for hit in hits:
        counts[str(hit["label"])] = counts.get(str(hit["label"]), 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def write_search(results: dict, dataset: Dataset, output: str) -> dict[str, str]:
    """Write search.json and search.png (the hits with rank, score and label) into the folder `output`."""
    from t2c.apps.plots import image_grid

    folder = output_folder(output)
    files = {"json": str(folder / "search.json")}
    if results["hits"]:
        split = dataset.split(results["split"])
        images = [split.load(hit["index"]) for hit in results["hits"]]
        captions = [
            f"#{hit['rank']} {hit['score']:.3f}" + (f"\n{hit['label']}" if hit["label"] is not None else "")
            for hit in results["hits"]
        ]
        title = _title(results)
        files["png"] = str(image_grid(images, captions, folder / "search.png", columns=GRID_COLUMNS, title=title))
    write_json(folder / "search.json", {**results, "files": files})
    return files


def _title(results: dict) -> str:
    parts = [repr(results["query"])] if results["query"] is not None else []
    parts += [f"{item['kind']} {item['text']!r}@{item['k']:g}" for item in results["constraints"]]
    return f"{' AND '.join(parts)} on {results['dataset']}/{results['split']} ({results['n_kept']} of {results['n_searched']} kept)"
