"""Tests of tmkt.method.losses against values computed independently (by hand or with torch.nn.functional)."""

from __future__ import annotations

import math

import numpy as np

import pytest
import torch
import torch.nn.functional as F

from tmkt.method.losses import DomainAlignment, linear_cka, mag_accuracy, mag_loss, mrp_loss, tet_loss, total_loss

# Hand example for linear CKA (B = 3):
#   X = [[1, 0], [-1, 1], [0, -1]]  (columns already centred),  Y = [[1], [-1], [0]] (+ 5, removed by centring)
#   Yc^T Xc = [1*1 + (-1)(-1) + 0*0, 1*0 + (-1)*1 + 0*(-1)] = [2, -1]        -> ||.||_F^2 = 5
#   Xc^T Xc = [[2, -1], [-1, 2]]                                            -> ||.||_F   = sqrt(10)
#   Yc^T Yc = [[2]]                                                         -> ||.||_F   = 2
#   CKA = 5 / (2 sqrt(10))
HAND_X = torch.tensor([[1.0, 0.0], [-1.0, 1.0], [0.0, -1.0]])
HAND_Y = torch.tensor([[1.0], [-1.0], [0.0]]) + 5.0
HAND_CKA = 5 / (2 * math.sqrt(10))


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -------------------------------------------------------------------------------------------- TET
def test_tet_without_mse_is_mean_of_per_step_cross_entropy() -> None:
    g = _generator(1)
    logits = torch.randn(4, 6, 5, generator=g)
    target = torch.randint(0, 5, (6,), generator=g)
    expected = sum(F.cross_entropy(logits[t], target) for t in range(4)) / 4
    assert tet_loss(logits, target, lam=0.0, phi=0.5) == pytest.approx(expected.item(), rel=1e-6)


def test_tet_with_constant_logits_over_time_is_plain_cross_entropy() -> None:
    g = _generator(2)
    step = torch.randn(6, 5, generator=g)
    target = torch.randint(0, 5, (6,), generator=g)
    loss = tet_loss(step.expand(3, 6, 5), target, lam=0.0, phi=0.5)
    assert loss == pytest.approx(F.cross_entropy(step, target).item(), rel=1e-6)


def test_tet_mse_term() -> None:
    # lam = 1 leaves only mean (O - phi)^2; logits all 2.0, phi = 0.5 -> 1.5^2 = 2.25.
    logits = torch.full((3, 4, 5), 2.0)
    target = torch.zeros(4, dtype=torch.long)
    assert tet_loss(logits, target, lam=1.0, phi=0.5) == pytest.approx(2.25)
    # Mixed: (1 - lam) * CE + lam * MSE; equal logits give CE = log K.
    lam = 0.25
    assert tet_loss(logits, target, lam=lam, phi=0.5) == pytest.approx((1 - lam) * math.log(5) + lam * 2.25)


def test_tet_ce_weights() -> None:
    g = _generator(3)
    logits = torch.randn(4, 6, 5, generator=g)
    target = torch.randint(0, 5, (6,), generator=g)
    weights = torch.tensor([0.0, 0.0, 1.0, 0.0])
    expected = F.cross_entropy(logits[2], target) / 4
    assert tet_loss(logits, target, lam=0.0, phi=0.5, ce_weights=weights) == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="ce_weights"):
        tet_loss(logits, target, lam=0.0, phi=0.5, ce_weights=torch.ones(3))
    with pytest.raises(ValueError, match="target"):
        tet_loss(logits, target[:5], lam=0.0, phi=0.5)


# -------------------------------------------------------------------------------------------- CKA
def test_cka_hand_value_in_both_code_paths() -> None:
    # Feature-space path (B = 3 > D) and Gram path (zero columns make D >= B without changing CKA).
    assert linear_cka(HAND_X, HAND_Y).item() == pytest.approx(HAND_CKA, rel=1e-6)
    padded = torch.cat([HAND_Y, torch.zeros(3, 3)], dim=1)
    assert linear_cka(HAND_X, padded).item() == pytest.approx(HAND_CKA, rel=1e-6)
    assert linear_cka(HAND_Y, HAND_X).item() == pytest.approx(HAND_CKA, rel=1e-6)


