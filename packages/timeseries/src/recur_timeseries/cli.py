"""``recur-timeseries``: the LightningCLI for this member (``recur-timeseries fit --config arnet/ar3_sparse``)."""

from recur_core.engine import run_cli

__all__ = ["main"]


def main() -> None:
    run_cli("timeseries")
