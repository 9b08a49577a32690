"""One ONNX Conv node run by ONNX Runtime: a third implementation, against gconv_lib and torch."""

import re
import sys

import numpy as np
import pytest
from conftest import TOL

import gconv_lib as gl
from gconv_lib.onnx_check import onnx_conv, onnx_conv_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

F32 = TOL[np.dtype(np.float32)]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch: may copy the input
def test_onnx_conv_equals_conv2d_and_torch(conv_case):
    """Every groups case of the shared table (grouped, depthwise, depthwise with a multiplier;
    strides, pads incl. asymmetric 'same', dilation, bias, unbatched), in float32."""
    x, w, b = conv_case.arrays(np.float32)
    ours = onnx_conv(x, w, b, **conv_case.kwargs)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, gl.conv2d(x, w, b, **conv_case.kwargs), **F32)
    np.testing.assert_allclose(ours, gl.torch_conv(x, w, b, **conv_case.kwargs), **F32)


# (input shape, weight shape, kwargs): the three layers the book names, at realistic sizes
LAYERS = {
    "grouped ResNeXt 3x3, 32 groups": ((1, 128, 14, 14), (128, 4, 3, 3), dict(padding=1, groups=32)),
    "depthwise MobileNet stride 2": ((2, 32, 15, 15), (32, 1, 3, 3), dict(stride=2, padding=1, groups=32)),
    "depthwise multiplier 3, dilation 2": ((1, 8, 12, 11), (24, 1, 3, 3), dict(dilation=2, padding=(2, 1),
                                                                              groups=8)),
}


@pytest.mark.parametrize(("x_shape", "w_shape", "kwargs"), LAYERS.values(), ids=LAYERS.keys())
def test_onnx_conv_on_real_layers(x_shape, w_shape, kwargs):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape).astype(np.float32), rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    np.testing.assert_allclose(onnx_conv(x, w, b, **kwargs), gl.conv2d(x, w, b, **kwargs), **F32)


@pytest.mark.parametrize("nd", [1, 3])
def test_onnx_conv_in_1d_and_3d(nd):
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((2, 6, *(7,) * nd)).astype(np.float32)
    w = rng.standard_normal((9, 2, *(3,) * nd)).astype(np.float32)
    conv = {1: gl.conv1d, 3: gl.conv3d}[nd]
    np.testing.assert_allclose(onnx_conv(x, w, stride=2, padding=1, groups=3),
                               conv(x, w, stride=2, padding=1, groups=3), **F32)


def test_model_attributes_and_pads_order():
    """'same' with an even kernel pads one more at the end; ONNX lists all starts, then all ends."""
    x, w = np.zeros((1, 6, 8, 8), np.float32), np.zeros((3, 2, 4, 2), np.float32)
    model = onnx_conv_model(x, w, np.zeros(3, np.float32), padding="same", dilation=(1, 3), groups=3)
    (node,) = model.graph.node
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attributes == dict(group=3, kernel_shape=[4, 2], strides=[1, 1], dilations=[1, 3],
                              pads=[1, 1, 2, 2])  # H: (1, 2), W: (3 * 1) -> (1, 2)
    assert list(node.input) == ["X", "W", "B"]
    stored = {t.name: onnx.numpy_helper.to_array(t).shape for t in model.graph.initializer}
    assert stored == {"W": (3, 2, 4, 2), "B": (3,)}
    assert model.opset_import[0].version == 17


def test_dropping_the_group_attribute_breaks_the_model():
    """What a converter that loses `group` produces: a dense Conv whose weight has C_in / g
    input channels per row where the input has C_in. ONNX Runtime refuses it, as TensorRT does
    ("kernel weights has count X but Y expected"), and the counts name the lost groups."""
    x, w = np.zeros((1, 32, 8, 8), np.float32), np.zeros((32, 1, 3, 3), np.float32)
    model = onnx_conv_model(x, w, padding=1, groups=32)
    (group,) = [a for a in model.graph.node[0].attribute if a.name == "group"]
    group.i = 1
    options = ort.SessionOptions()
    options.log_severity_level = 4  # only fatal messages on stderr: the failure is the point
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match=re.escape(
            "Input channels C is not equal to kernel channels * group. C: 32 kernel channels: 1 group: 1")):
        session.run(None, {"X": x})
    count, expected = w.size, gl.param_count(32, 32, 3, groups=1, bias=False)
    assert (count, expected) == (288, 9216)
    assert gl.groups_for_weight_count(count, 32, 32, 3) == 32


ONNX_ERRORS = {
    "float64": (
        lambda: onnx_conv(np.zeros((1, 4, 5, 5)), np.zeros((4, 1, 3, 3)), groups=4), TypeError,
        "onnx_conv runs ONNX Runtime's float32 Conv kernel (its CPU provider has none for float64), "
        "but the arrays have dtype float64: convert them with .astype(np.float32)"),
    "groups !| in_channels": (
        lambda: onnx_conv_model(np.zeros((1, 8, 5, 5), np.float32), np.zeros((4, 3, 3, 3), np.float32),
                                groups=3), ValueError,
        "groups (3) must divide in_channels (8)"),
}


@pytest.mark.parametrize(("call", "error", "message"), ONNX_ERRORS.values(), ids=ONNX_ERRORS.keys())
def test_onnx_errors(call, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        call()


def test_clear_import_error_without_onnxruntime(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    with pytest.raises(ImportError, match="^running an ONNX Conv node needs onnx and onnxruntime: "
                                          "pip install onnx onnxruntime$"):
        onnx_conv(np.zeros((1, 2, 3, 3), np.float32), np.zeros((2, 1, 3, 3), np.float32), groups=2)
