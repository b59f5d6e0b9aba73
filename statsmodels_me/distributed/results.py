"""What the results of a fit on a dask DataFrame refuse: the postestimation that reads the
data (the model holds only a template sample of it on the driver)."""
from __future__ import annotations


class DataFreeResults:
    """Mixin for results of a fit on a dask DataFrame: the methods that would read the
    template sample instead of the data raise :class:`NotImplementedError` naming them."""

    def _not_on_dask(self, what):
        raise NotImplementedError(
            f"{self.model.spec.command}: {what} after a fit on a dask DataFrame is not "
            "implemented (it would read the template sample, not the data)")

    def predict_data(self, statistic, data, *args, **kwargs):
        self._not_on_dask("predict(data=...)")

    def get_prediction(self, *args, **kwargs):
        self._not_on_dask("get_prediction")

    def margins(self, *args, **kwargs):
        self._not_on_dask("margins")

    def simulate(self, nsim=1, seed=None):
        self._not_on_dask("simulate")

    def bootstrap(self, nboot, statistic=None, seed=None, **fit_kwargs):
        self._not_on_dask("bootstrap")
