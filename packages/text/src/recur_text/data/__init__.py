"""Poem-meter data: the real corpora's readers, the papers' text cleaning and character encodings.

- :mod:`~recur_text.data.meters`: MetRec's ``baits.zip`` (read in place), the APCD Arabic CSVs and the
  English EPD CSVs -> :class:`MeterVerses` (cleaned verses, meter indices, meter names).
- :mod:`~recur_text.data.alphabets`: :class:`Alphabet` (``ARABIC``, ``ENGLISH``) and :func:`clean_verses`,
  which keeps or strips diacritics and maps, drops and counts the characters outside the alphabet.
- :mod:`~recur_text.data.encodings`: :func:`one_hot`, :func:`binary` and :func:`two_hot` tensors ``[T, D]``.

Real files are read in place from the data root (:func:`recur_core.data.data_root`); the catalogue
entries (:mod:`~recur_text.data.catalogue`) say what each folder holds.
"""

from recur_core.lazy import lazy_exports

# names load on first use: the catalogue entry point imports this package without torch
__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        n: "recur_text.data.alphabets"
        for n in ("ARABIC", "ENGLISH", "Alphabet", "CleanedVerses", "clean_verses", "join_hemistichs")
    }
    | {
        n: "recur_text.data.encodings"
        for n in (
            "ENCODERS",
            "ENCODINGS",
            "binary",
            "decode_binary",
            "encode",
            "encoding_width",
            "one_hot",
            "token_indices",
            "two_hot",
        )
    }
    | {
        n: "recur_text.data.meters"
        for n in (
            "APCD_METERS",
            "EPD_METERS",
            "EMPTY_VERSE",
            "MeterVerses",
            "read_apcd_csv",
            "read_epd_csv",
            "read_metrec",
        )
    },
)
