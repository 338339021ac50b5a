"""Is a difference between two workflow versions beyond noise? Two classical tests, two-sided.

* Rates (success rate, error rate, the share of runs with a boolean metric true): the pooled
  two-proportion z-test. z = (p_b − p_a) / sqrt(p(1 − p)(1/n_a + 1/n_b)) with p the pooled
  proportion; p-value from the normal distribution. Its normal approximation needs at least
  5 expected successes and failures per group (n·p and n·(1 − p) with the pooled p): below
  that no verdict is given.
* Means (execution time, numeric metrics such as a confidence): Welch's t-test (unequal
  variances), t = (m_b − m_a) / sqrt(s_a²/n_a + s_b²/n_b) with the Welch–Satterthwaite degrees of
  freedom; p-value from Student's t distribution. Needs at least 2 values per group.

A difference is "significant" when p < ALPHA (0.05). Nothing here corrects for testing many
metrics at once: with twenty metrics, about one may pass by chance.
"""
from __future__ import annotations

import math
from typing import TypedDict

ALPHA = 0.05
MIN_EXPECTED = 5
PROPORTION_TEST = "two-proportion z-test"
MEAN_TEST = "Welch's t-test"


class Verdict(TypedDict):
    test: str
    statistic: float | None
    p_value: float | None
    significant: bool | None  # None: too few runs to tell


def _verdict(test: str, statistic: float | None, p_value: float | None) -> Verdict:
    if statistic is None or p_value is None:
        return Verdict(test=test, statistic=None, p_value=None, significant=None)
    return Verdict(test=test, statistic=round(statistic, 4), p_value=round(p_value, 6), significant=p_value < ALPHA)


def two_proportions(x_a: int, n_a: int, x_b: int, n_b: int) -> Verdict:
    """The pooled two-proportion z-test of x_a/n_a against x_b/n_b."""
    if n_a <= 0 or n_b <= 0:
        return _verdict(PROPORTION_TEST, None, None)
    pooled = (x_a + x_b) / (n_a + n_b)
    if min(n_a, n_b) * min(pooled, 1 - pooled) < MIN_EXPECTED:
        return _verdict(PROPORTION_TEST, None, None)
    z = (x_b / n_b - x_a / n_a) / math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    return _verdict(PROPORTION_TEST, z, math.erfc(abs(z) / math.sqrt(2)))


def welch(mean_a: float, sd_a: float, n_a: int, mean_b: float, sd_b: float, n_b: int) -> Verdict:
    """Welch's t-test of two means given their sample standard deviations and sizes."""
    if n_a < 2 or n_b < 2:
        return _verdict(MEAN_TEST, None, None)
    va, vb = sd_a * sd_a / n_a, sd_b * sd_b / n_b
    if va + vb == 0:  # no spread at all: any difference is certain (t is infinite: not reported)
        return (_verdict(MEAN_TEST, 0.0, 1.0) if mean_a == mean_b
                else Verdict(test=MEAN_TEST, statistic=None, p_value=0.0, significant=True))
    t = (mean_b - mean_a) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / ((va * va / (n_a - 1) if va else 0) + (vb * vb / (n_b - 1) if vb else 0))
    return _verdict(MEAN_TEST, t, student_t_two_sided(t, df))


def student_t_two_sided(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with `df` degrees of freedom: I_x(df/2, 1/2) with
    x = df / (df + t²), the regularized incomplete beta function."""
    return _betainc(df / 2, 0.5, df / (df + t * t))


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), by its continued fraction
    (Lentz's method, as in Numerical Recipes' betai), accurate to ~1e-12."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-13:
            break
    return h
