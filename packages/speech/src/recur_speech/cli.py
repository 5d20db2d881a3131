"""``recur-speech``: the LightningCLI for this member (``recur-speech fit --config <model>/<variant>``)."""

from recur_core.engine import console_main

__all__ = ["main"]


def main() -> None:
    console_main("speech")
