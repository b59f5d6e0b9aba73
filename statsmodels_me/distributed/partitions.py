"""The dask side of a distributed fit: the client, partitions holding whole top-level
clusters, the template sample, and the partition objectives persisted on the workers."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from statsmodels_me.design.build import missing_value_notes
from statsmodels_me.distributed.pieces import partition_summary, template_rows
from statsmodels_me.objectives.glmm_choose import design_kind
from statsmodels_me.spec.errors import DataError, SpecificationError
from statsmodels_me.spec.expressions import expression_builtins, parse_expression

#: top-level clusters per partition in the driver's template sample
TEMPLATE_CLUSTERS = 20


def current_client(client=None):
    """``client``, else the current ``dask.distributed`` client."""
    if client is not None:
        return client
    from distributed import get_client
    try:
        return get_client()
    except ValueError:
        raise ValueError("fitting on a dask DataFrame needs a dask.distributed Client: start "
                         "one (Client(...)) or pass fit(client=...)") from None


def top_level(spec, command):
    """The top-level grouping variable every random equation is nested in.

    Raises
    ------
    SpecificationError
        Without a random-effects equation, or with levels crossed rather than nested in
        one top-level variable (naming them).
    """
    if not spec.random:
        raise SpecificationError(f"{command}: no random-effects equation")
    top = spec.random[0].path[0]
    if top == "_all" or any(eq.path[0] != top for eq in spec.random):
        paths = ", ".join(">".join(eq.path) for eq in spec.random)
        raise SpecificationError(
            f"{command}: the grouping levels {paths} are crossed, not nested in one "
            "top-level variable; a dask DataFrame can only be split by top-level cluster")
    return top


def refuse_crossed(template, command):
    """Raise where the template design's random effects are crossed (``R.`` blocks
    included): a dask DataFrame can only be split by top-level cluster of nested levels."""
    if design_kind(template) == "crossed":
        labels = ", ".join(lev.label for lev in template.levels)
        raise SpecificationError(
            f"{command}: the random effects at {labels} are crossed; a dask DataFrame "
            "can only be split by top-level cluster of nested levels")


def whole_clusters(ddf, spec, top, command, column=None):
    """``ddf`` with every top-level cluster in one partition: as it is when its partitions
    already hold whole clusters, else shuffled by ``top`` with a warning saying so.

    Whole clusters: the partitions' ranges of ids do not overlap (one small reduction), or,
    where they do, the distinct ids per partition add up to the distinct ids of the whole
    data.

    Returns
    -------
    ddf, shuffled, samples
        The frame, whether it was shuffled, and each of its partitions'
        :func:`~.pieces.sample_summary` (with the distinct values of ``column``).
    """
    parts = _partition_summaries(ddf, top, spec, column)
    clusters = [c for c, _ in parts]
    ranges = sorted((lo, hi) for n, lo, hi in clusters if n)
    if all(a[1] < b[0] for a, b in zip(ranges, ranges[1:])) or \
            sum(n for n, _, _ in clusters) == int(ddf[top].nunique().compute()):
        return ddf, False, [s for _, s in parts]
    warnings.warn(f"{command}: clusters of '{top}' span several partitions; the data are "
                  f"shuffled by '{top}' so that each partition holds whole clusters",
                  UserWarning, stacklevel=4)
    shuffled = ddf.shuffle(on=top)
    return shuffled, True, [s for _, s in _partition_summaries(shuffled, top, spec, column)]


def _partition_summaries(ddf, top, spec, column):
    """Per partition, :func:`~.pieces.partition_summary` computed on its worker."""
    import dask
    return dask.compute(*[dask.delayed(partition_summary)(d, top, spec, column)
                          for d in ddf.to_delayed()])


def sample_categories(samples):
    """Sorted distinct values of the column the partitions' summaries were asked for (the
    categories of an ordinal outcome in the estimation sample)."""
    return np.unique(np.concatenate([np.asarray(s[3], float) for s in samples]))


def sample_partitions(ddf, samples, spec, command):
    """The partitions of ``ddf`` holding rows of the estimation sample (an ``if`` condition
    or missing values can leave a partition of whole clusters without any), and the
    design's notes on dropped rows counted over all of them (Stata's wording,
    :func:`~statsmodels_me.design.build.missing_value_notes`)."""
    keep = [i for i, s in enumerate(samples) if s[0]]
    if not keep:
        raise _no_observations(command)
    n_missing = sum(s[1] for s in samples)
    counts = {}
    for s in samples:
        for var, k in s[2].items():
            counts[var] = counts.get(var, 0) + k
    # in the order of the model's variables, as build_design lists them
    order = [v for v in spec.variables() if v in counts]
    infinite = {v: counts[v] for v in order + [v for v in counts if v not in order]}
    if len(keep) < ddf.npartitions:
        ddf = ddf.partitions[keep]
    return ddf, missing_value_notes(n_missing, infinite)


def template_frame(ddf, spec, top, columns):
    """A small pandas sample of whole clusters of the estimation sample (the first clusters
    of every partition and one cluster per distinct value of each of ``columns``) for the
    driver's model template: every partition contributes the clusters holding its values,
    so the sample holds the estimation sample's set of values of each column."""
    meta = ddf._meta if hasattr(ddf, "_meta") else ddf.head(0)
    sample = ddf.map_partitions(template_rows, top, TEMPLATE_CLUSTERS, tuple(columns), spec,
                                meta=meta).compute()
    if len(sample) == 0:
        raise _no_observations(spec.command)
    return sample


