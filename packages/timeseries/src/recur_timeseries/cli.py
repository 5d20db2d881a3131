"""``recur-timeseries``: the LightningCLI for this member (``recur-timeseries fit --config arnet/ar3_sparse``)."""

from recur_core.engine import console_main

__all__ = ["main"]


def main() -> None:
    console_main("timeseries")
