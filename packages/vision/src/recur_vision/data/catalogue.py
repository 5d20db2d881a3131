"""The real vision datasets recur_vision reads, registered in recur_core's dataset catalogue.

Loaded through the ``recur.datasets`` entry point; importing it registers the datasets.

- ``ucf101``: the videos come as a RAR archive (``UCF101.rar``), which ``recur data fetch``
  cannot unpack, and the splits as a zip; both are fetched by hand into ``<data root>/UCF101``,
  laid out as the official archives unpack: ``UCF-101/<Class>/v_<Class>_gGG_cCC.avi`` and
  ``ucfTrainTestlist/{classInd,trainlist0N,testlist0N}.txt``.
- ``coco-karpathy``: the COCO 2014 images (official zips, which unpack into ``train2014/`` and
  ``val2014/``) and Karpathy's split file ``dataset_coco.json`` (from ``caption_datasets.zip``,
  copied by hand into the folder), under ``<data root>/coco``.

No checksums are recorded: none was available to compute them from here.
"""

from recur_core.data import DataArchive, DataFile, DatasetSpec, register_dataset

__all__ = ["COCO_KARPATHY", "UCF101", "UCF101_SPLIT_FILES"]

_UCF101_PAGE = "https://www.crcv.ucf.edu/data/UCF101.php"

UCF101_SPLIT_FILES = (
    "ucfTrainTestlist/classInd.txt",
    *(f"ucfTrainTestlist/{kind}list0{n}.txt" for kind in ("train", "test") for n in (1, 2, 3)),
)

UCF101 = register_dataset(
    DatasetSpec(
        name="ucf101",
        folder="UCF101",
        archives=(
            # UCF101.rar: 13,320 .avi clips, 101 classes, one folder per class
            DataArchive(url=None, sha256=None, size=None, members=("UCF-101/ApplyEyeMakeup", "UCF-101/YoYo")),
            # UCF101TrainTestSplits-RecognitionTask.zip: classInd.txt and the three train/test splits
            DataArchive(url=None, sha256=None, size=None, members=UCF101_SPLIT_FILES),
        ),
        description="UCF101 action recognition: 13,320 YouTube clips of 101 human actions, 3 official "
        "train/test splits by group",
        homepage=_UCF101_PAGE,
        licence="no licence stated; distributed by the UCF Center for Research in Computer Vision for research",
        citation="Soomro, Zamir and Shah, UCF101: A Dataset of 101 Human Actions Classes From Videos in The Wild, "
        "CRCV-TR-12-01, 2012, https://arxiv.org/abs/1212.0402",
        instructions="download UCF101.rar and UCF101TrainTestSplits-RecognitionTask.zip from "
        f"{_UCF101_PAGE}, then 'unrar x UCF101.rar' and unzip the splits inside <data root>/UCF101 "
        "(giving UCF-101/<Class>/*.avi and ucfTrainTestlist/*.txt)",
    )
)

_COCO_ZIPS = "http://images.cocodataset.org/zips"
_KARPATHY_ZIP = "https://cs.stanford.edu/people/karpathy/deepimagesent/caption_datasets.zip"

COCO_KARPATHY = register_dataset(
    DatasetSpec(
        name="coco-karpathy",
        folder="coco",
        files=(DataFile("dataset_coco.json", None, None, None),),
        archives=(
            DataArchive(url=f"{_COCO_ZIPS}/train2014.zip", sha256=None, size=None, members=("train2014",)),
            DataArchive(url=f"{_COCO_ZIPS}/val2014.zip", sha256=None, size=None, members=("val2014",)),
        ),
        description="COCO 2014 images with five captions each, in Karpathy's split (113,287 train incl. restval / "
        "5,000 val / 5,000 test images), tokenised in dataset_coco.json",
        homepage="https://cocodataset.org",
        licence="annotations CC BY 4.0; images under their Flickr licences",
        citation="Lin et al., Microsoft COCO: Common Objects in Context, ECCV 2014; split: Karpathy and Fei-Fei, "
        "Deep Visual-Semantic Alignments for Generating Image Descriptions, CVPR 2015",
        instructions=f"run 'recur data fetch coco-karpathy' for the images, then download {_KARPATHY_ZIP} and "
        "copy its dataset_coco.json to <data root>/coco/dataset_coco.json",
    )
)
