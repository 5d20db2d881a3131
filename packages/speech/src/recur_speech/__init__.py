"""recur_speech: speech recognition and separation data and models on the recur core.

- :mod:`recur_speech.data`: the LibriSpeech reader (``<split>/<spk>/<chapter>/*.flac`` + ``*.trans.txt``),
  the Libri2Mix / WSJ0-2mix readers (folders, ``metadata/*.csv`` and scp lists), torchaudio log-mel
  features with global CMVN and SpecAugment, character and BPE vocabularies, and the espeak-ng corpus
  made offline and written in the LibriSpeech and LibriMix layouts.
- :mod:`recur_speech.data.catalogue`: LibriSpeech, Libri2Mix and WSJ0-2mix in recur's dataset catalogue.
- :mod:`recur_speech.models`: the RNN-T transducer and its loss and decoders; MossFormer2, its MossFormer-only
  ablation and the Conv-TasNet mask network.
- :mod:`recur_speech.datamodules`: ``SpeechRecognitionData`` (espeak-ng digits/sentences or LibriSpeech by name,
  log-mel features in length buckets, vocabulary and CMVN from the training split).
- :mod:`recur_speech.task`: ``RNNTTask``, the RNN-T trained and scored (WER/CER, greedy and beam, baselines).
- :mod:`recur_speech.metrics`: WER and CER by jiwer.
- :mod:`recur_speech.separation`, :mod:`recur_speech.separation_metrics`: ``SeparationData`` and
  ``SeparationModule`` (PIT SI-SNR loss, SI-SNRi / SDRi / PESQ / STOI).

Importing this package imports nothing else.
"""

__version__ = "0.1.0"
