"""The paper's motivation, measured: when the next concept is one of two distant points
with equal probability, a diffusion LCM samples one of them while a regression (Base-LCM)
predicts their useless midpoint."""

from __future__ import annotations

import torch

from engine.lcm import build_model, preset

DIM = 16


def train_toy(model_type: str, point: torch.Tensor, start: torch.Tensor, steps: int = 100):
    torch.manual_seed(0)
    model = build_model(preset("toy", model_type=model_type, dim=DIM)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    mask = torch.ones(32, 2, dtype=torch.bool)
    scored = mask.clone()
    scored[:, 0] = False  # only the prediction of the second concept counts
    for _ in range(steps):
        sign = torch.randint(0, 2, (32, 1)) * 2.0 - 1
        batch = torch.stack([start.expand(32, DIM), sign * point], dim=1)
        loss = model.loss(batch, mask, scored)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def test_two_tower_samples_a_mode_while_base_lcm_predicts_the_midpoint():
    generator = torch.Generator().manual_seed(1)
    point = torch.randn(DIM, generator=generator)
    point = 4 * point / point.norm()  # the two modes are +point and -point, 8 apart
    start = torch.randn(DIM, generator=generator)

    diffusion = train_toy("two_tower", point, start)
    samples = diffusion.sample_next(start[None], num_samples=100, seed=0)
    to_plus, to_minus = (samples - point).norm(dim=-1), (samples + point).norm(dim=-1)
    near = torch.minimum(to_plus, to_minus) < 2.0  # a quarter of the distance between modes
    assert near.float().mean() >= 0.9
    assert 0.2 <= (to_plus < to_minus).float().mean() <= 0.8  # both modes are drawn

    regression = train_toy("base_lcm", point, start)
    prediction = regression.sample_next(start[None], num_samples=1)[0]
    assert prediction.norm() < 1.0  # the midpoint is the origin
