"""The real time-series datasets recur_timeseries reads, registered in recur_core's dataset catalogue.

Loaded through the ``recur.datasets`` entry point; importing it registers the datasets.

Checksums are recorded only where the file is known to equal the official one: ``ETTh1.csv`` was
copied from the official repository at the pinned commit, and ``ETTm1.csv`` has the md5 that
other loaders record for the official file (82d6bd89109c63d075d99c1077b33f38). ``ETTh2.csv`` and
``ETTm2.csv`` have no checksum yet: none was available to compute one from.
"""

from recur_core.data import DataFile, DatasetSpec, register_dataset

__all__ = ["ETT"]

# the commit of github.com/zhouhaoyi/ETDataset the checksums were taken at
_ETT_RAW = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/1d16c8f4f943005d613b5bc962e9eeb06058cf07/ETT-small"

ETT = register_dataset(
    DatasetSpec(
        name="ett",
        folder="ETT-small",
        files=(
            DataFile(
                "ETTh1.csv",
                f"{_ETT_RAW}/ETTh1.csv",
                "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066",
                2_589_657,
            ),
            DataFile("ETTh2.csv", f"{_ETT_RAW}/ETTh2.csv", None, None),
            DataFile(
                "ETTm1.csv",
                f"{_ETT_RAW}/ETTm1.csv",
                "6ce1759b1a18e3328421d5d75fadcb316c449fcd7cec32820c8dafda71986c9e",
                10_360_719,
            ),
            DataFile("ETTm2.csv", f"{_ETT_RAW}/ETTm2.csv", None, None),
        ),
        description="Electricity Transformer Temperature: loads and oil temperature of two transformers, "
        "2016-07 to 2018-06, hourly (ETTh1/2) and every 15 minutes (ETTm1/2)",
        homepage="https://github.com/zhouhaoyi/ETDataset",
        licence="CC BY-ND 4.0",
        citation="Zhou et al., Informer: Beyond Efficient Transformer for Long Sequence Time-Series Forecasting, "
        "AAAI 2021, https://arxiv.org/abs/2012.07436",
    )
)
