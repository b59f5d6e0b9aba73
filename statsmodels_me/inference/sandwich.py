"""Cluster-robust (sandwich) covariance of maximum-likelihood estimates.

With A the observed information (minus the Hessian of the log likelihood) and s_g the
score of cluster g, V = c A^-1 B A^-1 with B = sum_g s_g s_g' and Stata's small-sample
factor c = G / (G - 1) for G clusters (Stata [U] 20.22; [P] _robust).
"""
from __future__ import annotations

import re

import numpy as np

from statsmodels_me.spec.errors import SpecificationError

__all__ = ["VCERequest", "parse_vce", "cluster_groups", "cluster_sandwich", "score_products",
           "sandwich_from_products"]


class VCERequest:
    """What ``vce()`` asks for: ``kind`` is ``"oim"``, ``"robust"`` or ``"cluster"``;
    ``variable`` names the cluster variable for ``"cluster"``."""

    def __init__(self, kind, variable=None):
        self.kind = kind
        self.variable = variable

    @property
    def text(self):
        """The option as Stata shows it: ``vce(cluster id)``."""
        return f"vce({self.kind}{'' if self.variable is None else ' ' + self.variable})"

    @property
    def robust(self):
        return self.kind in ("robust", "cluster")


def parse_vce(text, command):
    """Read a ``vce()`` option: ``oim``, ``robust`` (abbreviation ``r``), ``cluster var``
    (``cl var``), as text or as the parser's tuple (``("cluster", "id")``).

    Raises
    ------
    NotImplementedError
        ``opg``, ``bootstrap``, ``jackknife``.
    SpecificationError
        Anything else, naming the option and the command.
    """
    if isinstance(text, tuple):
        if text and text[0] in ("opg", "bootstrap", "jackknife"):
            raise NotImplementedError(f"{command}: option vce({' '.join(text)}) is not "
                                      f"implemented yet; fit without it")
        text = " ".join(map(str, text))
    if text is None or (isinstance(text, str) and not text.strip()):
        return VCERequest("oim")
    words = str(text).split()
    head = words[0].lower()
    if head == "oim" and len(words) == 1:
        return VCERequest("oim")
    if len(head) >= 1 and "robust".startswith(head) and len(words) == 1:
        return VCERequest("robust")
    if len(head) >= 2 and "cluster".startswith(head):
        if len(words) != 2 or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", words[1]):
            raise SpecificationError(f"{command}: vce(cluster) takes one cluster variable, "
                                     f"got vce({text})")
        return VCERequest("cluster", words[1])
    raise SpecificationError(f"{command}: vce({text}) is not a valid variance estimator; "
                             f"use vce(oim), vce(robust) or vce(cluster varname)")


def cluster_groups(top_codes, cluster_values, top_label, cluster_name):
    """Map each top-level cluster to its group of the ``cluster()`` variable.

    Parameters
    ----------
    top_codes : ndarray (n,)
        Top-level cluster code (0..G-1) of every observation.
    cluster_values : array_like (n,)
        The cluster variable on the same rows.
    top_label, cluster_name : str
        For the error message.

    Returns
    -------
    groups : ndarray (G,)
        The cluster-variable group (0..C-1) of every top-level cluster.

    Raises
    ------
    SpecificationError
        A top-level cluster spans several values of the cluster variable (Stata requires
        the highest level to be nested within the cluster variable).
    """
    _, var_codes = np.unique(np.asarray(cluster_values), return_inverse=True)
    var_codes = var_codes.ravel()
    G = int(top_codes.max()) + 1
    lo = np.full(G, np.iinfo(np.int64).max)
    hi = np.full(G, -1)
    np.minimum.at(lo, top_codes, var_codes)
    np.maximum.at(hi, top_codes, var_codes)
    if np.any(lo != hi):
        raise SpecificationError(
            f"highest-level groups '{top_label}' are not nested within the cluster "
            f"variable '{cluster_name}' of vce(cluster {cluster_name})")
    _, groups = np.unique(lo, return_inverse=True)
    return groups.ravel()


def cluster_sandwich(hessian, scores, groups=None):
    """The cluster-robust covariance c A^-1 B A^-1.

    Parameters
    ----------
    hessian : ndarray (k, k)
        Hessian of the log likelihood at the estimates (A = -hessian).
    scores : ndarray (G, k)
        Score of every top-level cluster at the estimates.
    groups : ndarray (G,), optional
        Cluster-variable group of every top-level cluster (:func:`cluster_groups`); the
        scores within a group are summed before the outer products. Default: the top-level
        clusters themselves.

    Returns
    -------
    cov : ndarray (k, k)
    n_clusters : int
    """
    B, n_clusters = score_products(scores, groups)
    return sandwich_from_products(hessian, B, n_clusters), n_clusters


def score_products(scores, groups=None):
    """The meat B = sum_c s_c s_c' of the sandwich and the number of clusters c.

    Parameters
    ----------
    scores : ndarray (G, k)
        Score of every top-level cluster.
    groups : ndarray (G,), optional
        As :func:`cluster_sandwich`: the scores within a group are summed first.

    Returns
    -------
    B : ndarray (k, k)
    n_clusters : int
    """
    scores = np.asarray(scores, float)
    if groups is not None:
        n = int(np.max(groups)) + 1
        summed = np.zeros((n, scores.shape[1]))
        np.add.at(summed, np.asarray(groups), scores)
        scores = summed
    return scores.T @ scores, scores.shape[0]


def sandwich_from_products(hessian, products, n_clusters):
    """c A^-1 B A^-1 from the Hessian (A = -hessian), the summed outer products of the
    clusters' scores B (:func:`score_products`, or its sum over parts of the data holding
    whole clusters) and their number (c = G / (G - 1)).

    Raises
    ------
    SpecificationError
        Fewer than two clusters.
    """
    if n_clusters < 2:
        raise SpecificationError("vce(robust) needs at least two clusters")
    A_inv = np.linalg.pinv(-np.asarray(hessian, float))
    cov = A_inv @ np.asarray(products, float) @ A_inv * (n_clusters / (n_clusters - 1.0))
    return 0.5 * (cov + cov.T)
