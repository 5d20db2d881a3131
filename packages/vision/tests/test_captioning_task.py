"""CaptionData and CaptioningModule: batches, vocabulary, the loss, and the CLI fit -> test of lrcn/captioning."""

import json

import pytest
import torch
import yaml

from recur_core.engine import console_main, run_cli
from recur_core.recipes import list_recipes
from recur_vision.datamodules import CaptionData, CaptionGroups
from recur_vision.plots import plot_captions
from recur_vision.task import CaptioningModule, VisualConceptModule

# the recipe's scene space (every CaptionData of one folder must agree on it)
TINY = {"train_images": 12, "val_images": 4, "test_images": 4, "min_count": 1, "colours": 10, "shapes": 5}
TINY_MODEL = {"d_model": 16, "feature_dim": 8, "encoder_kwargs": {"channels": [4, 8], "hidden": 8}, "meteor": False}


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return str(tmp_path_factory.mktemp("scenes") / "shapes")


def test_training_batches_group_every_caption_of_an_image(scenes):
    data = CaptionData(folder=scenes, batch_size=3, **TINY)
    data.setup("fit")
    assert isinstance(data.dataset("train"), CaptionGroups) and len(data.dataset("train")) == 12
    assert data.vocab_size == len(data.vocab) and data.vocab.words[:2] == ("<EOS>", "<unk>")
    batch = next(iter(data.train_dataloader()))
    assert batch["images"].shape == (3, 3, 64, 64) and batch["image_index"].tolist() == [0] * 5 + [1] * 5 + [2] * 5
    n, length = batch["input_ids"].shape
    assert n == 15 and batch["target_ids"].shape == (n, length) and batch["lengths"].shape == (n,)
    assert (batch["input_ids"][:, 0] == 0).all()
    # the target stream is the input stream shifted by one; padding is -1
    for row in range(n):
        size = int(batch["lengths"][row])
        assert torch.equal(batch["input_ids"][row, 1:size], batch["target_ids"][row, : size - 1])
        assert batch["target_ids"][row, size - 1] == 0 and (batch["target_ids"][row, size:] == -1).all()
    val = next(iter(data.val_dataloader()))
    assert "image_index" not in val and val["images"].shape[0] == 3 and len(val["references"][0]) == 5
    pairs = CaptionData(folder=scenes, batch_size=4, group_captions=False, **TINY)
    assert len(pairs.dataset("train")) == 60


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dataset": "coco"}, "dataset must be 'generated' or 'coco-karpathy'"),
        ({"val_images": 0}, "every split needs at least one image"),
        ({"image_size": 16}, "image_size must be at least 32"),
        ({"mean": [0.5, 0.5, 0.5]}, "give both --data.mean and --data.std"),
    ],
)
def test_bad_data_options_are_one_line(options, message):
    with pytest.raises(ValueError, match=message):
        CaptionData(**options)


def test_coco_karpathy_files_are_read_from_the_data_root_and_resized(tmp_path):
    from recur_vision.data.generated_captions import write_generated_captions

    # a tiny folder in the real layout: <root>/coco/dataset_coco.json with images it names (48x48 -> 32x32)
    write_generated_captions(tmp_path / "coco", train=6, val=2, test=2, size=48, seed=1)
    data = CaptionData(dataset="coco-karpathy", root=str(tmp_path), image_size=32, min_count=1, batch_size=2)
    data.setup("fit")
    assert data.caption_json() == tmp_path / "coco" / "dataset_coco.json" and len(data.dataset("train")) == 6
    assert next(iter(data.val_dataloader()))["images"].shape == (2, 3, 32, 32)


def test_missing_coco_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="coco-karpathy"):
        CaptionData(dataset="coco-karpathy", root=str(tmp_path)).setup("fit")


def test_the_loss_ignores_padding_and_grouped_captions_read_their_image(scenes):
    data = CaptionData(folder=scenes, batch_size=2, **TINY)
    data.setup("fit")
    module = CaptioningModule(vocab_size=data.vocab_size, **TINY_MODEL)
    batch = next(iter(data.train_dataloader()))
    module.log = lambda *args, **kwargs: None
    features = module.net.encode(batch["images"])
    loss = module._loss(batch, features, "train")
    logits = module.net.caption_logits(features[batch["image_index"]], batch["input_ids"], batch["lengths"])
    valid = batch["target_ids"] != -1
    expected = torch.nn.functional.cross_entropy(logits[valid], batch["target_ids"][valid])
    torch.testing.assert_close(loss, expected)


