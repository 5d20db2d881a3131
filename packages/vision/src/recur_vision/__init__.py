"""recur_vision: video and image-captioning data and models on the recur core.

- :mod:`recur_vision.data`: the UCF101-layout video reader (PyAV or extracted frames) with LRCN and
  TS-LSTM clip sampling, the procedural action-video generator that writes the same layout, the
  COCO-captions reader in Karpathy's ``dataset_coco.json`` layout with LRCN's vocabulary rules, and
  the rendered shape scenes with template captions that write the same layout.
- :mod:`recur_vision.data.catalogue`: UCF101 and COCO (Karpathy split) in recur's dataset catalogue.

Importing this package imports nothing else.
"""

__version__ = "0.1.0"
