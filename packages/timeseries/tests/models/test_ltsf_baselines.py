import pytest
import torch

from recur_core.registry import get_model, list_models
from recur_core.testing import check_model
from recur_timeseries.data import ForecastWindows, generate_multiseasonal
from recur_timeseries.models import (
    DLinear,
    LeastSquaresForecaster,
    LinearForecaster,
    forecast_baselines,
    forecast_repeat_last,
    forecast_seasonal_naive,
    moving_average,
)


@pytest.mark.parametrize("name", list_models("timeseries"))
def test_every_registered_model_builds_with_no_arguments_and_trains(name):
    check_model(get_model(name))


@pytest.mark.parametrize("layer", ["lstm", "gla", "gru"])
def test_seq2seq_runs_with_core_layers(layer):
    model = get_model("seq2seq", layer=layer, d_model=16, input_len=24, horizon=6, channels=3)
    check_model(model)
    assert model(torch.randn(4, 24, 3)).shape == (4, 6, 3)


def test_seq2seq_forecasts_relative_to_the_last_row():
    model = get_model("seq2seq", input_len=12, horizon=4, channels=2, d_model=8)
    x = torch.randn(3, 12, 2)
    shift = torch.tensor([5.0, -2.0])
    # the encoder sees x - x_L, so shifting a whole window shifts its forecast by the same amount
    torch.testing.assert_close(model(x + shift), model(x) + shift, atol=1e-5, rtol=0)


def test_linear_is_one_map_along_time_shared_across_channels():
    model = LinearForecaster(input_len=5, horizon=3, channels=4)
    x = torch.randn(2, 5, 4)
    expected = torch.einsum("blc,hl->bhc", x, model.proj.weight[0]) + model.proj.bias[0][:, None]
    torch.testing.assert_close(model(x), expected)
    single = model(x[:, :, :1].expand(-1, -1, 4))
    torch.testing.assert_close(single[..., 0], single[..., 3])
    individual = LinearForecaster(input_len=5, horizon=3, channels=4, individual=True)
    assert individual.proj.weight.shape == (4, 3, 5)


def test_moving_average_pads_by_repeating_the_ends():
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0, 10.0]])[..., None]
    trend = moving_average(x, 3)[0, :, 0]
    torch.testing.assert_close(trend, torch.tensor([4 / 3, 2.0, 3.0, 17 / 3, 8.0]))
    with pytest.raises(ValueError, match="kernel_size must be an odd"):
        DLinear(kernel_size=24)


def test_dlinear_is_the_sum_of_two_linears_on_trend_and_remainder():
    model = DLinear(input_len=30, horizon=5, channels=2, kernel_size=5)
    x = torch.randn(3, 30, 2)
    trend = moving_average(x, 5)
    torch.testing.assert_close(model(x), model.seasonal(x - trend) + model.trend(trend))
    # with equal weights the decomposition cancels: DLinear is then one linear map of the window
    model.trend.load_state_dict(model.seasonal.state_dict())
    bias = model.seasonal.bias[0][:, None]
    torch.testing.assert_close(model(x), model.seasonal(x) + bias, atol=1e-5, rtol=0)


def test_naive_forecasts_by_hand():
    x = torch.arange(12.0).reshape(1, 6, 2)  # rows (0,1), (2,3), ..., (10,11)
    torch.testing.assert_close(forecast_repeat_last(x, 3), torch.tensor([[[10.0, 11.0]] * 3]))
    # period 2: the last two rows repeated
    torch.testing.assert_close(forecast_seasonal_naive(x, 2, 3)[0, :, 0], torch.tensor([8.0, 10.0, 8.0]))
    with pytest.raises(ValueError, match="period 7 needs windows of at least 7 rows"):
        forecast_seasonal_naive(x, 7, 3)


def test_least_squares_is_the_optimum_a_trained_linear_reaches():
    values = generate_multiseasonal(1200, channels=3, seed=0)
    values = (values - values.mean(0)) / values.std(0)
    train = ForecastWindows(values[:900], input_len=24, horizon=8, period=24)
    test = ForecastWindows(values[900:], input_len=24, horizon=8, period=24)
    fitted = LeastSquaresForecaster.fit(train.inputs, train.targets, chunk=100)
    # chunked normal equations equal one least-squares solve on the stacked design
    design = torch.cat([train.inputs.double().transpose(1, 2).reshape(-1, 24), torch.ones(len(train) * 3, 1)], 1)
    solution = torch.linalg.lstsq(design, train.targets.double().transpose(1, 2).reshape(-1, 8)).solution
    torch.testing.assert_close(fitted.weight, solution[:24], atol=1e-6, rtol=1e-6)
    # a shared Linear trained by Adam on the same windows comes close to it, never below it on train
    model = LinearForecaster(input_len=24, horizon=8, channels=3)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(300):
        optimizer.zero_grad()
        loss = (model(train.inputs) - train.targets).square().mean()
        loss.backward()
        optimizer.step()
    optimum = float((fitted.predict(train.inputs) - train.targets.double()).square().mean())
    assert optimum <= float(loss) + 1e-6
    assert float(loss) < 1.1 * optimum
    baselines = forecast_baselines(train, test)
    assert {"repeat_last", "seasonal_naive", "least_squares"} <= set(baselines)
    errors = {k: float((f(test.inputs) - test.targets.double()).square().mean()) for k, f in baselines.items()}
    assert errors["least_squares"] < errors["seasonal_naive"] < errors["repeat_last"]
