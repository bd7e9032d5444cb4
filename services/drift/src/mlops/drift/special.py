"""The four distribution functions the tests need, in plain Python: importing scipy.special costs ~0.7 s on a
small machine, which is a third of a whole `mlops drift check` at a million rows. Each is checked against scipy
in tests/unit/drift/test_special.py."""

from __future__ import annotations

import math
from statistics import NormalDist

_NORMAL = NormalDist()


def ndtr(x: float) -> float:
    """Standard normal CDF."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def ndtri(p: float) -> float:
    """Inverse of the standard normal CDF, for 0 < p < 1."""
    return _NORMAL.inv_cdf(p)


def kolmogorov(y: float) -> float:
    """Survival function of the Kolmogorov distribution, P(K > y) (scipy.special.kolmogorov)."""
    if y <= 0:
        return 1.0
    if y < 1.0:  # the theta-function form converges fast for small y
        terms = sum(math.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * y * y)) for k in range(1, 8))
        return max(0.0, 1.0 - math.sqrt(2 * math.pi) / y * terms)
    return min(1.0, 2.0 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * y * y) for k in range(1, 101)))


def chi2_sf(df: float, x: float) -> float:
    """Upper tail of the chi-square distribution, P(X > x) (scipy.special.chdtrc): the regularised upper
    incomplete gamma Q(df/2, x/2), by its series below a+1 and its continued fraction above (Numerical Recipes)."""
    if x <= 0:
        return 1.0
    a, z = df / 2.0, x / 2.0
    log_front = a * math.log(z) - z - math.lgamma(a)
    if z < a + 1.0:
        term = total = 1.0 / a
        n = a
        for _ in range(10_000):
            n += 1.0
            term *= z / n
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300  # modified Lentz
    b = z + 1.0 - a
    c, d = 1.0 / tiny, 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-16:
            break
    return min(1.0, math.exp(log_front) * h)
