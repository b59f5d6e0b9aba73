"""Sequential collinearity detection (Stata keeps the earlier of collinear columns)."""
import numpy as np

from statsmodels_me.design.collinearity import collinear_columns


def test_independent_columns_kept():
    X = np.random.default_rng(0).normal(size=(50, 5))
    assert not collinear_columns(X).any()


def test_later_combination_dropped():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 40))
    X = np.column_stack([a, b, a - 2 * b, np.ones(40)])
    np.testing.assert_array_equal(collinear_columns(X), [False, False, True, False])
    # priority order decides which member of the dependent set goes
    np.testing.assert_array_equal(collinear_columns(X, order=[2, 1, 0, 3]),
                                  [True, False, False, False])


def test_zero_column_dropped():
    X = np.column_stack([np.ones(5), np.zeros(5)])
    np.testing.assert_array_equal(collinear_columns(X), [False, True])


def test_scale_does_not_matter():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 30))
    X = np.column_stack([1e6 * a, 1e-6 * b, 3e5 * a + 7e-7 * b])
    np.testing.assert_array_equal(collinear_columns(X), [False, False, True])
    # a nearly but not exactly collinear column (relative residual 1e-6) is kept
    X = np.column_stack([a, b, a + 1e-6 * rng.normal(size=30)])
    assert not collinear_columns(X).any()


def test_more_columns_than_rows():
    X = np.random.default_rng(3).normal(size=(3, 5))
    np.testing.assert_array_equal(collinear_columns(X), [False, False, False, True, True])


def test_gram_screen_agrees_with_the_qr_path():
    # the Gram-matrix shortcut must never keep what the QR path would drop
    from statsmodels_me.design import collinearity
    rng = np.random.default_rng(4)
    for eps in [1.0, 1e-2, 1e-4, 1e-7, 1e-9, 1e-12, 0.0]:
        a, b, c = rng.normal(size=(3, 60))
        X = np.column_stack([np.ones(60), a, b, a - b + eps * c])
        gram = X.T @ X
        screened = collinearity._clearly_independent(gram, range(4))
        if screened:
            assert eps >= 1e-3
        qr = collinear_columns(X + 0.0)
        assert not (screened and qr.any())
    X = np.column_stack([np.ones(20), np.zeros(20)])
    assert not collinearity._clearly_independent(X.T @ X, [0, 1])
