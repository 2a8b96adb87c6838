"""The learned part of the score: an isolation forest over staff-day profiles of *unexplained* activity.

Counts are expressed relative to the person's own usual day, so a busy batch account is not unusual for
being busy. Follows scikit-learn's estimator conventions: `__init__` stores parameters, `fit` returns self,
learned attributes end in `_`, `random_state` seeds it. score_samples: higher = more suspicious.
What analysts' closures teach is in `anomaly.feedback` (verdicts per pattern, not a learned model).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest

from anomaly.engine import num
from anomaly.engine.duckdb_engine import as_engine

FEATURES = ("unexpl_subjects_log", "unexpl_vs_own", "unexpl_share", "out_share", "after_hours_share",
            "updates_unexpl", "records_vs_own", "sites")


class UnexplainedActivityModel(BaseEstimator):
    """Isolation forest on relative staff-day features; higher score_samples = more suspicious."""

    def __init__(self, n_estimators: int = 100, max_samples: int | str = 256, random_state: int | None = 0) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: None = None) -> UnexplainedActivityModel:
        """Learn the shape of ordinary staff-days (unlabelled)."""
        X = np.asarray(X, dtype=float)
        self.center_ = np.median(X, axis=0)
        spread = np.percentile(X, 90, axis=0) - np.percentile(X, 10, axis=0)
        self.scale_ = np.where(spread > 0, spread, 1.0)
        # fewer days than the sample size: all of them, as the forest itself would do, without its warning
        samples = min(self.max_samples, len(X)) if isinstance(self.max_samples, int) else self.max_samples
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, max_samples=samples,
                                       random_state=self.random_state).fit((X - self.center_) / self.scale_)
        ref = -self.forest_.score_samples((X - self.center_) / self.scale_)
        self.offset_ = float(np.median(ref))
        self.spread_ = float(max(np.percentile(ref, 99.9) - self.offset_, 1e-6))
        self.n_features_in_ = X.shape[1]
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """0 for a typical day, 1 at the 99.9th percentile of the training days; higher = more suspicious."""
        X = np.asarray(X, dtype=float)
        raw = -self.forest_.score_samples((X - self.center_) / self.scale_)
        return (raw - self.offset_) / self.spread_


def staff_day_features(target: Any, keys: str | None = None, source: str = "staff_days") -> pd.DataFrame:
    """(staff_id, day, features...) from staff-day rows joined with the own_base baselines, on a detection
    engine (or a DuckDB connection); `keys`: a relation of (staff_id, day) to keep."""
    eng = as_engine(target)
    one = num(1.0)
    keep = "" if keys is None else f"SEMI JOIN {keys} k ON k.staff_id = sd.staff_id AND k.day = sd.day"
    return eng.frame(f"""
        SELECT sd.staff_id, sd.day,
               ln(1 + sd.n_unexpl_subjects) AS unexpl_subjects_log,
               (sd.n_unexpl_subjects + {one}) / (coalesce(o.med, 0) + {one}) AS unexpl_vs_own,
               sd.n_unexpl_events / greatest(sd.n_events, 1) AS unexpl_share,
               sd.n_unexpl_out / greatest(sd.n_unexpl_subjects, 1) AS out_share,
               sd.n_after_hours_unexpl / greatest(sd.n_unexpl_subjects, 1) AS after_hours_share,
               sd.n_updates_unexpl AS updates_unexpl,
               ln(1 + sd.max_records) - ln(1 + coalesce(o.rec_p90, 0)) AS records_vs_own,
               sd.n_terminals AS sites
        FROM {source} sd {keep} LEFT JOIN own_base o ON o.staff_id = sd.staff_id""")


def fit_activity_model(target: Any, *, max_rows: int = 8000,
                       random_state: int = 0) -> UnexplainedActivityModel | None:
    """Fit on a seeded sample of the staff-day history `hist` (None when there is too little of it). The
    sample is chosen by a digest of (staff, day, seed), the same on every engine, not a reservoir, which is
    not repeatable across threads: the same data must give the same scores, or re-running detection could
    raise or drop an alert."""
    eng = as_engine(target)
    order = eng.digest("staff_id", "day", repr(str(int(random_state))))
    eng.create("_model_sample", f"SELECT * FROM hist ORDER BY {order}, staff_id, day LIMIT {int(max_rows)}")
    frame = staff_day_features(eng, source="_model_sample")
    frame = frame.sort_values(["staff_id", "day"], kind="stable").reset_index(drop=True)
    if len(frame) < 50:
        return None
    return UnexplainedActivityModel(random_state=random_state).fit(frame[list(FEATURES)].to_numpy())
