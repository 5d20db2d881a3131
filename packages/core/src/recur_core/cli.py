"""``recur-core``: train and evaluate the diagnostic tasks (``recur-core fit --config parity/lstm``)."""

from recur_core.engine import console_main


def main() -> None:
    console_main("core")