def _no_observations(command):
    return DataError(f"{command}: no observations: no row of the data is in the estimation "
                     "sample (the if condition and the missing values leave none)")


def factor_variables(spec, meta):
    """Variables of the fixed part coded by levels: ``i.``/``ibn.`` factors, the inputs of
    formula ``C()`` terms and non-numeric columns (``meta`` the frame's empty form)."""
    out = []
    for term in spec.fixed:
        for f in term.factors:
            inputs = [v for v in (f.var,) + tuple(getattr(f, "inputs", ()) or ()) if v in meta]
            if f.kind in ("i", "ibn"):
                names = [f.var]
            elif f.kind == "formula" and f.var.startswith("C("):
                names = inputs
            else:
                names = [v for v in inputs if not pd.api.types.is_numeric_dtype(meta[v])]
            out += [v for v in names if v not in out]
    return out


#: patsy's stateful transforms: their constants are fitted on the data
_STATEFUL = re.compile(r"\b(center|standardize|scale|bs|cr|cc|te)\s*\(")


def refuse_stateful_transforms(spec, command):
    """Raise for formula transforms whose constants are fitted on the data (``center()``,
    ``bs()``, ...): on a dask DataFrame they would be fitted on the template sample."""
    hit = _STATEFUL.search(spec.source or "")
    if hit:
        raise NotImplementedError(
            f"{command}: the formula transform {hit.group(1)}() on a dask DataFrame is not "
            "implemented (its constants would be fitted on a sample, not the data); "
            "compute the column first")


def refuse_weights(spec, command):
    """Raise for weights, naming them: the partition passes carry none (refused, not
    ignored)."""
    given = []
    if spec.options.get("weight"):
        kind, var = spec.options["weight"]
        given.append(f"[{kind}={var}] weights")
    for level, (kind, var) in dict(spec.options.get("level_weights") or {}).items():
        given.append(f"{kind}({var}) weights at level '{level}'")
    if given:
        raise NotImplementedError(f"{command}: {' and '.join(given)} on a dask DataFrame are "
                                  "not implemented; fit the pandas DataFrame")


def refuse_row_order(spec, command):
    """Raise for what reads the rows' order or number across the whole data: ``in`` ranges,
    ``_n``/``_N`` in ``if``, time-series operators (``time=``, ``panel=``). Evaluated
    partition by partition they would select or lag other rows than in memory."""
    given = []
    if spec.obs_range is not None:
        given.append(f"the range 'in {spec.obs_range.text}'")
    cond = spec.condition
    if cond is not None and cond.syntax == "stata":
        builtins = expression_builtins(parse_expression(cond.text))
        if builtins:
            given.append(f"{'/'.join(builtins)} in 'if {cond.text}'")
    if spec.tsset is not None:
        given.append("time-series operators (time=, panel=)")
    if given:
        raise NotImplementedError(
            f"{command}: {' and '.join(given)} on a dask DataFrame "
            f"{'is' if len(given) == 1 else 'are'} not implemented (observation numbers and "
            "time order are not defined across partitions); select or compute the rows first")


def persist_partitions(client, ddf, task, *args):
    """``task(partition, *args)`` for every partition of ``ddf``, kept on its worker.

    Returns the futures of the results, in partition order (a partition's error is
    raised).
    """
    frames = client.compute(ddf.to_delayed())
    pieces = [client.submit(task, f, *args, pure=False) for f in frames]
    from distributed import wait
    wait(pieces)
    for f in frames:
        f.release()
    for p in pieces:
        if p.status == "error":
            p.result()  # raises the partition's error
    return pieces
