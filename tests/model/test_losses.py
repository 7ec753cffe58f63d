import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from scipy.spatial.distance import jensenshannon

from seqxent.model.losses import (
    Loss,
    LossConfig,
    adjacent_jsd,
    build_loss,
    class_weights,
    focal_loss,
    masked_cross_entropy,
)
from seqxent.model.soft_targets import distillation_loss, mixup, multilabel_bce, soft_cross_entropy

LN2 = math.log(2.0)


def _logits(*shape, seed=0, scale=2.0, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(*shape, generator=generator)).to(dtype)


def _residue_batch(seed=0, n_classes=3):
    """(B=3, C, L=5) logits with chains of length 5, 3 and 1; targets -100 at padding."""
    logits = _logits(3, n_classes, 5, seed=seed)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    generator = torch.Generator().manual_seed(seed + 1)
    target = torch.randint(0, n_classes, (3, 5), generator=generator).masked_fill(~mask, -100)
    return logits, target, mask


def _pair_logits(p, q):
    """(1, C, 2) logits whose softmax at positions 0 and 1 is p and q."""
    return torch.log(torch.tensor([p, q], dtype=torch.float64)).T.unsqueeze(0)


# ---------------------------------------------------------------- masked_cross_entropy


def test_masked_cross_entropy_uniform_logits_is_log_c():
    loss = masked_cross_entropy(torch.zeros(4, 3), torch.tensor([0, 1, 2, -100]))
    assert loss.item() == pytest.approx(math.log(3.0), abs=1e-7)


@pytest.mark.parametrize("residue", [False, True])
def test_masked_cross_entropy_matches_slow_loop(residue):
    if residue:
        logits, target, _ = _residue_batch()
    else:
        logits, target = _logits(4, 3), torch.tensor([2, -100, 0, 1])
    log_probs = F.log_softmax(logits.double(), dim=1)
    flat_logp = log_probs.movedim(1, -1).reshape(-1, logits.shape[1])  # (items, C)
    terms = [-flat_logp[i, t] for i, t in enumerate(target.reshape(-1).tolist()) if t != -100]
    expected = sum(terms) / len(terms)
    assert masked_cross_entropy(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)


def test_masked_cross_entropy_ignores_padding_logits():
    logits, target, mask = _residue_batch()
    changed = logits.clone()
    changed[~mask.unsqueeze(1).expand_as(logits)] = 1e4
    assert masked_cross_entropy(changed, target) == masked_cross_entropy(logits, target)


