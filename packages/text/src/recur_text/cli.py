"""``recur-text``: train and evaluate the text models from their recipes, and run RecurrentGPT's loop.

.. code-block:: bash

    recur-text fit --config <model>/<variant>
    recur-text test --config <model>/<variant> --ckpt_path <run>/checkpoints/best.ckpt
    recur-text generate --state <folder> ...   # RecurrentGPT (:mod:`recur_text.recurrent_gpt`)
    recur-text show --state <folder>
"""

import sys

from recur_core.engine import console_main

__all__ = ["main"]


def main() -> None:
    if sys.argv[1:2] in (["generate"], ["show"]):
        from recur_text.recurrent_gpt import main as generate_main

        raise SystemExit(generate_main(sys.argv[1:]))
    console_main("text")
