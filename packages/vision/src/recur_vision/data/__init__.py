"""Datasets: videos, captions, lanes and remote-sensing VQA, each in its official layout with a generated default.

- :mod:`~recur_vision.data.video`: the UCF101 reader (PyAV or extracted frames), LRCN and TS-LSTM clip sampling.
- :mod:`~recur_vision.data.generated_video`: procedural action videos written in the UCF101 layout.
- :mod:`~recur_vision.data.captions`: Karpathy's ``dataset_coco.json`` reader, LRCN's vocabulary and streams.
- :mod:`~recur_vision.data.generated_captions`: rendered shape scenes with template captions, same layout.
- :mod:`~recur_vision.data.tusimple`: TuSimple lane labels (JSON lines) and frames, prediction writer, lane masks.
- :mod:`~recur_vision.data.culane`: CULane lists, ``.lines.txt`` lanes and masks, per-scenario test splits.
- :mod:`~recur_vision.data.generated_roads`: a synthetic road renderer written in the TuSimple layout.
- :mod:`~recur_vision.data.rsvqa`: RSVQA LR/HR split JSONs + .tif tiles, the official encodings, a Dataset.
- :mod:`~recur_vision.data.generated_tiles`: generated remote-sensing tiles and RSVQA questions, same layout.
- :mod:`~recur_vision.data.catalogue`: UCF101, COCO (Karpathy split), TuSimple, CULane and RSVQA in recur's
  dataset catalogue.
"""

from recur_core.lazy import lazy_exports

# names load on first use: the catalogue entry point imports this package without torch
__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "UCF101Split": "recur_vision.data.video",
        "VideoClips": "recur_vision.data.video",
        "VideoEntry": "recur_vision.data.video",
        "crop_and_flip": "recur_vision.data.video",
        "lrcn_clip_indices": "recur_vision.data.video",
        "lrcn_test_clip_starts": "recur_vision.data.video",
        "read_class_index": "recur_vision.data.video",
        "read_split_list": "recur_vision.data.video",
        "read_ucf101_split": "recur_vision.data.video",
        "read_video_frames": "recur_vision.data.video",
        "sample_crop": "recur_vision.data.video",
        "tslstm_frame_indices": "recur_vision.data.video",
        "ucf101_split": "recur_vision.data.video",
        "video_frame_count": "recur_vision.data.video",
        "ACTION_CLASSES": "recur_vision.data.generated_video",
        "REVERSED_CLASSES": "recur_vision.data.generated_video",
        "render_action_video": "recur_vision.data.generated_video",
        "write_generated_ucf101": "recur_vision.data.generated_video",
        "write_video": "recur_vision.data.generated_video",
        "EOS": "recur_vision.data.captions",
        "IGNORE_INDEX": "recur_vision.data.captions",
        "KARPATHY_SPLITS": "recur_vision.data.captions",
        "MAX_STEPS": "recur_vision.data.captions",
        "UNK": "recur_vision.data.captions",
        "CaptionedImage": "recur_vision.data.captions",
        "Captions": "recur_vision.data.captions",
        "Vocabulary": "recur_vision.data.captions",
        "caption_splits": "recur_vision.data.captions",
        "caption_streams": "recur_vision.data.captions",
        "coco_karpathy_json": "recur_vision.data.captions",
        "collate_captions": "recur_vision.data.captions",
        "read_caption_image": "recur_vision.data.captions",
        "read_karpathy_json": "recur_vision.data.captions",
        "COLOURS": "recur_vision.data.generated_captions",
        "SCENE_KINDS": "recur_vision.data.generated_captions",
        "SCENE_SHAPES": "recur_vision.data.generated_captions",
        "check_scene_space": "recur_vision.data.generated_captions",
        "render_scene": "recur_vision.data.generated_captions",
        "scene_captions": "recur_vision.data.generated_captions",
        "scene_subsets": "recur_vision.data.generated_captions",
        "write_generated_captions": "recur_vision.data.generated_captions",
        "TuSimpleFrame": "recur_vision.data.tusimple",
        "TuSimpleLanes": "recur_vision.data.tusimple",
        "read_tusimple_json": "recur_vision.data.tusimple",
        "write_tusimple_json": "recur_vision.data.tusimple",
        "tusimple_split": "recur_vision.data.tusimple",
        "tusimple_split_files": "recur_vision.data.tusimple",
        "tusimple_segmentation": "recur_vision.data.tusimple",
        "tusimple_lane_slots": "recur_vision.data.tusimple",
        "evaluate_tusimple": "recur_vision.data.tusimple",
        "CULaneEntry": "recur_vision.data.culane",
        "CULaneLanes": "recur_vision.data.culane",
        "culane_split": "recur_vision.data.culane",
        "read_culane_list": "recur_vision.data.culane",
        "read_culane_lines": "recur_vision.data.culane",
        "write_culane_lines": "recur_vision.data.culane",
        "read_culane_test_splits": "recur_vision.data.culane",
        "evaluate_culane": "recur_vision.data.culane",
        "render_road": "recur_vision.data.generated_roads",
        "write_generated_tusimple": "recur_vision.data.generated_roads",
        "RSVQA_VARIANTS": "recur_vision.data.rsvqa",
        "AnswerVocabulary": "recur_vision.data.rsvqa",
        "QuestionVocabulary": "recur_vision.data.rsvqa",
        "RSVQABatch": "recur_vision.data.rsvqa",
        "RSVQADataset": "recur_vision.data.rsvqa",
        "RSVQAItem": "recur_vision.data.rsvqa",
        "RSVQASample": "recur_vision.data.rsvqa",
        "RSVQASplit": "recur_vision.data.rsvqa",
        "bin_answer": "recur_vision.data.rsvqa",
        "build_vocabularies": "recur_vision.data.rsvqa",
        "collate_rsvqa": "recur_vision.data.rsvqa",
        "normalise_answer": "recur_vision.data.rsvqa",
        "question_tokens": "recur_vision.data.rsvqa",
        "read_rsvqa_image": "recur_vision.data.rsvqa",
        "read_rsvqa_split": "recur_vision.data.rsvqa",
        "rsvqa_split_files": "recur_vision.data.rsvqa",
        "TileObject": "recur_vision.data.generated_tiles",
        "render_tile": "recur_vision.data.generated_tiles",
        "tile_questions": "recur_vision.data.generated_tiles",
        "write_generated_rsvqa": "recur_vision.data.generated_tiles",
    },
)
