"""``recur-graph``: train and evaluate EvolveGCN and its baselines.

.. code-block:: bash

    recur-graph fit --config evolvegcn/sbm_link_pred
    recur-graph fit --config evolvegcn/bitcoin_otc_link_pred --model.model evolvegcn_h
"""

from recur_core.engine import console_main


def main() -> None:
    console_main("graph")
