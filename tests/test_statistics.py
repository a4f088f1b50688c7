import numpy as np
import pytest
from sklearn.metrics import f1_score

from train.evaluation.bootstrap import bootstrap_f1, bootstrap_macro_f1_difference, per_group_confusions
from train.modeling.calibration import expected_calibration_error, fit_temperature, nll, softmax


def noisy_predictions(n=400, k=4, accuracy=0.7, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    pred = np.where(rng.random(n) < accuracy, y, rng.integers(0, k, n))
    groups = np.repeat(np.arange(n // 5), 5)
    return y, pred, groups


def test_article_confusions_sum_to_the_whole():
    y, pred, groups = noisy_predictions()
    per_group = per_group_confusions(y, pred, groups, 4)
    assert per_group.shape == (80, 4, 4)
    whole = np.zeros((4, 4))
    np.add.at(whole, (y, pred), 1)
    assert np.array_equal(per_group.sum(axis=0), whole)


def test_bootstrap_point_matches_sklearn_and_cis_contain_it():
    y, pred, groups = noisy_predictions()
    result = bootstrap_f1(y, pred, groups, 4, n_boot=500, seed=1)
    assert result["macro_f1"]["point"] == pytest.approx(f1_score(y, pred, average="macro"))
    low, high = result["macro_f1"]["ci"]
    assert low < result["macro_f1"]["point"] < high
    assert 0.02 < high - low < 0.3
    per_class = f1_score(y, pred, average=None)
    for c, entry in enumerate(result["per_class_f1"]):
        assert entry["point"] == pytest.approx(per_class[c])
        assert entry["ci"][0] <= entry["point"] <= entry["ci"][1]


def test_bootstrap_is_deterministic_for_a_seed():
    y, pred, groups = noisy_predictions()
    assert bootstrap_f1(y, pred, groups, 4, n_boot=200, seed=3) == bootstrap_f1(y, pred, groups, 4, n_boot=200, seed=3)


def test_paired_difference_is_positive_for_a_clearly_better_model():
    y, good, groups = noisy_predictions(accuracy=0.9, seed=2)
    _, bad, _ = noisy_predictions(accuracy=0.4, seed=2)
    diff = bootstrap_macro_f1_difference(y, good, bad, groups, 4, n_boot=300)
    assert diff["ci"][0] > 0 and diff["ci"][0] <= diff["point"] <= diff["ci"][1]


def overconfident_logits(n=600, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 1.0
    return logits * 4.0, y  # scaled up: confident but often wrong


def test_temperature_is_positive_and_lowers_nll():
    logits, y = overconfident_logits()
    t = fit_temperature(logits, y)
    assert t > 1.0
    assert nll(logits, y, t) < nll(logits, y, 1.0)


def test_temperature_scaling_lowers_ece_of_an_overconfident_model():
    logits, y = overconfident_logits(seed=1)
    t = fit_temperature(logits, y)
    assert expected_calibration_error(softmax(logits, t), y) < expected_calibration_error(softmax(logits), y)


def test_ece_is_zero_for_a_perfectly_calibrated_certain_model():
    y = np.array([0, 1, 2, 1])
    probs = np.eye(3)[y]
    assert expected_calibration_error(probs, y) == 0.0