@pytest.mark.parametrize("weight", [None, torch.tensor([0.0, 1.0])])
def test_masked_cross_entropy_no_valid_item_is_zero_with_graph(weight):
    logits = torch.zeros(2, 2, requires_grad=True)
    target = torch.tensor([-100, 0]) if weight is not None else torch.tensor([-100, -100])
    loss = masked_cross_entropy(logits, target, weight=weight)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(logits.grad, torch.zeros(2, 2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_cross_entropy_equals_oversampled_data(seed):
    logits = _logits(6, 3, seed=seed)
    target = torch.tensor([0, 1, 2, 1, 0, 2])
    weight = torch.tensor([1.0, 2.0, 3.0])
    # Weight w for a class == repeating each of its items w times (weighted mean == plain mean of copies).
    repeats = weight[target].long()
    expected = masked_cross_entropy(
        logits.repeat_interleave(repeats, dim=0), target.repeat_interleave(repeats)
    )
    torch.testing.assert_close(masked_cross_entropy(logits, target, weight=weight), expected)


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("residue", [False, True])
def test_label_smoothing_matches_smoothed_soft_target(epsilon, residue):
    if residue:
        logits, target, mask = _residue_batch()
    else:
        logits, target, mask = _logits(5, 3), torch.tensor([0, 2, 1, 1, 0]), None
    n_classes = logits.shape[1]
    onehot = F.one_hot(target.clamp_min(0), n_classes).movedim(-1, 1).float()  # (B, [L,] C) -> (B, C[, L])
    soft_target = (1 - epsilon) * onehot + epsilon / n_classes
    expected = soft_cross_entropy(logits, soft_target, mask)
    actual = masked_cross_entropy(logits, target, label_smoothing=epsilon)
    torch.testing.assert_close(actual, expected)
    torch.testing.assert_close(actual, F.cross_entropy(logits, target, label_smoothing=epsilon))
    if epsilon == 0:
        torch.testing.assert_close(actual, F.cross_entropy(logits, target))


def test_masked_cross_entropy_rejects_mismatched_target():
    with pytest.raises(ValueError, match=r"`target` to have shape \(2, 4\), but got \(2, 5\)"):
        masked_cross_entropy(torch.zeros(2, 3, 4), torch.zeros(2, 5, dtype=torch.long))


# ---------------------------------------------------------------- adjacent_jsd


def test_jsd_of_identical_distributions_is_zero():
    logits = _logits(2, 4, 1).expand(2, 4, 6)  # the same distribution at every position
    assert adjacent_jsd(logits) == pytest.approx(0.0, abs=1e-7)


def test_jsd_hand_computed_two_class():
    # p = (0.5, 0.5), q = (0.9, 0.1), m = (0.7, 0.3):
    # ½[0.5 ln(0.5/0.7) + 0.5 ln(0.5/0.3)] + ½[0.9 ln(0.9/0.7) + 0.1 ln(0.1/0.3)]
    expected = 0.10174922507919676
    assert adjacent_jsd(_pair_logits([0.5, 0.5], [0.9, 0.1])).item() == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_jsd_symmetric_and_bounded(seed):
    logits = _logits(3, 5, 7, seed=seed, scale=10.0, dtype=torch.float64)
    forward, backward = adjacent_jsd(logits), adjacent_jsd(logits.flip(-1))
    assert forward.item() == pytest.approx(backward.item(), abs=1e-12)
    for i in range(6):  # every single pair lies in [0, ln 2]
        value = adjacent_jsd(logits[:, :, i : i + 2]).item()
        assert -1e-12 <= value <= LN2 + 1e-12


def test_jsd_of_disjoint_distributions_approaches_ln2():
    logits = torch.tensor([[[30.0, -30.0], [-30.0, 30.0]]])  # p ≈ (1, 0), q ≈ (0, 1)
    assert adjacent_jsd(logits).item() == pytest.approx(LN2, abs=1e-6)  # float32 rounding of ln 2


def test_jsd_is_finite_for_extreme_logits():
    logits = torch.tensor([[[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]]], requires_grad=True)
    loss = adjacent_jsd(logits)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


MASKS = {
    "full": [[1, 1, 1, 1, 1]],
    "padded": [[1, 1, 1, 0, 0]],
    "gap": [[1, 1, 0, 1, 1]],
    "isolated": [[1, 0, 1, 0, 1]],
    "single": [[0, 0, 1, 0, 0]],
    "empty": [[0, 0, 0, 0, 0]],
}


@pytest.mark.parametrize("name", MASKS)
def test_jsd_matches_scipy_over_valid_pairs(name):
    mask = torch.tensor(MASKS[name], dtype=torch.bool)
    logits = _logits(1, 3, 5, seed=3, dtype=torch.float64)
    probs = torch.softmax(logits, dim=1)[0].T.numpy()  # (L, C)
    pairs = [i for i in range(4) if mask[0, i] and mask[0, i + 1]]
    values = [jensenshannon(probs[i], probs[i + 1]) ** 2 for i in pairs]  # scipy gives sqrt(JSD), natural log
    expected = float(np.mean(values)) if values else 0.0
    assert adjacent_jsd(logits, mask).item() == pytest.approx(expected, abs=1e-12)


def test_jsd_never_depends_on_masked_logits():
    logits, _, mask = _residue_batch(seed=5)
    logits.requires_grad_(True)
    loss = adjacent_jsd(logits, mask)
    loss.backward()
    changed = logits.detach().clone()
    changed[~mask.unsqueeze(1).expand_as(changed)] = torch.tensor(1e3)
    assert adjacent_jsd(changed, mask) == loss
    assert torch.all(logits.grad.movedim(1, -1)[~mask] == 0)


@pytest.mark.parametrize("shape", [(2, 3, 1), (0, 3, 4)])
def test_jsd_without_pairs_is_zero_not_nan(shape):
    logits = torch.zeros(shape, requires_grad=True)
    loss = adjacent_jsd(logits)
    loss.backward()
    assert loss.item() == 0.0


def test_jsd_gradcheck():
    logits = _logits(2, 3, 4, seed=7, dtype=torch.float64).requires_grad_(True)
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 1, 1]], dtype=torch.bool)
    assert torch.autograd.gradcheck(lambda z: adjacent_jsd(z, mask), (logits,))


