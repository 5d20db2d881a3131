"""``recur-core``: train and evaluate the diagnostic tasks (``recur-core fit --config parity/lstm``)."""

from recur_core.engine import run_cli


def main() -> None:
    run_cli("core")
