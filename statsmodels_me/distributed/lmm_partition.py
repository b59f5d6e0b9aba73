"""The worker's side of a distributed ``mixed`` fit: one partition's design, kept on its
worker, and its pieces of the profiled deviance
(:mod:`statsmodels_me.objectives.lmm_pieces`)."""
from __future__ import annotations

import dataclasses

import numpy as np

from statsmodels_me.design import build_design
from statsmodels_me.distributed.group_counts import group_counts
from statsmodels_me.distributed.pieces import template_columns
from statsmodels_me.distributed.scores import (
    distinct_values,
    partition_products,
    top_cluster_values,
)
from statsmodels_me.inference.sandwich import parse_vce
from statsmodels_me.objectives.lmm_blocked import BlockedLMM
from statsmodels_me.objectives.lmm_contributions import (
    nested_contributions,
    one_level_contributions,
)
from statsmodels_me.objectives.lmm_crossed_scalar import CrossedScalarLMM, linear_in_theta
from statsmodels_me.objectives.lmm_pieces import (
    gram_gradient,
    gram_hessian,
    gram_pieces,
    stencil_points,
    term_moments,
)
from statsmodels_me.objectives.lmm_profiled import sum_of_squares
from statsmodels_me.terms import build_terms

#: top-level clusters per block of a partition: each block's factor has a dense block of
#: the upper levels' effects (:class:`BlockedLMM`), so blocks keep the cost linear in clusters
CLUSTERS_PER_BLOCK = 100


class LMMPartition:
    """One partition of a ``mixed`` fit: its design and, once centred, the blocked
    objectives of its blocks of top-level clusters.

    Parameters
    ----------
    pdf : pandas.DataFrame
        Whole top-level clusters.
    spec : ModelSpec
    template : Design, optional
        The driver's template design: the partition takes its fixed-effects columns from
        it (:func:`~statsmodels_me.distributed.pieces.template_columns`).
    block_size : int
        Top-level clusters per block (models with several terms).

    An empty partition answers every call with ``None``.
    """

    def __init__(self, pdf, spec, template=None, block_size=CLUSTERS_PER_BLOCK):
        self.models = {}
        self.r = None
        if len(pdf) == 0:
            self.y = None
            return
        d = build_design(spec, pdf)
        self.exog_names = list(d.exog_names if template is None else template.exog_names)
        self.y = np.asarray(d.endog, float)
        self.X = np.asarray(template_columns(d, template, pdf, self.exog_names), float)
        self.terms, _ = build_terms(d)
        self.level_counts = [group_counts(lev) for lev in d.levels]
        self.block_size = block_size
        self.blocks = partition_blocks(self.terms, block_size)
        self.cluster_values = None
        vce = parse_vce(spec.options.get("vce"), "mixed")
        if vce.kind == "cluster":
            top = min(self.terms, key=lambda t: t.n_groups)
            self.cluster_values = top_cluster_values(d, top.codes, top.label, vce.variable)

    def facts(self):
        """Names, counts and cross-products the driver reduces."""
        if self.y is None:
            return None
        return {"names": self.exog_names, "n": len(self.y),
                "XtX": self.X.T @ self.X, "Xty": self.X.T @ self.y,
                "yty": sum_of_squares(self.y),
                "groups": [t.n_groups for t in self.terms],
                "level_counts": self.level_counts}

    def center(self, b0):
        """Keep the blocked objectives of ``y - X b0`` (``b0`` the whole data's least
        squares, which removes the rounding noise of r2); returns ``||y - X b0||^2``."""
        if self.y is None:
            return None
        self.r = self.y - self.X @ np.asarray(b0, float)
        self.models = {None: BlockModel(self.r, self.X, self.blocks)}
        return sum_of_squares(self.r)

    def add_submodel(self, key, ks):
        """Keep, as ``key``, the model of the centred response with only the terms ``ks``
        (theta renumbered in that order): the sub-models of the starting values
        (:func:`~statsmodels_me.optimization.lmm_starts.submodel_start`)."""
        if self.y is None:
            return None
        # one sub-model at a time (they are fitted one after the other)
        self.models = {None: self.models[None]}
        self.models[key] = BlockModel(self.r, self.X,
                                      partition_blocks(renumbered(self.terms, ks),
                                                       self.block_size))
        return key

    def pieces(self, theta, want, key=None):
        """``(logdet, G)`` at ``theta`` summed over the blocks of model ``key``; with
        ``want == "gradient"`` also ``dG`` and the gradient of ``logdet`` (scalar terms)
        or ``logdet`` at the five-point stencil's points (otherwise), with ``want ==
        "moments"`` also the EM sums of :func:`term_moments`, with ``want == "hessian"``
        (scalar terms) ``dG``, the gradient of ``logdet``, ``d2G`` and the Hessian of
        ``logdet``, or ``()`` where a relative scale is zero."""
        if self.y is None:
            return None
        return self.models[key].pieces(np.asarray(theta, float), want)

    def cluster_value_set(self):
        """Distinct values of the ``vce(cluster)`` variable in the partition."""
        if self.y is None:
            return None
        return distinct_values(self.cluster_values)

    def score_products(self, theta, beta, s2, shared):
        """The partition's part of the sandwich's meat in (beta, theta, s2) (ML): the
        per-cluster scores of the in-memory objective of the same terms (one term:
        :func:`one_level_contributions`, else :func:`nested_contributions`) block by block,
        reduced by :func:`~statsmodels_me.distributed.scores.partition_products`."""
        if self.y is None:
            return None
        theta, beta = np.asarray(theta, float), np.asarray(beta, float)
        scores, codes = [], []
        top = min(range(len(self.terms)), key=lambda k: self.terms[k].n_groups)
        for rows, terms in self.blocks:
            y, X = self.y[rows], self.X[rows]
            if len(terms) == 1:
                _, s = one_level_contributions(y, X, terms[0], theta, beta, float(s2))
            else:
                _, s = nested_contributions(y, X, terms, theta, beta, float(s2))
            scores.append(s)
            # the block's top-level groups (codes renumbered in order) in partition codes
            codes.append(np.unique(self.terms[top].codes[rows]))
        values = None
        if self.cluster_values is not None:
            values = self.cluster_values[np.concatenate(codes)]
        return partition_products(np.vstack(scores), values, shared)

