"""The driver's side of a distributed objective: an engine whose every evaluation is a map
over the partitions kept on the workers (:mod:`.pieces`) and a sum.

:class:`PartitionMap` runs one method on every partition, on the worker that holds it.
:class:`SummedEngine` has the interface of the GLMM engines
(:class:`~statsmodels_me.models.glmm_engine.OneLevelGLMM`,
:class:`~statsmodels_me.models.glmm_nested_engine.NestedGLMM`) the objectives call, so the
package's objectives (theta -> L, the gradient in theta, the Hessians by differences) and
its optimizers run unchanged on the driver. For nested designs each top-level cluster lies
in one partition, so the sums are the whole-data log likelihood and gradient.
"""
from __future__ import annotations

import itertools

import numpy as np

from statsmodels_me.distributed.pieces import call
from statsmodels_me.objectives.glmm_nested import NestedGLMMObjective
from statsmodels_me.objectives.glmm_one_level import OneLevelGLMMObjective


class PartitionMap:
    """Evaluations on the partitions kept on the workers.

    Parameters
    ----------
    client : distributed.Client
    pieces : list of Future
        One :class:`~statsmodels_me.distributed.pieces.PartitionFit` per partition.
    """

    def __init__(self, client, pieces):
        self.client = client
        self.pieces = list(pieces)
        where = client.who_has(self.pieces)
        # a task on the worker holding its piece: the piece's warm starts and Laplace
        # objectives live there, a copy elsewhere would not keep them
        self.workers = [list(where[p.key]) for p in self.pieces]
        self._keys = itertools.count()

    def map(self, method, *args):
        """``piece.<method>(*args)`` on every partition, results in partition order."""
        return self._run(call, method, *args)

    def apply(self, func, *args):
        """``func(piece, *args)`` on every partition, results in partition order (``func``
        importable on the workers)."""
        return self._run(apply_to, func, *args)

    def _run(self, task, *args):
        futs = [self.client.submit(task, p, *args, pure=False, workers=w,
                                   allow_other_workers=False)
                for p, w in zip(self.pieces, self.workers)]
        return self.client.gather(futs)

    def new_key(self):
        """A fresh name for an objective kept on the workers."""
        return f"objective-{next(self._keys)}"


def apply_to(piece, func, *args):
    """``func(piece, *args)`` (the task of :meth:`PartitionMap.apply`)."""
    return func(piece, *args)


class SummedEngine:
    """The engine interface over partitions: sums of the partitions' engines.

    Parameters
    ----------
    parts : PartitionMap
    key : str
        Which of each partition's objectives (``"main"`` or a Laplace one).
    intmethod, link : str
    k_aux, q : int
    """

    def __init__(self, parts, key, intmethod, link, k_aux, q):
        self.parts, self.key = parts, key
        self.intmethod, self.link, self.k_aux, self.q = intmethod, link, k_aux, q

    def _map(self, method, *args):
        return self.parts.map("engine_call", self.key, method, args)

    def loglike(self, beta, aux, L, freeze_grid=False):
        """Sum of the partitions' marginal log likelihoods."""
        return float(sum(self._map("loglike", beta, aux, L, freeze_grid)))

    def loglike_and_grad(self, beta, aux, L, *rest):
        """Sums of the partitions' log likelihoods and gradient pieces."""
        out = self._map("loglike_and_grad", beta, aux, L, *rest)
        llf = float(sum(o[0] for o in out))
        return (llf,) + tuple(sum(o[i] for o in out) for i in (1, 2, 3))

    def loglike_and_grad_clusters(self, beta, aux, L):
        """Per top-level cluster pieces, partition after partition."""
        out = self._map("loglike_and_grad_clusters", beta, aux, L)
        return tuple(np.concatenate([o[i] for o in out]) for i in range(4))

    def reset_warm_start(self):
        """Cold starts on every partition."""
        self._map("reset_warm_start")

    def laplace_engine(self):
        """A :class:`SummedEngine` over the Laplace objective each partition derives from
        its own (``objective.laplace()`` on the worker)."""
        key = self.parts.new_key()
        self.parts.map("new_laplace", self.key, key)
        return SummedEngine(self.parts, key, "laplace", self.link, self.k_aux, self.q)


def _refuse_random_effects():
    raise NotImplementedError("random-effects predictions of a fit on a dask DataFrame are "
                              "not implemented")


class SummedOneLevelObjective(OneLevelGLMMObjective):
    """:class:`OneLevelGLMMObjective` on a :class:`SummedEngine`."""

    def laplace(self):
        """The Laplace objective on the same partitions (built once, on the workers)."""
        if self.engine.intmethod == "laplace":
            return self
        if getattr(self, "_laplace", None) is None:
            self._laplace = SummedOneLevelObjective(
                self.engine.laplace_engine(), self.cov, self.k_fe)
        return self._laplace

    def random_effects(self, x, ebmodes=False):
        _refuse_random_effects()


class SummedNestedObjective(NestedGLMMObjective):
    """:class:`NestedGLMMObjective` on a :class:`SummedEngine`."""

    def laplace(self):
        """A new Laplace objective on the same partitions (cold mode searches, as in memory)."""
        return SummedNestedObjective(self.engine.laplace_engine(), self.cov,
                                     self.k_fe)

    def random_effects(self, x, ebmodes=False):
        _refuse_random_effects()


def summed_objective(kind, engine, cov, k_fe):
    """The objective of ``kind`` (``"one level"`` or ``"nested"``) on ``engine``."""
    cls = SummedOneLevelObjective if kind == "one level" else SummedNestedObjective
    return cls(engine, cov, k_fe)
