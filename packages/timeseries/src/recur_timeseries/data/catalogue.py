"""The real time-series datasets recur_timeseries reads, registered in recur_core's dataset catalogue.

Loaded through the ``recur.datasets`` entry point; importing it registers the datasets.

Checksums are recorded only where the file is known to equal the official one: ``ETTh1.csv`` was
copied from the official repository at the pinned commit, and ``ETTm1.csv`` has the md5 that
other loaders record for the official file (82d6bd89109c63d075d99c1077b33f38). ``ETTh2.csv`` and
``ETTm2.csv`` have no checksum yet: none was available to compute one from. The PyTorch Geometric
Temporal JSONs were copied from the official repository at the pinned commit, all but
``england_covid.json``, which no snapshot holds (so it has no checksum).
"""

from recur_core.data import DataFile, DatasetSpec, register_dataset

__all__ = ["ETT", "PYG_TEMPORAL"]

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

# the commit of github.com/benedekrozemberczki/pytorch_geometric_temporal the checksums were taken at
_PYG_TEMPORAL_RAW = (
    "https://raw.githubusercontent.com/benedekrozemberczki/pytorch_geometric_temporal/"
    "adefe44265ad8faf239fd6cf3b59b95ca3ee60aa/dataset"
)
_PYG_TEMPORAL_FILES = {
    "chickenpox.json": ("724b48cfb274b2ecbb855bdb99b970b5ef9dd3671694fa477435dc1e08293735", 220_340),
    "pedalme_london.json": ("8c42b893441901fb805c4f0f937543d5bb9297884ac3dec7622a3e9f7c35a79b", 17_156),
    "montevideo_bus.json": ("37d9c6286d474077b5c05173c1570c4da42c387013116daa8862c7a6cab86a75", 3_131_884),
    "england_covid.json": (None, None),
    "twitter_tennis_rg17.json": ("1f9c3501a96881bbc26c899483c3fce73f36081f2df29d91fcd33c6dc4edf9c8", 1_982_751),
    "twitter_tennis_uo17.json": ("1c566bf220272c9a6f8b83161b432a77c9f8973e34f748e1d0c8f6d5ee138579", 1_936_663),
}

PYG_TEMPORAL = register_dataset(
    DatasetSpec(
        name="pyg-temporal",
        folder="pytorch_geometric_temporal",
        files=tuple(
            DataFile(name, f"{_PYG_TEMPORAL_RAW}/{name}", sha256, size)
            for name, (sha256, size) in _PYG_TEMPORAL_FILES.items()
        ),
        description="PyTorch Geometric Temporal benchmark JSONs: Hungarian chickenpox, PedalMe London, "
        "Montevideo bus inflow, England COVID-19 cases, Twitter tennis mention graphs (Roland-Garros 2017, "
        "US Open 2017)",
        homepage="https://github.com/benedekrozemberczki/pytorch_geometric_temporal",
        licence="MIT",
        citation="Rozemberczki et al., PyTorch Geometric Temporal: Spatiotemporal Signal Processing with Neural "
        "Machine Learning Models, CIKM 2021, https://arxiv.org/abs/2104.07788",
    )
)
