"""Drift: multiple-testing corrections, the per-concept statistics, and a planted shift on Fashion-MNIST."""

import json

import numpy as np
import pytest
from scipy import stats

from helpers_apps import DATASET, FOOTWEAR, SAMPLES, TOPS, demo_aligned, require_offline, run_cli
from t2c.apps.drift import cohens_d, concept_drift, run_drift, welch_t_test
from t2c.apps.multiple_testing import adjust_p_values, benjamini_hochberg, holm
from t2c.errors import ConfigError, NotFoundError

P_VALUES = np.array([0.01, 0.04, 0.03, 0.005, 0.5])


def test_benjamini_hochberg_matches_scipy():
    p = np.random.default_rng(0).uniform(size=50) ** 3
    assert np.allclose(benjamini_hochberg(p), stats.false_discovery_control(p, method="bh"))


def test_holm_by_hand():
    # Sorted: 0.005*5, 0.01*4, 0.03*3, 0.04*2, 0.5*1 -> 0.025, 0.04, 0.09, 0.09 (running max), 0.5.
    assert np.allclose(holm(P_VALUES), [0.04, 0.09, 0.09, 0.025, 0.5])


def test_corrections_never_lower_p():
    for method in ("fdr_bh", "holm"):
        assert (adjust_p_values(P_VALUES, method) >= P_VALUES).all()


def test_nan_p_values_are_not_tests():
    adjusted = adjust_p_values(np.array([0.01, np.nan, 0.02]), "holm")
    assert np.isnan(adjusted[1])
    assert np.allclose(adjusted[[0, 2]], [0.02, 0.02])


def test_unknown_correction_raises():
    with pytest.raises(ConfigError, match="fdr_bh, holm, none"):
        adjust_p_values(P_VALUES, "bonferroni")


def test_welch_matches_formula():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.3, 1.0, (40, 3)), rng.normal(0.0, 2.0, (25, 3))
    t, p = welch_t_test(a, b)

    va, vb = a.var(axis=0, ddof=1) / len(a), b.var(axis=0, ddof=1) / len(b)
    expected_t = (a.mean(axis=0) - b.mean(axis=0)) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    assert np.allclose(t, expected_t)
    assert np.allclose(p, 2 * stats.t.sf(np.abs(expected_t), df))


def test_cohens_d_matches_formula():
    a, b = np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([[2.0], [4.0], [6.0]])
    pooled = np.sqrt((3 * a.var(ddof=1) + 2 * b.var(ddof=1)) / 5)
    assert cohens_d(a, b)[0] == pytest.approx((2.5 - 4.0) / pooled)


def test_planted_shift_in_synthetic_scores():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, (100, 4)), rng.normal(0, 1, (120, 4))
    a[:, 2] += 1.0
    rows = concept_drift(a, b, ["w", "x", "y", "z"])

    assert rows[0]["concept"] == "y"
    assert rows[0]["higher_in"] == "a"
    assert rows[0]["significant"]
    assert sum(row["significant"] for row in rows) == 1


def test_one_image_per_side_raises():
    with pytest.raises(ConfigError, match="at least 2 images"):
        concept_drift(np.zeros((1, 2)), np.zeros((5, 2)), ["a", "b"])


FOOTWEAR_WORDS = ["shoe", "sandal", "sneaker", "boot", "heel", "sole", "lace"]
TOPS_WORDS = ["shirt", "t-shirt", "sweater", "pullover", "sleeve", "collar", "top"]
CONCEPTS = FOOTWEAR_WORDS + TOPS_WORDS + ["car", "dog", "tree", "cloud", "guitar", "bridge"]


@pytest.fixture(scope="module")
def aligned():
    require_offline()
    return demo_aligned()


@pytest.fixture(scope="module")
def footwear_vs_tops(aligned):
    return run_drift(
        f"{DATASET}/test", a_classes=FOOTWEAR, b_classes=TOPS, concepts=CONCEPTS, limit=SAMPLES,
        encoder=aligned.encoder, target=aligned.target, head=aligned.head,
    )


