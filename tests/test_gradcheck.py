"""gradcheck itself: it passes correct gradients and catches ones that are 1% off."""
import numpy as np
import pytest

import tinydl as td
from tinydl import device, layers, losses, ops


class OffByOnePercent(layers.Dense):
    def backward(self, dout):
        dx = super().backward(dout)
        self.kernel.grad = self.kernel.grad * 1.01
        return dx


class WrongInputGrad(layers.ReLU):
    def backward(self, dout):
        return super().backward(dout) * 1.01


def x64(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def test_passes_a_correct_dense_layer():
    assert td.gradcheck(layers.Dense(4, activation="tanh"), x64(3, 5))


def test_catches_a_weight_gradient_one_percent_off():
    with pytest.raises(td.GradcheckError, match=r"weight .*kernel: gradient mismatch at index \(\d+, \d+\): analytic"):
        td.gradcheck(OffByOnePercent(4), x64(3, 5))


def test_catches_an_input_gradient_one_percent_off():
    with pytest.raises(td.GradcheckError, match=r"input 0: gradient mismatch"):
        td.gradcheck(WrongInputGrad(), x64(3, 5) + 0.05)


def test_op_pairs_and_non_float_inputs_pass_through():
    logits = x64(4, 3)
    labels = np.array([0, 2, 1, 2])
    assert td.gradcheck((ops.softmax_cross_entropy_forward, ops.softmax_cross_entropy_backward), [logits, labels])
    assert td.gradcheck((ops.dense_forward, ops.dense_backward), [x64(2, 3), x64(3, 4, seed=1), x64(4, seed=2)])


def test_a_whole_model():
    model = td.Sequential([layers.Input((3,)), layers.Dense(4, activation="gelu"), layers.Dense(2, activation="sigmoid")])
    model.build(dtype=np.float64)
    assert td.gradcheck(model, x64(2, 3))


def test_refuses_float32_weights():
    layer = layers.Dense(2)
    layer(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="float64"):
        td.gradcheck(layer, x64(1, 3))


def test_does_not_modify_the_callers_arrays():
    x = x64(3, 5)
    keep = x.copy()
    td.gradcheck(layers.Dense(2), x)
    np.testing.assert_array_equal(x, keep)


@pytest.mark.parametrize("loss, y_true, y_pred", [
    (losses.SparseCategoricalCrossentropy(from_logits=True), np.array([1, 0, 2]), x64(3, 3)),
    (losses.SparseCategoricalCrossentropy(), np.array([1, 0, 2]), np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])),
    (losses.CategoricalCrossentropy(from_logits=True), np.array([[0, 1, 0], [0.5, 0.5, 0.0]]), x64(2, 3)),
    (losses.CategoricalCrossentropy(), np.array([[0, 1.0, 0], [0.5, 0.5, 0.0]]), np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])),
    (losses.BinaryCrossentropy(from_logits=True), np.array([[1.0], [0.0], [1.0]]), x64(3, 1)),
    (losses.BinaryCrossentropy(), np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.7, 0.2], [0.4, 0.9]])),
    (losses.MeanSquaredError(), x64(3, 2, seed=5), x64(3, 2)),
])
def test_every_loss(loss, y_true, y_pred):
    assert td.gradcheck(loss, [y_true, y_pred])


# ---- a gradcheck that cannot miss a gradient (issue 9, item 10) --------------------------------
def _dense_pair(drop):
    """ops.dense's pair whose backward drops the gradient of input ``drop`` (None or missing)."""
    def backward(dout, cache):
        dx, dw, db = ops.dense_backward(dout, cache)
        grads = [dx, dw, db]
        if drop == "last-missing":
            return grads[:2]
        grads[drop] = None
        return tuple(grads)
    return ops.dense_forward, backward


def _dense_scaled(which):
    def backward(dout, cache):
        grads = list(ops.dense_backward(dout, cache))
        grads[which] = grads[which] * 1.01
        return tuple(grads)
    return ops.dense_forward, backward


DENSE_INPUTS = [x64(2, 3), x64(3, 4, seed=1), x64(4, seed=2)]


@pytest.mark.parametrize("drop, name", [(0, "input 0"), (1, "input 1"), (2, "input 2"),
                                        ("last-missing", "input 2")])
def test_op_pair_missing_or_none_gradient_fails_naming_the_input(drop, name):
    with pytest.raises(td.GradcheckError, match=rf"^{name}: backward returned (None|no gradient)"):
        td.gradcheck(_dense_pair(drop), DENSE_INPUTS)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_op_pair_one_percent_error_in_each_input_fails(which):
    with pytest.raises(td.GradcheckError, match=rf"^input {which}: gradient mismatch"):
        td.gradcheck(_dense_scaled(which), DENSE_INPUTS)


def test_a_backward_returning_only_dx_for_x_and_w_fails():
    def backward(dout, cache):
        return (ops.dense_backward(dout, cache)[0],)
    with pytest.raises(td.GradcheckError, match=r"^input 1: backward returned no gradient \(it returned 1 for 2"):
        td.gradcheck((lambda x, w: ops.dense_forward(x, w, None), backward), DENSE_INPUTS[:2])


def test_wrt_excludes_inputs_without_a_gradient():
    rng = np.random.default_rng(3)
    x, g, b = x64(5, 3), 1 + rng.random(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), 1 + rng.random(3)
    pair = (ops.batchnorm_forward, ops.batchnorm_backward)
    with device.using("reference"):
        with pytest.raises(td.GradcheckError, match=r"^input 3: backward returned no gradient"):
            td.gradcheck(pair, [x, g, b, rm, rv])
        assert td.gradcheck(pair, [x, g, b, rm, rv], wrt=(0, 1, 2))
    with pytest.raises(ValueError, match=r"wrt must name float inputs, positions \[0, 1, 2, 3, 4\]"):
        td.gradcheck(pair, [x, g, b, rm, rv], wrt=(0, 7))


class DropsInputGrad(layers.Dense):
    def backward(self, dout):
        super().backward(dout)
        return None


class DropsBiasGrad(layers.Dense):
    def backward(self, dout):
        dx = super().backward(dout)
        self.bias.grad = None
        return dx


class OffBiasOnePercent(layers.Dense):
    def backward(self, dout):
        dx = super().backward(dout)
        self.bias.grad = self.bias.grad * 1.01
        return dx


@pytest.mark.parametrize("layer, message", [
    (DropsInputGrad(3), r"^input 0: backward returned None"),
    (DropsBiasGrad(3), r"^weight .*bias: backward returned no gradient"),
    (OffBiasOnePercent(3), r"^weight .*bias: gradient mismatch"),
])
def test_layer_missing_or_wrong_gradients_fail_naming_them(layer, message):
    with pytest.raises(td.GradcheckError, match=message):
        td.gradcheck(layer, x64(3, 5))
