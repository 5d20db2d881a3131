"""The real point-cloud datasets recur_pointcloud reads, registered in recur_core's dataset catalogue.

Loaded through the ``recur.datasets`` entry point; importing it registers the datasets.

- ``kitti_object``: the KITTI 3D object benchmark under ``<data root>/kitti_object``, laid out as
  its four official archives unpack (``training/{velodyne,image_2,label_2,calib}/NNNNNN.*`` and the
  same under ``testing/`` without labels), plus the train/val split files of Chen et al. (3,712 /
  3,769 frames) as OpenPCDet ships them (``ImageSets/{train,val,test}.txt``). The archives need a
  KITTI account, so they are fetched by hand; ``recur data fetch kitti_object`` gets the split files.
- ``s3dis``: the Stanford indoor scenes (``Stanford3dDataset_v1.2_Aligned_Version``:
  ``Area_N/<room>/Annotations/<class>_<i>.txt``, one ``x y z r g b`` point per line), behind a
  request form, fetched by hand.
- ``semantic3d``: the 15 labelled training scans of Semantic3D's semantic-8 benchmark
  (``<scan>.txt``, one ``x y z intensity r g b`` point per line, and ``<scan>.labels``). The
  official archives are 7z files, which ``recur data fetch`` does not unpack, so they are fetched
  by hand from the URLs the instructions give.

No checksums are recorded: none was available to compute them from here.
"""

from recur_core.data import DataArchive, DataFile, DatasetSpec, register_dataset

__all__ = ["KITTI_OBJECT", "S3DIS", "SEMANTIC3D", "SEMANTIC3D_SCANS"]

_KITTI_PAGE = "https://www.cvlibs.net/datasets/kitti/eval_object.php?obj_benchmark=3d"
# the split files as OpenPCDet ships them, pinned to one commit of its repository
_OPENPCDET_IMAGESETS = "https://raw.githubusercontent.com/open-mmlab/OpenPCDet/4090c459f986512e6c6a5246545983265fabf842/data/kitti/ImageSets"

KITTI_OBJECT = register_dataset(
    DatasetSpec(
        name="kitti_object",
        folder="kitti_object",
        files=tuple(
            DataFile(f"ImageSets/{split}.txt", f"{_OPENPCDET_IMAGESETS}/{split}.txt", None, None)
            for split in ("train", "val", "test")
        ),
        archives=tuple(
            # data_object_{velodyne,image_2,label_2,calib}.zip: each unpacks into training/<kind> and testing/<kind>
            DataArchive(url=None, sha256=None, size=None, members=tuple(f"{part}/{kind}" for part in parts))
            for kind, parts in (
                ("velodyne", ("training", "testing")),
                ("image_2", ("training", "testing")),
                ("label_2", ("training",)),
                ("calib", ("training", "testing")),
            )
        ),
        description="KITTI 3D object detection: 7,481 training and 7,518 test frames, each a Velodyne HDL-64 "
        "scan (float32 x y z reflectance), the left colour image, the calibration and (training) 3D box labels",
        homepage=_KITTI_PAGE,
        licence="CC BY-NC-SA 3.0 (non-commercial)",
        citation="Geiger, Lenz and Urtasun, Are we ready for Autonomous Driving? The KITTI Vision Benchmark Suite, "
        "CVPR 2012",
        instructions=f"log in at {_KITTI_PAGE}, download data_object_velodyne.zip, data_object_image_2.zip, "
        "data_object_label_2.zip and data_object_calib.zip, unzip them inside <data root>/kitti_object (giving "
        "training/ and testing/), then run 'recur data fetch kitti_object' for ImageSets/",
    )
)

_S3DIS_PAGE = "https://buildingparser.stanford.edu/dataset.html"

S3DIS = register_dataset(
    DatasetSpec(
        name="s3dis",
        folder="Stanford3dDataset_v1.2_Aligned_Version",
        archives=(
            # Stanford3dDataset_v1.2_Aligned_Version.zip: six areas, 272 rooms, one file per annotated object
            DataArchive(url=None, sha256=None, size=None, members=tuple(f"Area_{n}" for n in range(1, 7))),
        ),
        description="S3DIS: 272 rooms in 6 areas of 3 buildings scanned by Matterport, 13 semantic classes, "
        "one x y z r g b text file per annotated object",
        homepage=_S3DIS_PAGE,
        licence="for non-commercial research (terms accepted through the request form)",
        citation="Armeni et al., 3D Semantic Parsing of Large-Scale Indoor Spaces, CVPR 2016",
        instructions=f"request access at {_S3DIS_PAGE}, download Stanford3dDataset_v1.2_Aligned_Version.zip and "
        "unzip it into <data root> (giving Stanford3dDataset_v1.2_Aligned_Version/Area_1 ... Area_6)",
    )
)

_SEMANTIC3D_PAGE = "https://www.semantic3d.net/"
_SEMANTIC3D_DATA = "https://www.semantic3d.net/data"
# the semantic-8 training scans, as their .txt and .labels files are named (recur_pointcloud.data.semantic3d)
SEMANTIC3D_SCANS = (
    *(f"bildstein_station{n}_xyz_intensity_rgb" for n in (1, 3, 5)),
    *(f"domfountain_station{n}_xyz_intensity_rgb" for n in (1, 2, 3)),
    "neugasse_station1_xyz_intensity_rgb",
    *(f"sg27_station{n}_intensity_rgb" for n in (1, 2, 4, 5, 9)),
    "sg28_station4_intensity_rgb",
    *(f"untermaederbrunnen_station{n}_xyz_intensity_rgb" for n in (1, 3)),
)

SEMANTIC3D = register_dataset(
    DatasetSpec(
        name="semantic3d",
        folder="semantic3d",
        archives=(
            # point-clouds/training1/<scan>.7z: the scan's .txt
            *(DataArchive(url=None, sha256=None, size=None, members=(f"{scan}.txt",)) for scan in SEMANTIC3D_SCANS),
            # sem8_labels_training.7z: the 15 .labels files
            DataArchive(url=None, sha256=None, size=None, members=tuple(f"{scan}.labels" for scan in SEMANTIC3D_SCANS)),
        ),
        description="Semantic3D semantic-8: 15 labelled terrestrial laser scans of outdoor scenes (x y z intensity "
        "r g b per point; the benchmark holds over four billion labelled points) with 8 classes and unlabeled",
        homepage=_SEMANTIC3D_PAGE,
        licence="not checked from here: see the terms on semantic3d.net",
        citation="Hackel et al., Semantic3D.net: A new Large-scale Point Cloud Classification Benchmark, "
        "ISPRS Annals 2017",
        instructions=f"download {_SEMANTIC3D_DATA}/point-clouds/training1/<scan>.7z for each of the 15 training scans "
        f"and {_SEMANTIC3D_DATA}/sem8_labels_training.7z, unpack them with 7z into <data root>/semantic3d and rename "
        "station1_xyz_intensity_rgb.txt (from neugasse_station1_xyz_intensity_rgb.7z) to "
        "neugasse_station1_xyz_intensity_rgb.txt",
    )
)
