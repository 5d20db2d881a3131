"""The real vision datasets recur_vision reads, registered in recur_core's dataset catalogue.

Loaded through the ``recur.datasets`` entry point; importing it registers the datasets.

- ``ucf101``: the videos come as a RAR archive (``UCF101.rar``), which ``recur data fetch``
  cannot unpack, and the splits as a zip; both are fetched by hand into ``<data root>/UCF101``,
  laid out as the official archives unpack: ``UCF-101/<Class>/v_<Class>_gGG_cCC.avi`` and
  ``ucfTrainTestlist/{classInd,trainlist0N,testlist0N}.txt``.
- ``coco-karpathy``: the COCO 2014 images (official zips, which unpack into ``train2014/`` and
  ``val2014/``) and Karpathy's split file ``dataset_coco.json`` (from ``caption_datasets.zip``,
  copied by hand into the folder), under ``<data root>/coco``.
- ``tusimple``: the TuSimple lane labels (``label_data_{0313,0531,0601}.json``, ``test_label.json``,
  ``test_tasks_0627.json``) and the ``clips/`` frames, under ``<data root>/tusimple``; the shared
  data root holds the labels, the test tasks with their lanes and a few frames
  (:mod:`recur_vision.data.tusimple` reads what is there).
- ``culane``: CULane's ``driver_*`` frame folders with their ``.lines.txt``, ``laneseg_label_w16/``
  and ``list/``, downloaded by hand (Google Drive / Baidu) into ``<data root>/CULane``.
- ``rsvqa-lr`` / ``rsvqa-hr``: RSVQA's split JSONs and tiles (``Images_LR/`` or ``Data/``), downloaded
  by hand from the authors' Zenodo records into ``<data root>/RSVQA_LR`` and ``<data root>/RSVQA_HR``.

No checksums are recorded: none was available to compute them from here.
"""

from recur_core.data import DataArchive, DataFile, DatasetSpec, register_dataset

__all__ = [
    "COCO_KARPATHY",
    "CULANE",
    "CULANE_DRIVERS",
    "RSVQA_HR",
    "RSVQA_LR",
    "TUSIMPLE",
    "UCF101",
    "UCF101_SPLIT_FILES",
]

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

_TUSIMPLE_PAGE = "https://github.com/TuSimple/tusimple-benchmark"

TUSIMPLE = register_dataset(
    DatasetSpec(
        name="tusimple",
        folder="tusimple",
        files=tuple(
            DataFile(name, None, None, None)
            for name in (
                "label_data_0313.json",
                "label_data_0531.json",
                "label_data_0601.json",
                "test_tasks_0627.json",
                "test_label.json",
            )
        ),
        archives=(
            # train_set.zip (3,626 clips) and test_set.zip (2,782 clips): clips/<date>/<clip>/{1..20}.jpg
            DataArchive(url=None, sha256=None, size=None, members=("clips",)),
        ),
        description="TuSimple lane detection: 3,626 training and 2,782 test highway frames (1280x720) with up to "
        "5 lanes sampled at fixed rows (h_samples)",
        homepage=_TUSIMPLE_PAGE,
        licence="no licence stated; released by TuSimple for the CVPR 2017 Autonomous Driving Challenge",
        citation="TuSimple lane detection benchmark, 2017, https://github.com/TuSimple/tusimple-benchmark",
        instructions=f"download train_set.zip, test_set.zip and test_label.json (links in {_TUSIMPLE_PAGE}/issues/3) "
        "and unpack them into <data root>/tusimple so that clips/ sits beside the label_data_*.json files",
    )
)

_CULANE_PAGE = "https://xingangpan.github.io/projects/CULane.html"
CULANE_DRIVERS = (
    "driver_23_30frame",
    "driver_37_30frame",
    "driver_100_30frame",
    "driver_161_90frame",
    "driver_182_30frame",
    "driver_193_90frame",
)

