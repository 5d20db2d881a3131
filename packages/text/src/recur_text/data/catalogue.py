"""The real poem-meter datasets recur_text reads, registered in recur_core's dataset catalogue.

Loaded through the ``recur.datasets`` entry point; importing it registers the datasets.

- ``metrec``: MetRec (Al-shaibani, Alyafeai & Ahmad 2020), 55,440 verses of 14 meters scraped from
  aldiwan.net, as the single ``baits.zip`` of the official repository (``final_baits/train.txt``,
  ``test.txt``, ``labels.txt``). The reader opens the zip in place; nothing is unpacked.
- ``apcd``: the parts of the APCD and EPD datasets (Yousef et al. 2019) committed to the official
  repository ``hci-lab/LearningMetersPoems``: per-meter aldiwan.net scrapes, a balanced 16-meter APCD
  sample, and the English EPD verses. The full APCD (about 1.8M verses) is only on Google Drive, so it
  is not catalogued. Each file is pinned to the commit it was taken from (several were later deleted
  from the repository).

The checksums and sizes are those of the files under the shared data root, which were copied byte
for byte from the commits named in the URLs.
"""

from recur_core.data import DataFile, DatasetSpec, register_dataset

__all__ = ["APCD", "METREC"]

_METREC_REPO = "https://github.com/zaidalyafeai/MetRec"
_METREC_COMMIT = "281bb7372ab4a6871166371bcc9695ea6cc8415c"

METREC = register_dataset(
    DatasetSpec(
        name="metrec",
        folder="arabic-poetry-metrec",
        files=(
            DataFile(
                "baits.zip",
                f"https://raw.githubusercontent.com/zaidalyafeai/MetRec/{_METREC_COMMIT}/baits.zip",
                "558ac80e54a9111f9d784e898526ce8bc831d06aafd2110cb2acd216a667dbf7",
                2_267_882,
            ),
        ),
        description="MetRec: 55,440 Arabic verses (bayt) from aldiwan.net in 14 meters, with the official "
        "train/test split (47,124 / 8,316 verses), hemistichs separated by ' # '",
        homepage=_METREC_REPO,
        licence="MIT (the repository's licence; the Hugging Face dataset card leaves it unstated)",
        citation="Al-shaibani, Alyafeai & Ahmad, MetRec: A dataset for meter classification of Arabic poetry, "
        "Data in Brief 2020; the benchmark: Meter Classification of Arabic Poems Using Deep Bidirectional "
        "Recurrent Neural Networks, Pattern Recognition Letters 2020",
    )
)

_APCD_REPO = "https://github.com/hci-lab/LearningMetersPoems"
_APCD_RAW = "https://raw.githubusercontent.com/hci-lab/LearningMetersPoems"
# (path inside the folder, the commit it was taken from, sha256, bytes)
_APCD_FILES = (
    *(
        (f"Arabic_Poetry_RNN/data/AlDewaan/{name}.csv", "f01c71f96eaaed16b7d6f1e19bea385b9d5f2cfe", sha256, size)
        for name, sha256, size in (
            ("Almojtaz", "5b4a8e4c499372a604052ac095bdc725515a4d4e3dada253fd9080f0a60b553a", 392_215),
            ("Almonsareh", "8986eb391b17dc953ec2098a8642f2ed0767cea675e344214607e83bc1f73074", 1_148_727),
            ("Almotadark", "8f14c3e22311b40649568eba2531bde91afb72df02ef33acc97420b7bd69e031", 82_584),
            ("Alrejz", "16ac1abe9acb468ae980734496e420bb008ff4c5cd35edd4433c7826806d096d", 1_766_963),
            ("Alsaree3", "43c646f6d3aea62a9056b29fa39ace82e707d821c83a4c63ec797e2aa0dd0dc2", 2_217_969),
            ("sample_10", "837af3d27fa3cd6f3c5644e1cad9016758b3e6273e38b04dcb63514d0401c95c", 22_580),
        )
    ),
    *(
        (f"Arabic_Poetry_RNN/data/New_Peotry/{name}.csv", "d2086d1de13c08eda370fb9a476b0b4e70b264a6", sha256, size)
        for name, sha256, size in (
            ("Alfyeet_Ibn_Malek_Alrejz", "6247a64e7008a93a7047b933fec92a262b80e4b13bdcf31ea6c15c0a83b539f4", 212_157),
            ("NonetAlKahtany_Alkamel", "3abd2a32dbf7608ba51b8007166009be0a9d7133ea9ab90bb1e71899a5533215", 254_652),
        )
    ),
    (
        "Code/Arabic_Poetry/src/lib/full_sample_100.csv",
        "242acfa87ef5b2fe336dc69c142f8e77926a14b6",
        "c56333163d995f299b26d1100ddf7931662161bb92c485e17011aec1ba069fc7",
        209_253,
    ),
    (
        "English_Poetry_RNN/data/english_dataset.csv",
        "0e7c7d59e4f0558b8bb606cbf1e5b460a78396ef",
        "46b0313d611bd49e51c2eb27b0da9f7946ebde0b7f35a815b0d8ac446a7eca07",
        392_686,
    ),
    (
        "English_Poetry_RNN/downsampled_iambic.csv",
        "aa233f69adf0d05988dd278c74cae6c4d5350de0",
        "1bd00f1196ac590ec5e34fe33d40b38541ad6e42351ce4868b6e3ff87330aa5a",
        1_029_276,
    ),
    (
        "RNN-implemntation/Data/dataset.csv",
        "f01c71f96eaaed16b7d6f1e19bea385b9d5f2cfe",
        "44c5d285814ccbdf8d612110af2162f74aad6993b89afc495dc0e122b54ce398",
        53_053,
    ),
)

APCD = register_dataset(
    DatasetSpec(
        name="apcd",
        folder="apcd-learning-meters-poems",
        files=tuple(
            DataFile(path, f"{_APCD_RAW}/{commit}/{path}", sha256, size) for path, commit, sha256, size in _APCD_FILES
        ),
        description="APCD/EPD files of the official repository: per-meter aldiwan.net scrapes (5 meters), a "
        "balanced APCD sample (16 meters x 100 verses) and English EPD verses (4 meters after downsampling iambic)",
        homepage=_APCD_REPO,
        licence="not stated in the repository",
        citation="Yousef, Ibrahime, Madbouly & Mahmoud, Learning Meters of Arabic and English Poems With Recurrent "
        "Neural Networks: a Step Forward for Language Understanding and Synthesis, arXiv:1905.05700 (2019)",
    )
)
