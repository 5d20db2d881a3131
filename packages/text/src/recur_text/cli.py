"""``recur-text``: train and evaluate the text models from their recipes.

.. code-block:: bash

    recur-text fit --config <model>/<variant>
    recur-text test --config <model>/<variant> --ckpt_path <run>/checkpoints/best.ckpt
"""

from recur_core.engine import console_main


def main() -> None:
    console_main("text")