CULANE = register_dataset(
    DatasetSpec(
        name="culane",
        folder="CULane",
        archives=(
            # driver_*.tar.gz: the frames (1640x590 .jpg) with their .lines.txt annotations
            *(DataArchive(url=None, sha256=None, size=None, members=(driver,)) for driver in CULANE_DRIVERS),
            DataArchive(url=None, sha256=None, size=None, members=("laneseg_label_w16",)),
            DataArchive(
                url=None,
                sha256=None,
                size=None,
                members=("list/train_gt.txt", "list/val_gt.txt", "list/test.txt", "list/test_split"),
            ),
        ),
        description="CULane lane detection: 133,235 frames (1640x590) from Beijing driving, 88,880 train / 9,675 val "
        "/ 34,680 test in 9 scenario splits, up to 4 lanes per frame",
        homepage=_CULANE_PAGE,
        licence="for non-commercial research and education only (CULane terms)",
        citation="Pan, Shi, Luo, Wang and Tang, Spatial As Deep: Spatial CNN for Traffic Scene Understanding, "
        "AAAI 2018, https://arxiv.org/abs/1712.06080",
        instructions=f"download the driver_*.tar.gz, laneseg_label_w16.tar.gz and list.tar.gz archives from "
        f"{_CULANE_PAGE} and untar them inside <data root>/CULane",
    )
)

# the record numbers come from third-party download scripts, not checked against Zenodo from here
_RSVQA_LR_RECORD = "https://zenodo.org/records/6344334"
_RSVQA_HR_RECORD = "https://zenodo.org/records/6344367"
_RSVQA_CITATION = (
    "Lobry, Marcos, Murray and Tuia, RSVQA: Visual Question Answering for Remote Sensing Data, IEEE TGRS 58(12), "
    "2020, https://arxiv.org/abs/2003.07333"
)


def _rsvqa_split_files(prefix: str, splits: tuple[str, ...]) -> tuple[DataFile, ...]:
    return tuple(
        DataFile(f"{prefix}_split_{split}_{kind}.json", None, None, None)
        for split in splits
        for kind in ("images", "questions", "answers")
    )


RSVQA_LR = register_dataset(
    DatasetSpec(
        name="rsvqa-lr",
        folder="RSVQA_LR",
        files=_rsvqa_split_files("LR", ("train", "val", "test")),
        # Images_LR.zip: the 772 Sentinel-2 RGB tiles, Images_LR/{id}.tif
        archives=(DataArchive(url=None, sha256=None, size=None, members=("Images_LR",)),),
        description="RSVQA low resolution: 772 Sentinel-2 RGB tiles (256x256, 10 m) of the Netherlands with 77,232 "
        "questions (presence, comparison, count, rural/urban) built from OpenStreetMap, split by tile",
        homepage="https://rsvqa.sylvainlobry.com",
        licence="not checked from here: see the Zenodo record",
        citation=_RSVQA_CITATION,
        instructions=f"download LR_split_{{train,val,test}}_{{images,questions,answers}}.json and Images_LR.zip from "
        f"{_RSVQA_LR_RECORD} into <data root>/RSVQA_LR and unzip Images_LR.zip there (giving Images_LR/<id>.tif)",
    )
)

RSVQA_HR = register_dataset(
    DatasetSpec(
        name="rsvqa-hr",
        folder="RSVQA_HR",
        files=_rsvqa_split_files("USGS", ("train", "val", "test", "test_phili")),
        # the 10,659 USGS aerial tiles, Data/{id}.tif
        archives=(DataArchive(url=None, sha256=None, size=None, members=("Data",)),),
        description="RSVQA high resolution: 10,659 USGS aerial RGB tiles (512x512, 15 cm) of the US north-east with "
        "about 1M questions (presence, comparison, count, area); test set 2 (test_phili) is Philadelphia",
        homepage="https://rsvqa.sylvainlobry.com",
        licence="not checked from here: see the Zenodo record",
        citation=_RSVQA_CITATION,
        instructions=f"download USGS_split_{{train,val,test,test_phili}}_{{images,questions,answers}}.json and the "
        f"images archive from {_RSVQA_HR_RECORD} into <data root>/RSVQA_HR and unzip the images there (giving "
        "Data/<id>.tif)",
    )
)
