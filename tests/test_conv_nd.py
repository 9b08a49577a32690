"""conv1d and conv3d against torch.nn.functional.conv1d / conv3d: values, shapes and errors.

They share conv2d's N-d core, so these tests check the parts that depend on the number of
spatial dimensions: shapes, per-axis stride/padding/dilation, and the checks' messages.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gconv_lib as gl
from gconv_lib.torch_check import TOLERANCES, torch_conv

torch = pytest.importorskip("torch")

CONV = {1: gl.conv1d, 3: gl.conv3d}
TORCH_CONV = {1: torch.nn.functional.conv1d, 3: torch.nn.functional.conv3d}


def make(nd, n, c_in, c_out, groups, kernel, size, dtype=np.float64, bias=True, seed=0):
    """Random input, weight and bias, valid by construction for ``nd`` spatial dimensions."""
    rng = np.random.default_rng(seed)
    kernel = (kernel,) * nd if np.isscalar(kernel) else kernel
    size = (size,) * nd if np.isscalar(size) else size
    x = rng.standard_normal((n, c_in, *size)).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups, *kernel)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if bias else None
    return x, w, b


def assert_matches_torch(nd, x, w, b, **kwargs):
    ours = CONV[nd](x, w, b, **kwargs)
    theirs = torch_conv(x, w, b, **kwargs)
    assert ours.shape == theirs.shape
    assert ours.dtype == x.dtype
    np.testing.assert_allclose(ours, theirs, **TOLERANCES[x.dtype])


# (c_in, c_out, groups, kernel, size, stride, padding, dilation)
CASES_1D = {
    "dense": (3, 5, 1, 3, 9, 1, 0, 1),
    "in>out groups=2": (8, 4, 2, 5, 11, 1, 2, 1),
    "in<out groups=2": (4, 8, 2, 3, 10, 2, 1, 1),
    "depthwise": (6, 6, 6, 3, 12, 1, "same", 1),
    "depthwise multiplier 2": (3, 6, 3, 4, 9, 1, "same", 2),
    "same even kernel": (4, 4, 2, 2, 7, 1, "same", 1),
    "valid stride 3": (4, 6, 2, 3, 13, 3, "valid", 1),
    "stride dilation padding": (6, 3, 3, 3, 17, 2, 3, 3),
    "pointwise": (4, 8, 4, 1, 5, 1, 0, 1),
    "odd size, unused tail": (2, 2, 1, 2, 8, 3, 0, 1),
}

# (c_in, c_out, groups, kernel, size, stride, padding, dilation), kernel/size per axis
CASES_3D = {
    "dense": (2, 3, 1, 3, 5, 1, 0, 1),
    "in>out groups=4": (8, 4, 4, (1, 3, 3), (3, 6, 5), 1, (0, 1, 1), 1),
    "in<out groups=2": (2, 6, 2, (2, 2, 3), 6, 2, 1, 1),
    "depthwise same": (4, 4, 4, 3, (4, 5, 6), 1, "same", 1),
    "same even kernel dilated": (2, 4, 2, (2, 4, 2), 6, 1, "same", (1, 1, 2)),
    "per-axis stride dilation": (3, 3, 3, (3, 2, 2), (9, 7, 8), (2, 1, 3), (1, 0, 2), (2, 3, 1)),
    "valid": (4, 2, 2, 2, 4, 2, "valid", 1),
}


CASES = {f"{nd}d {name}": (nd, case)
         for nd, cases in ((1, CASES_1D), (3, CASES_3D)) for name, case in cases.items()}


@pytest.mark.parametrize(("nd", "case"), CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_matches_torch(nd, case, dtype):
    c_in, c_out, groups, kernel, size, stride, padding, dilation = case
    x, w, b = make(nd, 2, c_in, c_out, groups, kernel, size, dtype)
    assert_matches_torch(nd, x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)


@pytest.mark.parametrize("nd", [1, 3])
def test_unbatched_input_drops_the_batch_axis(nd):
    x, w, b = make(nd, 1, 4, 6, 2, 3, 5)
    ours = CONV[nd](x[0], w, b, padding=1, groups=2)
    np.testing.assert_allclose(ours, CONV[nd](x, w, b, padding=1, groups=2)[0])
    assert ours.shape == torch_conv(x[0], w, b, padding=1, groups=2).shape


@pytest.mark.parametrize("nd", [1, 3])
def test_grouped_equals_split_into_dense_convolutions(nd):
    """A grouped conv is ``groups`` dense convs on channel slices, concatenated (no torch)."""
    x, w, _ = make(nd, 2, 6, 4, 2, 3, 6, bias=False)
    whole = CONV[nd](x, w, groups=2)
    halves = [CONV[nd](x[:, 3 * g : 3 * g + 3], w[2 * g : 2 * g + 2]) for g in range(2)]
    np.testing.assert_allclose(whole, np.concatenate(halves, axis=1), rtol=1e-12, atol=1e-12)


@st.composite
def conv_configs(draw, nd):
    """A valid conv{nd}d configuration: shapes valid by construction."""
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    same = draw(st.booleans())
    if same:
        stride, padding = (1,) * nd, "same"
        pads = [d * (k - 1) for k, d in zip(kernel, dilation)]
    else:
        stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
        pads = [2 * p for p in padding]
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    max_extra = 6 if nd == 1 else 2
    size = tuple(max(1, s - p) + draw(st.integers(0, max_extra)) for s, p in zip(span, pads))
    return dict(n=draw(st.integers(1, 2)), c_in=c_in, c_out=c_out, groups=groups, kernel=kernel,
                size=size, stride=stride, padding=padding, dilation=dilation,
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


def _run_config(nd, cfg):
    x, w, b = make(nd, cfg["n"], cfg["c_in"], cfg["c_out"], cfg["groups"], cfg["kernel"],
                   cfg["size"], bias=cfg["bias"], seed=cfg["seed"])
    assert_matches_torch(nd, x, w, b, stride=cfg["stride"], padding=cfg["padding"],
                         dilation=cfg["dilation"], groups=cfg["groups"])


@settings(max_examples=40, deadline=None)
@given(conv_configs(1))
def test_conv1d_matches_torch_property(cfg):
    _run_config(1, cfg)


@settings(max_examples=25, deadline=None)
@given(conv_configs(3))
def test_conv3d_matches_torch_property(cfg):
    _run_config(3, cfg)


# ---------------------------------------------------------------- errors
# (nd, input shape, weight shape, bias shape or None, kwargs, message pattern)
ERRORS = {
    "1d groups !| in_channels": (1, (1, 8, 5), (4, 3, 3), None, dict(groups=3),
                                 r"groups \(3\) must divide in_channels \(8\)"),
    "1d groups !| out_channels": (1, (1, 4, 5), (3, 2, 3), None, dict(groups=2),
                                  r"groups \(2\) must divide out_channels \(3, weight.shape\[0\]\)"),
    "1d weight channels": (1, (1, 8, 5), (4, 3, 3), None, dict(groups=2),
                           r"weight.shape\[1\] must be in_channels // groups = 8 // 2 = 4"),
    "1d kernel longer than input": (1, (1, 4, 2), (4, 4, 3), None, {},
                                    r"must be at least the dilated kernel size \(3 = 1 \* \(3 - 1\) \+ 1\)"),
    "1d 4-d input": (1, (1, 1, 4, 5), (4, 4, 3), None, {},
                     r"conv1d expects input of 2 dimensions .* but got input of shape \(1, 1, 4, 5\)"),
    "1d bias shape": (1, (1, 4, 5), (4, 4, 3), (3,), {}, r"bias must have shape \(out_channels,\) = \(4,\)"),
    "1d same with stride": (1, (1, 4, 5), (4, 4, 3), None, dict(padding="same", stride=2),
                            r"padding='same' needs stride 1"),
    "1d negative padding": (1, (1, 4, 5), (4, 4, 3), None, dict(padding=-1),
                            r"padding must be non-negative"),
    "1d stride 0": (1, (1, 4, 5), (4, 4, 3), None, dict(stride=0), r"stride must be positive"),
    "1d unknown padding string": (1, (1, 4, 5), (4, 4, 3), None, dict(padding="full"),
                                  r"padding must be an int, a tuple, 'valid' or 'same', but got 'full'"),
    "3d dilated kernel too big": (3, (1, 4, 4, 4, 4), (4, 4, 3, 3, 3), None, dict(dilation=2),
                                  r"dilated kernel size \(5 = 2 \* \(3 - 1\) \+ 1\)"),
    "3d stride of 2 values": (3, (1, 4, 4, 4, 4), (4, 4, 3, 3, 3), None, dict(stride=(1, 1)),
                              r"stride must be an int or a sequence of 3 ints for conv3d"),
    "3d 4-d weight": (3, (1, 4, 4, 4, 4), (4, 4, 3, 3), None, {},
                      r"conv3d expects weight of 5 dimensions"),
    "3d groups !| in_channels": (3, (1, 6, 4, 4, 4), (4, 2, 3, 3, 3), None, dict(groups=4),
                                 r"groups \(4\) must divide in_channels \(6\)"),
    "3d groups 0": (3, (1, 6, 4, 4, 4), (4, 6, 3, 3, 3), None, dict(groups=0),
                    r"groups must be a positive integer, but got groups=0"),
}


@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_invalid_configurations_raise_clear_errors_where_torch_raises(case):
    nd, x_shape, w_shape, b_shape, kwargs, pattern = case
    x, w = np.zeros(x_shape), np.zeros(w_shape)
    b = None if b_shape is None else np.zeros(b_shape)
    with pytest.raises(RuntimeError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        TORCH_CONV[nd](torch.from_numpy(x), torch.from_numpy(w),
                       None if b is None else torch.from_numpy(b), **kwargs)
    with pytest.raises(ValueError, match=pattern):
        CONV[nd](x, w, b, **kwargs)


@pytest.mark.parametrize("nd", [1, 3])
def test_type_errors(nd):
    x, w, _ = make(nd, 1, 2, 2, 1, 1, 3)
    with pytest.raises(TypeError, match=r"input dtype \(float32\) and weight dtype \(float64\)"):
        CONV[nd](x.astype(np.float32), w)
    with pytest.raises(TypeError, match=r"input must have dtype float16, float32 or float64, but has "
                                        r"dtype int64"):
        CONV[nd](x.astype(np.int64), w)
    with pytest.raises(TypeError, match=r"groups must be an int, but got float"):
        CONV[nd](x, w, groups=1.0)


@st.composite
def any_configs(draw, nd):
    """Channel counts, kernel, size and arguments drawn freely: often invalid."""
    return dict(
        x_shape=(1, draw(st.integers(1, 6)), *(draw(st.integers(1, 5)) for _ in range(nd))),
        w_shape=(draw(st.integers(1, 6)), draw(st.integers(1, 6)),
                 *(draw(st.integers(1, 4)) for _ in range(nd))),
        stride=draw(st.integers(1, 3)),
        padding=draw(st.one_of(st.integers(0, 2), st.sampled_from(["same", "valid"]))),
        dilation=draw(st.integers(1, 3)),
        groups=draw(st.integers(1, 4)),
    )


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([1, 3]).flatmap(lambda nd: st.tuples(st.just(nd), any_configs(nd))))
def test_accepts_exactly_what_torch_accepts(nd_cfg):
    nd, cfg = nd_cfg
    x, w = np.ones(cfg.pop("x_shape")), np.ones(cfg.pop("w_shape"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = TORCH_CONV[nd](torch.from_numpy(x), torch.from_numpy(w), **cfg).numpy()
    except (RuntimeError, ValueError):
        with pytest.raises(ValueError):
            CONV[nd](x, w, **cfg)
        return
    np.testing.assert_allclose(CONV[nd](x, w, **cfg), theirs, **TOLERANCES[x.dtype])
