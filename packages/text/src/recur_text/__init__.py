"""recur_text: sequences of symbols that belong to no other domain (issue 19).

What is here so far (the poem-meter foundations):

- :mod:`recur_text.data.catalogue`: the ``metrec`` and ``apcd`` datasets in recur's catalogue;
- :mod:`recur_text.data.meters`: readers for MetRec (``baits.zip``, read in place), the APCD Arabic
  CSVs and the English EPD CSVs, giving :class:`~recur_text.data.meters.MeterVerses`;
- :mod:`recur_text.data.alphabets`: the papers' text cleaning (diacritics kept or stripped, shadda
  and tanween expanded, characters outside the alphabet mapped or dropped and counted);
- :mod:`recur_text.data.encodings`: the one-hot, binary and two-hot character encodings.

Importing this package imports nothing else.
"""

__version__ = "0.1.0"
