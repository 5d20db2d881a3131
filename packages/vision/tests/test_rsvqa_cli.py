"""RSVQA end to end: RSVQAData, VQAModule and the rsvqa recipes through the CLI; one-line errors."""

import json
import shutil

import pytest
import torch
import yaml

from recur_core.engine import console_main, run_cli
from recur_core.recipes import list_recipes
from recur_vision.data.rsvqa import AnswerVocabulary, QuestionVocabulary, RSVQASample, RSVQASplit
from recur_vision.models.rsvqa import RSVQANet
from recur_vision.vqa import RSVQAData, VQAModule, question_prior

WEIGHTS = {"presence": 0.3, "comp": 0.25, "count": 0.25, "area": 0.2}  # rsvqa/synthetic's
TINY = {
    "train_tiles": 4,
    "val_tiles": 2,
    "test_tiles": 2,
    "tile_size": 32,
    "questions_per_tile": 4,
    "type_weights": WEIGHTS,
}
TINY_MODEL = {"question_dim": 16, "fusion_dim": 16, "hidden_dim": 8, "dropout": 0.0}
FEW = ["--trainer.max_epochs=1", "--model.warmup_steps=0"]


def _options(prefix, options):
    return [f"--{prefix}.{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in options.items()]


@pytest.fixture(scope="module")
def tiles(tmp_path_factory):
    """A tiny generated set (LR layout) and the sizes the model needs for it."""
    folder = str(tmp_path_factory.mktemp("tiles") / "gen")
    data = RSVQAData(folder=folder, batch_size=2, **TINY)
    return folder, data.vocab_size, data.num_answers


def _args(tiles, *extra):
    folder, vocab_size, num_answers = tiles
    return [
        *_options("data", {**TINY, "folder": folder, "batch_size": 2}),
        f"--model.model_kwargs={json.dumps(TINY_MODEL)}",
        f"--model.vocab_size={vocab_size}",
        f"--model.num_answers={num_answers}",
        "--model.image_size=32",
        *extra,
    ]


@pytest.mark.parametrize("recipe", ["rsvqa/synthetic", "rsvqa/lr"])
def test_recipes_open_with_their_command(recipe):
    path = list_recipes("vision")[recipe]
    assert path.read_text().splitlines()[0] == f"# recur-vision fit --config {recipe}"
    config = yaml.safe_load(path.read_text())
    assert config["model"]["class_path"] == "recur_vision.vqa.VQAModule"
    assert config["data"]["init_args"]["dataset"] == ("generated" if recipe == "rsvqa/synthetic" else "lr")


def test_the_tiny_set_has_the_synthetic_recipes_question_types():
    config = yaml.safe_load(list_recipes("vision")["rsvqa/synthetic"].read_text())
    model, data = config["model"]["init_args"], config["data"]["init_args"]
    assert data["type_weights"] == WEIGHTS and model["image_size"] == data["tile_size"]


def test_fit_resume_then_test_with_the_baselines(tiles, runs_dir, one_thread):
    args = _args(tiles, "--model.scheduler=constant", "--checkpoint_every_n_steps=1")
    whole = run_cli("vision", ["fit", "--config", "rsvqa/synthetic", "--trainer.max_epochs=2", *args])
    assert isinstance(whole.model, VQAModule) and isinstance(whole.datamodule, RSVQAData)
    # two tiles a batch, two batches an epoch: stop after 1 step (mid-epoch), then resume to the end of epoch 2
    first = run_cli("vision", ["fit", "--config", "rsvqa/synthetic", "--trainer.max_steps=1", *args])
    resumed = run_cli(
        "vision", ["fit", "--config", "rsvqa/synthetic", "--trainer.max_epochs=2", "--ckpt_path=last", *args]
    )
    assert resumed.run_dir == first.run_dir
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)

    question_only = run_cli(
        "vision", ["fit", "--config", "rsvqa/synthetic", *FEW, *args, "--model.model=rsvqa_question_only"]
    )
    assert question_only.model.net.image is None
    baseline = str(question_only.run_dir / "checkpoints" / "last.ckpt")
    tested = run_cli(
        "vision",
        [
            "test",
            "--config",
            "rsvqa/synthetic",
            *args,
            f"--model.baselines=[{baseline}]",
            "--ckpt_path",
            str(whole.run_dir / "checkpoints" / "last.ckpt"),
        ],
    )
    result = tested.trainer.callback_metrics
    for suffix in ("", "_question_prior", "_question_only"):
        for name in ("oa", "aa", "acc_presence", "acc_rural_urban"):
            assert f"test/{name}{suffix}" in result, f"{name}{suffix}"
            assert 0.0 <= float(result[f"test/{name}{suffix}"]) <= 1.0


