"""The learned part follows scikit-learn's estimator conventions; higher score_samples = more suspicious."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from anomaly.model import UnexplainedActivityModel


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


def test_training_sample_is_repeatable():
    """The same stored history gives the same forest (re-running detection must not raise or drop alerts)."""
    import duckdb

    from anomaly.model import fit_activity_model

    con = duckdb.connect()
    con.execute("SET threads = 4")
    con.execute("""
        CREATE TEMP TABLE hist AS
        SELECT 'U' || (i % 3000)::VARCHAR AS staff_id, DATE '2026-09-01' + (i // 3000)::INTEGER AS day,
               (hash(i) % 40)::INTEGER AS n_unexpl_subjects, (hash(i + 1) % 50)::INTEGER AS n_unexpl_events,
               50 + (hash(i + 2) % 50)::INTEGER AS n_events, (hash(i + 3) % 3)::INTEGER AS n_unexpl_out,
               (hash(i + 4) % 4)::INTEGER AS n_after_hours_unexpl, (hash(i + 5) % 2)::INTEGER AS n_updates_unexpl,
               (hash(i + 6) % 30)::INTEGER AS max_records, 1 + (hash(i + 7) % 2)::INTEGER AS n_terminals
        FROM range(120000) t(i)""")
    con.execute("CREATE TEMP TABLE own_base AS SELECT staff_id, median(n_unexpl_subjects) AS med, "
                "quantile_cont(max_records, 0.9) AS rec_p90 FROM hist GROUP BY staff_id")
    a, b = fit_activity_model(con, random_state=5), fit_activity_model(con, random_state=5)
    assert a.offset_ == b.offset_ and a.spread_ == b.spread_
    np.testing.assert_array_equal(a.center_, b.center_)


def test_fewer_days_than_the_sample_size_fit_without_a_warning_on_the_terminal():
    """A small workspace (57 staff-days) printed scikit-learn's max_samples warning with a site-packages path."""
    import warnings

    X = np.random.default_rng(0).normal(size=(57, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small = UnexplainedActivityModel().fit(X)
    assert small.forest_.max_samples == 57
