"""The learned part follows scikit-learn's estimator conventions; higher score_samples = more suspicious."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from anomaly.model import FeedbackModel, UnexplainedActivityModel


def _days(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.normal(3, 0.3, n), rng.gamma(4, 0.25, n), rng.beta(2, 20, n),
                            rng.beta(1, 50, n), rng.beta(1, 30, n), rng.poisson(0.05, n), rng.normal(0, 0.3, n),
                            np.ones(n)])


def test_estimator_conventions_and_sign():
    X = _days(2000, 0)
    est = UnexplainedActivityModel(n_estimators=50, random_state=3)
    assert est.get_params()["random_state"] == 3 and not hasattr(est, "forest_")
    assert est.fit(X) is est
    assert est.n_features_in_ == X.shape[1] and hasattr(est, "center_") and hasattr(est, "offset_")
    odd = X[:5].copy()
    odd[:, 1] = 12.0  # twelve times the usual unexplained volume
    odd[:, 3] = 0.8  # mostly outside the jurisdiction
    typical = est.score_samples(X[5:500])
    assert est.score_samples(odd).min() > np.percentile(typical, 99)
    assert abs(float(np.median(typical))) < 0.5
    again = clone(est).fit(X)
    np.testing.assert_allclose(again.score_samples(odd), est.score_samples(odd))


def test_feedback_model_learns_what_analysts_confirm():
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 8, size=(400, 3))
    y = (X[:, 0] > 4).astype(int)  # analysts confirm strong household evidence, not the others
    m = FeedbackModel(random_state=0).fit(X, y)
    assert m.score_samples(np.array([[7.0, 1.0, 1.0]]))[0] > 0.9
    assert m.score_samples(np.array([[1.0, 7.0, 7.0]]))[0] < 0.1