def test_decode_reads_the_vocabulary_built_once_when_the_words_are_set():
    module = CaptioningModule(vocab_size=5, **TINY_MODEL)
    with pytest.raises(ValueError, match="no vocabulary"):
        module.decode(torch.zeros(1, 3, dtype=torch.long))
    module.words = ["<EOS>", "<unk>", "a", "red", "circle"]
    built = module._vocab
    tokens = torch.tensor([[2, 3, 4, 0, 2], [4, 1, 0, 0, 0]])
    assert module.decode(tokens) == ["a red circle", "circle <unk>"]
    assert module._vocab is built and module.words == ("<EOS>", "<unk>", "a", "red", "circle")
    module.words = None
    assert module.words is None


def test_the_recipe_states_its_command_and_the_generated_vocabulary():
    path = list_recipes("vision")["lrcn/captioning"]
    assert path.read_text().splitlines()[0] == "# recur-vision fit --config lrcn/captioning"
    stage_one = list_recipes("vision")["lrcn/visual_concepts"].read_text()
    assert stage_one.splitlines()[0] == "# recur-vision fit --config lrcn/visual_concepts"
    config = yaml.safe_load(path.read_text())
    model, data = config["model"]["init_args"], config["data"]["init_args"]
    assert config["model"]["class_path"] == "recur_vision.task.CaptioningModule" and model["layer"] == "lstm"
    # stage one's encoder is the captioner's, on the same data
    first = yaml.safe_load(stage_one)
    for key in ("feature_dim", "encoder", "encoder_kwargs", "vocab_size"):
        assert first["model"]["init_args"][key] == model[key], key
    assert first["data"] == config["data"]
    assert data["dataset"] == "generated" and data.get("min_count", 5) == 5


def test_cli_fit_then_test_from_the_checkpoint(runs_dir, one_thread, scenes):
    vocab_size = CaptionData(folder=scenes, **TINY).vocab_size
    small = [f"--data.{k}={v}" for k, v in {**TINY, "folder": scenes, "batch_size": 4}.items()]
    small += [f"--model.{k}={json.dumps(v)}" for k, v in {**TINY_MODEL, "vocab_size": vocab_size}.items()]
    small += ["--model.warmup_steps=0"]
    cli = run_cli("vision", ["fit", "--config", "lrcn/captioning", "--trainer.max_epochs=1", *small])
    run = cli.run_dir
    assert isinstance(cli.model, CaptioningModule) and cli.model.net.layer1.layer_name == "lstm"
    for name in ("config.yaml", "metrics.csv", "checkpoints/last.ckpt", "checkpoints/best.ckpt"):
        assert (run / name).is_file(), name
    assert "val/cider" in cli.trainer.callback_metrics
    tested = run_cli(
        "vision", ["test", "--config", "lrcn/captioning", "--ckpt_path", str(run / "checkpoints" / "last.ckpt"), *small]
    )
    result = tested.trainer.callback_metrics
    for name in ("test/loss", "test/bleu4", "test/cider", "test/rouge_l", "test/bleu4_beam", "test/cider_nn"):
        assert name in result, name
    rows = json.loads((tested.run_dir / "captions_test.json").read_text())
    assert len(rows) == 4 and {"references", "greedy", "beam", "nearest_neighbour", "image"} <= set(rows[0])
    assert (tested.run_dir / "captions_test.png").stat().st_size > 1000
    # the nearest neighbour returns a training caption
    train = {c for image in tested.datamodule.splits()["train"] for c in (" ".join(t) for t in image.captions)}
    assert all(row["nearest_neighbour"] in train for row in rows)


def test_cli_errors_are_one_line(runs_dir, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        console_main(
            "vision", ["fit", "--config", "lrcn/captioning", "--data.dataset=coco-karpathy", f"--data.root={tmp_path}"]
        )
    assert exit_info.value.code == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("recur-vision: error:") and "coco-karpathy" in message and "\n" not in message


def test_plot_captions_writes_a_png_and_checks_its_input(tmp_path):
    images = [torch.rand(3, 32, 32) for _ in range(3)]
    captions = [{"ref": "a red circle", "greedy": "a red circle"}] * 3
    path = plot_captions(images, captions, tmp_path / "captions.png", columns=2)
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="one caption mapping per image"):
        plot_captions(images, captions[:2], tmp_path / "bad.png")


