"""``recur-pointcloud``: train and evaluate the point-cloud models from their recipes.

.. code-block:: bash

    recur-pointcloud fit --config <model>/<variant>
    recur-pointcloud test --config <model>/<variant> --ckpt_path <run>/checkpoints/best.ckpt
"""

from recur_core.engine import console_main


def main() -> None:
    console_main("pointcloud")