@pytest.mark.parametrize("batch, dim", [(8, 30), (40, 5)])
def test_cka_properties(batch: int, dim: int) -> None:
    g = _generator(4)
    x = torch.randn(batch, dim, generator=g, dtype=torch.float64)
    y = torch.randn(batch, dim, generator=g, dtype=torch.float64) + 0.5 * x
    assert linear_cka(x, x).item() == pytest.approx(1.0, abs=1e-12)
    rotation, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))
    reference = linear_cka(x, y).item()
    assert linear_cka(x, y @ rotation).item() == pytest.approx(reference, abs=1e-12)
    assert linear_cka(x * 7.3, y).item() == pytest.approx(reference, abs=1e-12)
    # Against the definition, computed here in feature space.
    xc, yc = x - x.mean(0), y - y.mean(0)
    by_definition = (yc.T @ xc).norm() ** 2 / ((xc.T @ xc).norm() * (yc.T @ yc).norm())
    assert reference == pytest.approx(by_definition.item(), abs=1e-12)


def test_cka_in_unit_interval_and_batched() -> None:
    g = _generator(5)
    x = torch.randn(50, 6, 4, generator=g)
    y = torch.randn(50, 6, 9, generator=g)
    values = linear_cka(x, y)
    assert values.shape == (50,)
    assert bool(((values >= 0) & (values <= 1 + 1e-6)).all())
    assert values[17].item() == pytest.approx(linear_cka(x[17], y[17]).item(), abs=1e-6)


def test_cka_gradient_flows_and_is_finite_for_constant_input() -> None:
    x = HAND_X.clone().requires_grad_(True)
    (1 - linear_cka(x, HAND_Y)).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    constant = torch.ones(4, 3, requires_grad=True)
    value = linear_cka(constant, torch.randn(4, 3, generator=_generator(6)))
    value.backward()
    assert value.item() == 0.0 and torch.isfinite(constant.grad).all()


# ------------------------------------------------------------------------------ domain alignment
def _hand_features() -> tuple[torch.Tensor, torch.Tensor]:
    """T = 2: step 0 is the hand example (CKA = HAND_CKA), step 1 identical streams (CKA = 1)."""
    same = torch.randn(3, 2, generator=_generator(7))
    mixed = torch.stack([HAND_X, same])
    event = torch.stack([torch.cat([HAND_Y, torch.zeros(3, 1)], dim=1), same])
    return mixed, event


def test_domain_alignment_fixed_weights() -> None:
    module = DomainAlignment(2, weighting="fixed", eta_init=1.0)
    assert list(module.parameters()) == []
    out = module(*_hand_features())
    assert torch.equal(out.weights, torch.ones(2))
    assert out.cka.tolist() == pytest.approx([HAND_CKA, 1.0], abs=1e-6)
    assert not out.cka.requires_grad
    assert out.loss.item() == pytest.approx((1 - HAND_CKA) / 2, abs=1e-6)


def test_domain_alignment_learnable_weights_get_gradients() -> None:
    module = DomainAlignment(2, weighting="learnable", eta_init=1.0)
    out = module(*_hand_features())
    w = 1 / (1 + math.exp(-1.0))
    assert out.weights.tolist() == pytest.approx([w, w], abs=1e-6)
    assert out.loss.item() == pytest.approx(w * (1 - HAND_CKA) / 2, abs=1e-6)
    out.loss.backward()
    # d loss / d eta_0 = sigmoid'(1) (1 - CKA_0) / 2; step 1 has 1 - CKA = 0.
    assert module.eta.grad[0].item() == pytest.approx(w * (1 - w) * (1 - HAND_CKA) / 2, abs=1e-6)
    assert module.eta.grad[1].item() == pytest.approx(0.0, abs=1e-6)


def test_domain_alignment_flattens_maps_and_checks_shapes() -> None:
    g = _generator(8)
    module = DomainAlignment(3, weighting="fixed", eta_init=1.0)
    maps = torch.randn(3, 5, 2, 2, 2, generator=g)
    assert module(maps, maps).loss.item() == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="T = 2"):
        module(maps[:2], maps[:2])
    with pytest.raises(ValueError, match="weighting"):
        DomainAlignment(3, weighting="softmax", eta_init=1.0)


# ----------------------------------------------------------------------------------- MAG and MRP
def test_mag_loss_and_accuracy_by_hand() -> None:
    logits = torch.tensor([[2.0, -1.0], [0.0, 3.0]])
    modality = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    # BCE(z, 1) = log(1 + e^-z), BCE(z, 0) = log(1 + e^z).
    expected = (math.log1p(math.exp(-2)) + math.log1p(math.exp(-1)) + math.log(2) + math.log1p(math.exp(-3))) / 4
    assert mag_loss(logits, modality).item() == pytest.approx(expected, rel=1e-6)
    # Predictions (logit > 0): [[1, 0], [0, 1]] -> 3 of 4 frames right.
    assert mag_accuracy(logits, modality).item() == pytest.approx(0.75)
    with pytest.raises(ValueError, match=r"\(T, B\)"):
        mag_loss(logits, modality[0])