def test_visual_concepts_fit_test_then_the_captioner_starts_from_its_encoder(runs_dir, one_thread, scenes):
    vocab_size = CaptionData(folder=scenes, **TINY).vocab_size
    small = [f"--data.{k}={v}" for k, v in {**TINY, "folder": scenes, "batch_size": 4}.items()]
    encoder = {
        "vocab_size": vocab_size,
        "bigrams": 3,
        "feature_dim": 8,
        "encoder_kwargs": {"channels": [4, 8], "hidden": 8},
    }
    stage_one = run_cli(
        "vision",
        ["fit", "--config", "lrcn/visual_concepts", "--trainer.max_epochs=1", "--model.warmup_steps=0", *small]
        + [f"--model.{k}={json.dumps(v)}" for k, v in encoder.items()],
    )
    assert isinstance(stage_one.model, VisualConceptModule) and "val/map" in stage_one.trainer.callback_metrics
    assert len(stage_one.model.concepts) == vocab_size - 2 + 3
    best = stage_one.run_dir / "checkpoints" / "best.ckpt"
    tested = stage_one.trainer.test(stage_one.model, datamodule=stage_one.datamodule, verbose=False)[0]
    assert {"test/loss", "test/map", "test/map_prior", "test/f1", "test/f1_prior"} <= set(tested)
    assert 0 < tested["test/map_prior"] <= 1 and 0 <= tested["test/f1_prior"] <= 1
    # stage two copies the encoder, and says what to do when the file or its encoder does not fit
    module = CaptioningModule(**{**TINY_MODEL, "vocab_size": vocab_size}, init_from=str(best))
    module.load_encoder(best)
    trained = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
    for key, value in module.net.encoder.state_dict().items():
        assert value.equal(trained[f"net.encoder.{key}"]), key
    wider = CaptioningModule(**{**TINY_MODEL, "vocab_size": vocab_size, "encoder_kwargs": {"channels": [4, 16]}})
    with pytest.raises(ValueError, match=r"does not fit this model's.*--model.encoder_kwargs"):
        wider.load_encoder(best)
    with pytest.raises(FileNotFoundError, match="fit lrcn/visual_concepts first"):
        module.load_encoder(best.parent / "missing.ckpt")


def test_concepts_are_the_words_then_the_commonest_word_pairs_of_every_reference():
    from recur_vision.data.captions import Vocabulary

    module = VisualConceptModule(vocab_size=6, bigrams=2, feature_dim=4, encoder_kwargs={"channels": [4], "hidden": 4})
    train = [["a red circle", "a circle"], ["a red square"]]
    module.set_concepts(Vocabulary(["a", "red", "circle", "square"]), train)
    assert module.concepts == ["a", "red", "circle", "square", "a red", "a circle"]
    targets = module.concept_targets([["a red circle"], ["two squares", "a square"]])
    # EOS and <unk> ('two', 'squares') are not concepts, nor a pair with either
    assert targets.tolist() == [[1, 1, 1, 0, 1, 0], [1, 0, 0, 1, 0, 0]]
    with pytest.raises(ValueError, match=r"set --model\.bigrams 4 or less"):
        VisualConceptModule(vocab_size=6, bigrams=5).set_concepts(Vocabulary(["a", "red", "circle", "square"]), train)


def test_binding_scores_rank_the_colour_shape_pairs_of_two_object_scenes():
    from recur_vision.data.captions import Vocabulary

    module = VisualConceptModule(vocab_size=7, bigrams=6, feature_dim=4, encoder_kwargs={"channels": [4], "hidden": 4})
    train = [["a red circle left of a blue square"], ["a blue circle left of a red square"], ["a red circle"]]
    module.set_concepts(Vocabulary(["a", "red", "blue", "circle", "square"]), train)
    pairs = [module.concepts.index(p) for p in ("red circle", "blue square", "blue circle", "red square")]
    assert sorted(module._object_pairs) == sorted(pairs)
    targets = module.concept_targets([train[0], train[1], train[2]])
    logits = torch.zeros_like(targets)
    # the first scene's pairs ranked right, the second's swapped; the one-object scene is left out
    logits[0, pairs] = torch.tensor([4.0, 3.0, 2.0, 1.0])
    logits[1, pairs] = torch.tensor([2.0, 1.5, 1.0, 0.5])
    logits[2, pairs] = torch.tensor([-9.0, -9.0, -9.0, -9.0])
    scores = module.binding_scores(logits, targets)
    assert scores["ap_pairs_per_image"] == pytest.approx((1.0 + (1 / 3 + 2 / 4) / 2) / 2)
    assert scores["map_pairs_two_objects"] == pytest.approx(0.75)
    assert module.binding_scores(logits[2:], targets[2:]) == {}


def test_sampled_captions_carry_their_log_probability_and_a_cold_sample_is_greedy():
    torch.manual_seed(0)
    net = CaptioningModule(vocab_size=7, **TINY_MODEL).net.eval()
    # an untrained model's words are nearly equally likely: sharpen them so that the greedy word stands out
    with torch.no_grad():
        net.predict.weight.mul_(100)
    features = torch.randn(4, TINY_MODEL["feature_dim"])
    drawn = net.sample(features)
    torch.testing.assert_close(drawn.log_prob, net.log_prob(features, drawn.tokens))
    assert net.sample(features, temperature=1e-4).tokens.equal(net.greedy(features).tokens)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        net.sample(features, temperature=0.0)