class BlockModel:
    """The blocked objectives of one model (the fitted one or a sub-model) on the blocks of
    a partition, and their summed pieces.

    Parameters
    ----------
    r : ndarray
        The centred response.
    X : ndarray
    blocks : list of (rows, terms)
        :func:`partition_blocks`.

    Models whose terms all have one effect per group (two or more terms) also keep each
    block's :class:`CrossedScalarLMM` (built on first use) for the exact gradient and
    Hessian of ``logdet``.
    """

    def __init__(self, r, X, blocks):
        if len(blocks) == 1:
            # one block of every row: the partition's arrays themselves, not copies
            self.objectives = [BlockedLMM(r, X, blocks[0][1])]
        else:
            self.objectives = [BlockedLMM(r[rows], X[rows], terms) for rows, terms in blocks]
        terms = blocks[0][1]
        self.n_terms = len(terms)
        # as the driver decides (SummedScalarLMM): Lambda linear in theta
        self.scalar = len(terms) > 1 and all(t.q == 1 and linear_in_theta(t) for t in terms)
        self._crossed = None

    def crossed(self):
        """Each block's :class:`CrossedScalarLMM` (scalar models)."""
        if self._crossed is None:
            self._crossed = [CrossedScalarLMM(o.y, o.X, o.terms) for o in self.objectives]
        return self._crossed

    def pieces(self, theta, want):
        """See :meth:`LMMPartition.pieces`."""
        if want == "hessian":
            out = [self._hessian_pieces(k, theta) for k in range(len(self.objectives))]
            if any(o is None for o in out):
                return ()
        else:
            out = [self._block_pieces(k, theta, want) for k in range(len(self.objectives))]
        summed = [sum(o[i] for o in out) for i in range(len(out[0]) - (want == "moments"))]
        if want == "moments":
            summed.append([tuple(sum(o[2][k][i] for o in out) for i in range(2))
                           for k in range(self.n_terms)])
        return tuple(summed)

    def _block_pieces(self, k, theta, want):
        objective = self.objectives[k]
        f, logdet, G = gram_pieces(objective, theta)
        if want == "gradient":
            dG = gram_gradient(objective, f, theta)
            if self.scalar:
                parts = self.crossed()[k].grad_parts(theta)
                dld = np.full(len(theta), np.nan) if parts is None else parts[2]
                return logdet, G, dG, dld
            at = np.array([_logdet(objective, t) for t in stencil_points(theta)])
            return logdet, G, dG, at
        if want == "moments":
            return logdet, G, term_moments(objective, f)
        return logdet, G

    def _hessian_pieces(self, k, theta):
        out = self.crossed()[k].hessian_parts(theta)
        if out is None:
            return None
        objective = self.objectives[k]
        f, logdet, G = gram_pieces(objective, theta)
        return (logdet, G, gram_gradient(objective, f, theta), out[1],
                gram_hessian(objective, f, theta), out[3])


def renumbered(terms, ks):
    """The terms ``ks`` with theta indices 0, 1, ... in that order (scalar terms)."""
    return [dataclasses.replace(terms[k], theta_index=np.array([j]))
            for j, k in enumerate(ks)]


def _logdet(objective, theta):
    """log|L|^2 of ``objective`` at ``theta``; NaN outside the structures' domain."""
    lams = objective.lambdas(theta)
    if not all(np.all(np.isfinite(lam)) for lam in lams):
        return np.nan
    try:
        return objective.blocked_factor(theta)[1]
    except np.linalg.LinAlgError:
        return np.nan


def partition_blocks(terms, block_size=CLUSTERS_PER_BLOCK):
    """``(rows, terms)`` of each block of ``block_size`` top-level clusters: the rows and
    the terms restricted to them (group codes renumbered within the block). One block for
    one-term models (their factor is block-diagonal already)."""
    n = len(terms[0].codes)
    top = min(terms, key=lambda t: t.n_groups)
    if len(terms) == 1 or top.n_groups <= block_size:
        return [(np.arange(n), terms)]
    block = top.codes // block_size
    out = []
    for b in range(int(block.max()) + 1):
        rows = np.flatnonzero(block == b)
        sub = []
        for t in terms:
            levels, codes = np.unique(t.codes[rows], return_inverse=True)
            sub.append(dataclasses.replace(t, codes=codes.astype(np.int64),
                                           n_groups=len(levels), Z=t.Z[rows]))
        out.append((rows, sub))
    return out


def build_lmm(pdf, spec, template=None, block_size=CLUSTERS_PER_BLOCK):
    """An :class:`LMMPartition` of ``pdf`` (the task that keeps it on its worker)."""
    return LMMPartition(pdf, spec, template, block_size)
