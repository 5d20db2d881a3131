import math

import pytest
import torch
import yaml

from recur_core import get_model, list_models
from recur_core.recipes import find_recipe
from recur_core.testing import check_model
from recur_timeseries.models import TPGN, ChannelLinear


def test_registered_under_timeseries_with_defaults():
    assert "tpgn" in list_models("timeseries")
    model = get_model("tpgn")
    assert isinstance(model, TPGN)
    assert (model.input_len, model.horizon, model.channels, model.period) == (96, 96, 7, 24)
    assert model.layers[0].layer_name == "pgn" and model.layers[0].max_len == model.rows


@pytest.mark.parametrize(
    ("input_len", "horizon", "channels"), [(96, 96, 7), (168, 168, 1), (336, 720, 3), (24, 48, 2), (168, 1440, 1)]
)
@pytest.mark.parametrize("share_layer", [False, True])
def test_shapes(input_len, horizon, channels, share_layer):
    model = get_model("tpgn", input_len=input_len, horizon=horizon, channels=channels, share_layer=share_layer)
    assert model.rows == input_len // 24 and model.pred_rows == horizon // 24
    assert model(torch.randn(3, input_len, channels)).shape == (3, horizon, channels)


@pytest.mark.parametrize("kwargs", [{}, {"norm": True}, {"share_layer": True}, {"d_model": 2, "channels": 1}])
def test_check_model(kwargs):
    check_model(get_model("tpgn", input_len=48, horizon=24, **kwargs))


@pytest.mark.parametrize(("layer", "layer_kwargs"), [("gru", None), ("lstm", None), ("gla", {"num_heads": 2})])
def test_layer_is_swappable(layer, layer_kwargs):
    model = get_model("tpgn", input_len=72, horizon=48, channels=2, layer=layer, layer_kwargs=layer_kwargs)
    assert all(lyr.layer_name == layer for lyr in model.layers) and len(model.layers) == 2
    assert model(torch.randn(2, 72, 2)).shape == (2, 48, 2)
    check_model(model)


def test_layer_kwargs_reach_the_layer():
    model = get_model("tpgn", input_len=96, layer_kwargs={"max_len": 2})
    assert model.layers[0].max_len == 2


def test_channel_linear_is_one_linear_per_channel():
    layer = ChannelLinear(3, 5, 4)
    x = torch.randn(2, 6, 3, 5)
    for c in range(3):
        expected = torch.nn.functional.linear(x[:, :, c], layer.weight[c], layer.bias[c])
        torch.testing.assert_close(layer(x)[:, :, c], expected)


def _reference(model: TPGN, x: torch.Tensor) -> torch.Tensor:
    """TPGN written the slow way: every channel and every column on its own, the official code's layout."""
    b, r, p, d = x.shape[0], model.rows, model.period, model.d_model
    out = torch.empty(b, model.horizon, model.channels)
    for c in range(model.channels):
        series = x[:, :, c]
        if model.norm:
            mean = series.mean(1, keepdim=True)
            std = torch.sqrt(((series - mean) ** 2).mean(1, keepdim=True) + 1e-5)
            series = (series - mean) / std
        grid = series.reshape(b, r, p)  # grid[:, i, j] = series[:, i * p + j]
        layer = model.layers[0 if model.share_layer else c]
        row = grid @ model.linear_row.weight[c].T + model.linear_row.bias[c]  # [B, R, d]
        short = row.reshape(b, r * d) @ model.linear_col.weight[c].T + model.linear_col.bias[c]
        for j in range(p):
            hidden, _ = layer(grid[:, :, j, None] * model.embed[c])  # the column's R values, [B, R, d]
            long = hidden.reshape(b, r * d) @ model.linear_long.weight[c].T + model.linear_long.bias[c]
            column = torch.cat([short, long], -1) @ model.linear_out.weight[c].T + model.linear_out.bias[c]
            if model.norm:
                column = column * std + mean
            out[:, j::p, c] = column  # future row k, phase j is step k * p + j
    return out


