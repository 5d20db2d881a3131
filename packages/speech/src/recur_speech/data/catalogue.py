"""The real speech datasets recur_speech reads, registered in recur_core's dataset catalogue.

Loaded through the ``recur.datasets`` entry point; importing it registers the datasets.

- ``librispeech``: OpenSLR's archives (``<split>.tar.gz``), each unpacking to ``LibriSpeech/<split>/``, under
  ``<data root>/librispeech``. The catalogue fetches the 5 small splits (dev/test clean/other and
  train-clean-100, about 7.5 GB); train-clean-360 and train-other-500 unpacked by hand into the same
  folder are read the same way.
- ``librispeech-sample``: four test-clean utterances (speaker 1089) of the shared data, in the same layout
  under ``<data root>/librispeech-sample``; checksums computed from those files.
- ``libri2mix``: generated with the LibriMix scripts (no download exists), ``<data root>/Libri2Mix``
  laid out as the scripts write it: ``wav{8k,16k}/{min,max}/<split>/{mix_clean,mix_both,s1,s2,noise}/`` and
  ``wav{8k,16k}/{min,max}/metadata/mixture_<split>_<type>.csv``; the catalogue checks the 8 kHz ``min`` set.
- ``libri2mix-samples``: 36 Libri2Mix mixtures with their sources from the MossFormer2 repository
  (``MossFormer2_samples_Libri2Mix/item<N>_{mix,source1,source2}.wav``, 8 kHz), in the shared data.
- ``wsj0-2mix``: made from the LDC's WSJ0 with MERL's mixing scripts, ``<data root>/wsj0-2mix`` holding
  ``wav8k/{min,max}/{tr,cv,tt}/{mix,s1,s2}/``.

No checksums are recorded for the OpenSLR archives or the Libri2Mix samples: none was available to
compute them from here.
"""

from recur_core.data import DataArchive, DataFile, DatasetSpec, register_dataset

__all__ = ["LIBRI2MIX", "LIBRI2MIX_SAMPLES", "LIBRISPEECH", "LIBRISPEECH_SAMPLE", "WSJ0_2MIX"]

_OPENSLR = "https://www.openslr.org/resources/12"
_LIBRISPEECH_CITATION = (
    "Panayotov, Chen, Povey and Khudanpur, LibriSpeech: an ASR corpus based on public domain audio books, "
    "ICASSP 2015, https://doi.org/10.1109/ICASSP.2015.7178964"
)

LIBRISPEECH = register_dataset(
    DatasetSpec(
        name="librispeech",
        folder="librispeech",
        archives=tuple(
            DataArchive(url=f"{_OPENSLR}/{split}.tar.gz", sha256=None, size=None, members=(f"LibriSpeech/{split}",))
            for split in ("dev-clean", "dev-other", "test-clean", "test-other", "train-clean-100")
        ),
        description="LibriSpeech: 1,000 h of 16 kHz read English audiobooks with transcripts; fetched: "
        "dev/test clean/other (5.4 h each) and train-clean-100",
        homepage="https://www.openslr.org/12",
        licence="CC BY 4.0",
        citation=_LIBRISPEECH_CITATION,
    )
)

_SAMPLE_SOURCE = "github.com/KennethWang1221/Speech2Text (folder LibriSpeech/, commit bf5854c)"

LIBRISPEECH_SAMPLE = register_dataset(
    DatasetSpec(
        name="librispeech-sample",
        folder="librispeech-sample",
        files=tuple(
            DataFile(f"LibriSpeech/test-clean/1089/{path}", None, sha256, size)
            for path, sha256, size in (
                (
                    "134686/1089-134686-0000.flac",
                    "30885601173f96b0d8ddd020dc959b055c6c1582b85a33e3fcab8c4b08ed94c2",
                    183318,
                ),
                (
                    "134686/1089-134686-0001.flac",
                    "3fc09ec6d4cc496c530b2019b17bd8fc8ef8a43d6697090971dd1d52cc3d4d89",
                    58350,
                ),
                (
                    "134686/1089-134686.trans.txt",
                    "32d05738b084b21f176e8b25caec223776e42537358643ad225f753c9ae36b18",
                    235,
                ),
                (
                    "134691/1089-134691-0000.flac",
                    "1007b1827cd385e3ded575a48811d419d31c495a31784ed260ccfd9fcac2731f",
                    39105,
                ),
                (
                    "134691/1089-134691-0001.flac",
                    "22e7e8b3d30d19b754965bafe3ffe486a5a05afaf4ef6f07540ac2ef8c8a9656",
                    93689,
                ),
                (
                    "134691/1089-134691.trans.txt",
                    "7f68997a20ea2d9b731068784bf776e36e4a4f808bca90792ae22f7a0b38c2c7",
                    134,
                ),
            )
        ),
        description="4 LibriSpeech test-clean utterances of speaker 1089 (chapters 134686 and 134691), original "
        "layout; the transcript files cut to those utterances",
        homepage="https://www.openslr.org/12",
        licence="CC BY 4.0",
        citation=_LIBRISPEECH_CITATION,
        instructions=f"copy LibriSpeech/ from {_SAMPLE_SOURCE} into <data root>/librispeech-sample",
    )
)

