"""``mixed`` with frequency or sampling weights: Stata's rules, ``pwscale()``, the objective.

Stata's ``mixed`` takes ``[fweight=]`` or ``[pweight=]`` at the observation level and
``fweight(varname)`` or ``pweight(varname)`` in the random-effects equation of each level
(constant within the level's groups). One kind of weight per model; no weights with
``reml`` or ``dfmethod()`` (Stata's syntax notes: "no weights are allowed if either option
reml or option dfmethod() is specified"). Sampling weights give the pseudo-likelihood of
Rabe-Hesketh & Skrondal (2006) and imply ``vce(robust)`` clustered at the highest level
(``vce(cluster var)`` with a coarser variable is allowed); frequency weights below the highest
level take ``vce(robust)`` as the replicated data would (their replicates stay in their
clusters). ``pwscale(size | effective | gk)``
rescales the sampling weights of a two-level model (Stata's Methods and formulas; Pfeffermann
et al. 1998; Graubard & Korn 1996):

- ``size``: w*_{i|j} = n_j w_{i|j} / sum_i w_{i|j}, level-two weights unchanged;
- ``effective``: w*_{i|j} = w_{i|j} sum_i w_{i|j} / sum_i w_{i|j}^2, level-two unchanged;
- ``gk``: w*_j = w_j sum_i w_{i|j} / n_j and w*_{i|j} = 1.

The weighted likelihood itself is :class:`~statsmodels_me.objectives.lmm_weighted.WeightedLMM`;
with a ``covariance(fixed())`` block its terms are on the absolute scale (parameters
(theta, s2), as the unweighted model's).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from statsmodels_me.inference.sandwich import VCERequest
from statsmodels_me.objectives.lmm_weighted import WeightedLMM
from statsmodels_me.spec.errors import DataError, SpecificationError
from statsmodels_me.terms.random_effects import absolute_scale_terms


@dataclass
class Weighting:
    """The weights of a ``mixed`` model.

    Attributes
    ----------
    kind : str
        ``"fweight"`` or ``"pweight"``.
    objective : WeightedLMM
    vce : VCERequest
        ``vce(robust)`` (clustered at the highest level) unless the user asked for
        ``vce(cluster var)``, for sampling weights; the model's request otherwise.
    pwscale : str or None
    nobs : int or None
        Stata's e(N) under frequency weights: the observations of the replicated data (the
        sum over rows of the product of the weights along their path); ``None`` for
        sampling weights (the rows).
    """

    kind: str
    objective: WeightedLMM
    vce: VCERequest
    pwscale: str | None = None
    nobs: int | None = None


def group_weights(codes, n_groups, values, option, label):
    """The weight of each group from row values that must be constant within groups.

    Raises
    ------
    DataError
        Naming the option (``pweight(wj)``) and the level when a group's rows differ.
    """
    first = np.full(n_groups, np.nan)
    order = np.arange(len(codes))[::-1]
    first[codes[order]] = values[order]
    bad = values != first[codes]
    if bad.any():
        n_bad = len(np.unique(codes[bad]))
        raise DataError(f"mixed: {option} is not constant within groups of '{label}' "
                        f"({n_bad} groups have differing values); weights at a level must be "
                        "constant within its groups")
    return first


def scaled_weights(method, obs_w, codes, n_groups, level_w):
    """``pwscale(method)`` applied to observation weights ``obs_w`` (rows in groups
    ``codes``) and the level-two weights ``level_w`` (one per group); see the module
    docstring. Returns the scaled (obs_w, level_w)."""
    total = np.bincount(codes, weights=obs_w, minlength=n_groups)
    if np.any(total <= 0):
        raise DataError(f"mixed: pwscale({method}): {int(np.sum(total <= 0))} groups have "
                        "observation-level sampling weights summing to zero")
    if method == "size":
        n_j = np.bincount(codes, minlength=n_groups)
        return obs_w * (n_j / total)[codes], level_w
    if method == "effective":
        squares = np.bincount(codes, weights=obs_w * obs_w, minlength=n_groups)
        return obs_w * (total / squares)[codes], level_w
    n_j = np.bincount(codes, minlength=n_groups)
    return np.ones_like(obs_w), level_w * total / n_j


def _kinds(design, spec):
    """{where: kind} of every weight, ``where`` as the user wrote it."""
    out = {}
    if design.weight_type is not None:
        var = spec.options["weight"][1]
        out[f"[{design.weight_type}={getattr(var, 'text', var)}]"] = design.weight_type
    for kind, var in dict(spec.options.get("level_weights") or {}).values():
        out[f"{kind}({var})"] = kind
    return out


def _zero_counts(design, obs_w):
    """Observations with a zero weight, per weight as the user wrote it."""
    spec = design.spec
    out = {}
    if design.weight_type is not None:
        var = spec.options["weight"][1]
        out[f"[{design.weight_type}={getattr(var, 'text', var)}]"] = int(np.sum(obs_w == 0))
    typed = dict(spec.options.get("level_weights") or {})
    for name, (kind, values) in dict(design.level_weights).items():
        out[f"{kind}({typed[name][1]})"] = int(np.sum(np.asarray(values) == 0))
    return out


def _check_allowed(model, kinds, pwscale):
    """Stata's rules and this implementation's limits, each naming the option."""
    kind_set = set(kinds.values())
    if not kind_set:
        if pwscale is not None:
            raise SpecificationError(f"mixed: pwscale({pwscale}) requires sampling weights: "
                                     "[pweight=] at the observation level")
        return
    if len(kind_set) > 1:
        raise SpecificationError("mixed: weights of one kind only: " + ", ".join(kinds)
                                 + " mix fweights and pweights")
    names = ", ".join(kinds)
    if model.reml:
        raise SpecificationError(f"mixed: weights ({names}) are not allowed with reml, as "
                                 "in Stata; fit by ML (the default)")
    if model.dfmethod is not None:
        raise SpecificationError(f"mixed: weights ({names}) are not allowed with "
                                 "dfmethod(), as in Stata")
    if model.residual is not None:
        raise NotImplementedError(
            f"mixed: weights ({names}) with residuals() are not implemented: the weighted "
            "likelihood raises each observation's conditional density to its weight, which "
            "needs residuals independent given the random effects; fit without one of them")
    design = model.design
    if not design.nested or len(model.terms) != len(design.levels):
        raise NotImplementedError(
            f"mixed: weights ({names}) need nested random effects with one equation "
            "type per level; crossed effects, _all: and R.varname are not implemented (the "
            "weighted likelihood is integrated level by level over nested groups)")
    vce_given = model.options.get("vce") is not None
    if "pweight" in kind_set and vce_given and not model.vce.robust:
        raise SpecificationError(f"mixed: {model.vce.text} is not allowed with sampling "
                                 f"weights ({names}); they imply vce(robust)")
    top = dict(model.spec.options.get("level_weights") or {}).get(design.levels[0].path[-1])
    if model.vce.robust and top is not None and top[0] == "fweight":
        # a replicated top-level cluster is a cluster of its own in the replicated data,
        # which the per-cluster scores of the weighted likelihood do not give
        raise NotImplementedError(f"mixed: {model.vce.text} with frequency weights at the "
                                  f"highest level (fweight({top[1]})) is not implemented yet")
    if pwscale is not None:
        if "pweight" not in kind_set or design.weight_type != "pweight":
            raise SpecificationError(f"mixed: pwscale({pwscale}) requires sampling weights "
                                     "at the observation level ([pweight=])")
        if len(design.levels) != 1:
            raise SpecificationError(f"mixed: pwscale({pwscale}) is allowed only with "
                                     "two-level models")


def weighting_setup(model):
    """The :class:`Weighting` of a ``mixed`` model, or ``None`` without weights.

    Raises
    ------
    SpecificationError
        Weights that Stata does not allow together (``reml``, ``dfmethod()``, mixed kinds,
        ``vce(oim)`` with sampling weights, ``pwscale()`` without observation-level sampling
        weights or with more than two levels).
    DataError
        Level weights not constant within the level's groups; zero weights (Stata leaves
        their observations out of the estimation sample; drop them).
    NotImplementedError
        Weights with ``residuals()``, crossed effects, or ``vce(robust)`` with frequency
        weights at the highest level.
    """
    design, spec = model.design, model.spec
    pwscale = model.options.get("pwscale")
    kinds = _kinds(design, spec)
    _check_allowed(model, kinds, pwscale)
    if not kinds:
        return None
    kind = next(iter(kinds.values()))
    n = design.nobs
    obs_w = np.ones(n) if design.weights is None else np.asarray(design.weights, float)
    zero = {where: k for where, k in _zero_counts(design, obs_w).items() if k}
    if zero:
        where, k = next(iter(zero.items()))
        raise DataError(f"mixed: {where} is zero on {k} observations; Stata leaves them out "
                        "of the estimation sample: drop them (e.g. with 'if w > 0')")
    typed = dict(spec.options.get("level_weights") or {})
    by_name = {level.path[-1]: k for k, level in enumerate(design.levels)}
    level_w = [np.ones(level.n_groups) for level in design.levels]
    for name, (wkind, values) in dict(design.level_weights).items():
        if name not in by_name:
            raise SpecificationError(f"mixed: {wkind}() given for '{name}', which is not a "
                                     "grouping level of the model")
        k = by_name[name]
        level = design.levels[k]
        level_w[k] = group_weights(level.codes, level.n_groups, np.asarray(values, float),
                                   f"{wkind}({typed[name][1]})", level.label)
    if pwscale is not None:
        level = design.levels[0]
        obs_w, level_w[0] = scaled_weights(pwscale, obs_w, level.codes, level.n_groups,
                                           level_w[0])
    terms, bounds = model.terms, model.theta_bounds()
    if model.absolute:
        # covariance(fixed()): the parameter vector is (theta, s2), s2 read by every factor
        terms, bounds = absolute_scale_terms(terms, model.n_theta), bounds + [(None, None)]
    objective = WeightedLMM(design.endog, design.exog, terms,
                            [level.parent for level in design.levels], obs_w, level_w,
                            bounds=bounds)
    vce = model.vce
    if kind == "pweight" and not vce.robust:
        vce = VCERequest("robust")
    nobs = int(round(objective.total_weight)) if kind == "fweight" else None
    return Weighting(kind, objective, vce, pwscale, nobs)