def test_the_self_critical_loss_pushes_up_a_sample_rewarded_above_the_greedy_caption(monkeypatch):
    from recur_vision.metrics import CiderD
    from recur_vision.models.captioning import Decoded

    torch.manual_seed(0)
    module = CaptioningModule(vocab_size=7, scst_samples=2, **TINY_MODEL)
    module.words = ["<EOS>", "<unk>", "there", "are", "two", "red", "squares"]
    module.log = lambda *args, **kwargs: None
    references = [["there are two red squares", "two red squares"]]
    module._cider = CiderD([references[0], ["a blue circle"]])
    # the two samples: a reference itself (rewarded above the greedy caption) and a worse caption
    samples = torch.tensor([[2, 3, 4, 5, 6, 0], [5, 5, 0, 0, 0, 0]])
    greedy = torch.tensor([[4, 6, 0, 0, 0, 0]])
    zeros = torch.zeros(2)
    monkeypatch.setattr(module.net, "sample", lambda features: Decoded(samples, zeros, zeros, zeros))
    monkeypatch.setattr(module.net, "greedy", lambda features: Decoded(greedy, zeros[:1], zeros[:1], zeros[:1]))
    reward = module._cider(references * 2, module.decode(samples))
    baseline = module._cider(references, module.decode(greedy))[0]
    assert reward[1] < baseline < reward[0]

    features = torch.randn(1, TINY_MODEL["feature_dim"])
    before = module.net.log_prob(features.expand(2, -1), samples).detach()
    loss = module.self_critical_loss(features, references)
    expected = -((torch.tensor(reward) - baseline) * module.net.log_prob(features.expand(2, -1), samples)).mean()
    torch.testing.assert_close(loss, expected)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.01)
    loss.backward()
    optimizer.step()
    after = module.net.log_prob(features.expand(2, -1), samples).detach()
    assert after[0] > before[0] and after[1] < before[1]


def test_the_self_critical_epochs_add_the_weighted_cross_entropy(monkeypatch):
    from types import SimpleNamespace

    module = CaptioningModule(vocab_size=7, scst_epochs=1, scst_xe_weight=2.0, **TINY_MODEL)
    monkeypatch.setattr(module.net, "encode", lambda images: images)
    monkeypatch.setattr(module, "self_critical_loss", lambda features, references: torch.tensor(1.0))
    monkeypatch.setattr(module, "_loss", lambda batch, features, stage: torch.tensor(3.0))
    batch = {"images": torch.zeros(1, 3), "references": [["a caption"]]}
    module._trainer = SimpleNamespace(max_epochs=2, current_epoch=0)
    assert float(module.training_step(batch, 0)) == 3.0  # a cross-entropy epoch
    module._trainer = SimpleNamespace(max_epochs=2, current_epoch=1)
    assert float(module.training_step(batch, 0)) == 1.0 + 2.0 * 3.0  # self-critical + λ cross-entropy
    with pytest.raises(ValueError, match="scst_epochs and scst_xe_weight must be >= 0"):
        CaptioningModule(vocab_size=7, scst_xe_weight=-1.0, **TINY_MODEL)


def test_cli_fit_with_self_critical_epochs_resumes_exactly_then_tests(runs_dir, one_thread, scenes, killed_fit):
    vocab_size = CaptionData(folder=scenes, **TINY).vocab_size
    small = [f"--data.{k}={v}" for k, v in {**TINY, "folder": scenes, "batch_size": 4}.items()]
    small += [f"--model.{k}={json.dumps(v)}" for k, v in {**TINY_MODEL, "vocab_size": vocab_size}.items()]
    # 3 batches an epoch: epoch 0 by cross-entropy, epoch 1 (steps 4-6) self-critical
    args = ["--config", "lrcn/captioning", *small, "--model.warmup_steps=0", "--model.scst_epochs=1"]
    args += ["--trainer.max_epochs=2", "--checkpoint_every_n_steps=4"]
    whole = run_cli("vision", ["fit", *args])
    assert whole.trainer.global_step == 6
    metrics = whole.trainer.callback_metrics
    assert {"train/reward", "train/reward_greedy", "train/scst_loss"} <= set(metrics)
    assert 0 <= float(metrics["train/reward"]) <= 10

    # after last.ckpt of step 4, the first self-critical batch: a process killed during the SCST epochs
    with killed_fit(CaptioningModule, 5):
        run_cli("vision", ["fit", *args])
    resumed = run_cli("vision", ["fit", *args, "--ckpt_path", "last"])
    assert resumed.run_dir != whole.run_dir and resumed.trainer.global_step == 6
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    tested = run_cli("vision", ["test", *args, "--ckpt_path", str(resumed.run_dir / "checkpoints" / "last.ckpt")])
    assert {"test/cider", "test/cider_beam", "test/cider_nn"} <= set(tested.trainer.callback_metrics)
    with pytest.raises(ValueError, match="scst_epochs=3 counts the last epochs"):
        run_cli("vision", ["fit", *args, "--model.scst_epochs=3"])
