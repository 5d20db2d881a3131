"""The real graph datasets recur_graph reads, registered in recur_core's dataset catalogue.

Loaded through the ``recur.datasets`` entry point; importing it registers the datasets.

The PyTorch Geometric Temporal JSONs (``pyg-temporal``) are registered by recur_timeseries, whose
reader (``recur_timeseries.data.pyg_temporal``) uses them.

Checksums are recorded only where the file is known to equal the official one. The SNAP
files have none: the gzip of Bitcoin-OTC we have was recompressed by its uploader (so SNAP's own
gzip bytes differ), our Bitcoin-Alpha copy carries an added header line, and our CollegeMsg.txt
came from a third-party repository that does not say it equals SNAP's file byte for byte.
"""

from recur_core.data import DataFile, DatasetSpec, register_dataset

__all__ = ["BITCOIN_ALPHA", "BITCOIN_OTC", "ELLIPTIC", "UCI_MESSAGES"]

_BITCOIN_CITATION = (
    "Kumar, Spezzano, Subrahmanian & Faloutsos, Edge Weight Prediction in Weighted Signed Networks, ICDM 2016"
)

BITCOIN_OTC = register_dataset(
    DatasetSpec(
        name="bitcoin-otc",
        folder="bitcoin-signed-networks",
        # kept gzipped, as SNAP serves it and as the reader expects it
        files=(
            DataFile(
                "soc-sign-bitcoinotc.csv.gz", "https://snap.stanford.edu/data/soc-sign-bitcoinotc.csv.gz", None, None
            ),
        ),
        description="SNAP Bitcoin OTC who-trusts-whom network: 35,592 signed, weighted, time-stamped ratings",
        homepage="https://snap.stanford.edu/data/soc-sign-bitcoin-otc.html",
        licence="not stated (SNAP data; cite the paper)",
        citation=_BITCOIN_CITATION,
    )
)

BITCOIN_ALPHA = register_dataset(
    DatasetSpec(
        name="bitcoin-alpha",
        folder="bitcoin-signed-networks",
        files=(
            DataFile(
                "soc-sign-bitcoinalpha.csv",
                "https://snap.stanford.edu/data/soc-sign-bitcoinalpha.csv.gz",
                None,
                None,
                compression="gzip",
            ),
        ),
        description="SNAP Bitcoin Alpha who-trusts-whom network: 24,186 signed, weighted, time-stamped ratings",
        homepage="https://snap.stanford.edu/data/soc-sign-bitcoin-alpha.html",
        licence="not stated (SNAP data; cite the paper)",
        citation=_BITCOIN_CITATION,
    )
)

UCI_MESSAGES = register_dataset(
    DatasetSpec(
        name="uci-messages",
        folder="uci-collegemsg",
        files=(
            DataFile(
                "CollegeMsg.txt", "https://snap.stanford.edu/data/CollegeMsg.txt.gz", None, None, compression="gzip"
            ),
        ),
        description="UC Irvine messages (SNAP CollegeMsg): 59,835 time-stamped private messages between students",
        homepage="https://snap.stanford.edu/data/CollegeMsg.html",
        licence="not stated (SNAP data; cite the paper)",
        citation="Panzarasa, Opsahl & Carley, Patterns and dynamics of users' behavior and interaction: Network "
        "analysis of an online community, JASIST 60(5), 2009",
    )
)

_ELLIPTIC_PAGE = "https://www.kaggle.com/datasets/ellipticco/elliptic-data-set"

ELLIPTIC = register_dataset(
    DatasetSpec(
        name="elliptic",
        folder="elliptic_bitcoin_dataset",
        files=tuple(
            DataFile(name, None, None, None)
            for name in ("elliptic_txs_features.csv", "elliptic_txs_classes.csv", "elliptic_txs_edgelist.csv")
        ),
        description="Elliptic Bitcoin transactions labelled licit / illicit / unknown over 49 time steps",
        homepage=_ELLIPTIC_PAGE,
        licence="see the Kaggle page (Elliptic's terms)",
        citation="Weber et al., Anti-Money Laundering in Bitcoin: Experimenting with Graph Convolutional Networks "
        "for Financial Forensics, KDD Workshop on Anomaly Detection in Finance 2019",
        instructions=f"download it by hand from {_ELLIPTIC_PAGE} (a Kaggle account is needed), unzip it and put "
        "its elliptic_bitcoin_dataset/ folder (the three elliptic_txs_*.csv) under the data root",
    )
)
