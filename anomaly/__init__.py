"""Unauthorised-viewing detector: explains accesses by cases and learned patterns, detects scenarios,
scores them against per-person and peer baselines plus a learned model, and raises budgeted alerts.

Entry point for the job wiring: `anomaly.detect(ws_or_con, config, since=None) -> DetectionResult`.
"""

from anomaly.detect import DetectionResult, detect

__all__ = ["DetectionResult", "detect"]
