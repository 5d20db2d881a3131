"""``recur-planning``: the LightningCLI for this member (``recur-planning fit --config grnet/default``)."""

from recur_core.engine import console_main

__all__ = ["main"]


def main() -> None:
    console_main("planning")