def test_jsd_rejects_two_dimensional_logits():
    with pytest.raises(ValueError, match="`logits` to have shape"):
        adjacent_jsd(torch.zeros(2, 3))


# ---------------------------------------------------------------- focal_loss


@pytest.mark.parametrize("residue", [False, True])
def test_focal_with_gamma_zero_equals_cross_entropy(residue):
    logits, target, _ = (
        _residue_batch() if residue else (_logits(5, 4), torch.tensor([3, 0, -100, 1, 1]), None)
    )
    torch.testing.assert_close(focal_loss(logits, target, gamma=0.0), masked_cross_entropy(logits, target))


def test_focal_hand_values():
    logits, target = torch.zeros(2, 2), torch.tensor([0, 1])  # p_y = ½ for both items
    assert focal_loss(logits, target, gamma=2.0).item() == pytest.approx(0.25 * LN2)
    alpha = torch.tensor([0.25, 0.75])
    # mean of 0.25·(1 - ½)·ln 2 and 0.75·(1 - ½)·ln 2
    assert focal_loss(logits, target, gamma=1.0, alpha=alpha).item() == pytest.approx(0.25 * LN2)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("use_alpha", [False, True])
def test_focal_matches_numpy_loop(gamma, use_alpha):
    logits, target, _ = _residue_batch(seed=2)
    alpha = torch.tensor([0.2, 1.0, 3.0]) if use_alpha else None
    probs = torch.softmax(logits.double(), dim=1).movedim(1, -1).reshape(-1, 3).numpy()  # (items, C)
    terms = []
    for row, y in zip(probs, target.reshape(-1).tolist(), strict=True):
        if y != -100:
            a = 1.0 if alpha is None else float(alpha[y])
            terms.append(-a * (1.0 - row[y]) ** gamma * np.log(row[y]))
    actual = focal_loss(logits, target, gamma=gamma, alpha=alpha).item()
    assert actual == pytest.approx(np.mean(terms), rel=1e-5)


def test_focal_gradcheck():
    logits = _logits(4, 3, seed=1, dtype=torch.float64).requires_grad_(True)
    target = torch.tensor([0, 2, -100, 1])
    assert torch.autograd.gradcheck(lambda z: focal_loss(z, target, gamma=2.0), (logits,))


def test_focal_rejects_negative_gamma():
    with pytest.raises(ValueError, match="`gamma` to be a number >= 0, but got -1.0"):
        focal_loss(torch.zeros(1, 2), torch.tensor([0]), gamma=-1.0)


# ---------------------------------------------------------------- class_weights


@pytest.mark.parametrize("scheme", ["none", "inverse", "effective"])
@pytest.mark.parametrize("counts", [[10, 10], [1, 3, 0], [1000, 5, 50, 0, 1], [7]])
def test_class_weights_normalised_to_unit_mean_item_weight(scheme, counts):
    weights = class_weights(counts, scheme=scheme)
    assert weights.dtype == torch.float32 and weights.shape == (len(counts),)
    weights, n = weights.double(), torch.tensor(counts, dtype=torch.float64)
    assert (weights * n).sum() / n.sum() == pytest.approx(1.0, abs=1e-6)
    if scheme != "none":
        assert torch.all(weights[n == 0] == 0)


def test_class_weights_exact_values():
    torch.testing.assert_close(class_weights([1, 3, 0], "none"), torch.ones(3))
    torch.testing.assert_close(class_weights([1, 3, 0], "inverse"), torch.tensor([2.0, 2 / 3, 0.0]))
    # β = ½: raw (1 - β)/(1 - β^n) = (1, 4/7); scaled by 4 / (1 + 12/7) = 28/19.
    torch.testing.assert_close(class_weights([1, 3], "effective", beta=0.5), torch.tensor([28 / 19, 16 / 19]))


def test_effective_weights_interpolate_none_and_inverse():
    counts = [100, 10, 1]
    torch.testing.assert_close(class_weights(counts, "effective", beta=0.0), class_weights(counts, "none"))
    near_inverse = class_weights(counts, "effective", beta=1 - 1e-9)
    torch.testing.assert_close(near_inverse, class_weights(counts, "inverse"), rtol=1e-5, atol=1e-6)


