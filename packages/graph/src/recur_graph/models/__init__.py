"""Models registered by recur_graph. Importing this package registers them.

- ``evolvegcn_h``, ``evolvegcn_o``: :class:`EvolveGCN` (:mod:`~recur_graph.models.evolvegcn`).
- ``static_gcn``, ``gcn_gru``: the paper's baselines (:mod:`~recur_graph.models.baselines`).

Every model maps a window of snapshots to node embeddings for each snapshot; the heads in
:mod:`~recur_graph.models.heads` turn embeddings into link, edge or node predictions.
"""

from recur_graph.models.baselines import GCNGRU, GCNGRUConfig, StaticGCN, StaticGCNConfig, gcn_gru, static_gcn
from recur_graph.models.evolvegcn import (
    EvolveGCN,
    EvolveGCNConfig,
    EvolveGCNLayer,
    EvolvingWeight,
    TopKSummary,
    evolvegcn_h,
    evolvegcn_o,
)
from recur_graph.models.heads import EdgeClassifier, NodeClassifier, weighted_cross_entropy

__all__ = [
    "GCNGRU",
    "EdgeClassifier",
    "EvolveGCN",
    "EvolveGCNConfig",
    "EvolveGCNLayer",
    "EvolvingWeight",
    "GCNGRUConfig",
    "NodeClassifier",
    "StaticGCN",
    "StaticGCNConfig",
    "TopKSummary",
    "evolvegcn_h",
    "evolvegcn_o",
    "gcn_gru",
    "static_gcn",
    "weighted_cross_entropy",
]
