"""Caps on the work a design asks for, checked before anything is allocated."""
from __future__ import annotations

from statsmodels_me.spec.errors import SpecificationError

#: quadrature nodes per group (intpoints ** q) beyond which a fit is refused
MAX_NODES_PER_GROUP = 20_000
#: quadrature nodes over all groups of a level beyond which a fit is refused
MAX_NODES_TOTAL = 50_000_000


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
