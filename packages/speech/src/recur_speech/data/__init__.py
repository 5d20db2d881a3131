"""Datasets: LibriSpeech, Libri2Mix / WSJ0-2mix in their real layouts, features, vocabularies and the espeak-ng corpus.

- :mod:`~recur_speech.data.audio`: soundfile reading/writing with one-line errors (unreadable, empty, wrong rate).
- :mod:`~recur_speech.data.librispeech`: ``LibriSpeech/<split>/<speaker>/<chapter>/*.flac`` + ``*.trans.txt``.
- :mod:`~recur_speech.data.librimix`: Libri2Mix folders and ``metadata/*.csv``, WSJ0-2mix folders, scp lists,
  the MossFormer2 Libri2Mix samples; mixtures read with their sources, rates and lengths checked.
- :mod:`~recur_speech.data.features`: the Emformer RNN-T recipe's 80-d log-mel, global CMVN and SpecAugment.
- :mod:`~recur_speech.data.vocab`: character and sentencepiece BPE vocabularies, blank last.
- :mod:`~recur_speech.data.espeak_corpus`: spoken digits and sentences made offline with espeak-ng, written in
  the LibriSpeech layout and mixed into the LibriMix layout.
- :mod:`~recur_speech.data.catalogue`: LibriSpeech, Libri2Mix, WSJ0-2mix and the shared samples in recur's
  dataset catalogue.
"""

from recur_core.lazy import lazy_exports

# names load on first use: the catalogue entry point imports this package without torch
__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "audio_info": "recur_speech.data.audio",
        "read_audio": "recur_speech.data.audio",
        "write_audio": "recur_speech.data.audio",
        "LIBRISPEECH_SPLITS": "recur_speech.data.librispeech",
        "LibriSpeechDataset": "recur_speech.data.librispeech",
        "LibriSpeechSplit": "recur_speech.data.librispeech",
        "Utterance": "recur_speech.data.librispeech",
        "collate_waveforms": "recur_speech.data.librispeech",
        "librispeech_split": "recur_speech.data.librispeech",
        "read_librispeech_split": "recur_speech.data.librispeech",
        "read_transcripts": "recur_speech.data.librispeech",
        "LIBRIMIX_MIXTURE_TYPES": "recur_speech.data.librimix",
        "LIBRIMIX_SPLITS": "recur_speech.data.librimix",
        "WSJ0_SPLITS": "recur_speech.data.librimix",
        "Mixture": "recur_speech.data.librimix",
        "MixtureDataset": "recur_speech.data.librimix",
        "collate_mixtures": "recur_speech.data.librimix",
        "libri2mix_samples": "recur_speech.data.librimix",
        "libri2mix_split": "recur_speech.data.librimix",
        "load_mixture": "recur_speech.data.librimix",
        "read_librimix": "recur_speech.data.librimix",
        "read_librimix_metadata": "recur_speech.data.librimix",
        "read_mossformer2_samples": "recur_speech.data.librimix",
        "read_scp": "recur_speech.data.librimix",
        "read_wsj0_mix": "recur_speech.data.librimix",
        "wsj0_2mix_split": "recur_speech.data.librimix",
        "write_scp": "recur_speech.data.librimix",
        "GlobalCMVN": "recur_speech.data.features",
        "LogMel": "recur_speech.data.features",
        "SpecAugment": "recur_speech.data.features",
        "compute_global_cmvn": "recur_speech.data.features",
        "piecewise_linear_log": "recur_speech.data.features",
        "CharVocabulary": "recur_speech.data.vocab",
        "SentencePieceVocabulary": "recur_speech.data.vocab",
        "DEFAULT_SPEAKERS": "recur_speech.data.espeak_corpus",
        "DIGIT_WORDS": "recur_speech.data.espeak_corpus",
        "EspeakSpeaker": "recur_speech.data.espeak_corpus",
        "digit_text": "recur_speech.data.espeak_corpus",
        "espeak_librimix": "recur_speech.data.espeak_corpus",
        "espeak_librispeech": "recur_speech.data.espeak_corpus",
        "generated_cache": "recur_speech.data.espeak_corpus",
        "hum_noise": "recur_speech.data.espeak_corpus",
        "room_noise": "recur_speech.data.espeak_corpus",
        "sentence_text": "recur_speech.data.espeak_corpus",
        "synthesise": "recur_speech.data.espeak_corpus",
        "write_espeak_librimix": "recur_speech.data.espeak_corpus",
        "write_espeak_librispeech": "recur_speech.data.espeak_corpus",
    },
)
