"""gconv_lib: grouped convolution from scratch in NumPy, with PyTorch's semantics.

Every function computes what its torch counterpart computes, checked against torch in the
test suite; the few deliberate differences (inputs torch accepts that gconv_lib refuses,
and why) are listed in :mod:`~gconv_lib.torch_check`.

Layout (one idea per module):

* :mod:`~gconv_lib.conv` -- ``conv1d``, ``conv2d``, ``conv3d``: the public functions;
* :mod:`~gconv_lib.validate` -- every argument rule, with clear errors;
* :mod:`~gconv_lib.naive` -- the loop oracle, ``conv2d_naive``;
* :mod:`~gconv_lib.im2col` -- the vectorised teaching strategy, ``conv2d_im2col``;
* :mod:`~gconv_lib.fast` -- the fast default path, ``conv2d_fast`` (tiles, threads);
* :mod:`~gconv_lib.fold` -- ``conv1d`` and ``conv3d`` folded into 2-d convolutions for it;
* :mod:`~gconv_lib.threads` -- ``set_num_threads``, ``get_num_threads``: the thread pool, and
  NumPy's BLAS while it runs;
* :mod:`~gconv_lib.bench` -- ``python -m gconv_lib.bench``: gconv_lib against torch, timed,
  on the suites of :mod:`~gconv_lib.bench_suites` and the networks of :mod:`~gconv_lib.networks`
  (the Conv2d layers of eight ImageNet networks, checked against their published sizes);
* :mod:`~gconv_lib.grouped` -- split/concatenate and block-diagonal views of ``groups``;
* :mod:`~gconv_lib.cases` -- ``classify``, ``valid_groups``, ``depthwise_conv2d``;
* :mod:`~gconv_lib.cost` -- weight shape, parameters, multiply-adds, connectivity (also of
  transposed layers), and the groups a weight count implies;
* :mod:`~gconv_lib.layouts` -- Keras/TensorFlow kernels as PyTorch weights and back, checked
  against TensorFlow's documented formulas written in NumPy;
* :mod:`~gconv_lib.layer` -- ``Conv2d``, a layer object that mirrors ``torch.nn.Conv2d``;
* :mod:`~gconv_lib.torch_check` -- run the same thing through PyTorch and compare, and the
  table of gconv_lib's deliberate differences from torch;
* :mod:`~gconv_lib.onnx_check` -- ``onnx_conv``: one ONNX ``Conv`` node run by ONNX Runtime;
* :mod:`~gconv_lib.transpose` -- ``conv_transpose2d``, the grouped convolution run backwards;
* :mod:`~gconv_lib.backward` -- ``conv2d_backward``: the gradients, from gconv_lib's own convolutions;
* :mod:`~gconv_lib.weight_grad` -- the weight's gradient, one long matrix product per group, by tiles;
* :mod:`~gconv_lib.shuffle` -- ``channel_shuffle`` and the connectivity of a stack of layers.
"""

from .backward import conv2d_backward
from .cases import LayerCase, classify, depthwise_conv2d, valid_groups
from .conv import conv1d, conv2d, conv3d
from .cost import connectivity, groups_for_weight_count, macs, param_count, weight_shape
from .fast import conv2d_fast
from .grouped import block_diagonal_weight, conv2d_block_diagonal, conv2d_split
from .im2col import conv2d_im2col
from .layer import Conv2d
from .layouts import (
    keras_conv_to_torch,
    keras_depthwise_to_torch,
    matches_tf,
    tf_conv2d,
    tf_depthwise_conv2d,
    torch_conv_to_keras,
    torch_depthwise_to_keras,
)
from .naive import conv2d_naive
from .onnx_check import onnx_conv, onnx_conv_model
from .shuffle import channel_shuffle, compose_connectivity, shuffle_matrix, shuffle_permutation
from .threads import get_num_threads, set_num_threads
from .torch_check import TorchComparison, compare_with_torch, torch_conv
from .transpose import conv_transpose2d
from .validate import conv_output_size, conv_transpose_output_size

__version__ = "0.1.0"

__all__ = [
    "Conv2d",
    "LayerCase",
    "TorchComparison",
    "block_diagonal_weight",
    "channel_shuffle",
    "classify",
    "compare_with_torch",
    "compose_connectivity",
    "connectivity",
    "conv1d",
    "conv2d",
    "conv2d_backward",
    "conv2d_block_diagonal",
    "conv2d_fast",
    "conv2d_im2col",
    "conv2d_naive",
    "conv2d_split",
    "conv3d",
    "conv_output_size",
    "conv_transpose2d",
    "conv_transpose_output_size",
    "depthwise_conv2d",
    "get_num_threads",
    "groups_for_weight_count",
    "keras_conv_to_torch",
    "keras_depthwise_to_torch",
    "macs",
    "matches_tf",
    "onnx_conv",
    "onnx_conv_model",
    "param_count",
    "set_num_threads",
    "shuffle_matrix",
    "shuffle_permutation",
    "tf_conv2d",
    "tf_depthwise_conv2d",
    "torch_conv",
    "torch_conv_to_keras",
    "torch_depthwise_to_keras",
    "valid_groups",
    "weight_shape",
]
