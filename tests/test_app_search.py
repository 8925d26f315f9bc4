"""Concept search and concept logic on the offline models and 1024 Fashion-MNIST test images."""

import json

import numpy as np
import pytest

from helpers_apps import DATASET, SAMPLES, demo_aligned, require_offline, run_cli
from t2c.apps.search import ConceptConstraint, apply_constraints, parse_constraint, run_search
from t2c.errors import ConfigError


@pytest.mark.parametrize(
    ("spec", "text", "k"),
    [
        ("strap", "strap", 1.0),
        ("strap@0.5", "strap", 0.5),
        ("boot@-1", "boot", -1.0),
        ("a cat @ home", "a cat @ home", 1.0),
    ],
)
def test_parse_constraint(spec, text, k):
    constraint = parse_constraint(spec, "require", default_k=1.0)
    assert constraint.text == text
    assert constraint.k == k


def test_constraint_rejects_bad_kind():
    with pytest.raises(ConfigError, match="'require' or 'exclude'"):
        ConceptConstraint("shoe", "prefer", 1.0)


def test_thresholds_are_mean_plus_k_std():
    similarities = np.array([[0.1, 0.5], [0.2, 0.4], [0.3, 0.3], [0.9, 0.2]])
    constraints = [ConceptConstraint("a", "require", 0.5), ConceptConstraint("b", "exclude", 0.0)]
    keep, details = apply_constraints(similarities, constraints)

    column = similarities[:, 0]
    assert details[0]["threshold"] == pytest.approx(column.mean() + 0.5 * column.std())
    assert details[1]["threshold"] == pytest.approx(similarities[:, 1].mean())
    assert keep.tolist() == [False, False, False, True]
    assert [item["n_remaining"] for item in details] == [1, 1]


def test_exclude_keeps_what_require_drops():
    similarities = np.random.default_rng(0).standard_normal((200, 1))
    required, _ = apply_constraints(similarities, [ConceptConstraint("c", "require", 0.7)])
    excluded, _ = apply_constraints(similarities, [ConceptConstraint("c", "exclude", 0.7)])
    assert np.array_equal(required, ~excluded)


@pytest.fixture(scope="module")
def aligned():
    require_offline()
    return demo_aligned()


def search(aligned, query, **options):
    return run_search(
        query, f"{DATASET}/test", limit=SAMPLES, top_k=20,
        encoder=aligned.encoder, target=aligned.target, head=aligned.head, **options,
    )


def test_query_finds_its_class(aligned):
    results = search(aligned, "bag")
    assert results["n_searched"] == SAMPLES
    assert results["top_k_label_counts"]["handbag"] >= 15


def test_hits_are_sorted_by_score(aligned):
    scores = [hit["score"] for hit in search(aligned, "shoe")["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_exclude_removes_boots(aligned):
    plain = search(aligned, "shoe")
    without_boots = search(aligned, "shoe", exclude=["boot"])
    threshold = without_boots["constraints"][0]["threshold"]

    assert plain["top_k_label_counts"].get("ankle boot", 0) >= 10
    assert without_boots["top_k_label_counts"].get("ankle boot", 0) <= 4
    assert all(hit["constraint_similarities"]["exclude boot"] <= threshold for hit in without_boots["hits"])


def test_require_only_ranks_by_z_score(aligned):
    results = search(aligned, None, require=["shoe@1", "strap@0.5"])
    assert results["ranked_by"] == "mean z-score of required concepts"
    assert results["n_kept"] == results["constraints"][1]["n_remaining"]
    assert 0 < results["n_kept"] < SAMPLES
    assert all(hit["label"] in ("sandal", "sneaker", "ankle boot") for hit in results["hits"][:10])


def test_nothing_to_rank_raises(aligned):
    with pytest.raises(ConfigError, match="nothing to rank by"):
        search(aligned, None, exclude=["boot"])
    with pytest.raises(ConfigError, match="nothing to rank by"):
        search(aligned, None)


def test_output_has_json_and_grid(aligned, tmp_path):
    results = search(aligned, "bag", output=str(tmp_path / "search"))
    written = json.loads((tmp_path / "search" / "search.json").read_text())

    assert written["hits"] == results["hits"]
    assert (tmp_path / "search" / "search.png").stat().st_size > 10_000


def test_cli_search_json(aligned):
    results = run_cli(
        "search", "bag", "--dataset", f"{DATASET}/test", "--limit", str(SAMPLES), "--train-samples", str(SAMPLES),
        "--no-zoo", "--exclude", "shoe@0", "--top-k", "5",
    )
    assert len(results["hits"]) == 5
    assert results["constraints"][0]["kind"] == "exclude"
    assert results["head_fit_data"]["n_samples"] == SAMPLES
