"""Real datasets: one data root, a catalogue of official files and checksums, and ``recur data``.

- :mod:`~recur_core.data.catalogue`: :class:`DatasetSpec` entries (files, URLs, sha256, licence),
  filled by the members through the ``recur.datasets`` entry point group.
- :mod:`~recur_core.data.root`: :func:`data_root` and the lookups loaders use
  (:func:`dataset_file`, :func:`dataset_dir`), which fail with a one-line
  :class:`DatasetNotFoundError` naming ``recur data fetch NAME``.
- :mod:`~recur_core.data.fetch`: download, resume, checksum, unpack; verify.
- :mod:`~recur_core.data.cli`: ``recur data list | fetch NAME | verify [NAME]``.

Nothing here imports torch or lightning: the ``recur`` umbrella command uses it.
"""

from recur_core.data.catalogue import DataArchive, DataFile, DatasetSpec, get_dataset, list_datasets, register_dataset
from recur_core.data.fetch import DataFetchError, fetch_dataset, sha256_of, verify_dataset
from recur_core.data.root import (
    DataFileError,
    DatasetNotFoundError,
    DatasetStatus,
    data_root,
    dataset_dir,
    dataset_file,
    dataset_status,
    missing_paths,
)

__all__ = [
    "DataArchive",
    "DataFetchError",
    "DataFile",
    "DataFileError",
    "DatasetNotFoundError",
    "DatasetSpec",
    "DatasetStatus",
    "data_root",
    "dataset_dir",
    "dataset_file",
    "dataset_status",
    "fetch_dataset",
    "get_dataset",
    "list_datasets",
    "missing_paths",
    "register_dataset",
    "sha256_of",
    "verify_dataset",
]
