"""Two workflow versions side by side, with the differences and whether each is beyond noise.

* Volumes, success and error rates, average, p50 and p95 execution time: every log of each
  version in the period (the rollup, or a scan with filters), as `/metrics/versions`.
* Means of the execution time and of every numeric metric (`metrics.overall_confidence`, …),
  shares of every boolean metric (`metrics.needs_more_info`, …): the newest SAMPLE logs of each
  version in the period (a sample keeps the cost bounded at any size: one scan of at most that
  many logs per version). `sample_size` says how many were read.
* Each comparison: the difference b − a in the metric's unit (points for rates), and a test
  (metrics/stats.py): the two-proportion z-test for rates and shares, Welch's t-test for means.
"""
from __future__ import annotations

from typing import Any

from logs.periods import Period
from logs.tenant_sql import metric_stats
from metrics import stats
from metrics.selectors import Scope, Stats, version_row, version_stats

SAMPLE = 5_000
# Direction of improvement, for the figures whose meaning we know.
BETTER_WHEN_HIGHER = {"success_rate": True, "error_rate": False, "execution_time_seconds": False}


def _empty_row(version: str) -> dict[str, Any]:
    empty = Stats(count=0, SUCCESS=0, PARTIAL=0, FAILED=0, ERROR=0, avg=None, first_seen=None, last_seen=None,
                  percentiles={})
    return version_row(version, empty)


def _sample(scope: Scope, period: Period, version: str) -> tuple[int, dict[tuple[str | None, str], tuple[Any, ...]]]:
    read, rows = metric_stats.version_sample_stats(scope.client, version=version, start=period.start, end=period.end,
                                                   condition=scope.where[0], params=scope.where[1], limit=SAMPLE)
    return read, {(key, kind): (n, mean, sd, true) for key, kind, n, mean, sd, true in rows}


def _better(metric: str, difference: float | None) -> str | None:
    higher = BETTER_WHEN_HIGHER.get(metric)
    if higher is None or not difference:
        return None
    return "b" if (difference > 0) == higher else "a"


def _rate_comparison(metric: str, label: str, x_a: int, n_a: int, x_b: int, n_b: int) -> dict[str, Any]:
    rate_a = round(100 * x_a / n_a, 2) if n_a else None
    rate_b = round(100 * x_b / n_b, 2) if n_b else None
    difference = round(rate_b - rate_a, 2) if rate_a is not None and rate_b is not None else None
    return {"metric": metric, "label": label, "kind": "rate", "a": rate_a, "b": rate_b, "n_a": n_a, "n_b": n_b,
            "difference": difference, "better": _better(metric, difference),
            **stats.two_proportions(x_a, n_a, x_b, n_b)}


def _mean_comparison(metric: str, label: str, a: tuple[Any, ...] | None, b: tuple[Any, ...] | None) -> dict[str, Any]:
    n_a, mean_a, sd_a = (a[0], a[1], a[2] or 0.0) if a else (0, None, 0.0)
    n_b, mean_b, sd_b = (b[0], b[1], b[2] or 0.0) if b else (0, None, 0.0)
    difference = round(mean_b - mean_a, 6) if mean_a is not None and mean_b is not None else None
    verdict = (stats.welch(mean_a, sd_a, n_a, mean_b, sd_b, n_b) if difference is not None
               else stats.Verdict(test=stats.MEAN_TEST, statistic=None, p_value=None, significant=None))
    return {"metric": metric, "label": label, "kind": "mean",
            "a": round(mean_a, 6) if mean_a is not None else None, "b": round(mean_b, 6) if mean_b is not None else None,
            "n_a": n_a, "n_b": n_b, "difference": difference, "better": _better(metric, difference), **verdict}


def _metric_comparisons(sample_a: dict[Any, Any], sample_b: dict[Any, Any]) -> list[dict[str, Any]]:
    out = []
    for key, kind in sorted(set(sample_a) | set(sample_b), key=lambda k: (k[0] is not None, k[0] or "", k[1])):
        if key is None:
            continue
        a, b = sample_a.get((key, kind)), sample_b.get((key, kind))
        if kind == "boolean":
            out.append(_rate_comparison(f"metrics.{key}", f"{key} (share true)", a[3] if a else 0, a[0] if a else 0,
                                        b[3] if b else 0, b[0] if b else 0))
        else:
            out.append(_mean_comparison(f"metrics.{key}", key, a, b))
    return out


def metrics_version_compare(scope: Scope, *, period: Period, a: str, b: str) -> dict[str, Any]:
    """Versions `a` and `b` in the period: each one's figures (as /metrics/versions, plus the
    sample size), then the comparisons: success rate, error rate, mean execution time, and every
    numeric or boolean metric either sample carries (see the module docstring)."""
    figures = version_stats(scope, period)
    sides, samples = {}, {}
    for name, version in (("a", a), ("b", b)):
        s = figures.get(version)
        sides[name] = version_row(version, s) if s else _empty_row(version)
        read, samples[name] = _sample(scope, period, version)
        sides[name]["sample_size"] = read
    ra, rb = sides["a"], sides["b"]
    comparisons = [
        _rate_comparison("success_rate", "Success rate", ra["success_count"], ra["count"], rb["success_count"],
                         rb["count"]),
        _rate_comparison("error_rate", "Error rate", ra["error_count"], ra["count"], rb["error_count"], rb["count"]),
        _mean_comparison("execution_time_seconds", "Execution time (s)", samples["a"].get((None, "number")),
                         samples["b"].get((None, "number"))),
        *_metric_comparisons(samples["a"], samples["b"]),
    ]
    return {"a": ra, "b": rb, "comparisons": comparisons, "alpha": stats.ALPHA, "sample_limit": SAMPLE,
            **period.fields()}
