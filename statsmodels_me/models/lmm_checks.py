"""Checks that refuse ``mixed`` designs whose parameters are not identified."""
from __future__ import annotations

import numpy as np

from statsmodels_me.objectives.lmm_profiled import sum_of_squares
from statsmodels_me.spec.errors import DataError


def _collinear_columns(Z, names, gram=None):
    """Names of columns of ``Z`` in the span of the columns before them (scaled Gram matrix;
    ``gram`` is Z'Z when the caller has it)."""
    G = Z.T @ Z if gram is None else gram
    d = np.sqrt(np.clip(np.diag(G), 0.0, None))
    bad, kept = [], []
    # the intercept first, so that a constant covariate is the one reported
    order = sorted(range(Z.shape[1]), key=lambda j: names[j] != "_cons")
    for j in order:
        if d[j] == 0.0:
            bad.append(names[j])
            continue
        cols = kept + [j]
        C = G[np.ix_(cols, cols)] / np.outer(d[cols], d[cols])
        if np.linalg.eigvalsh(C)[0] <= 1e-10:
            bad.append(names[j])
        else:
            kept.append(j)
    return bad


def check_random_design(design, grams=None):
    """Refuse random-effects designs whose variances cannot be identified.

    ``grams`` optionally maps a level label to Z'Z of its covariates (the one-term engine's
    per-group sums give it without another pass over the rows).

    Raises
    ------
    DataError
        A level (other than ``_all``) with a single group, or random-effects covariates at
        one level that are collinear (a constant covariate next to the random intercept, a
        covariate that is a linear combination of the others).
    """
    for level in design.levels:
        if level.label != "_all" and level.n_groups < 2:
            raise DataError(
                f"mixed: level '{level.label}' has only {level.n_groups} group in the "
                f"estimation sample; its random-effects variance is not identified")
        blocks = [b for b in level.blocks if b.factor_codes is None]
        if not blocks:
            continue
        Z = blocks[0].Z if len(blocks) == 1 else np.hstack([b.Z for b in blocks])
        names = [n for b in blocks for n in b.names]
        bad = _collinear_columns(Z, names, (grams or {}).get(level.label))
        if bad:
            raise DataError(
                f"mixed: random effects at level '{level.label}' are collinear: "
                f"{', '.join(repr(n) for n in bad)} "
                f"{'is' if len(bad) == 1 else 'are'} constant or a linear combination of "
                f"{', '.join(repr(n) for n in names if n not in bad) or 'the others'}; "
                f"drop {'it' if len(bad) == 1 else 'them'} from '|| {level.label}:' or add "
                f"noconstant")


def least_squares(X, y):
    """Least-squares coefficients of ``y`` on ``X`` and the residual sum of squares.

    From the p x p normal equations (refined once when cond(X'X) exceeds 1e4) when
    cond(X'X) < 1e8 and the fit is not (nearly) exact; otherwise from the QR-based
    ``lstsq`` on the n x p matrix, whose accuracy the exact-fit check needs.

    Returns
    -------
    beta : ndarray (p,)
    rss : float
    """
    XtX = X.T @ X
    cond = np.linalg.cond(XtX) if XtX.size and np.all(np.isfinite(XtX)) else np.inf
    if cond < 1e8:
        beta = np.linalg.solve(XtX, X.T @ y)
        r = y - X @ beta
        if cond >= 1e4:
            # beta's relative error is ~1e-16 cond: refine once
            beta = beta + np.linalg.solve(XtX, X.T @ r)
            r = y - X @ beta
        rss = sum_of_squares(r)
        if rss > 1e-8 * sum_of_squares(y):
            return beta, rss
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    r = y - X @ beta
    return beta, sum_of_squares(r)


def check_response(design, fit=None):
    """Refuse a response that the fixed effects fit exactly (no residual variance).

    Parameters
    ----------
    design : Design
    fit : tuple, optional
        ``least_squares(design.exog, design.endog)`` when already computed.

    Raises
    ------
    DataError
        Naming the response: the likelihood is unbounded there.
    """
    X, y = design.exog, design.endog
    rss = (least_squares(X, y) if fit is None else fit)[1]
    if rss <= 1e-20 * max(sum_of_squares(y), 1e-300):
        raise DataError(
            f"mixed: the response '{design.endog_names[0]}' is an exact linear function of "
            f"the fixed effects ({' '.join(design.exog_names)}); there is no residual "
            f"variation to model")


def check_terms_identified(terms, nobs):
    """Refuse a term with at least as many random effects as observations (lme4's rule).

    Raises
    ------
    DataError
        Naming the term: its random effects and the residual variance are not separately
        identified.
    """
    for t in terms:
        if t.size >= nobs:
            raise DataError(
                f"mixed: the random effects {' '.join(t.names)} at level '{t.label}' number "
                f"{t.n_groups} groups x {t.q} = {t.size}, not fewer than the {nobs} "
                f"observations; they and the residual variance are not identified")
