"""Optimizer update rules over several steps against the formulas, written out here."""
import math

import numpy as np
import pytest

import tinydl as td
from tinydl import optimizers
from tinydl.optimizers import schedules


def run(opt, p0, grads):
    p = td.Parameter(p0.copy())
    for g in grads:
        p.grad = g.copy()
        opt.step([p])
    return p.value


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) for _ in range(5)]
    return p0, grads


@pytest.mark.parametrize("momentum, nesterov, wd", [(0.0, False, 0.0), (0.9, False, 0.0), (0.9, True, 0.0), (0.5, True, 0.01), (0.0, False, 0.1)])
def test_sgd(problem, momentum, nesterov, wd):
    p0, grads = problem
    lr = 0.1
    p, v = p0.copy(), np.zeros_like(p0)
    for g in grads:
        g = g + wd * p
        v = momentum * v + g
        p = p - lr * ((g + momentum * v) if nesterov else v)
    got = run(optimizers.SGD(lr, momentum=momentum, nesterov=nesterov, weight_decay=wd), p0, grads)
    np.testing.assert_allclose(got, p, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls, wd", [(optimizers.Adam, 0.0), (optimizers.Adam, 0.01), (optimizers.AdamW, 0.01)])
def test_adam_and_adamw(problem, cls, wd):
    p0, grads = problem
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        if cls is optimizers.AdamW:
            p = p - lr * wd * p
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p = p - lr * mhat / (np.sqrt(vhat) + eps)
    got = run(cls(lr, weight_decay=wd), p0, grads)
    np.testing.assert_allclose(got, p, rtol=1e-12, atol=1e-14)


def test_first_adam_step_moves_each_weight_by_about_lr(problem):
    # after one step mhat/sqrt(vhat) = g/|g|: every weight moves by lr against its gradient's sign
    p0, grads = problem
    got = run(optimizers.Adam(0.01), p0, grads[:1])
    np.testing.assert_allclose(got, p0 - 0.01 * np.sign(grads[0]), rtol=1e-6)


def test_parameters_without_grad_are_untouched():
    p, q = td.Parameter(np.ones(3)), td.Parameter(np.ones(3))
    p.grad = np.ones(3)
    optimizers.SGD(0.5).step([p, q])
    np.testing.assert_array_equal(p.value, 0.5)
    np.testing.assert_array_equal(q.value, 1.0)


def test_clipnorm_scales_each_gradient_to_the_norm():
    p = td.Parameter(np.zeros(2))
    p.grad = np.array([3.0, 4.0])  # norm 5
    optimizers.SGD(1.0, clipnorm=1.0).step([p])
    np.testing.assert_allclose(p.value, [-0.6, -0.8])


def test_global_clipnorm_uses_the_norm_of_all_gradients():
    p, q = td.Parameter(np.zeros(1)), td.Parameter(np.zeros(1))
    p.grad, q.grad = np.array([6.0]), np.array([8.0])  # global norm 10
    optimizers.SGD(1.0, global_clipnorm=5.0).step([p, q])
    np.testing.assert_allclose([p.value[0], q.value[0]], [-3.0, -4.0])


@pytest.mark.parametrize("scale", [1e200, 1e-200, 1e-310])
def test_clipnorm_scales_huge_and_tiny_float64_gradients_without_overflow(scale):
    # norm 5 * scale: 1e200 squared overflows float64, 1e-200 squared underflows to 0
    p = td.Parameter(np.zeros(2))
    p.grad = np.array([3.0, 4.0]) * scale
    optimizers.SGD(1.0, clipnorm=scale).step([p])
    np.testing.assert_allclose(p.value, np.array([-0.6, -0.8]) * scale, rtol=1e-6 if scale < 1e-300 else 1e-12)
    q, r = td.Parameter(np.zeros(1)), td.Parameter(np.zeros(1))
    q.grad, r.grad = np.array([6.0 * scale]), np.array([8.0 * scale])   # global norm 10 * scale
    optimizers.SGD(1.0, global_clipnorm=5 * scale).step([q, r])
    np.testing.assert_allclose([q.value[0], r.value[0]], np.array([-3.0, -4.0]) * scale,
                               rtol=1e-6 if scale < 1e-300 else 1e-12)


def test_clipnorm_leaves_small_gradients_alone_and_infinite_ones_become_nan():
    p, z = td.Parameter(np.zeros(2)), td.Parameter(np.zeros(2))
    p.grad, z.grad = np.array([3e-200, 4e-200]), np.zeros(2)
    optimizers.SGD(1.0, clipnorm=1.0).step([p, z])         # norms 5e-200 and 0: below the clip
    np.testing.assert_array_equal(p.value, [-3e-200, -4e-200])
    np.testing.assert_array_equal(z.value, [0.0, 0.0])
    q = td.Parameter(np.zeros(2))
    q.grad = np.array([np.inf, 1.0])
    optimizers.SGD(1.0, clipnorm=1.0).step([q])
    assert np.isnan(q.value[0]) and q.value[1] == 0.0       # inf norm: scaled by 0 (inf * 0 = NaN)


def test_schedules_by_formula():
    e = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert e(0) == pytest.approx(0.1) and e(10) == pytest.approx(0.05) and e(5) == pytest.approx(0.1 * 0.5 ** 0.5)
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert s(9) == pytest.approx(0.1) and s(10) == pytest.approx(0.05)
    c = schedules.CosineDecay(1.0, decay_steps=100, alpha=0.1)
    assert c(0) == pytest.approx(1.0) and c(100) == pytest.approx(0.1) and c(500) == pytest.approx(0.1)
    assert c(50) == pytest.approx(0.9 * 0.5 * (1 + math.cos(math.pi / 2)) + 0.1)
    pw = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [pw(0), pw(10), pw(11), pw(20), pw(21)] == [1.0, 1.0, 0.5, 0.5, 0.1]


def test_optimizer_follows_its_schedule_step_by_step():
    opt = optimizers.SGD(schedules.PiecewiseConstantDecay([1], [1.0, 0.1]))
    p = td.Parameter(np.zeros(1))
    for _ in range(3):
        p.grad = np.ones(1)
        opt.step([p])
    # steps 0 and 1 at lr 1.0, step 2 at 0.1
    np.testing.assert_allclose(p.value, [-2.1])


def test_float32_update_keeps_dtype():
    p = td.Parameter(np.ones(5, np.float32))
    p.grad = np.ones(5, np.float32)
    optimizers.Adam().step([p])
    assert p.value.dtype == np.float32
