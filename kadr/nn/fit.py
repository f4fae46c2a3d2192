"""``fit``: train a KAN on (x, y) with the KAN paper's recipe (Liu et al. 2024, §2.4 and the
"hello KAN" notes): start with a small grid and no regularisation, then extend the grid
(``grid_schedule``), refitting the splines by least squares at each extension so the function
is kept, and keep training. LBFGS (strong-Wolfe line search) by default, Adam as an option.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Callable, Sequence

import torch
from torch import nn

from kadr.errors import InputError, ShapeError
from kadr.nn.kan import KAN, KANLinear

OPTIMIZERS = ("lbfgs", "adam", "lm")


def _prepare(model: nn.Module, x, y, name: str):
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise InputError(f"{name}: x and y must be torch tensors")
    param = next(model.parameters())
    x = x.to(param.dtype)
    y = y.to(param.dtype)
    if y.ndim == 1:
        y = y.unsqueeze(-1)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ShapeError(f"{name}: x must be (N, in) and y (N, out) with the same N, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise InputError(f"{name}: x and y must be finite (found NaN or inf); clean the data first")
    return x, y


def _kan_layers(model: nn.Module) -> list[KANLinear]:
    return [m for m in model.modules() if isinstance(m, KANLinear)]


def _rmse(model, x, y) -> float:
    with torch.no_grad():
        return float(torch.sqrt(torch.mean((model(x) - y) ** 2)))


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, steps: int = 200, optimizer: str = "lbfgs",
        grid_schedule: Sequence[int] | None = None, lamb: float = 0.0, x_test: torch.Tensor | None = None,
        y_test: torch.Tensor | None = None, lr: float | None = None, lamb_l1: float = 1.0,
        lamb_entropy: float = 1.0, update_grid: bool = True, grid_update_every: int = 10,
        grid_update_until: int = 50, grid_eps: float = 1.0, grid_margin: float = 0.01,
        batch_size: int | None = None, max_time: float | None = None, val_split: float = 0.0,
        callback: Callable[[dict], None] | None = None) -> dict:
    """Train ``model`` (a :class:`KAN`, or any module whose grids should follow the data) in place.

    x (N, in), y (N, out) or (N,); the loss is the mean squared error plus
    ``lamb · (lamb_l1 · Σ|Φ|_1 + lamb_entropy · Σ S(Φ))`` when lamb > 0 (paper eq. 2.20).

    ``grid_schedule``: grid sizes to visit in order, e.g. [3, 5, 10, 20, 50]; ``steps`` optimiser
    steps are run on each (the model is first moved to the first size if it differs). At each
    size the grids follow the activations every ``grid_update_every`` steps during the first
    ``grid_update_until`` steps (``update_grid``; ``grid_eps`` = 1 keeps them uniform, which keeps
    the fast cubic path; 0.02 is the paper's quantile grid).

    ``optimizer``: "lbfgs" (lr 1, history 10, strong Wolfe, one ``step`` = up to 20 function
    evaluations, as in pykan), "adam" (lr 1e-2 unless given) or "lm" (Levenberg–Marquardt on the
    exact per-sample Jacobian of a :class:`KAN`, one step = one accepted damped Gauss–Newton
    update of coef, base_weight and bias; spline_scale is held fixed. For small KANs and
    accuracy targets near machine precision: use float64; lamb must be 0). ``batch_size`` samples a
    mini-batch per step (default: the whole set). ``max_time`` (seconds) stops early.

    ``val_split`` (0 ≤ v < 1): hold this fraction of (x, y) out of training and grid updates; at the
    end the model is put back to the grid size whose stage ended with the lowest validation RMSE
    (the recipe's "if it overfits, shrink the grid"). ``x_test``/``y_test`` are only reported.

    Returns the history: {"step", "grid_size", "train_rmse", "val_rmse", "test_rmse" (None without
    that set), "loss", "time_s"} lists with one entry per step, plus "extend_deviation" (max output
    change of each grid extension on x), "best_grid_size", "final_train_rmse", "final_test_rmse",
    "seconds".
    """
    optimizer = str(optimizer).lower()
    if optimizer not in OPTIMIZERS:
        raise InputError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {optimizer!r}")
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise InputError(f"steps must be a positive integer, got {steps!r}")
    if not math.isfinite(float(lamb)) or lamb < 0:
        raise InputError(f"lamb must be a finite number >= 0, got {lamb!r}")
    if not isinstance(model, nn.Module) or not list(model.parameters()):
        raise InputError("model must be a torch module with parameters (e.g. kadr.nn.KAN([2, 5, 1]))")
    x, y = _prepare(model, x, y, "fit")
    if not 0 <= float(val_split) < 1:
        raise InputError(f"val_split must be in [0, 1), got {val_split!r}")
    x_val = y_val = None
    if val_split > 0:
        n_val = int(round(x.shape[0] * float(val_split)))
        if n_val < 1 or n_val >= x.shape[0] - 1:
            raise InputError(f"val_split {val_split} leaves no training or no validation rows of {x.shape[0]}")
        perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
        x_val, y_val = x[perm[:n_val]], y[perm[:n_val]]
        x, y = x[perm[n_val:]], y[perm[n_val:]]
    has_test = x_test is not None or y_test is not None
    if has_test:
        if x_test is None or y_test is None:
            raise InputError("fit: give both x_test and y_test, or neither")
        x_test, y_test = _prepare(model, x_test, y_test, "fit (test set)")
    if lamb > 0 and not isinstance(model, KAN):
        raise InputError("fit: lamb > 0 needs a kadr.nn.KAN (its regularization sums over the layers)")
    if optimizer == "lm" and (not isinstance(model, KAN) or lamb > 0 or batch_size):
        raise InputError("optimizer='lm' needs a kadr.nn.KAN, lamb=0 and full batches")
    layers = _kan_layers(model)
    schedule = [int(g) for g in grid_schedule] if grid_schedule else [None]
    if layers and any(g is not None and g < layers[0].spline_order for g in schedule):
        raise InputError(f"grid_schedule sizes must be >= spline_order ({layers[0].spline_order}), got {schedule}")
    hist: dict = {"step": [], "grid_size": [], "train_rmse": [], "val_rmse": [], "test_rmse": [], "loss": [],
                  "time_s": [], "extend_deviation": []}
    best: tuple[float, int | None, dict] | None = None
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(0)
    step_no = 0
    for g in schedule:
        if g is not None and layers and g != layers[0].grid_size:
            hist["extend_deviation"].append(_extend(model, layers, g, x))
        opt = _optimizer(model, optimizer, lr)
        for s in range(int(steps)):
            if update_grid and layers and s % grid_update_every == 0 and s < grid_update_until:
                _update(model, layers, x, grid_eps, grid_margin)
                opt = _optimizer(model, optimizer, lr)  # coef tensors were replaced
            if batch_size and batch_size < x.shape[0]:
                idx = torch.randint(0, x.shape[0], (int(batch_size),), generator=gen)
                xb, yb = x[idx], y[idx]
            else:
                xb, yb = x, y

            def closure():
                opt.zero_grad()
                if lamb > 0:
                    pred, reg = model.regularization(xb, l1=lamb_l1, entropy=lamb_entropy)
                    loss = torch.mean((pred - yb) ** 2) + lamb * reg
                else:
                    loss = torch.mean((model(xb) - yb) ** 2)
                loss.backward()
                return loss

            loss = opt.step(xb, yb) if optimizer == "lm" else opt.step(closure)
            step_no += 1
            hist["step"].append(step_no)
            hist["grid_size"].append(layers[0].grid_size if layers else None)
            hist["loss"].append(float(loss.detach()))
            hist["train_rmse"].append(_rmse(model, x, y))
            hist["val_rmse"].append(_rmse(model, x_val, y_val) if x_val is not None else None)
            hist["test_rmse"].append(_rmse(model, x_test, y_test) if has_test else None)
            hist["time_s"].append(time.perf_counter() - t0)
            if callback is not None:
                callback({k: v[-1] for k, v in hist.items() if isinstance(v, list) and v})
            if not math.isfinite(hist["loss"][-1]):
                raise InputError("fit diverged (loss is not finite); lower lr, use Adam, or a smaller grid")
            if max_time is not None and hist["time_s"][-1] > max_time:
                break
        if x_val is not None and hist["val_rmse"]:
            v = hist["val_rmse"][-1]
            if best is None or v < best[0]:
                best = (v, hist["grid_size"][-1], copy.deepcopy(model.state_dict()))
        if max_time is not None and hist["time_s"] and hist["time_s"][-1] > max_time:
            break
    if best is not None and best[1] != (layers[0].grid_size if layers else None):
        model.load_state_dict(best[2])
    hist["best_grid_size"] = best[1] if best is not None else (layers[0].grid_size if layers else None)
    hist["final_train_rmse"] = _rmse(model, x, y)
    hist["final_test_rmse"] = _rmse(model, x_test, y_test) if has_test else None
    hist["seconds"] = time.perf_counter() - t0
    return hist


def _optimizer(model, name: str, lr):
    params = [p for p in model.parameters() if p.requires_grad]
    if name == "lbfgs":
        return torch.optim.LBFGS(params, lr=lr or 1.0, history_size=10, max_iter=20,
                                 line_search_fn="strong_wolfe", tolerance_grad=1e-32, tolerance_change=1e-32)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr or 1e-2)
    return LevenbergMarquardt(model)


class LevenbergMarquardt:
    """Levenberg–Marquardt (Marquardt 1963) for a :class:`KAN` with the squared-error loss.

    The Jacobian of the outputs with respect to each layer's coef, base_weight and bias is
    exact and built from the KAN's structure: for layer l with inputs h and outputs z,
    ∂y_n/∂c_oim = δ_no · w_s,oi · B_m(h_ni) with δ_no = ∂y_n/∂z_no (one backward pass per
    model output, since samples do not interact), and likewise for the base and bias terms.
    Each step solves (JᵀJ + λ·(diag(JᵀJ) + ε)) Δ = −Jᵀr and keeps Δ only if the loss falls
    (λ ÷ 3), else retries with λ × 4.
    """

    def __init__(self, model: KAN, damping: float = 1e-3):
        self.model = model
        self.damping = damping

    def _tensors(self):
        out = []
        for layer in self.model.layers:
            out += [layer.coef, layer.base_weight] + ([layer.bias] if layer.bias is not None else [])
        return out

    def _jacobian(self, x):
        model = self.model
        hs, zs, h = [], [], x
        for layer in model.layers:
            hs.append(h)
            h = layer(h)
            zs.append(h)
        y = h
        n, p_out = y.shape
        blocks = []
        for j in range(p_out):
            deltas = torch.autograd.grad(y[:, j].sum(), zs, retain_graph=j < p_out - 1)
            cols = []
            for layer, hin, d in zip(model.layers, hs, deltas):
                with torch.no_grad():
                    feats = layer.basis_features(hin)
                    ws = layer.spline_scale * layer.mask
                    cols.append(torch.einsum("no,oi,nik->noik", d, ws, feats).reshape(n, -1))
                    cols.append((d.unsqueeze(-1) * layer.mask * torch.nn.functional.silu(hin).unsqueeze(1)).reshape(n, -1))
                    if layer.bias is not None:
                        cols.append(d)
            blocks.append(torch.cat(cols, 1))
        return y.detach(), torch.stack(blocks, 1).reshape(n * p_out, -1)  # rows: (sample, output)

    @torch.no_grad()
    def _assign(self, vec):
        i = 0
        for t in self._tensors():
            t.copy_(vec[i:i + t.numel()].view_as(t))
            i += t.numel()

    def _loss(self, x, y) -> float:
        with torch.no_grad():
            return float(torch.mean((self.model(x) - y) ** 2))

    def step(self, x, y) -> torch.Tensor:
        pred, jac = self._jacobian(x)
        r = (pred - y).reshape(-1)
        base = float(torch.mean(r * r))
        with torch.no_grad():
            theta = torch.cat([t.detach().reshape(-1) for t in self._tensors()])
            a = jac.t() @ jac
            g = jac.t() @ r
            diag = a.diagonal().clone()
            eps = 1e-12 * float(diag.max()) + 1e-300
            while self.damping < 1e12:
                lhs = a.clone()
                lhs.diagonal().add_(self.damping * (diag + eps))
                try:
                    delta = torch.linalg.solve(lhs, -g)
                except RuntimeError:  # singular even with damping: damp more
                    self.damping *= 4
                    continue
                self._assign(theta + delta)
                new = self._loss(x, y)
                if math.isfinite(new) and new < base:
                    self.damping = max(self.damping / 3, 1e-15)
                    return torch.tensor(new)
                self.damping *= 4
            self._assign(theta)  # no decrease found: converged to this precision
            self.damping = 1.0
            return torch.tensor(base)


def _extend(model, layers, g, x) -> float:
    if isinstance(model, KAN):
        return model.extend_grid(g, x)
    if len(layers) == 1 and model is layers[0]:
        return layers[0].extend_grid(g, x)
    raise InputError("grid_schedule needs a kadr.nn.KAN or a single KANLinear")


def _update(model, layers, x, grid_eps, margin) -> None:
    if isinstance(model, KAN):
        model.update_grid(x, grid_eps=grid_eps, margin=margin)
    elif len(layers) == 1 and model is layers[0]:
        layers[0].update_grid(x, grid_eps=grid_eps, margin=margin)
