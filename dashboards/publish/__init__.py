"""The public progress site: static build (`build_site`) and the same pages served live (`blueprint`).

Public-facing: only KPI figures, definitions, freshness and suppressed aggregate counts leave the
warehouse through this package; it never reads staff, subjects, cases or event-level data.
"""

from dashboards.publish.site import BuildResult, build_site

__all__ = ["BuildResult", "build_site", "blueprint"]


def blueprint(ws, **options):  # noqa: ANN001, ANN201 - lazy import: a static build needs no Flask routing
    """The Flask blueprint serving /public/... and /api/public/... (see dashboards.publish.server)."""
    from dashboards.publish.server import blueprint as _blueprint  # a static build needs no Flask routing

    return _blueprint(ws, **options)
