"""Several random-effects equations at one level: a block-diagonal covariance."""
from __future__ import annotations

import numpy as np
from scipy.linalg import block_diag

from statsmodels_me.covariance.base import CovarianceStructure, DisplayRow
from statsmodels_me.spec.errors import SpecificationError


class BlockDiagonal(CovarianceStructure):
    """Block-diagonal ``Sigma`` built from one structure per equation at the same level.

    theta is the blocks' thetas concatenated; ``Sigma`` is block-diagonal in block order. The
    display follows Stata's table: the variance rows of all blocks (block order, then each
    block's own order) first, then the covariance rows of all blocks.

    With ``across_levels=True`` the blocks are the structures of different levels (a GLMM's
    nested or crossed levels side by side): the display then keeps each block's rows
    together, block after block, with each block's own level in :attr:`vcomp_labels`.

    Parameters
    ----------
    blocks : list of CovarianceStructure
        Structures at one level (same ``level_label``), or at several levels with
        ``across_levels``.
    across_levels : bool
    """

    def __init__(self, blocks: list[CovarianceStructure], across_levels: bool = False):
        if not blocks:
            raise SpecificationError("a block-diagonal covariance needs at least one block")
        labels = {b.level_label for b in blocks}
        if len(labels) != 1 and not across_levels:
            raise SpecificationError(f"blocks at different levels {sorted(labels)}")
        self.across_levels = bool(across_levels)
        self.blocks = list(blocks)
        super().__init__([n for b in blocks for n in b.names], blocks[0].level_label,
                         q=sum(b.q for b in blocks))
        self.kind_label = ", ".join(b.kind_label for b in blocks)
        q_off = np.cumsum([0] + [b.q for b in blocks])
        t_off = np.cumsum([0] + [b.n_theta for b in blocks])
        self._q_slices = [slice(q_off[k], q_off[k + 1]) for k in range(len(blocks))]
        self._t_slices = [slice(t_off[k], t_off[k + 1]) for k in range(len(blocks))]
        variances, covariances = [], []
        for k, b in enumerate(blocks):
            o = int(q_off[k])
            for m, r in enumerate(b.rows):
                shifted = (DisplayRow(r.label, r.name, r.i + o, r.j + o), k, m)
                (variances if r.is_variance else covariances).append(shifted)
        ordered = variances + covariances
        if across_levels:
            ordered.sort(key=lambda row: (row[1], row[2]))
        self.rows = [r for r, _, _ in ordered]
        # (block, row within block) of each displayed row, to split display values back
        self._row_source = [(k, m) for _, k, m in ordered]

    @property
    def vcomp_labels(self) -> list[str]:
        if self.across_levels:
            return [lab for b in self.blocks for lab in b.vcomp_labels]
        return super().vcomp_labels

    @property
    def n_theta(self) -> int:
        return sum(b.n_theta for b in self.blocks)

    def _parts(self, theta):
        theta = np.asarray(theta, dtype=float).ravel()
        if theta.size != self.n_theta:
            raise SpecificationError(
                f"expected {self.n_theta} covariance parameters, got {theta.size}")
        return [theta[s] for s in self._t_slices]

    def theta_bounds(self):
        return [bd for b in self.blocks for bd in b.theta_bounds()]

    def theta_start(self, sigma=None):
        if sigma is None:
            return np.concatenate([b.theta_start() for b in self.blocks])
        sigma = np.asarray(sigma, dtype=float)
        return np.concatenate([b.theta_start(sigma[s, s])
                               for b, s in zip(self.blocks, self._q_slices, strict=True)])

    def cholesky(self, theta):
        parts = zip(self.blocks, self._parts(theta), strict=True)
        return block_diag(*[b.cholesky(t) for b, t in parts])

    def matrix(self, theta):
        parts = zip(self.blocks, self._parts(theta), strict=True)
        return block_diag(*[b.matrix(t) for b, t in parts])

    def d_matrix(self, theta):
        out = np.zeros((self.n_theta, self.q, self.q))
        parts = zip(self.blocks, self._parts(theta), self._t_slices, self._q_slices, strict=True)
        for b, t, ts, qs in parts:
            out[ts, qs, qs] = b.d_matrix(t)
        return out

    def d_cholesky(self, theta):
        out = np.zeros((self.n_theta, self.q, self.q))
        parts = zip(self.blocks, self._parts(theta), self._t_slices, self._q_slices, strict=True)
        for b, t, ts, qs in parts:
            out[ts, qs, qs] = b.d_cholesky(t)
        return out

    def theta_from_display(self, values, scale: float = 1.0):
        values = np.asarray(values, dtype=float).ravel()
        if values.size != self.n_display:
            raise SpecificationError(
                f"expected {self.n_display} values for {self.vcomp_labels}, got {values.size}")
        per_block = [np.empty(b.n_display) for b in self.blocks]
        for v, (k, m) in zip(values, self._row_source, strict=True):
            per_block[k][m] = v
        return np.concatenate([b.theta_from_display(v, scale)
                               for b, v in zip(self.blocks, per_block, strict=True)])
