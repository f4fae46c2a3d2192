"""kadr.nn.fit on small cases (the 4-seed accuracy goal lives in benchmarks/nn.py)."""

from __future__ import annotations

import math

import pytest
import torch

from kadr.errors import InputError, ShapeError
from kadr.nn import KAN, KANLinear, fit


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=g, dtype=torch.float64) * 2 - 1
    return x, torch.sin(math.pi * x[:, :1]) + x[:, 1:] ** 2  # a [2, 1] additive function


def test_lbfgs_with_grid_extension_fits_an_additive_function():
    torch.manual_seed(0)
    model = KAN([2, 1], grid_size=3).double()
    x, y = _data(300, 0)
    xt, yt = _data(300, 1)  # held out
    hist = fit(model, x, y, steps=8, grid_schedule=[3, 10], x_test=xt, y_test=yt)
    assert model.grid_size == 10
    assert hist["grid_size"][0] == 3 and hist["grid_size"][-1] == 10
    assert len(hist["train_rmse"]) == len(hist["test_rmse"]) == 16
    assert len(hist["extend_deviation"]) == 1
    # cubic spline on 10 cells: approximation error of sin(πx) ~ (π·0.2)⁴/384 ≈ 4e-4
    assert hist["final_test_rmse"] < 2e-3
    assert hist["final_test_rmse"] < hist["test_rmse"][7]  # the extension helped


def test_adam_and_regularisation_path():
    torch.manual_seed(0)
    model = KAN([2, 3, 1], grid_size=5)
    x, y = _data(256, 2)
    hist = fit(model, x.float(), y.float(), steps=60, optimizer="adam", lr=3e-2, lamb=1e-3, batch_size=128)
    assert hist["test_rmse"][-1] is None and hist["final_test_rmse"] is None
    assert hist["train_rmse"][-1] < 0.5 * hist["train_rmse"][0]


def test_fit_keeps_grids_on_the_activations():
    torch.manual_seed(0)
    layer = KANLinear(1, 1, grid_size=5)
    x = torch.rand(200, 1) * 6 - 3  # outside the initial range [-1, 1]
    fit(layer, x, torch.tanh(x), steps=3)
    assert float(layer.grid[0, 3]) < -2.9 and float(layer.grid[0, -4]) > 2.9 and layer.fast


def test_bad_input():
    model = KAN([2, 1])
    x, y = _data(10, 0)
    with pytest.raises(InputError, match="lbfgs, adam"):
        fit(model, x, y, optimizer="sgd")
    with pytest.raises(ShapeError):
        fit(model, x, y[:5])
    with pytest.raises(InputError, match="finite"):
        fit(model, x, torch.full_like(y, math.nan))
    with pytest.raises(InputError, match="grid_schedule"):
        fit(model, x, y, grid_schedule=[2, 5])
    with pytest.raises(InputError, match="x_test"):
        fit(model, x, y, x_test=x)


def test_val_split_keeps_the_best_grid():
    torch.manual_seed(0)
    model = KAN([2, 1], grid_size=3).double()
    x, y = _data(60, 3)
    y = y + torch.randn(y.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 0.05  # noise
    hist = fit(model, x, y, steps=6, grid_schedule=[3, 6, 40], val_split=0.3)
    assert len(hist["val_rmse"]) == 18 and None not in hist["val_rmse"]
    ends = {g: v for g, v in zip(hist["grid_size"], hist["val_rmse"])}  # last value per grid
    assert hist["best_grid_size"] == min(ends, key=ends.get)
    assert model.grid_size == hist["best_grid_size"]
    with pytest.raises(InputError, match="val_split"):
        fit(model, x, y, val_split=1.5)