def test_pos_weight_matches_bce_with_logits_pos_weight():
    counts, beta = [6, 2], 3.0
    weights = class_weights(counts, pos_weight=beta)
    torch.testing.assert_close(weights, torch.tensor([1.0, 3.0]) * 8 / (6 + 3 * 2))
    z = _logits(8, seed=4)
    target = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1])  # the training class mix
    two_class_logits = torch.stack([torch.zeros(8), z], dim=1)  # (B, 2), logit difference z
    bce = F.binary_cross_entropy_with_logits(z, target.float(), pos_weight=torch.tensor(beta))
    torch.testing.assert_close(
        masked_cross_entropy(two_class_logits, target, weight=weights), bce * weights[0]
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"counts": [1, -1]}, "`counts`"),
        ({"counts": [0, 0]}, "`counts`"),
        ({"counts": [1, 2], "scheme": "sqrt"}, "`scheme`.*'sqrt'"),
        ({"counts": [1, 2], "scheme": "effective", "beta": 1.0}, "`beta`.*1.0"),
        ({"counts": [1, 2, 3], "pos_weight": 2.0}, "`pos_weight`.*3 classes"),
        ({"counts": [1, 2], "pos_weight": 0.0}, "`pos_weight`.*0.0"),
    ],
)
def test_class_weights_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        class_weights(**kwargs)


# ---------------------------------------------------------------- soft_cross_entropy


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5)])
def test_soft_cross_entropy_matches_torch_probability_targets(shape):
    logits = _logits(*shape, seed=1)
    soft_target = torch.softmax(_logits(*shape, seed=2), dim=1)
    torch.testing.assert_close(soft_cross_entropy(logits, soft_target), F.cross_entropy(logits, soft_target))


def test_soft_cross_entropy_with_onehot_target_and_mask_equals_masked_cross_entropy():
    logits, target, mask = _residue_batch()
    onehot = F.one_hot(target.clamp_min(0), 3).movedim(-1, 1).float()  # (B, L, C) -> (B, C, L)
    torch.testing.assert_close(soft_cross_entropy(logits, onehot, mask), masked_cross_entropy(logits, target))


# ---------------------------------------------------------------- mixup


def _mixup_inputs():
    x = F.one_hot(torch.randint(0, 4, (5, 6), generator=torch.Generator().manual_seed(0)), 4).float()
    x = x.movedim(-1, 1)  # (B, L, C) -> (B, C, L)
    mask = torch.tensor(
        [[1] * 6, [1] * 4 + [0] * 2, [1] * 2 + [0] * 4, [1] * 6, [1] + [0] * 5], dtype=torch.bool
    )
    x = x * mask.unsqueeze(1)  # zero columns at padding
    return x, mask, torch.eye(5)  # every item its own class, so the partner can be read off the target


def test_mixup_mixes_inputs_targets_and_masks_with_one_partner():
    x, mask, target = _mixup_inputs()
    mixed_x, mixed_mask, mixed_target, lam = mixup(x, mask, target, 0.4, torch.Generator().manual_seed(3))
    assert 0.0 <= lam <= 1.0
    torch.testing.assert_close(mixed_target.sum(dim=1), torch.ones(5))
    perm = torch.tensor([int(torch.argmax(row - lam * target[i])) for i, row in enumerate(mixed_target)])
    assert sorted(perm.tolist()) == list(range(5))
    torch.testing.assert_close(mixed_x, lam * x + (1 - lam) * x[perm])
    assert torch.equal(mixed_mask, mask | mask[perm])
    assert torch.all(mixed_x.sum(dim=1)[~mixed_mask] == 0)


def test_mixup_is_reproducible_and_accepts_no_mask():
    x, _, target = _mixup_inputs()
    first = mixup(x, None, target, 1.0, torch.Generator().manual_seed(9))
    second = mixup(x, None, target, 1.0, torch.Generator().manual_seed(9))
    assert first.mask is None and first.lam == second.lam
    assert torch.equal(first.x, second.x) and torch.equal(first.target, second.target)