def test_mrp_loss_by_hand() -> None:
    pred, ratio = torch.tensor([0.5, 0.2]), torch.tensor([1.0, 0.0])
    assert mrp_loss(pred, ratio, kind="mse").item() == pytest.approx((0.25 + 0.04) / 2)
    assert mrp_loss(pred, ratio, kind="l1").item() == pytest.approx((0.5 + 0.2) / 2)
    with pytest.raises(ValueError, match="unknown MRP loss kind"):
        mrp_loss(pred, ratio, kind="huber")


# ----------------------------------------------------------------------------------------- total
def test_total_loss_with_terms_switched_off() -> None:
    tet_m, tet_e, da, mag, mrp = (torch.tensor(v) for v in (1.0, 2.0, 3.0, 4.0, 5.0))
    half = dict(lambda_da=0.5, lambda_mag=0.5, lambda_mrp=0.5)
    assert total_loss(tet_m, tet_e, da, mag, mrp, **half).item() == pytest.approx(3 + 0.5 * (3 + 4 + 5))
    assert total_loss(tet_m, tet_e, **half).item() == pytest.approx(3.0)
    assert total_loss(tet_m, tet_e, da=da, **half | dict(lambda_da=2.0)).item() == pytest.approx(9.0)
    assert total_loss(tet_m, tet_e, mag=mag, mrp=mrp, **half | dict(lambda_mrp=0.1)).item() == pytest.approx(3 + 2 + 0.5)
    with pytest.raises(ValueError, match="lambda_mag"):
        total_loss(tet_m, tet_e, **half | dict(lambda_mag=-1.0))
    with pytest.raises(TypeError):  # the weights come from params.yaml, never from a default here
        total_loss(tet_m, tet_e, da=da)


def test_constant_predictor_baselines_are_the_best_constants():
    from tmkt.method.losses import constant_accuracy, constant_bce, constant_regression_loss

    modality = torch.tensor([[0.0, 1.0, 1.0, 1.0]] * 2)  # pi = 3/4
    pi = 0.75
    assert constant_bce(modality).item() == pytest.approx(-(pi * np.log(pi) + (1 - pi) * np.log(1 - pi)), rel=1e-6)
    # no constant logit does better: the BCE of predicting q is minimised at q = pi
    for q in (0.5, 0.7, 0.8, 0.9):
        logit = torch.full_like(modality, float(np.log(q / (1 - q))))
        assert mag_loss(logit, modality).item() >= constant_bce(modality).item() - 1e-6
    assert constant_accuracy(modality).item() == pytest.approx(0.75)
    assert constant_bce(torch.ones(3, 2)).item() == 0.0 and constant_bce(torch.zeros(3, 2)).item() == 0.0
    ratio = torch.tensor([0.0, 0.25, 0.5, 1.0])
    assert constant_regression_loss(ratio, "mse").item() == pytest.approx(float(ratio.var(unbiased=False)))
    for c in (0.2, 0.4, 0.6):
        assert mrp_loss(torch.full_like(ratio, c), ratio, "l1").item() >= constant_regression_loss(ratio, "l1").item() - 1e-7


def test_mean_ce_is_the_cross_entropy_of_time_averaged_logits():
    from tmkt.method.losses import mean_ce_loss

    logits = torch.randn(4, 3, 5)
    target = torch.tensor([0, 2, 4])
    expected = torch.nn.functional.cross_entropy(logits.mean(0), target)
    assert torch.allclose(mean_ce_loss(logits, target), expected)
    with pytest.raises(ValueError, match="shape"):
        mean_ce_loss(logits[0], target)


def test_step_weights_scale_the_mse_of_each_step_when_asked():
    from tmkt.method.losses import tet_loss

    logits, target = torch.randn(3, 2, 4), torch.tensor([1, 3])
    w = torch.tensor([1.0, 0.5, 0.0])
    lam, phi = 0.3, 0.5
    ce = torch.stack([torch.nn.functional.cross_entropy(logits[t], target) for t in range(3)])
    mse = torch.stack([(logits[t] - phi).pow(2).mean() for t in range(3)])
    assert torch.allclose(tet_loss(logits, target, lam, phi, ce_weights=w),
                          (1 - lam) * (w * ce).mean() + lam * mse.mean())
    assert torch.allclose(tet_loss(logits, target, lam, phi, ce_weights=w, weights_on_mse=True),
                          (1 - lam) * (w * ce).mean() + lam * (w * mse).mean())
