"""CaptionAttackData and CaptionAttackModule: pairs, the victim, the CLI fit -> test of caption_attack/default."""

import json

import pytest
import torch
import yaml

from recur_core.engine import console_main, run_cli
from recur_core.recipes import list_recipes
from recur_vision.datamodules import CaptionAttackData, CaptionData
from recur_vision.task import CaptionAttackModule, attack_scores

# the captioning recipe's scene space (the victim's and the attack's data share one folder)
TINY = {"train_images": 12, "val_images": 4, "test_images": 4, "colours": 10, "shapes": 5}
TINY_VICTIM = {
    "d_model": 16,
    "feature_dim": 8,
    "encoder_kwargs": {"channels": [4, 8], "hidden": 8, "dropout": 0.0},
    "meteor": False,
    "samples": 0,
    "warmup_steps": 0,
    "lr": 0.03,
    "scheduler": "constant",
}
TINY_ATTACK = {
    "generator_kwargs": {"channels": [4, 8, 8], "residual_blocks": 1},
    "discriminator_kwargs": {"channels": [4, 8]},
}


def _options(prefix: str, options: dict) -> list[str]:
    return [f"--{prefix}.{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in options.items()]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return str(tmp_path_factory.mktemp("scenes") / "shapes")


def _fit_captioner(folder, runs, scenes, extra=()):
    vocab_size = CaptionData(folder=scenes, min_count=1, **TINY).vocab_size
    args = ["fit", "--config", "lrcn/captioning", "--trainer.max_epochs=8", "--checkpoint_every_n_steps=0"]
    args += _options("data", {**TINY, "folder": scenes, "min_count": 1, "batch_size": 4})
    args += _options("model", {**TINY_VICTIM, "vocab_size": vocab_size}) + list(extra)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECUR_RUNS", str(runs))
        patch.delenv("RECUR_RUN_DIR", raising=False)
        cli = run_cli("vision", args)
    return cli.run_dir / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def victim(tmp_path_factory, scenes):
    """A tiny lrcn/captioning checkpoint (one epoch on 12 scenes), written by the CLI."""
    return _fit_captioner("victim", tmp_path_factory.mktemp("victim_runs"), scenes)


def _attack_args(victim, scenes, *extra):
    args = _options("data", {**TINY, "folder": scenes, "batch_size": 4})
    return [*args, *_options("model", {**TINY_ATTACK, "victim": str(victim)}), *extra]


def test_pairs_never_pair_an_image_with_itself_and_test_pairs_are_fixed(scenes):
    data = CaptionAttackData(folder=scenes, batch_size=4, **TINY)
    data.setup("fit")
    train, val = data.dataset("train"), data.dataset("val")
    epoch0 = [train[(0, i)][3] for i in range(len(train))]
    assert all(j != i for i, j in enumerate(epoch0)) and epoch0 == [train[(0, i)][3] for i in range(len(train))]
    assert epoch0 != [train[(1, i)][3] for i in range(len(train))]
    assert [val.target(i) for i in range(4)] == [
        CaptionAttackData(folder=scenes, **TINY).dataset("val").target(i) for i in range(4)
    ]
    batch = next(iter(data.train_dataloader()))
    assert batch["images"].shape == batch["target_images"].shape == (4, 3, 64, 64)
    assert float(batch["images"].min()) >= 0 and float(batch["images"].max()) <= 1
    assert (batch["index"] != batch["target_index"]).all()
    with pytest.raises(ValueError, match="at least two images"):
        CaptionAttackData(test_images=1)


def test_the_recipe_states_the_commands_in_order():
    path = list_recipes("vision")["caption_attack/default"]
    text = path.read_text()
    assert text.splitlines()[0].startswith("# recur-vision fit --config caption_attack/default --model.victim")
    steps = text[text.index("The commands, in order") :]
    order = [
        steps.index(c) for c in ("fit --config lrcn/captioning", "fit --config caption_attack/default", "test --config")
    ]
    assert order == sorted(order)
    config = yaml.safe_load(text)
    assert config["model"]["class_path"] == "recur_vision.task.CaptionAttackModule"
    assert config["data"]["init_args"]["dataset"] == "generated"


def test_the_scores_count_each_kind_of_success():
    norms = {"clean_mimic": 1.0, "noise_mimic": 1.0, "noise_l2": 3.0, "noise_linf": 0.06}
    records = [
        {"target": "a red circle", "adversarial": "a red circle", "clean": "a blue square", "noise": "a blue square",
         "keywords": [("red",), ("red", "circle"), None], "adversarial_mimic": 0.1, "adversarial_l2": 2.0,
         "adversarial_linf": 0.05, **norms},
        {"target": "two red squares", "adversarial": "two blue squares", "clean": "a red circle",
         "noise": "a red circle", "keywords": [("squares",), ("red", "squares"), ("two", "red", "squares")],
         "adversarial_mimic": 0.3, "adversarial_l2": 4.0, "adversarial_linf": 0.07, **norms},
    ]  # fmt: skip
    scores = attack_scores(records)
    assert scores["exact"] == 0.5 and scores["keyword1"] == 1.0 and scores["keyword2"] == 0.5
    assert scores["keyword3"] == 0.0 and scores["keyword3_pairs"] == 1.0
    assert scores["exact_clean"] == 0.0 and scores["keyword1_clean"] == 0.0 and scores["keyword2_noise"] == 0.0
    assert scores["l2"] == 3.0 and scores["linf"] == pytest.approx(0.06) and scores["mimic"] == pytest.approx(0.2)


def test_cli_fit_then_test_from_the_checkpoint(runs_dir, one_thread, scenes, victim, tmp_path):
    transfer = _fit_captioner("transfer", tmp_path / "transfer_runs", scenes, ["--model.layer=gru"])
    args = _attack_args(victim, scenes, "--model.lambda_adv=0.1")
    cli = run_cli("vision", ["fit", "--config", "caption_attack/default", "--trainer.max_epochs=1", *args])
    run = cli.run_dir
    for name in ("config.yaml", "metrics.csv", "checkpoints/last.ckpt", "checkpoints/best.ckpt"):
        assert (run / name).is_file(), name
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    # both optimisers' states; no victim weights
    assert len(checkpoint["optimizer_states"]) == 2 and all(s["state"] for s in checkpoint["optimizer_states"])
    assert not any(k.startswith(("victim", "_frozen")) for k in checkpoint["state_dict"])
    assert {"train/mimic", "train/d_loss", "val/exact"} <= set(cli.trainer.callback_metrics)
    tested = run_cli(
        "vision",
        ["test", "--config", "caption_attack/default", "--ckpt_path", str(run / "checkpoints" / "last.ckpt"), *args,
         f"--model.transfer={transfer}"],
    )  # fmt: skip
    result = {k: float(v) for k, v in tested.trainer.callback_metrics.items()}
    for name in (
        "exact",
        "keyword1",
        "keyword2",
        "keyword3",
        "l2",
        "linf",
        "exact_noise",
        "keyword1_noise",
        "exact_clean",
        "keyword1_clean",
        "transfer_exact",
        "transfer_keyword1_noise",
        "transfer_exact_clean",
    ):
        assert f"test/{name}" in result, name  # fmt: skip
    epsilon = tested.model.hparams.epsilon
    assert 0 < result["test/linf"] <= epsilon + 1e-6 and result["test/linf_noise"] <= epsilon + 1e-6
    rows = json.loads((tested.run_dir / "caption_attack_test.json").read_text())
    assert len(rows) == 4 and {"target", "adversarial", "clean", "noise", "transfer_target"} <= set(rows[0])
    assert all(row["target_index"] != row["index"] for row in rows)
    assert (tested.run_dir / "caption_attack_test.png").stat().st_size > 1000


def _learning_rates(cli) -> list[float]:
    return [config.scheduler.get_last_lr()[0] for config in cli.trainer.lr_scheduler_configs]


def test_max_steps_counts_both_optimisers_and_the_cosine_ends_at_the_last_batch(runs_dir, one_thread, scenes, victim):
    # 3 batches an epoch, each a step of D and one of G: max_steps 10 stops after 5 batches, where the cosine ends
    args = [*_attack_args(victim, scenes, "--model.lambda_adv=0.1", "--model.warmup_steps=1")]
    cli = run_cli("vision", ["fit", "--config", "caption_attack/default", "--trainer.max_steps=10", *args])
    assert cli.trainer.global_step == 10 and cli.model.scheduled_steps() == 5
    assert [c.scheduler.last_epoch for c in cli.trainer.lr_scheduler_configs] == [5, 5]
    assert _learning_rates(cli) == [0.0, 0.0]


def test_a_cosine_fit_killed_mid_way_resumes_exactly(runs_dir, one_thread, scenes, victim, killed_fit):
    # the cosine is laid over the whole fit (6 batches: max_steps 12 counts D's and G's steps) in both runs
    args = [*_attack_args(victim, scenes, "--model.lambda_adv=0.1", "--model.scheduler=cosine")]
    args += ["--checkpoint_every_n_steps=4", "--trainer.max_steps=12"]
    whole = run_cli("vision", ["fit", "--config", "caption_attack/default", *args])
    assert whole.trainer.global_step == 12 and _learning_rates(whole) == [0.0, 0.0]

    # after last.ckpt of step 4 (batch 2) is in place: a process killed in the middle of the fit
    with killed_fit(CaptionAttackModule, 4):
        run_cli("vision", ["fit", "--config", "caption_attack/default", *args])
    resumed = run_cli("vision", ["fit", "--config", "caption_attack/default", "--ckpt_path", "last", *args])
    assert resumed.run_dir != whole.run_dir and resumed.trainer.global_step == 12
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    assert _learning_rates(resumed) == _learning_rates(whole)
    for a, b in zip(whole.trainer.optimizers, resumed.trainer.optimizers):
        assert a.param_groups[0]["lr"] == b.param_groups[0]["lr"]
        for state_a, state_b in zip(a.state.values(), b.state.values()):
            torch.testing.assert_close(state_a["exp_avg_sq"], state_b["exp_avg_sq"], rtol=0, atol=0)


def _one_line(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        console_main("vision", argv)
    assert exit_info.value.code == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("recur-vision: error:") and "\n" not in message, message
    return message


def test_bad_victims_are_one_line_errors(runs_dir, capsys, scenes, victim, tmp_path):
    fit = ["fit", "--config", "caption_attack/default", *_options("data", {**TINY, "folder": scenes})]
    assert "recur-vision fit --config lrcn/captioning" in _one_line(capsys, fit)
    message = _one_line(capsys, [*fit, f"--model.victim={tmp_path / 'none.ckpt'}"])
    assert "no such file" in message and "recur-vision fit --config lrcn/captioning" in message
    # a checkpoint that is not a captioner's (this attack's own), and a file that is not a checkpoint
    not_captioner = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"net.enc1.0.weight": torch.zeros(1)}, "global_step": 0}, not_captioner)
    assert "not an lrcn/captioning checkpoint" in _one_line(capsys, [*fit, f"--model.victim={not_captioner}"])
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    assert "not a recur checkpoint" in _one_line(capsys, [*fit, f"--model.victim={text}"])
    # a transfer captioner on another vocabulary
    checkpoint = torch.load(victim, weights_only=True)
    checkpoint["vocabulary"] = [*checkpoint["vocabulary"][:-1], "zebra"]
    other = tmp_path / "other_vocabulary.ckpt"
    torch.save(checkpoint, other)
    message = _one_line(capsys, [*fit, f"--model.victim={victim}", f"--model.transfer={other}"])
    assert "--model.transfer" in message and "vocabulary" in message


def test_testing_against_another_victim_is_an_error(tmp_path, victim):
    module = CaptionAttackModule(victim=str(victim), **TINY_ATTACK)
    checkpoint = {}
    module.on_save_checkpoint(checkpoint)
    checkpoint["caption_attack"]["victim_fingerprint"] = "0" * 40
    with pytest.raises(ValueError, match="not the captioner this attack was trained against"):
        module.on_load_checkpoint(checkpoint)