@pytest.mark.parametrize("alpha", [0.2, 1.0, 4.0])
def test_mixup_lambda_follows_beta_distribution(alpha):
    x, mask, target = _mixup_inputs()
    generator = torch.Generator().manual_seed(11)
    lams = [mixup(x[:1], mask[:1], target[:1], alpha, generator).lam for _ in range(400)]
    assert stats.kstest(lams, stats.beta(alpha, alpha).cdf).pvalue > 1e-3


@pytest.mark.parametrize("alpha", [0.0, -1.0, math.inf])
def test_mixup_rejects_bad_alpha(alpha):
    x, mask, target = _mixup_inputs()
    with pytest.raises(ValueError, match="`alpha` to be a positive number"):
        mixup(x, mask, target, alpha)


# ---------------------------------------------------------------- distillation_loss


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
def test_distillation_gradient_matches_closed_form(alpha, temperature):
    student = _logits(4, 3, seed=1).double().requires_grad_(True)
    teacher = _logits(4, 3, seed=2).double().requires_grad_(True)
    target = torch.tensor([0, 2, 1, 1])
    distillation_loss(student, teacher, target, alpha=alpha, temperature=temperature).backward()
    p_student_t = torch.softmax(student.detach() / temperature, dim=1)
    p_teacher_t = torch.softmax(teacher.detach() / temperature, dim=1)
    ce_grad = (torch.softmax(student.detach(), dim=1) - F.one_hot(target, 3)) / 4
    kd_grad = temperature * (p_student_t - p_teacher_t) / 4
    torch.testing.assert_close(student.grad, (1 - alpha) * ce_grad + alpha * kd_grad)
    assert teacher.grad is None


def test_distillation_masked_residues_gradient_and_padding():
    student, target, mask = _residue_batch(seed=3)
    teacher = _logits(*student.shape, seed=4)
    student = student.double().requires_grad_(True)
    distillation_loss(student, teacher.double(), target, alpha=1.0, temperature=2.0).backward()
    n_valid = int(mask.sum())
    expected = (
        2.0 * (torch.softmax(student.detach() / 2, 1) - torch.softmax(teacher.double() / 2, 1)) / n_valid
    )
    expected = expected * mask.unsqueeze(1)  # no gradient at padding
    torch.testing.assert_close(student.grad, expected)


def test_distillation_limits():
    student, teacher, target = _logits(5, 4, seed=1), _logits(5, 4, seed=2), torch.tensor([0, 1, 2, 3, -100])
    torch.testing.assert_close(
        distillation_loss(student, teacher, target, alpha=0.0), masked_cross_entropy(student, target)
    )
    assert distillation_loss(student, student, target, alpha=1.0).item() == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------- multilabel_bce


@pytest.mark.parametrize("use_pos_weight", [False, True])
def test_multilabel_bce_matches_numpy(use_pos_weight):
    logits = _logits(4, 5, seed=6, scale=4.0)
    target = (torch.rand(4, 5, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    pos_weight = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0]) if use_pos_weight else None
    z, y = logits.double().numpy(), target.double().numpy()
    w = np.ones(5) if pos_weight is None else pos_weight.double().numpy()
    # -[w y log σ(z) + (1 - y) log(1 - σ(z))], with -log σ(z) = log(1 + e^-z)
    per_entry = w * y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)
    expected = per_entry.sum(axis=1).mean()  # sum over labels, mean over items
    assert multilabel_bce(logits, target, pos_weight).item() == pytest.approx(expected, rel=1e-6)


# ---------------------------------------------------------------- LossConfig and build_loss


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "mse"}, "`kind`.*'mse'"),
        ({"class_weighting": "sqrt"}, "`class_weighting`.*'sqrt'"),
        ({"gamma": -0.5}, "`gamma`.*-0.5"),
        ({"gamma": "2"}, "`gamma`.*'2'"),
        ({"beta": 1.0}, "`beta`.*1.0"),
        ({"label_smoothing": 1.0}, "`label_smoothing`.*1.0"),
        ({"jsd_lambda": -1}, "`jsd_lambda`.*-1"),
        ({"jsd_lambda": float("nan")}, "`jsd_lambda`.*nan"),
        ({"kind": "focal", "label_smoothing": 0.1}, "`label_smoothing`.*0.1"),
        ({"alpha": 0.25}, "`alpha`.*0.25"),
        ({"kind": "focal", "alpha": 0.25, "class_weighting": "inverse"}, "`alpha`.*'inverse'"),
        ({"kind": "focal", "alpha": 1.5}, "`alpha`.*1.5"),
        ({"kind": "focal", "alpha": [1.0, -2.0]}, "`alpha`.*-2.0"),
    ],
)
def test_loss_config_errors_name_field_and_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LossConfig(**kwargs)


