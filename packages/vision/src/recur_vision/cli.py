"""``recur-vision``: the LightningCLI for this member (``recur-vision fit --config <model>/<variant>``), plus
``recur-vision extract`` (per-frame CNN feature matrices, :mod:`recur_vision.extract`)."""

import sys

from recur_core.engine import console_main

__all__ = ["main"]


def main() -> None:
    if sys.argv[1:2] == ["extract"]:
        from recur_vision.extract import main as extract_main

        raise SystemExit(extract_main(sys.argv[2:]))
    console_main("vision")
