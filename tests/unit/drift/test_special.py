"""mlops.drift.special, the four distribution functions drift uses instead of importing scipy, against scipy."""

import numpy as np
import pytest
from scipy import special as sp

from mlops.drift import special

pytestmark = pytest.mark.unit


def test_kolmogorov_survival_matches_scipy():
    for y in [*np.linspace(0.01, 3, 150), 0.99, 1.0, 1.01, 6.0]:
        assert special.kolmogorov(y) == pytest.approx(sp.kolmogorov(y), abs=1e-13)


@pytest.mark.parametrize("df", [1, 2, 3, 7, 20, 101, 400])
def test_chi_square_upper_tail_matches_scipy(df):
    for x in np.linspace(0.001, 3 * df + 40, 120):
        expected = sp.chdtrc(df, x)
        assert special.chi2_sf(df, x) == pytest.approx(expected, rel=1e-10, abs=1e-300)


def test_normal_cdf_and_its_inverse_match_scipy():
    for x in np.linspace(-9, 9, 73):
        assert special.ndtr(x) == pytest.approx(sp.ndtr(x), rel=1e-12, abs=1e-300)
    for p in [1e-9, 0.001, 0.3, 0.5, 0.9, 1 - 1e-9]:
        assert special.ndtri(p) == pytest.approx(sp.ndtri(p), rel=1e-9)
