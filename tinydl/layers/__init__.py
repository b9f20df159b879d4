"""tinydl.layers: one module per family; each layer keeps call() and backward() adjacent."""
from tinydl.layers.activation import ELU, SELU, Activation, SiLU, Softplus
from tinydl.layers.activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from tinydl.layers.attention import MultiHeadAttention
from tinydl.layers.augmentation import RandomCrop, RandomFlip
from tinydl.layers.base import Layer
from tinydl.layers.conv import Conv2D
from tinydl.layers.conv1d import Conv1D
from tinydl.layers.conv_transpose import Conv2DTranspose
from tinydl.layers.core import Dense, Dropout, Flatten
from tinydl.layers.depthwise import DepthwiseConv2D, SeparableConv2D
from tinydl.layers.embedding import Embedding
from tinydl.layers.global_pooling import GlobalMaxPooling2D
from tinydl.layers.input_layer import Input, InputLayer
from tinydl.layers.layernorm import LayerNormalization
from tinydl.layers.merge import Add, Average, Concatenate, Multiply, add, average, concatenate, multiply
from tinydl.layers.normalization import BatchNormalization
from tinydl.layers.pooling import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D
from tinydl.layers.preprocessing import Rescaling
from tinydl.layers.reshaping import Reshape, UpSampling2D
from tinydl.layers.residual import Residual
from tinydl.layers.serialization import deserialize, serialize
from tinydl.layers.vision import ClassToken, PatchEmbedding, PositionalEmbedding, SequencePooling

__all__ = [
    "Layer", "Input", "InputLayer", "Dense", "Flatten", "Dropout",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax",
    "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
    "BatchNormalization", "Residual",
    "MultiHeadAttention", "LayerNormalization",
    "PatchEmbedding", "ClassToken", "PositionalEmbedding", "SequencePooling",
    "Activation", "SiLU", "ELU", "SELU", "Softplus",
    "Reshape", "GlobalMaxPooling2D", "UpSampling2D",
    "Embedding",
    "Conv2DTranspose",
    "DepthwiseConv2D", "SeparableConv2D",
    "Conv1D",
    "RandomFlip", "RandomCrop",
    "Add", "Multiply", "Average", "Concatenate", "add", "multiply", "average", "concatenate",
    "serialize", "deserialize",
    "Rescaling",
]
