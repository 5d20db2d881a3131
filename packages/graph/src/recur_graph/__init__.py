"""recur_graph: EvolveGCN and its baselines on dynamic graphs, built on the recur core.

Models live in :mod:`recur_graph.models` (importing it registers ``evolvegcn_h``,
``evolvegcn_o``, ``static_gcn`` and ``gcn_gru``), datasets in :mod:`recur_graph.data`, scores in
:mod:`recur_graph.metrics`, and the Lightning side in
:mod:`recur_graph.task` (the task module) and :mod:`recur_graph.datamodules`. Importing this package imports
nothing else.
"""

__version__ = "0.1.0"