def test_grouped_tiles_give_each_question_its_own_tile(tiles):
    folder, vocab_size, num_answers = tiles
    grouped = RSVQAData(folder=folder, batch_size=2, **TINY)
    single = RSVQAData(folder=folder, batch_size=8, group_questions=False, **TINY)
    net = RSVQANet(vocab_size=vocab_size, num_answers=num_answers, image_size=32, **TINY_MODEL).eval()
    a, b = next(iter(grouped.loader("val"))), next(iter(single.loader("val")))
    assert len(a["images"]) == 2 and len(b["images"]) == 8 and b["image_index"] is None
    torch.testing.assert_close(a["images"][a["image_index"]], b["images"])
    torch.testing.assert_close(a["questions"][:, : b["questions"].shape[1]], b["questions"])
    with torch.no_grad():
        logits = net(a["images"], a["questions"], a["lengths"], a["image_index"])
        torch.testing.assert_close(logits, net(b["images"], b["questions"], b["lengths"]))


def test_augmented_tiles_spare_side_questions(tiles):
    folder, *_ = tiles
    data = RSVQAData(folder=folder, augment=True, **TINY)
    tiles_set, questions = data.dataset("train"), data.dataset("train").questions
    assert data.epoch_indexed
    for epoch in range(3):
        for tile, members in enumerate(tiles_set.groups):
            images, answers, _, _, slots = tiles_set[(epoch, tile)]
            for slot, index in zip(slots.tolist(), members):
                # each question sees what the per-question dataset gives it (augmented unless it names a side)
                if questions.may_turn(index) and index != members[0]:
                    continue  # the tile's draw is its first question's
                torch.testing.assert_close(images[slot], questions.image(index, epoch))
            assert len(answers) == len(members)


def test_question_prior_is_the_most_frequent_training_answer():
    def sample(i, question, answer, kind):
        return RSVQASample(i, 0, question, answer, answer, kind)

    train = RSVQASplit(
        (
            sample(0, "Is there a road?", "yes", "presence"),
            sample(1, "Is there a road?", "yes", "presence"),
            sample(2, "Is there a road?", "no", "presence"),
            sample(3, "Is there a water area?", "no", "presence"),
            sample(4, "Is there a water area?", "no", "presence"),
            sample(5, "How many roads are there?", "0", "count"),
        ),
        None,
        "lr",
        "train",
    )
    words = QuestionVocabulary.build(s.question for s in train.samples)
    answers = AnswerVocabulary.build(s.answer for s in train.samples)
    prior = question_prior(train, words, answers)
    asked = ["Is there a road?", "Is there a water area?", "Is there a forest?", "What is the number of roads?"]
    predicted = prior([tuple(words.encode(q)) for q in asked], ["presence", "presence", "presence", "count"])
    # unseen questions: the type's most frequent answer (presence: no, 3 of 5)
    assert [answers.decode(int(p)) for p in predicted] == ["yes", "no", "no", "0"]


def test_vir_image_branch(tiles):
    _, vocab_size, num_answers = tiles
    net = RSVQANet(
        vocab_size=vocab_size,
        num_answers=num_answers,
        image_size=32,
        backbone="vir",
        backbone_kwargs={"size": "mini", "patch_size": 8},
        **TINY_MODEL,
    )
    images, questions, lengths = net.example_input(3)
    assert net(images, questions, lengths).shape == (3, num_answers)
    assert net.image_proj.in_features == 64
    with pytest.raises(ValueError, match="backbone_kwargs are options of backbone 'vir'"):
        RSVQANet(image_size=32, backbone_kwargs={"size": "mini"})


def _one_line(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        console_main("vision", argv)
    assert exit_info.value.code == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("recur-vision: error:") and "\n" not in message, message
    return message


def test_bad_input_is_one_line(tiles, runs_dir, tmp_path, monkeypatch, capsys):
    folder, vocab_size, _ = tiles
    fit = ["fit", "--config", "rsvqa/synthetic", *FEW]
    # sizes that are not the data's
    assert f"--model.vocab_size {vocab_size}" in _one_line(capsys, [*fit, *_args(tiles), "--model.vocab_size=7"])
    # the real LR set absent from the data root: the catalogue's instructions
    monkeypatch.setenv("RECUR_DATA", str(tmp_path / "data"))
    assert "RSVQA LR" in _one_line(capsys, ["fit", "--config", "rsvqa/lr", *FEW])
    # an answer whose question id no question has
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    answers = json.loads((broken / "LR_split_val_answers.json").read_text())
    answers["answers"][0]["question_id"] = 10**6
    (broken / "LR_split_val_answers.json").write_text(json.dumps(answers))
    message = _one_line(capsys, [*fit, *_args(tiles, f"--data.folder={broken}", "--data.dataset=lr")])
    assert "which no question" in message
    # an unreadable .tif
    damaged = tmp_path / "damaged"
    shutil.copytree(folder, damaged)
    (damaged / "Images_LR" / "0.tif").write_bytes(b"not a tiff")
    message = _one_line(capsys, [*fit, *_args(tiles, f"--data.folder={damaged}", "--data.dataset=lr")])
    assert "cannot read RSVQA tile" in message and "0.tif" in message
