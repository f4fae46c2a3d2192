"""kadr.nn: KAN layer speed against the published KAN variants, function fitting against pykan,
loss and recurrent-cell throughput.

Run: ``.venv/bin/python benchmarks/nn.py [--quick] [--pykan-steps N]``. Writes
benchmarks/results/nn.md. Needs ``pip install pykan==0.2.8 matplotlib scikit-learn sympy pyyaml tqdm``
for the pykan rows (they are marked "not installed" otherwise).

Speed protocol (issue 12): 64→64 layer, grid 5, cubic, batch 1024, forward + backward with the
input gradient, 1 torch thread, one process, the layers timed interleaved (best of the rounds).
efficient-kan, FastKAN and ChebyKAN are not on PyPI: their rows are transcriptions of their
forward maths written here (efficient-kan: Cox–de Boor on an extended grid then one GEMM;
FastKAN: 8 Gaussian RBFs + SiLU base; ChebyKAN: tanh then the Chebyshev recursion, degree 7).

Fitting protocol: f(x, y) = exp(sin(πx) + y²) on [−1, 1]², a [2, 5, 1] KAN, 4000 training
and 1000 test points drawn per seed (kadr trains on 80 % of the 4000 and uses 20 % to pick the
final grid size; pykan trains on all 4000), grid 3 → 5 → 10 → 20 → 50, float64. Goal: test RMSE
≤ 1e-5 in 4 of 4 seeds, each ≤ 60 s. pykan runs its own recipe (LBFGS, refine) on the same
data in the same run.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from _common import machine_line, markdown_table, write_result  # noqa: E402

SCHEDULE = [3, 5, 10, 20, 50]
#: kadr holds 20 % of the training points out to choose the final grid size (fit(val_split=...))
VAL_SPLIT = 0.2


# ----------------------------------------------------------------------------- speed
def _eff_kan_layer(i, o, g=5, k=3):
    h = 2 / g
    grid = (torch.arange(-k, g + k + 1) * h - 1).expand(i, -1).contiguous()
    wb = torch.randn(o, i, requires_grad=True)
    ws = torch.randn(o, i, g + k, requires_grad=True)
    sc = torch.randn(o, i, requires_grad=True)

    def fwd(x):
        xe = x.unsqueeze(-1)
        b = ((xe >= grid[:, :-1]) & (xe < grid[:, 1:])).to(x.dtype)
        for p in range(1, k + 1):
            b = ((xe - grid[:, :-(p + 1)]) / (grid[:, p:-1] - grid[:, :-(p + 1)]) * b[..., :-1]
                 + (grid[:, p + 1:] - xe) / (grid[:, p + 1:] - grid[:, 1:-p]) * b[..., 1:])
        return F.linear(F.silu(x), wb) + F.linear(b.reshape(x.shape[0], -1), (ws * sc.unsqueeze(-1)).reshape(o, -1))
    return fwd


def _fastkan_layer(i, o, n=8):
    c = torch.linspace(-2, 2, n)
    h = (c[1] - c[0])
    ws = torch.randn(o, i * n, requires_grad=True)
    wb = torch.randn(o, i, requires_grad=True)

    def fwd(x):
        phi = torch.exp(-((x.unsqueeze(-1) - c) / h) ** 2)
        return F.linear(phi.reshape(x.shape[0], -1), ws) + F.linear(F.silu(x), wb)
    return fwd


def _chebykan_layer(i, o, degree=7):
    coef = torch.randn(i, o, degree + 1, requires_grad=True)

    def fwd(x):
        t = torch.tanh(x)
        ts = [torch.ones_like(t), t]
        for _ in range(2, degree + 1):
            ts.append(2 * t * ts[-1] - ts[-2])
        return torch.einsum("bid,iod->bo", torch.stack(ts, -1), coef)
    return fwd


def bench_speed(rounds: int) -> tuple[list, str]:
    from kadr.nn import KANLinear

    torch.set_num_threads(1)
    torch.manual_seed(0)
    n, d = 1024, 64
    mlp = torch.nn.Linear(d, d)
    layers = {
        "MLP (Linear + SiLU)": lambda x: F.silu(mlp(x)),
        "efficient-kan KANLinear maths (Cox–de Boor, transcribed)": _eff_kan_layer(d, d),
        "FastKAN maths, 8 Gaussian RBF (transcribed)": _fastkan_layer(d, d),
        "ChebyKAN maths, degree 7 (transcribed)": _chebykan_layer(d, d),
    }
    try:
        from kan.KANLayer import KANLayer  # pykan

        pk = KANLayer(in_dim=d, out_dim=d, num=5, k=3)
        layers["pykan 0.2.8 KANLayer"] = lambda x: pk(x)[0]
    except ImportError:
        pass
    from kadr.nn import _native

    for basis in ("bspline", "rbf", "chebyshev", "bernstein"):
        layer = KANLinear(d, d, grid_size=5, basis=basis)
        if layer.fast:
            pure = KANLinear(d, d, grid_size=5, basis=basis)
            pure.native = False
            layers["kadr KANLinear bspline, closed-form cubic, pure torch"] = pure
            name = ("kadr KANLinear bspline, compiled 4-active-basis kernel" if _native.library() is not None
                    else f"kadr KANLinear bspline (compiled kernel unavailable: {_native.reason})")
        else:
            name = f"kadr KANLinear basis={basis}"
        layers[name] = layer
    x = (torch.rand(n, d) * 2 - 1).requires_grad_()

    def step(fn):
        y = fn(x)
        y.backward(torch.ones_like(y))

    mlp_name = "MLP (Linear + SiLU)"
    best = {k: float("inf") for k in layers}
    ratios: dict[str, list[float]] = {k: [] for k in layers}

    def timed(k, fn) -> float:
        reps = 2 if "pykan" in k or "efficient" in k else 10
        t0 = time.perf_counter()
        for _ in range(reps):
            step(fn)
        ms = (time.perf_counter() - t0) / reps * 1e3
        best[k] = min(best[k], ms)
        return ms

    for fn in layers.values():  # warm-up (and the compiled kernel's one-off build)
        for _ in range(3):
            step(fn)
    for _ in range(rounds):
        for k, fn in layers.items():  # MLP and layer alternated: a load burst hits both alike
            if k == mlp_name:
                timed(k, fn)
                ratios[k].append(1.0)
                continue
            ms_m, ms_l = [], []
            for _ in range(3):
                ms_m.append(timed(mlp_name, layers[mlp_name]))
                ms_l.append(timed(k, fn))
            ratios[k].append(min(ms_l) / min(ms_m))
    rows = [[k, round(best[k], 3), round(float(np.median(ratios[k])), 1), round(best[k] / best[mlp_name], 1)]
            for k in layers]
    return rows, markdown_table(["layer (64→64, grid 5, batch 1024, fwd+bwd, 1 thread)", "best ms",
                                 "× MLP (median over rounds of alternated timings)", "× MLP (best / best)"], rows)


# ----------------------------------------------------------------------------- fitting
def target(x):
    return torch.exp(torch.sin(math.pi * x[:, :1]) + x[:, 1:] ** 2)


def data(seed: int, n_train: int = 4000, n_test: int = 1000):
    g = torch.Generator().manual_seed(1000 + seed)
    xtr = torch.rand(n_train, 2, generator=g, dtype=torch.float64) * 2 - 1
    xte = torch.rand(n_test, 2, generator=g, dtype=torch.float64) * 2 - 1
    return xtr, target(xtr), xte, target(xte)


def fit_kadr(seed: int, optimizer: str, steps: int) -> dict:
    from kadr.nn import KAN, fit

    torch.manual_seed(seed)
    xtr, ytr, xte, yte = data(seed)
    model = KAN([2, 5, 1], grid_size=SCHEDULE[0]).double()
    c0 = time.process_time()
    h = fit(model, xtr, ytr, x_test=xte, y_test=yte, steps=steps, grid_schedule=SCHEDULE, optimizer=optimizer,
            val_split=VAL_SPLIT)
    per_grid = {}
    for g, r in zip(h["grid_size"], h["test_rmse"]):
        per_grid[g] = r
    return {"test_rmse": h["final_test_rmse"], "train_rmse": h["final_train_rmse"], "wall_s": h["seconds"],
            "cpu_s": time.process_time() - c0, "per_grid": per_grid, "grid": h["best_grid_size"]}


def fit_pykan(seed: int, steps: int) -> dict:
    import contextlib
    import io

    from kan import KAN as PyKAN

    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    xtr, ytr, xte, yte = data(seed)
    dataset = {"train_input": xtr, "train_label": ytr, "test_input": xte, "test_label": yte}
    cwd = os.getcwd()
    per_grid = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # pykan writes checkpoints into ckpt_path at every refine
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                model = PyKAN(width=[2, 5, 1], grid=SCHEDULE[0], k=3, seed=seed, auto_save=False, ckpt_path=tmp)
                res = None
                for i, g in enumerate(SCHEDULE):
                    if i:
                        model = model.refine(g)
                    res = model.fit(dataset, opt="LBFGS", steps=steps, log=steps + 1)
                    per_grid[g] = float(res["test_loss"][-1])
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        finally:
            os.chdir(cwd)
            torch.set_default_dtype(old)
    return {"test_rmse": float(res["test_loss"][-1]), "train_rmse": float(res["train_loss"][-1]), "wall_s": wall,
            "cpu_s": cpu, "per_grid": per_grid, "grid": SCHEDULE[-1]}


def bench_fit(seeds: list[int], lm_steps: int, lbfgs_steps: int, pykan_steps: int, pykan_seeds: int):
    rows = []
    runs = [("kadr fit, optimizer=lm", s, lambda s: fit_kadr(s, "lm", lm_steps), lm_steps) for s in seeds]
    runs += [("kadr fit, optimizer=lbfgs", s, lambda s: fit_kadr(s, "lbfgs", lbfgs_steps), lbfgs_steps)
             for s in seeds[:pykan_seeds]]
    try:
        import kan  # noqa: F401
        runs += [("pykan 0.2.8 fit (LBFGS) + refine", s, lambda s: fit_pykan(s, pykan_steps), pykan_steps)
                 for s in seeds[:pykan_seeds]]
    except ImportError:
        rows.append(["pykan", "-", "not installed", "", "", "", "", "", ""])
    for name, s, run, steps in runs:
        r = run(s)
        pg = " / ".join(f"{r['per_grid'].get(g, float('nan')):.1e}" for g in SCHEDULE)
        ok = r["test_rmse"] <= 1e-5 and r["wall_s"] <= 60
        rows.append([name, s, steps, r["grid"], f"{r['train_rmse']:.2e}", f"{r['test_rmse']:.2e}", pg, round(r["wall_s"], 1),
                     round(r["cpu_s"], 1), "yes" if ok else "no"])
        print(rows[-1], flush=True)
    head = ["method", "seed", "steps / grid", "final grid", "train RMSE", "test RMSE", "test RMSE at grid " + "/".join(map(str, SCHEDULE)),
            "wall s", "CPU s", "≤ 1e-5 in ≤ 60 s"]
    return rows, markdown_table(head, rows)


# ----------------------------------------------------------------------------- losses & cells
def bench_losses(rounds: int) -> str:
    from kadr.nn import DinoCentre, dino_loss, gce_loss, info_nce, kd_loss, siglip_loss

    torch.set_num_threads(1)
    torch.manual_seed(0)
    n, d, c = 1024, 256, 1000
    a = torch.randn(n, d, requires_grad=True)
    b = torch.randn(n, d)
    la = torch.randn(n, c, requires_grad=True)
    lb = torch.randn(n, c)
    y = torch.randint(0, c, (n,))
    centre = DinoCentre(c)
    cases = {
        f"info_nce (N={n}, D={d})": lambda: info_nce(a, b),
        f"siglip_loss (N={n}, D={d})": lambda: siglip_loss(a, b, t=10.0, b=-10.0),
        f"dino_loss (N={n}, K={c})": lambda: dino_loss(la, lb, centre.centre),
        f"kd_loss (N={n}, C={c})": lambda: kd_loss(la, lb),
        f"gce_loss τ=0.5 (N={n}, C={c})": lambda: gce_loss(la, y, tau=0.5),
        f"gce_loss τ=1 (N={n}, C={c})": lambda: gce_loss(la, y, tau=1.0),
        f"torch cross_entropy (N={n}, C={c}), reference": lambda: F.cross_entropy(la, y),
    }
    rnn_n, rnn_t, rnn_d = 8, 256, 64
    from kadr.nn import SRU, TimeMix

    seq = torch.randn(rnn_n, rnn_t, rnn_d, requires_grad=True)
    sru, tm = SRU(rnn_d, rnn_d), TimeMix(rnn_d)
    gru, lstm = torch.nn.GRU(rnn_d, rnn_d, batch_first=True), torch.nn.LSTM(rnn_d, rnn_d, batch_first=True)
    cells = {
        f"kadr SRU (N={rnn_n}, T={rnn_t}, D={rnn_d})": lambda: sru(seq)[0].sum(),
        f"kadr TimeMix (N={rnn_n}, T={rnn_t}, D={rnn_d})": lambda: tm(seq)[0].sum(),
        f"torch GRU (N={rnn_n}, T={rnn_t}, D={rnn_d}), reference": lambda: gru(seq)[0].sum(),
        f"torch LSTM (N={rnn_n}, T={rnn_t}, D={rnn_d}), reference": lambda: lstm(seq)[0].sum(),
    }
    best = {}
    for group in (cases, cells):
        for _ in range(rounds):
            for k, fn in group.items():
                t0 = time.perf_counter()
                fn().backward()
                best[k] = min(best.get(k, float("inf")), (time.perf_counter() - t0) * 1e3)
    rows = []
    for k, v in best.items():
        per = rnn_n * rnn_t if k in cells else n
        rows.append([k, round(v, 3), f"{per / v * 1e3:,.0f}"])
    return markdown_table(["forward + backward, 1 thread", "ms", "items (or time steps) / s"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds, 1 seed (a smoke run)")
    ap.add_argument("--lm-steps", type=int, default=20, help="LM steps per grid size")
    ap.add_argument("--pykan-steps", type=int, default=20, help="LBFGS steps per grid size (pykan and kadr lbfgs)")
    ap.add_argument("--pykan-seeds", type=int, default=1, help="how many seeds pykan and kadr-lbfgs run")
    ap.add_argument("--only", choices=["speed", "fit", "losses"], help="run one part (the others are omitted)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    # seeds 0-3 were looked at while developing fit (they showed grid 50 overfitting, hence val_split):
    # the reported run uses seeds that were not
    seeds = [10] if args.quick else [10, 11, 12, 13]
    parts = ["# kadr.nn benchmark", "", f"Machine: {machine_line()} (at start); torch {torch.__version__}, 1 thread.", ""]
    if args.only in (None, "speed"):
        _, table = bench_speed(3 if args.quick else 12)
        parts += ["## KAN layer speed", "", table, "",
                  "Transcribed rows reproduce the peers' forward maths in plain torch (the packages are not on PyPI);",
                  "pykan's KANLayer is the installed package. × MLP: ratio to the first row in the same run.", ""]
    if args.only in (None, "fit"):
        _, table = bench_fit(seeds, args.lm_steps, args.pykan_steps, args.pykan_steps, args.pykan_seeds)
        parts += ["## Function fitting: f(x, y) = exp(sin(πx) + y²), [2, 5, 1]", "", table, "",
                  f"Grid schedule {SCHEDULE}; 4000 train / 1000 test points per seed (held out: the test points are",
                  "never used for fitting, grid updates or choosing the grid); kadr: 20 % of the training points are its",
                  "validation split for the final grid size; float64. Wall seconds are on the shared machine (see load);",
                  "CPU seconds are this process's.", ""]
    if args.only in (None, "losses"):
        parts += ["## Losses and recurrent cells", "", bench_losses(3 if args.quick else 10), ""]
    parts += [f"Load at end: {machine_line()}", ""]
    name = "nn" if args.only is None and not args.quick else f"nn-{args.only or 'quick'}"
    write_result(name, "\n".join(parts))


if __name__ == "__main__":
    main()
