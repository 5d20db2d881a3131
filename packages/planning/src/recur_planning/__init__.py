"""recur_planning: goal recognition and predictive robot models on the recur core.

- :mod:`recur_planning.models`: GRNet (Chiari et al., ICAPS 2023) and PV-RNN (Ahmadi & Tani, 2019).
- :mod:`recur_planning.data`: PDDL through pyperplan (grounding, generated plans), the
  goal-plan-recognition benchmark archives, and generated robot/pattern trajectories.
- :mod:`recur_planning.recognizers`: the planning-based (Ramirez & Geffner 2010) and landmark-based
  (Pereira et al. 2017) goal recognizers GRNet is compared with.
- :mod:`recur_planning.datamodules`, :mod:`recur_planning.task`: training through Lightning.

Importing this package imports nothing else.
"""

__version__ = "0.1.0"
