"""Caps on the work a design asks for, checked before anything is allocated."""
from __future__ import annotations

from statsmodels_me.spec.errors import SpecificationError

#: quadrature nodes per group (intpoints ** q) beyond which a fit is refused
MAX_NODES_PER_GROUP = 20_000
#: quadrature nodes over all groups of a level beyond which a fit is refused
MAX_NODES_TOTAL = 50_000_000
#: points per dimension of the largest Gauss-Hermite rule (the rule's nodes lose accuracy in
#: double precision beyond about 700 points)
MAX_INTPOINTS = 500
#: nested levels: nodes per top-level group (the product of ``intpoints ** q`` over the
#: levels, every inner integral is evaluated at every outer node) beyond which a fit is refused
MAX_NESTED_NODES = 1_000_000
#: bytes of the adaptive grids (centre and Cholesky factor per group and outer node) beyond
#: which a fit is refused
MAX_GRID_BYTES = 2 * 2 ** 30


def check_quadrature_size(design) -> None:
    """``SpecificationError`` naming ``intpoints()`` when Gauss-Hermite quadrature on this
    design would need more than :data:`MAX_NODES_PER_GROUP` nodes per group or more than
    :data:`MAX_NODES_TOTAL` in all (``intpoints ** q`` nodes per group of a level with ``q``
    random effects)."""
    options = design.spec.options
    method = str(options.get("intmethod") or "")
    points = options.get("intpoints")
    if points is None or method in ("laplace", "pclaplace"):
        return
    if int(points) > MAX_INTPOINTS:
        raise SpecificationError(
            f"intpoints({points}): at most {MAX_INTPOINTS} points per dimension (the "
            "Gauss-Hermite nodes and weights are not accurate in double precision beyond)")
    for level in design.levels:
        q = sum(len(block.names) for block in level.blocks)
        if q == 0:
            continue
        nodes = float(points) ** q
        if nodes > MAX_NODES_PER_GROUP or nodes * level.n_groups > MAX_NODES_TOTAL:
            raise SpecificationError(
                f"intpoints({points}) with {q} random effect(s) at level '{level.label}' "
                f"needs {points}^{q} = {nodes:.3g} quadrature nodes per group over "
                f"{level.n_groups} groups; at most {MAX_NODES_PER_GROUP:,} per group and "
                f"{MAX_NODES_TOTAL:,} in all: lower intpoints() or use intmethod(laplace)")


def check_nested_quadrature(level_sizes, intpoints, n_rows) -> None:
    """``SpecificationError`` naming ``intpoints()`` before the adaptive grids of nested
    quadrature are allocated, when the nodes per top-level group (the product of
    ``intpoints ** q`` over the levels) exceed :data:`MAX_NESTED_NODES` or the grids exceed
    :data:`MAX_GRID_BYTES`.

    Parameters
    ----------
    level_sizes : sequence of (label, n_groups, q)
        The levels from the outermost in.
    intpoints : int
    n_rows : int
        Observations (every outer node of an observation's levels evaluates it).
    """
    outer, slots_bytes, product = 1.0, 0.0, 1.0
    for _, n_groups, q in level_sizes:
        slots = float(n_groups) * outer  # (group, outer node) pairs with their own grid
        slots_bytes += slots * (q + q * q + 1) * 8.0
        outer *= float(intpoints) ** q
        product = outer
    if product <= MAX_NESTED_NODES and slots_bytes <= MAX_GRID_BYTES:
        return
    dims = " x ".join(f"{intpoints}^{q} ('{label}')" for label, _, q in level_sizes)
    raise SpecificationError(
        f"intpoints({intpoints}) on nested levels needs {dims} = {product:.3g} quadrature "
        f"nodes per top-level group ({product * n_rows:.3g} evaluations per likelihood over "
        f"{n_rows} observations) and {slots_bytes / 2 ** 30:.3g} GiB of adaptive grids; at "
        f"most {MAX_NESTED_NODES:,} nodes and {MAX_GRID_BYTES / 2 ** 30:g} GiB: lower "
        "intpoints() or use intmethod(laplace)")


#: bytes of one dense n x n block of ``mixed``'s blocked Cholesky factor beyond which the
#: in-memory fit is refused (the factor, its kept copy and the Hessian's products hold about
#: 3.5 such blocks at once)
MAX_DENSE_BLOCK_BYTES = 4 * 2 ** 30


def check_dense_block(size, labels, nested) -> None:
    """``SpecificationError`` before ``mixed``'s blocked Cholesky factor is allocated, when
    its dense block (every random effect but those of the largest term, ``size`` of them,
    of the terms at ``labels``) would exceed :data:`MAX_DENSE_BLOCK_BYTES`; a nested design
    is pointed to the fit on a dask DataFrame, which factors it by top-level cluster."""
    need = 8.0 * float(size) ** 2
    if need <= MAX_DENSE_BLOCK_BYTES:
        return
    where = ("the design is nested: a fit on a dask DataFrame (smf.mixed(text, "
             "data=dask_frame)) factors it by top-level cluster, in time and memory linear "
             "in clusters" if nested else "the random effects are crossed")
    raise SpecificationError(
        f"mixed: the random effects at {', '.join(labels)} form a dense block of {size:,} "
        f"effects in the blocked Cholesky factor ({need / 2 ** 30:.3g} GiB, at most "
        f"{MAX_DENSE_BLOCK_BYTES / 2 ** 30:g} GiB in memory); {where}")
