"""One LocalCluster of two worker processes for every distributed test."""
import numpy as np
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="session")
def client():
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=":0")
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def split_by_cluster(df, top, nparts):
    """A dask DataFrame of ``nparts`` partitions holding whole clusters of ``top`` (rows
    keep their index)."""
    ids = np.array_split(np.unique(df[top]), nparts)
    return dd.concat([dd.from_pandas(df[df[top].isin(part)], npartitions=1) for part in ids])


@pytest.fixture
def by_cluster():
    return split_by_cluster
