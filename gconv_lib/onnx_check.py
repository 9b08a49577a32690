"""The bridge to ONNX: one ``Conv`` node, built with ``onnx`` and run with ONNX Runtime.

An exported model stores a convolution as an ONNX ``Conv`` node whose meaning is
PyTorch's: input ``X`` of shape ``(N, C_in, H, W)``, weight ``W`` of shape
``(C_out, C_in / group, kH, kW)``, and the attributes ``group``, ``strides``, ``pads``,
``dilations`` and ``kernel_shape``. ``group`` is ``groups``: input and output channels are
cut into ``group`` consecutive blocks and block ``j`` of the outputs reads only block ``j``
of the inputs. A converter that drops the attribute (``group = 1``) declares a dense layer
whose weight would need ``group`` times more input channels per row; TensorRT then reports
"kernel weights has count X but Y was expected" (decoded by
:func:`gconv_lib.cost.groups_for_weight_count`).

:func:`onnx_conv` runs such a node with ONNX Runtime's CPU kernels, a third implementation
of the grouped convolution, independent of gconv_lib's and of PyTorch's. ``pads`` lists
every axis's start, then every axis's end: ``[top, left, bottom, right]``.

``onnx`` and ``onnxruntime`` are optional dependencies, imported only when one of these
functions is called (``pip install onnx onnxruntime``).
"""

from __future__ import annotations

import numpy as np

from .validate import DIM_NAMES, check_conv_args

#: The operator set the models use; ``Conv`` has had this meaning since opset 11.
OPSET = 17
#: The ONNX file format version written with :data:`OPSET` (ONNX Runtime reads a bounded range).
IR_VERSION = 8


def _onnx():
    try:
        import onnx
        import onnxruntime
    except ImportError as e:
        raise ImportError("running an ONNX Conv node needs onnx and onnxruntime: "
                          "pip install onnx onnxruntime") from e
    return onnx, onnxruntime


def onnx_conv_model(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """The ONNX model of one ``Conv`` node that computes ``conv2d(input, weight, ...)``.

    The arguments are checked exactly as :func:`gconv_lib.conv2d` checks them (the
    dimension comes from ``weight.ndim``: 4 for a 2-d convolution, 3 and 5 also work).
    The weight and the bias are stored in the model as initializers, as an exported
    model stores them; the input is the graph input ``X``, with symbolic batch and
    spatial sizes.

    Parameters
    ----------
    input : ndarray of shape (N, C_in, H, W) or (C_in, H, W), float32
        Only its channel count, dtype and sizes are used, for the checks.
    weight : ndarray of shape (C_out, C_in // groups, kH, kW), float32
    bias : ndarray of shape (C_out,), optional
    stride, padding, dilation, groups
        As in :func:`gconv_lib.conv2d`; ``padding='same'`` becomes explicit ``pads``
        (the extra row or column at the end, as PyTorch puts it).

    Returns
    -------
    onnx.ModelProto
        Opset :data:`OPSET`, checked by ``onnx.checker.check_model``.

    Examples
    --------
    >>> x, w = np.zeros((1, 8, 6, 6), np.float32), np.zeros((4, 2, 3, 3), np.float32)
    >>> node = onnx_conv_model(x, w, padding=1, groups=4).graph.node[0]
    >>> node.op_type, list(node.input)
    ('Conv', ['X', 'W'])
    >>> for attribute in node.attribute:
    ...     print(attribute.name, attribute.i if attribute.name == "group" else list(attribute.ints))
    dilations [1, 1]
    group 4
    kernel_shape [3, 3]
    pads [1, 1, 1, 1]
    strides [1, 1]
    """
    return _model(_check(input, weight, bias, stride, padding, dilation, groups))


def _model(args):
    """The checked model of one Conv node, from :class:`~gconv_lib.validate.ConvArgs`."""
    onnx, _ = _onnx()
    attributes = dict(
        group=args.groups,
        kernel_shape=list(args.kernel),
        strides=list(args.stride),
        pads=[before for before, _ in args.padding] + [after for _, after in args.padding],  # starts, ends
        dilations=list(args.dilation),
    )
    inputs = ["X", "W"] + ([] if args.bias is None else ["B"])
    node = onnx.helper.make_node("Conv", inputs, ["Y"], **attributes)
    axes = "DHW"[-args.nd:]
    x = onnx.helper.make_tensor_value_info(
        "X", onnx.TensorProto.FLOAT, ["N", args.in_channels, *(f"{a}_in" for a in axes)])
    y = onnx.helper.make_tensor_value_info(
        "Y", onnx.TensorProto.FLOAT, ["N", args.out_channels, *(f"{a}_out" for a in axes)])
    stored = [onnx.numpy_helper.from_array(args.weight, "W")]
    if args.bias is not None:
        stored.append(onnx.numpy_helper.from_array(args.bias, "B"))
    graph = onnx.helper.make_graph([node], "conv", [x], [y], initializer=stored)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   ir_version=IR_VERSION, producer_name="gconv_lib")
    onnx.checker.check_model(model, full_check=True)
    return model


def onnx_conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Run ``conv2d(input, weight, ...)`` as one ONNX ``Conv`` node in ONNX Runtime.

    Builds the model with :func:`onnx_conv_model` and runs it with ONNX Runtime's
    ``CPUExecutionProvider``, single-threaded.

    Parameters
    ----------
    input : ndarray of shape (N, C_in, H, W) or (C_in, H, W), float32
    weight : ndarray of shape (C_out, C_in // groups, kH, kW), float32
    bias : ndarray of shape (C_out,), float32, optional
    stride, padding, dilation, groups
        As in :func:`gconv_lib.conv2d`.

    Returns
    -------
    ndarray of shape (N, C_out, H_out, W_out) or (C_out, H_out, W_out), float32

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 8, 7, 7)).astype(np.float32)
    >>> w = rng.standard_normal((16, 1, 3, 3)).astype(np.float32)   # depthwise, multiplier 2
    >>> y = onnx_conv(x, w, padding=1, groups=8)
    >>> from gconv_lib import conv2d
    >>> y.shape, bool(np.allclose(y, conv2d(x, w, padding=1, groups=8), atol=1e-5))
    ((2, 16, 7, 7), True)
    """
    _, ort = _onnx()
    args = _check(input, weight, bias, stride, padding, dilation, groups)
    model = _model(args)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"X": args.input})  # (N, C_out, *out_spatial)
    return out[0] if args.unbatched else out


def _check(input, weight, bias, stride, padding, dilation, groups):
    """conv2d's checks (conv1d's or conv3d's by ``weight.ndim``), and float32 arrays."""
    nd = np.ndim(weight) - 2
    args = check_conv_args(input, weight, bias, stride, padding, dilation, groups,
                           nd=nd if nd in DIM_NAMES else 2)
    if args.dtype != np.float32:
        raise TypeError(f"onnx_conv runs ONNX Runtime's float32 Conv kernel (its CPU provider has none "
                        f"for float64), but the arrays have dtype {args.dtype}: convert them with "
                        f".astype(np.float32)")
    return args
