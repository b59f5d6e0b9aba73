"""The partitions' moments combine into those of the whole response."""
import numpy as np

from statsmodels_me.distributed.moments import combine_moments


def test_combined_moments_equal_numpy_on_the_whole():
    rng = np.random.default_rng(2)
    # a large mean next to a small spread: the naive sum of squares would lose the digits
    parts = [1e6 + rng.normal(size=n) for n in (7, 1, 0, 40, 13)]
    moments = [(len(p), float(p.mean()) if len(p) else 0.0,
                float(((p - p.mean()) ** 2).sum()) if len(p) else 0.0) for p in parts]
    n, mean, m2 = combine_moments(moments)
    whole = np.concatenate(parts)
    assert n == len(whole)
    assert abs(mean / whole.mean() - 1) < 1e-15
    # np.var of the concatenated response (Gaussian.ancillary_start's input)
    assert abs(m2 / n / np.var(whole) - 1) < 1e-12
