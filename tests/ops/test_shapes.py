"""Shape invariants, checked before any kernel runs: no empty axis that a kernel loops over,
every output size >= 1, and no window, stride or padding so large that the kernels' int64
index arithmetic overflows. Each error names what was expected and what was received."""
import numpy as np
import pytest

import tinydl.device
from tinydl import ops
from tinydl.ops import merge


@pytest.fixture
def no_kernel(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was reached before the input was checked")
    monkeypatch.setattr(tinydl.device, "backend", refuse)


BIG = 2**63
CASES = {
    # the reproducer: a 0-row image padded to 2 rows (heap corruption before)
    "maxpool2d empty H, padded": (
        lambda: ops.maxpool2d_forward(np.zeros((1, 1, 0, 20000)), pool_size=(2, 1), stride=1,
                                      padding=(1, 1, 0, 0)),
        ["no empty axis", "(1, 1, 0, 20000)"]),
    "avgpool2d empty H, padded": (
        lambda: ops.avgpool2d_forward(np.zeros((1, 1, 0, 5)), pool_size=(2, 1), stride=1,
                                      padding=(1, 1, 0, 0)),
        ["no empty axis", "(1, 1, 0, 5)"]),
    "maxpool2d empty batch": (lambda: ops.maxpool2d_forward(np.zeros((0, 1, 4, 4)), 2),
                              ["no empty axis", "(0, 1, 4, 4)"]),
    "global_avgpool2d empty C": (lambda: ops.global_avgpool2d_forward(np.zeros((2, 0, 4, 4))),
                                 ["no empty axis", "(2, 0, 4, 4)"]),
    "conv2d empty W, padded": (
        lambda: ops.conv2d_forward(np.zeros((1, 1, 4, 0)), np.zeros((1, 1, 1, 1)), None, padding=1),
        ["no empty axis", "(1, 1, 4, 0)"]),
    "conv2d empty filters": (
        lambda: ops.conv2d_forward(np.zeros((1, 1, 4, 4)), np.zeros((0, 1, 3, 3)), None),
        ["no empty axis", "(0, 1, 3, 3)"]),
    "conv2d stride 2**63": (
        lambda: ops.conv2d_forward(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), None, stride=BIG),
        ["<= 2**31 - 1", f"stride={BIG}"]),
    "conv2d padding 2**63": (
        lambda: ops.conv2d_forward(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), None, padding=BIG),
        ["<= 2**31 - 1", f"padding={BIG}"]),
    "maxpool2d stride 2**63": (
        lambda: ops.maxpool2d_forward(np.zeros((1, 1, 4, 4)), 2, stride=(1, BIG)),
        ["<= 2**31 - 1", f"stride=(1, {BIG})"]),
    "avgpool2d pool 2**63": (lambda: ops.avgpool2d_forward(np.zeros((1, 1, 4, 4)), BIG),
                             ["<= 2**31 - 1", f"pool_size={BIG}"]),
    "softmax empty axis": (lambda: ops.softmax_forward(np.zeros((3, 0))),
                           ["axis -1 must not be empty", "(3, 0)"]),
    "softmax empty axis 0": (lambda: ops.softmax_forward(np.zeros((0, 3)), axis=0),
                             ["axis 0 must not be empty", "(0, 3)"]),
    "dense empty features": (lambda: ops.dense_forward(np.zeros((2, 0)), np.zeros((0, 3))),
                             ["no empty axis", "(2, 0)"]),
    "dense empty units": (lambda: ops.dense_forward(np.zeros((2, 3)), np.zeros((3, 0))),
                          ["no empty axis", "(3, 0)"]),
    "dense empty batch": (lambda: ops.dense_forward(np.zeros((0, 3)), np.zeros((3, 2))),
                          ["no empty axis", "(0, 3)"]),
    "sum_to empty": (lambda: ops.sum_to(np.zeros((0, 3)), (3,)), ["no empty axis", "(0, 3)"]),
    "merge_heads empty heads": (lambda: ops.merge_heads_forward(np.zeros((2, 0, 3, 4))),
                                ["no empty axis", "(2, 0, 3, 4)"]),
    "split_heads empty length": (lambda: ops.split_heads_forward(np.zeros((2, 0, 4)), 2),
                                 ["no empty axis", "(2, 0, 4)"]),
    "patchify empty image": (lambda: ops.patchify_forward(np.zeros((1, 1, 0, 0)), 2),
                             ["no empty axis", "(1, 1, 0, 0)"]),
    "concat_token empty features": (
        lambda: ops.concat_token_forward(np.zeros((2, 3, 0)), np.zeros(0)), ["no empty axis", "(2, 3, 0)"]),
    # the families added by the Keras layers and merge layers
    "upsample2d empty C": (lambda: ops.upsample2d_forward(np.zeros((1, 0, 2, 2)), 2),
                           ["no empty axis", "(1, 0, 2, 2)"]),
    "upsample2d size 2**63": (lambda: ops.upsample2d_forward(np.zeros((1, 1, 2, 2)), (BIG, 1)), ["<= 2**31 - 1"]),
    "embedding empty ids": (lambda: ops.embedding_forward(np.zeros((2, 0), dtype=int), np.zeros((3, 2))),
                            ["no empty axis", "(2, 0)"]),
    "embedding empty table": (lambda: ops.embedding_forward(np.array([0]), np.zeros((1, 0))),
                              ["no empty axis", "(1, 0)"]),
    "conv2d_transpose empty H": (
        lambda: ops.conv2d_transpose_forward(np.zeros((1, 1, 0, 2)), np.zeros((1, 1, 1, 1)), None),
        ["no empty axis", "(1, 1, 0, 2)"]),
    "conv2d_transpose padding crops the output": (
        lambda: ops.conv2d_transpose_forward(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1)), None, padding=1),
        ["must be >= 1", "(-1, -1)"]),
    "depthwise_conv2d empty W": (
        lambda: ops.depthwise_conv2d_forward(np.zeros((1, 2, 4, 0)), np.zeros((2, 1, 1, 1)), None),
        ["no empty axis", "(1, 2, 4, 0)"]),
    "depthwise_conv2d kernel larger than the input": (
        lambda: ops.depthwise_conv2d_forward(np.zeros((1, 2, 2, 2)), np.zeros((2, 1, 3, 3)), None),
        ["no larger than the padded input"]),
    "crop2d empty C": (lambda: ops.crop2d_forward(np.zeros((2, 0, 4, 4)), [0, 0], [0, 0], 2, 2),
                       ["no empty axis", "(2, 0, 4, 4)"]),
    "flip2d empty batch": (lambda: ops.flip2d_forward(np.zeros((0, 1, 2, 2)), np.zeros(0, bool), np.zeros(0, bool)),
                           ["no empty axis", "(0, 1, 2, 2)"]),
    "merge add empty": (lambda: merge.add_forward([np.zeros((2, 0)), np.zeros((2, 0))]), ["no empty axis", "(2, 0)"]),
    "huber empty": (lambda: ops.huber_forward(np.zeros((0, 3)), np.zeros((0, 3))), ["at least one element"]),
    "batchnorm empty batch": (
        lambda: ops.batchnorm_forward(np.zeros((0, 2)), np.ones(2), np.zeros(2), np.zeros(2), np.ones(2),
                                      training=False),
        ["no empty axis", "(0, 2)"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_shapes_are_refused_before_any_kernel(no_kernel, name):
    call, words = CASES[name]
    with pytest.raises(ValueError) as err:
        call()
    for w in words:
        assert w in str(err.value), str(err.value)


def test_the_reproducer_is_refused_and_a_valid_neighbour_still_runs():
    with pytest.raises(ValueError):
        ops.maxpool2d_forward(np.zeros((1, 1, 0, 20000)), pool_size=(2, 1), stride=1, padding=(1, 1, 0, 0))
    out, cache = ops.maxpool2d_forward(np.ones((1, 1, 1, 3)), pool_size=(2, 1), stride=1, padding=(1, 1, 0, 0))
    np.testing.assert_array_equal(out, np.ones((1, 1, 2, 3)))
    np.testing.assert_array_equal(ops.maxpool2d_backward(np.ones_like(out), cache), 2 * np.ones((1, 1, 1, 3)))
