"""tinydl.ops: the forward/backward op pairs, the only door to the kernels.

Each family module validates its input once (shapes, dtypes, ranges; a ValueError or
TypeError naming what was expected and what was received), makes arrays contiguous, then
calls the same-named function of the active device's kernel module (tinydl.device.backend).
Each forward returns (out, cache); the matching backward takes (dout, cache). The cache is one
record for every family (tinydl/ops/_cache.py: op, device, kernel version, the kernel's cache,
output shape and dtype): a backward refuses another op's cache, and runs the device and kernel
version that made it. The active device and versions are per thread (tinydl.device).
The merge ops (add_forward, multiply_forward, ...) live in tinydl.ops.merge: their names would
clash with the elementwise ``add`` here.
"""
from tinydl.ops.activations import (
    elu_backward,
    elu_forward,
    gelu_backward,
    gelu_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    selu_backward,
    selu_forward,
    sigmoid_backward,
    sigmoid_forward,
    silu_backward,
    silu_forward,
    softmax_backward,
    softmax_forward,
    softplus_backward,
    softplus_forward,
    tanh_backward,
    tanh_forward,
)
from tinydl.ops.attention import attention_backward, attention_forward, causal_mask
from tinydl.ops.augmentation import crop2d_backward, crop2d_forward, flip2d_backward, flip2d_forward
from tinydl.ops.batchnorm import (
    batchnorm_backward,
    batchnorm_forward,
    batchnorm_relu_backward,
    batchnorm_relu_forward,
)
from tinydl.ops.conv2d import conv2d_backward, conv2d_forward, conv2d_relu_backward, conv2d_relu_forward
from tinydl.ops.conv2d_transpose import conv2d_transpose_backward, conv2d_transpose_forward
from tinydl.ops.dense import dense_backward, dense_forward
from tinydl.ops.depthwise_conv2d import depthwise_conv2d_backward, depthwise_conv2d_forward
from tinydl.ops.dropout import dropout_backward, dropout_forward
from tinydl.ops.elementwise import accumulate, add, scale_, sum_squares, sum_to
from tinydl.ops.embedding import embedding_backward, embedding_forward
from tinydl.ops.layernorm import layernorm_backward, layernorm_forward
from tinydl.ops.losses import (
    binary_cross_entropy_backward,
    binary_cross_entropy_forward,
    categorical_cross_entropy_backward,
    categorical_cross_entropy_forward,
    huber_backward,
    huber_forward,
    mae_backward,
    mae_forward,
    mse_backward,
    mse_forward,
    scale_rows,
    sigmoid_binary_cross_entropy_backward,
    sigmoid_binary_cross_entropy_forward,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
)
from tinydl.ops.optim import adagrad_update, adam_update, rmsprop_update, sgd_update
from tinydl.ops.pool2d import (
    avgpool2d_backward,
    avgpool2d_forward,
    global_avgpool2d_backward,
    global_avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)
from tinydl.ops.rescale import rescale_backward, rescale_forward
from tinydl.ops.sequence import (
    concat_token_backward,
    concat_token_forward,
    merge_heads_backward,
    merge_heads_forward,
    patchify_backward,
    patchify_forward,
    pos_embed_backward,
    pos_embed_forward,
    sequence_pool_backward,
    sequence_pool_forward,
    split_heads_backward,
    split_heads_forward,
)
from tinydl.ops.upsampling import upsample2d_backward, upsample2d_forward

__all__ = [
    # elementwise
    "add", "accumulate", "scale_", "sum_squares", "sum_to",
    # dense
    "dense_forward", "dense_backward",
    # activations
    "relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
    "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
    "gelu_forward", "gelu_backward", "softmax_forward", "softmax_backward",
    # dropout
    "dropout_forward", "dropout_backward",
    # losses
    "softmax_cross_entropy_forward", "softmax_cross_entropy_backward",
    "sigmoid_binary_cross_entropy_forward", "sigmoid_binary_cross_entropy_backward",
    "binary_cross_entropy_forward", "binary_cross_entropy_backward",
    "categorical_cross_entropy_forward", "categorical_cross_entropy_backward",
    "mse_forward", "mse_backward",
    # optim
    "sgd_update", "adam_update",
    # rescale
    "rescale_forward", "rescale_backward",
    # attention
    "attention_forward", "attention_backward", "causal_mask",
    # layer norm
    "layernorm_forward", "layernorm_backward",
    # sequence (transformer plumbing)
    "patchify_forward", "patchify_backward", "concat_token_forward", "concat_token_backward",
    "pos_embed_forward", "pos_embed_backward", "sequence_pool_forward", "sequence_pool_backward",
    "split_heads_forward", "split_heads_backward", "merge_heads_forward", "merge_heads_backward",
    # conv2d, pooling, batch norm
    "conv2d_forward", "conv2d_backward", "conv2d_relu_forward", "conv2d_relu_backward",
    "maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward",
    "global_avgpool2d_forward", "global_avgpool2d_backward",
    "batchnorm_forward", "batchnorm_backward", "batchnorm_relu_forward", "batchnorm_relu_backward",
    # more activations
    "silu_forward", "silu_backward", "elu_forward", "elu_backward",
    "selu_forward", "selu_backward", "softplus_forward", "softplus_backward",
    # upsampling
    "upsample2d_forward", "upsample2d_backward",
    # embedding
    "embedding_forward", "embedding_backward",
    # transposed convolution
    "conv2d_transpose_forward", "conv2d_transpose_backward",
    # depthwise convolution
    "depthwise_conv2d_forward", "depthwise_conv2d_backward",
    # augmentation
    "flip2d_forward", "flip2d_backward", "crop2d_forward", "crop2d_backward",
    # regression losses, sample weights, more optimizers
    "mae_forward", "mae_backward", "huber_forward", "huber_backward", "scale_rows",
    "rmsprop_update", "adagrad_update",
]