@pytest.mark.parametrize("kwargs", [{}, {"norm": True}, {"share_layer": True}, {"layer": "gru"}])
def test_matches_the_per_column_reference(kwargs):
    torch.manual_seed(0)
    model = TPGN(input_len=72, horizon=48, channels=3, d_model=4, **kwargs)
    x = torch.randn(2, 72, 3)
    torch.testing.assert_close(model(x), _reference(model, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("share_layer", [False, True])
def test_channels_are_independent(share_layer):
    # the official model's convolutions all use groups = channels, so no channel reads another
    torch.manual_seed(0)
    model = TPGN(input_len=96, horizon=48, channels=3, norm=True, share_layer=share_layer)
    x = torch.randn(2, 96, 3)
    changed = x.clone()
    changed[:, :, 0] = torch.randn(2, 96) * 5
    before, after = model(x), model(changed)
    torch.testing.assert_close(after[..., 1:], before[..., 1:])
    assert (after[..., 0] - before[..., 0]).abs().max() > 1e-3


def test_separate_layers_are_per_channel_weights():
    model = TPGN(input_len=48, horizon=24, channels=2)
    assert model.layers[0].hie_weight.data_ptr() != model.layers[1].hie_weight.data_ptr()
    assert not torch.equal(model.layers[0].hie_weight, model.layers[1].hie_weight)


def test_instance_norm_makes_the_forecast_shift_equivariant():
    torch.manual_seed(0)
    x = torch.randn(4, 96, 2, dtype=torch.float64)
    shift = torch.tensor([3.0, -7.0], dtype=torch.float64)
    normed = TPGN(input_len=96, horizon=48, channels=2, norm=True).double()
    torch.testing.assert_close(normed(x + shift), normed(x) + shift)
    plain = TPGN(input_len=96, horizon=48, channels=2, norm=False).double()
    assert (plain(x + shift) - plain(x) - shift).abs().max() > 1e-2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_len": 100}, r"input_len divisible by period: got input_len=100, period=24"),
        ({"horizon": 30, "period": 12}, r"horizon divisible by period: got horizon=30, period=12"),
        ({"channels": 0}, r"channels must be a positive integer"),
        ({"d_model": 0}, r"d_model and period must be positive"),
    ],
)
def test_bad_options_are_one_line_errors(kwargs, match):
    with pytest.raises(ValueError, match=match) as info:
        get_model("tpgn", **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("shape", [(2, 95, 7), (2, 96, 6), (96, 7)])
def test_rejects_wrong_input_shape(shape):
    with pytest.raises(ValueError, match=r"TPGN expects x \[B, input_len, channels\] = \[B, 96, 7\]"):
        get_model("tpgn")(torch.randn(*shape))


def test_learns_a_periodic_series_better_than_repeat_last():
    torch.manual_seed(0)
    steps, input_len, horizon = 1200, 96, 48
    t = torch.arange(steps, dtype=torch.float32)
    series = torch.stack(
        [torch.sin(2 * math.pi * t / 24) + 0.5 * torch.sin(2 * math.pi * t / 12), torch.cos(2 * math.pi * t / 24)], -1
    )
    series = series + 0.1 * torch.randn_like(series)
    windows = series.unfold(0, input_len + horizon, 1).transpose(1, 2)  # [N, L + H, C]
    inputs, targets = windows[:, :input_len], windows[:, input_len:]
    model = TPGN(input_len=input_len, horizon=horizon, channels=2, d_model=4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        batch = torch.randint(0, len(inputs), (32,))
        loss = torch.nn.functional.mse_loss(model(inputs[batch]), targets[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        mse = torch.nn.functional.mse_loss(model(inputs), targets).item()
    repeat_last = torch.nn.functional.mse_loss(inputs[:, -1:].expand_as(targets), targets).item()
    assert mse < 0.1 * repeat_last, (mse, repeat_last)


@pytest.mark.parametrize("recipe", ["etth1_96", "etth1_168", "etth1_336", "ettm1_96", "generated"])
def test_recipes_build_a_model_that_matches_their_data(recipe):
    _, path = find_recipe(f"tpgn/{recipe}", member="timeseries")
    text = path.read_text()
    assert text.startswith(f"# recur-timeseries fit --config tpgn/{recipe}\n")
    config = yaml.safe_load(text)
    task, data = config["model"]["init_args"], config["data"]["init_args"]
    assert task["model"] == "tpgn" and task["model_kwargs"]["period"] == 24
    channels = 1 if data.get("features") == "S" else data.get("channels", 7)
    assert (task["input_len"], task["horizon"], task["channels"]) == (data["input_len"], data["horizon"], channels)
    model = get_model(
        "tpgn", input_len=task["input_len"], horizon=task["horizon"], channels=channels, **task["model_kwargs"]
    )
    assert model(torch.randn(2, task["input_len"], channels)).shape == (2, task["horizon"], channels)