_LIBRIMIX = "https://github.com/JorisCos/LibriMix"
_LIBRIMIX_CITATION = (
    "Cosentino, Pariente, Cornell, Deleforge and Vincent, LibriMix: An Open-Source Dataset for Generalizable "
    "Speech Separation, arXiv 2020, https://arxiv.org/abs/2005.11262"
)

LIBRI2MIX = register_dataset(
    DatasetSpec(
        name="libri2mix",
        folder="Libri2Mix",
        archives=(
            # written by LibriMix's create_librimix_from_metadata.py, not downloadable
            DataArchive(
                url=None,
                sha256=None,
                size=None,
                members=tuple(f"wav8k/min/{part}" for part in ("train-360", "train-100", "dev", "test", "metadata")),
            ),
        ),
        description="Libri2Mix: two-speaker mixtures of LibriSpeech utterances (clean, or with WHAM! noise), "
        "8/16 kHz, min/max length modes; train-360 50,800 / train-100 13,900 / dev 3,000 / test 3,000 mixtures",
        homepage=_LIBRIMIX,
        licence="LibriSpeech audio CC BY 4.0; WHAM! noise (mix_both, noise) CC BY-NC 4.0",
        citation=_LIBRIMIX_CITATION,
        instructions=f"generate it with {_LIBRIMIX} ('./generate_librimix.sh <storage_dir>', which downloads "
        "LibriSpeech and WHAM! noise) and move <storage_dir>/Libri2Mix to <data root>/Libri2Mix",
    )
)

LIBRI2MIX_SAMPLES = register_dataset(
    DatasetSpec(
        name="libri2mix-samples",
        folder="libri2mix-samples",
        files=tuple(
            DataFile(f"MossFormer2_samples_Libri2Mix/item{n}_{kind}.wav", None, None, None)
            for n in range(36)
            for kind in ("mix", "source1", "source2")
        ),
        description="36 Libri2Mix two-speaker mixtures (8 kHz, clean) with their reference sources, each file "
        "peak-normalised by the uploader (use scale-invariant metrics)",
        homepage="https://github.com/alibabasglab/MossFormer2",
        licence="repository MIT; the audio derives from LibriSpeech (CC BY 4.0)",
        citation=_LIBRIMIX_CITATION,
        instructions="copy the item*_{mix,source1,source2}.wav files of MossFormer2_samples_Libri2Mix/ from "
        "github.com/alibabasglab/MossFormer2 (commit 5727f73) into "
        "<data root>/libri2mix-samples/MossFormer2_samples_Libri2Mix",
    )
)

_WSJ0_2MIX_PAGE = "https://www.merl.com/demos/deep-clustering"

WSJ0_2MIX = register_dataset(
    DatasetSpec(
        name="wsj0-2mix",
        folder="wsj0-2mix",
        archives=(
            # written by MERL's create-speaker-mixtures scripts from WSJ0, not downloadable
            DataArchive(url=None, sha256=None, size=None, members=("wav8k/min/tr", "wav8k/min/cv", "wav8k/min/tt")),
        ),
        description="WSJ0-2mix: two-speaker mixtures of WSJ0 utterances at 0-5 dB, 8 kHz; tr 20,000 / cv 5,000 / "
        "tt 3,000 mixtures (tt speakers unseen)",
        homepage=_WSJ0_2MIX_PAGE,
        licence="WSJ0 (LDC93S6A) under the LDC user agreement; not redistributable",
        citation="Hershey, Chen, Le Roux and Watanabe, Deep clustering: Discriminative embeddings for segmentation "
        "and separation, ICASSP 2016, https://arxiv.org/abs/1508.04306",
        instructions="licence WSJ0 (LDC93S6A) from the LDC, run MERL's create-speaker-mixtures scripts "
        f"({_WSJ0_2MIX_PAGE}) and move the 2speakers/wav8k folder to <data root>/wsj0-2mix/wav8k",
    )
)