def test_planted_shift_footwear_side(footwear_vs_tops):
    # The offline target is weak, so unrelated words ("guitar", "car") also rise; footwear words must lead.
    side = [row["concept"] for row in footwear_vs_tops["higher_in_a"]]
    assert side[0] in FOOTWEAR_WORDS
    assert len(set(side) & set(FOOTWEAR_WORDS)) >= 5


def test_planted_shift_tops_side(footwear_vs_tops):
    side = [row["concept"] for row in footwear_vs_tops["higher_in_b"]]
    assert side[0] in TOPS_WORDS
    assert len(set(side) & set(TOPS_WORDS)) >= 5


def test_no_footwear_word_rises_in_tops(footwear_vs_tops):
    side = {row["concept"] for row in footwear_vs_tops["higher_in_b"]}
    assert not side & set(FOOTWEAR_WORDS)


def test_sides_hold_the_filtered_classes(footwear_vs_tops):
    assert 250 < footwear_vs_tops["a"]["n"] < 350
    assert 250 < footwear_vs_tops["b"]["n"] < 350
    assert footwear_vs_tops["notes"] == []


def test_ranking_is_by_effect_size(footwear_vs_tops):
    effects = [abs(row["cohens_d"]) for row in footwear_vs_tops["ranking"]]
    assert effects == sorted(effects, reverse=True)
    assert len(footwear_vs_tops["ranking"]) == len(CONCEPTS)


def test_same_classes_show_little_drift(aligned):
    results = run_drift(
        f"{DATASET}/test", b=f"{DATASET}/train", a_classes=TOPS, b_classes=TOPS, concepts=CONCEPTS, limit=SAMPLES,
        encoder=aligned.encoder, target=aligned.target, head=aligned.head,
    )
    assert max(abs(row["cohens_d"]) for row in results["ranking"]) < 0.3


def test_overlapping_sets_get_a_note(aligned):
    results = run_drift(
        f"{DATASET}/test", a_classes=["sandal", "shirt"], b_classes=["shirt"], concepts=CONCEPTS[:4], limit=SAMPLES,
        encoder=aligned.encoder, target=aligned.target, head=aligned.head,
    )
    assert "in both sets" in results["notes"][0]


def test_output_files(aligned, tmp_path):
    results = run_drift(
        f"{DATASET}/test", a_classes=FOOTWEAR, b_classes=TOPS, concepts=CONCEPTS, limit=SAMPLES, correction="holm",
        encoder=aligned.encoder, target=aligned.target, head=aligned.head, output=str(tmp_path / "drift"),
    )
    written = json.loads((tmp_path / "drift" / "drift.json").read_text())
    lines = (tmp_path / "drift" / "drift.csv").read_text().splitlines()

    assert written["correction"] == "holm"
    assert written["higher_in_a"] == results["higher_in_a"]
    assert len(lines) == len(CONCEPTS) + 1
    assert (tmp_path / "drift" / "drift.png").stat().st_size > 10_000


def test_cli_drift_json(aligned):
    results = run_cli(
        "drift", "--a", f"{DATASET}/test", "--a-classes", ",".join(FOOTWEAR), "--b-classes", ",".join(TOPS),
        "--concepts", ",".join(CONCEPTS), "--limit", str(SAMPLES), "--train-samples", str(SAMPLES), "--no-zoo",
    )
    assert results["a"]["classes"] == FOOTWEAR
    assert results["higher_in_a"][0]["concept"] in FOOTWEAR_WORDS


def test_unknown_class_suggests_name(aligned):
    with pytest.raises(NotFoundError, match="did you mean 'sneaker'"):
        run_drift(
            f"{DATASET}/test", a_classes=["sneakers"], concepts=CONCEPTS, limit=SAMPLES,
            encoder=aligned.encoder, target=aligned.target, head=aligned.head,
        )
