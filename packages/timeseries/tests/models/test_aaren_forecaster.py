"""The Aaren forecaster: shapes, the model contract, streaming = parallel, constant state, swappable layer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recur_core.registry import get_model
from recur_core.testing import check_model
from recur_timeseries.models.aaren import AarenForecaster, sinusoidal_positions, state_nbytes
from recur_timeseries.streaming import stream_forecasts

SMALL = {"input_len": 24, "horizon": 6, "channels": 3, "d_model": 16, "num_layers": 2, "num_heads": 2}


def small(layer: str = "aaren", **kwargs) -> AarenForecaster:
    torch.manual_seed(0)
    return get_model("aaren", **{**SMALL, "layer": layer, **kwargs})


def test_default_builds_and_forecasts_horizon_by_channels():
    model = get_model("aaren")
    assert isinstance(model, AarenForecaster) and model.layer == "aaren"
    (x,) = model.example_input(2)
    assert x.shape == (2, 96, 7)
    assert model(x).shape == (2, 96, 7)


@pytest.mark.parametrize("layer", ["aaren", "attention"])
def test_check_model(layer):
    check_model(small(layer))


@pytest.mark.parametrize("layer", ["aaren", "attention"])
@pytest.mark.parametrize(("positional", "relative"), [(True, True), (False, True), (True, False)])
def test_streaming_equals_forward_on_every_prefix_float64(layer, positional, relative):
    model = small(layer, positional=positional, relative=relative).double().eval()
    x = torch.randn(2, 40, SMALL["channels"], dtype=torch.float64)
    state = model.init_state(2, dtype=torch.float64)
    with torch.no_grad():
        for t in range(x.shape[1]):
            forecast, state = model.step(x[:, t], state)
            assert forecast.shape == (2, SMALL["horizon"], SMALL["channels"])
            torch.testing.assert_close(forecast, model(x[:, : t + 1]), rtol=1e-6, atol=1e-6)


def test_relative_forecasts_move_with_the_level_and_absolute_ones_do_not():
    x = torch.randn(2, 30, SMALL["channels"], dtype=torch.float64)
    with torch.no_grad():
        relative = small().double().eval()
        torch.testing.assert_close(relative(x + 3.0), relative(x) + 3.0)
        absolute = small(relative=False).double().eval()
        assert not torch.allclose(absolute(x + 3.0), absolute(x) + 3.0)


@pytest.mark.parametrize("prefix", [1, 17])
def test_prefill_then_step_equals_forward_with_level_tokens(prefix):
    # the default (difference tokens) is covered by test_prefill_then_step_equals_forward
    model = small(relative=False).double().eval()
    x = torch.randn(2, prefix + 5, SMALL["channels"], dtype=torch.float64)
    with torch.no_grad():
        forecast, state = model.prefill(x[:, :prefix])
        for t in range(prefix, x.shape[1]):
            forecast, state = model.step(x[:, t], state)
        torch.testing.assert_close(forecast, model(x), rtol=1e-6, atol=1e-6)


def test_forecast_depends_only_on_the_past():
    model = small().double().eval()
    x = torch.randn(1, 30, SMALL["channels"], dtype=torch.float64)
    y = x.clone()
    y[:, 20:] += 5.0
    with torch.no_grad():
        torch.testing.assert_close(model(x[:, :20]), model(y[:, :20]))
        assert not torch.allclose(model(x), model(y))


def _state_bytes_after(model: AarenForecaster, steps: int) -> int:
    state = model.init_state(1)
    x = torch.randn(steps, SMALL["channels"])
    with torch.no_grad():
        for t in range(steps):
            _, state = model.step(x[t][None], state)
    return state_nbytes(state)


def test_aaren_state_is_constant_in_t_while_the_kv_cache_grows():
    aaren, attention = small("aaren").eval(), small("attention").eval()
    assert _state_bytes_after(aaren, 10) == _state_bytes_after(aaren, 1000)
    short, long = _state_bytes_after(attention, 10), _state_bytes_after(attention, 1000)
    assert long > 50 * short


@pytest.mark.parametrize("layer", ["gla", "lstm"])
def test_swapping_the_layer_keeps_training_and_streaming(layer):
    model = small(layer).double()
    check_model(model)
    model.eval()
    x = torch.randn(2, 12, SMALL["channels"], dtype=torch.float64)
    state = model.init_state(2, dtype=torch.float64)
    with torch.no_grad():
        for t in range(12):
            forecast, state = model.step(x[:, t], state)
        torch.testing.assert_close(forecast, model(x))
    assert type(model.blocks[0].mixer).layer_name == layer


def test_layer_kwargs_reach_the_layer():
    model = small("attention", layer_kwargs={"rope": False, "num_heads": 4})
    assert model.blocks[0].mixer.num_heads == 4 and model.blocks[0].mixer.rope is False


def test_sinusoidal_positions_match_the_transformer_formula():
    pe = sinusoidal_positions(torch.arange(5), 6)
    t, i = 3, 2  # dims 4 (sin) and 5 (cos) of position 3
    angle = t / 10000 ** (i * 2 / 6)
    assert pe[t, 4].item() == pytest.approx(np.sin(angle)) and pe[t, 5].item() == pytest.approx(np.cos(angle))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channels": 0}, "channels must be at least 1"),
        ({"num_layers": 0}, "num_layers must be at least 1"),
        ({"layer": "nope"}, "unknown layer"),
        ({"d_model": 10, "num_heads": 4}, "divisible"),
        ({"token_kernel": 0}, "token_kernel"),
    ],
)
def test_bad_options_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        get_model("aaren", **{**SMALL, **kwargs})


def test_bad_inputs_name_the_expected_shape():
    model = small()
    with pytest.raises(ValueError, match=r"x \[B, T, C\] with C = channels = 3"):
        model(torch.randn(2, 24, 5))
    with pytest.raises(ValueError, match=r"x_t \[B, C\]"):
        model.step(torch.randn(2, 1, 3))
    with pytest.raises(ValueError, match="state is for batch 2"):
        model.step(torch.randn(3, 3), model.init_state(2))


def test_stream_forecasts_reports_flat_state_and_scores_against_repeat_last():
    model = small().eval()
    values = np.random.default_rng(0).standard_normal((300, SMALL["channels"]))
    records = list(stream_forecasts(model, values, every=100))
    assert [r.step for r in records] == [100, 200, 300]
    assert len({r.state_bytes for r in records}) == 1
    assert all(np.isfinite(r.mse) and np.isfinite(r.mse_repeat_last) for r in records)
    with pytest.raises(ValueError, match="no step"):
        next(stream_forecasts(torch.nn.Linear(3, 3), values))


@pytest.mark.parametrize("layer", ["aaren", "attention"])
@pytest.mark.parametrize("prefix", [1, 2, 17])
def test_prefill_then_step_equals_forward(layer, prefix):
    model = small(layer).double().eval()
    x = torch.randn(2, prefix + 5, SMALL["channels"], dtype=torch.float64)
    with torch.no_grad():
        forecast, state = model.prefill(x[:, :prefix])
        torch.testing.assert_close(forecast, model(x[:, :prefix]))
        for t in range(prefix, x.shape[1]):
            forecast, state = model.step(x[:, t], state)
        torch.testing.assert_close(forecast, model(x), rtol=1e-6, atol=1e-6)


TINY_RUN = [
    "--data.n_train",
    "400",
    "--data.n_val",
    "160",
    "--data.n_test",
    "400",
    "--model.model_kwargs.d_model",
    "8",
    "--trainer.max_steps",
    "3",
    "--trainer.limit_val_batches",
    "1",
]


def test_cli_fit_then_predict_streams_with_flat_state_bytes(runs_dir, capsys):
    from recur_core.engine import run_cli

    fit = run_cli("timeseries", ["fit", "--config", "aaren/generated", *TINY_RUN])
    ckpt = fit.run_dir / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    capsys.readouterr()
    run_cli(
        "timeseries",
        [
            "predict",
            "--config",
            "aaren/generated",
            *TINY_RUN,
            "--trainer.callbacks.every",
            "100",
            "--ckpt_path",
            str(ckpt),
        ],
    )
    out = capsys.readouterr().out
    assert "stream  AarenForecaster (aaren)" in out
    lines = [line.split() for line in out.splitlines() if line.strip() and line.split()[0].isdigit()]
    assert [int(cells[0]) for cells in lines] == [100, 200, 300, 400, 496]
    assert len({cells[1] for cells in lines}) == 1  # state bytes the same at every T
