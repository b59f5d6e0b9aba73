"""The factored q = 2 logit grid of ``glmm_kernels`` (2 n1 + 1 exponentials per observation
instead of n1^2) against the node-by-node evaluation of the same rule.

The node-by-node path is forced by listing the same nodes and weights in another order
(``_tensor_points`` then returns 0); the quadrature sums are the same up to summation order.
"""
import numpy as np
import pytest
from _glmm_testdata import simulate
from statsmodels_me._kernels.glmm_kernels import _tensor_points

from statsmodels_me._kernels.quadrature import gh_grid
from statsmodels_me.objectives.glmm_one_level_engine import OneLevelGLMM


def _pair(d, family, method, points):
    def make():
        return OneLevelGLMM(d["endog"], d["exog"], d["Z"], d["groups"], family, "logit",
                            trials=d["trials"], intmethod=method, intpoints=points)
    fast, slow = make(), make()
    order = np.random.default_rng(0).permutation(slow._nodes.shape[0])
    slow._nodes = np.ascontiguousarray(slow._nodes[order])
    slow._logw = np.ascontiguousarray(slow._logw[order])
    assert _tensor_points(fast._nodes) == points and _tensor_points(slow._nodes) == 0
    return fast, slow


@pytest.mark.parametrize("family", ["bernoulli", "binomial"])
@pytest.mark.parametrize("method", ["mvaghermite", "mcaghermite"])
@pytest.mark.parametrize("shift", [0.0, 700.0])
def test_factored_grid_matches_node_by_node(family, method, shift):
    d = simulate(family, "logit", q=2, G=30, nj=6, seed=4)
    fast, slow = _pair(d, family, method, 7)
    # shift = 700 puts every exponent out of range: the kernel falls back node by node
    beta = d["beta"] + np.array([shift, 0.0])
    lf, gbf, _, gLf = fast.loglike_and_grad(beta, d["aux"], d["L"])
    ls, gbs, _, gLs = slow.loglike_and_grad(beta, d["aux"], d["L"])
    assert np.isfinite(lf)
    np.testing.assert_allclose(lf, ls, rtol=1e-12)
    np.testing.assert_allclose(gbf, gbs, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(gLf, gLs, rtol=1e-9, atol=1e-10)


def test_tensor_points_recognises_only_the_product_rule():
    nodes, _ = gh_grid(5, 2)
    assert _tensor_points(nodes) == 5
    assert _tensor_points(gh_grid(5, 1)[0]) == 0
    assert _tensor_points(gh_grid(3, 3)[0]) == 0
    swapped = np.ascontiguousarray(nodes[:, ::-1])
    assert _tensor_points(swapped) == 0