def test_default_loss_is_plain_cross_entropy_on_sequences():
    logits, target = _logits(4, 3), torch.tensor([0, 2, -100, 1])
    output = build_loss(LossConfig(jsd_lambda=1.0))(logits, target)  # JSD is ignored for (B, C) logits
    torch.testing.assert_close(output.total, masked_cross_entropy(logits, target))
    assert output.parts == {"ce": pytest.approx(output.total.item())}


def test_loss_adds_lambda_times_jsd_on_residues():
    logits, target, mask = _residue_batch()
    output = build_loss(LossConfig(jsd_lambda=0.5))(logits, target, mask)
    jsd = adjacent_jsd(logits, mask)
    torch.testing.assert_close(output.total, masked_cross_entropy(logits, target) + 0.5 * jsd)
    assert output.parts["jsd"] == pytest.approx(jsd.item())
    assert set(output.parts) == {"ce", "jsd"}


def test_loss_mask_overrides_targets_and_selects_jsd_pairs():
    logits, target, mask = _residue_batch()
    unpadded = target.clamp_min(0)  # labels everywhere; the mask alone must hide the padding
    masked = build_loss(LossConfig(jsd_lambda=1.0))(logits, unpadded, mask)
    reference = build_loss(LossConfig(jsd_lambda=1.0))(logits, target)  # mask derived from -100
    torch.testing.assert_close(masked.total, reference.total)


def test_weighted_smoothed_loss_reports_plain_ce():
    logits, target = _logits(6, 3), torch.tensor([0, 0, 0, 0, 1, 2])
    counts = [4, 1, 1]
    output = build_loss(LossConfig(class_weighting="inverse", label_smoothing=0.1), counts)(logits, target)
    expected = masked_cross_entropy(
        logits, target, weight=class_weights(counts, "inverse"), label_smoothing=0.1
    )
    torch.testing.assert_close(output.total, expected)
    assert output.parts["ce"] == pytest.approx(masked_cross_entropy(logits, target).item())


def test_focal_loss_uses_class_weights_as_alpha():
    logits, target = _logits(6, 3), torch.tensor([0, 0, 0, 0, 1, 2])
    counts = [40, 10, 0]
    output = build_loss(LossConfig(kind="focal", gamma=1.0, class_weighting="effective"), counts)(
        logits, target
    )
    alpha = class_weights(counts, "effective")
    torch.testing.assert_close(output.total, focal_loss(logits, target, gamma=1.0, alpha=alpha))
    assert set(output.parts) == {"ce", "focal"}


def test_focal_binary_alpha_float():
    loss = build_loss(LossConfig(kind="focal", alpha=0.25), [3, 1])
    assert isinstance(loss, Loss)
    torch.testing.assert_close(loss.alpha, torch.tensor([0.75, 0.25]))
    with pytest.raises(ValueError, match="`alpha` to have one value per class \\(3\\)"):
        build_loss(LossConfig(kind="focal", alpha=0.25), [3, 1, 1])


def test_build_loss_needs_counts_for_weighting():
    with pytest.raises(ValueError, match="`class_counts` for class_weighting 'inverse', but got None"):
        build_loss(LossConfig(class_weighting="inverse"))


def test_loss_backward_on_empty_batch():
    logits = torch.zeros(1, 3, 4, requires_grad=True)
    output = build_loss(LossConfig(jsd_lambda=1.0))(logits, torch.full((1, 4), -100))
    output.total.backward()
    assert output.parts == {"ce": 0.0, "jsd": 0.0}


def test_integer_masks_are_accepted():
    logits, target, mask = _residue_batch()
    torch.testing.assert_close(adjacent_jsd(logits, mask.long()), adjacent_jsd(logits, mask))
    output = build_loss(LossConfig(jsd_lambda=1.0))(logits, target, mask.long())
    torch.testing.assert_close(
        output.total, build_loss(LossConfig(jsd_lambda=1.0))(logits, target, mask).total
    )
