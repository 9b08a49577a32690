"""conv2d against PyTorch (the referee) and against what ``groups`` means (invariants).

* every case of ``conftest.CASES`` matches ``torch.nn.functional.conv2d`` in float64
  (1e-10) and float32 (1e-4), in the input's dtype;
* invariants that need no torch: groups=1 is a dense convolution, a grouped convolution is
  per-group dense convolutions concatenated, or one dense convolution with a block-diagonal
  weight; depthwise is groups=C_in; a 1x1 convolution is a matrix product;
* hypothesis: random valid configurations agree with torch, and random configurations,
  invalid ones included, are accepted by gconv_lib exactly when torch accepts them -- but
  for two torch quirks gconv_lib does not copy (zero input channels, dilation 0 with an
  empty batch): rows of the table of deliberate differences, pinned down in
  test_differences.py.
"""

import warnings

import numpy as np
import pytest
from conftest import CASES, TOL, pair
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

import gconv_lib as gl

torch = pytest.importorskip("torch")


def torch_conv2d(x, w, b=None, **kwargs):
    """The referee: torch.nn.functional.conv2d on NumPy arrays, called directly."""
    t = (lambda a: None if a is None else torch.from_numpy(a))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'same' with an even kernel warns that it copies
        return torch.nn.functional.conv2d(t(x), t(w), t(b), **kwargs).numpy()


def assert_close(ours, theirs, dtype):
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, **TOL[np.dtype(dtype)])


# ---------------------------------------------------------------- against torch
def test_conv2d_matches_torch(conv_case, float_dtype):
    x, w, b = conv_case.arrays(float_dtype)
    ours = gl.conv2d(x, w, b, **conv_case.kwargs)
    assert ours.dtype == float_dtype
    assert_close(ours, torch_conv2d(x, w, b, **conv_case.kwargs), float_dtype)


def test_naive_oracle_matches_torch(conv_case):
    """The oracle the other strategies are tested against is itself right."""
    x, w, b = conv_case.arrays()
    assert_close(gl.conv2d_naive(x, w, b, **conv_case.kwargs), torch_conv2d(x, w, b, **conv_case.kwargs),
                 np.float64)


def test_naive_oracle_by_hand():
    """Two groups of two channels, 2x2 kernels of ones: each output sums its group's window."""
    x = np.arange(2 * 4 * 3 * 3, dtype=np.float64).reshape(2, 4, 3, 3)
    w = np.ones((2, 2, 2, 2))
    out = gl.conv2d_naive(x, w, np.array([0.5, -1.0]), groups=2)
    # output channel 0 reads input channels 0, 1; output channel 1 reads 2, 3
    expected = np.empty((2, 2, 2, 2))
    for o, channels in enumerate(([0, 1], [2, 3])):
        for i in range(2):
            for j in range(2):
                expected[:, o, i, j] = x[:, channels, i : i + 2, j : j + 2].sum(axis=(1, 2, 3))
    expected += np.array([0.5, -1.0])[:, None, None]
    np.testing.assert_array_equal(out, expected)


def test_same_padding_puts_the_extra_row_at_the_end():
    """'same' with a 2x2 kernel pads 0 before, 1 after (torch's rule), not the other way."""
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.zeros((1, 1, 2, 2))
    w[0, 0, 0, 0] = 1.0  # picks the window's top-left value: the input itself when padded at the end
    out = gl.conv2d(x, w, padding="same")
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(out, torch_conv2d(x, w, padding="same"))


PADDING_FORMS = {"pair": ((1, 1), 1), "list of one": ([1], 1), "same": ("same", 1), "valid": ("valid", 0),
                 "tuple of one": ((0,), 0)}


@pytest.mark.parametrize(("padding", "same_as"), PADDING_FORMS.values(), ids=PADDING_FORMS.keys())
def test_padding_forms_agree(padding, same_as):
    """For a 3x3 kernel and stride 1: 'same' is padding 1, 'valid' is padding 0."""
    x, w, b = CASES["grouped in>out 8->4 g=2, pad 1"].arrays()
    np.testing.assert_array_equal(gl.conv2d(x, w, b, padding=padding, groups=2),
                                  gl.conv2d(x, w, b, padding=same_as, groups=2))


def test_length_one_sequences_are_expanded_like_torch():
    """torch accepts stride=[2], padding=(1,), dilation=(2,) for conv2d: the value for both axes."""
    x, w, b = CASES["normal 3->5"].arrays()
    kwargs = dict(stride=[2], padding=(1,), dilation=(2,))
    assert_close(gl.conv2d(x, w, b, **kwargs), torch_conv2d(x, w, b, **kwargs), np.float64)
    np.testing.assert_array_equal(gl.conv2d(x, w, b, **kwargs),
                                  gl.conv2d(x, w, b, stride=2, padding=1, dilation=2))


def test_unbatched_input_gives_unbatched_output(conv_case):
    x, w, b = conv_case.arrays()
    if conv_case.n is None:
        x = x[None]
    batched = gl.conv2d(x, w, b, **conv_case.kwargs)
    single = gl.conv2d(x[0], w, b, **conv_case.kwargs)
    assert single.shape == batched.shape[1:]
    np.testing.assert_allclose(single, batched[0], rtol=1e-12, atol=1e-12)


def test_input_is_not_modified(conv_case):
    x, w, b = conv_case.arrays()
    copies = [a.copy() for a in (x, w, b) if a is not None]
    gl.conv2d(x, w, b, **conv_case.kwargs)
    for before, after in zip(copies, [a for a in (x, w, b) if a is not None]):
        np.testing.assert_array_equal(before, after)


def test_nan_spreads_over_the_receptive_field_like_torch():
    """A NaN in one input pixel poisons exactly the outputs whose window (in its group) reads it."""
    x, w, b = CASES["grouped in=out 6->6 g=3, dilation 2"].arrays()
    x[1, 2, 4, 5] = np.nan  # channel 2 is in group 1 (channels 2, 3)
    kwargs = CASES["grouped in=out 6->6 g=3, dilation 2"].kwargs
    ours, theirs = gl.conv2d(x, w, b, **kwargs), torch_conv2d(x, w, b, **kwargs)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    assert np.isnan(ours).any() and not np.isnan(ours[0]).any()
    assert not np.isnan(ours[1, [0, 1, 4, 5]]).any()  # other groups never read channel 2


def test_strided_read_only_and_fortran_inputs():
    """Views with odd strides, read-only and Fortran-ordered arrays give the contiguous answer."""
    rng = np.random.default_rng(0)
    big = rng.standard_normal((2, 8, 14, 12))
    x = big[:, ::2, ::-2, 1::1]  # (2, 4, 7, 11), non-contiguous and reversed
    w = np.asfortranarray(rng.standard_normal((6, 2, 3, 2)))
    w.flags.writeable = False
    expected = gl.conv2d(np.ascontiguousarray(x), np.ascontiguousarray(w), groups=2, padding=1)
    out = gl.conv2d(x, w, groups=2, padding=1)
    np.testing.assert_array_equal(out, expected)
    assert_close(out, torch_conv2d(np.ascontiguousarray(x), np.ascontiguousarray(w), groups=2, padding=1),
                 np.float64)
    assert not np.shares_memory(out, big)  # a new array, not a view of the input


def test_torch_tensors_are_accepted_as_arrays():
    x, w, b = CASES["depthwise 4->4, same"].arrays(np.float32)
    kwargs = CASES["depthwise 4->4, same"].kwargs
    t = [torch.from_numpy(a).requires_grad_() for a in (x, w, b)]
    out = gl.conv2d(*t, **kwargs)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, gl.conv2d(x, w, b, **kwargs))


def test_empty_batch_like_torch():
    x, w, b = CASES["grouped in>out 8->4 g=2, pad 1"].arrays()
    ours = gl.conv2d(x[:0], w, b, padding=1, groups=2)
    assert ours.shape == torch_conv2d(x[:0], w, b, padding=1, groups=2).shape == (0, 4, 6, 6)


# ---------------------------------------------------------------- invariants (no torch)
def same_pads(kernel, dilation):
    """torch's 'same': total d*(k-1) per axis, the odd one at the end."""
    return [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)]


def dense_conv_shift_and_add(x, w, stride=1, padding=0, dilation=1):
    """A groups=1 convolution written a third way: for each kernel tap, shift the input and
    add ``weight[:, :, a, b] @ shifted`` -- neither the naive loop nor im2col.

    x (N, C_in, H, W), w (C_out, C_in, kH, kW) -> (N, C_out, H_out, W_out)
    """
    (sh, sw), (dh, dw), (kh, kw) = pair(stride), pair(dilation), w.shape[2:]
    pads = same_pads((kh, kw), (dh, dw)) if padding == "same" else (
        [(0, 0)] * 2 if padding == "valid" else [(p, p) for p in pair(padding)])
    xp = np.pad(x, ((0, 0), (0, 0), *pads))
    h_out = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    w_out = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], w.shape[0], h_out, w_out), dtype=x.dtype)
    for a in range(kh):
        for b in range(kw):
            rows = slice(a * dh, a * dh + sh * (h_out - 1) + 1, sh)
            cols = slice(b * dw, b * dw + sw * (w_out - 1) + 1, sw)
            out += np.einsum("nchw,oc->nohw", xp[:, :, rows, cols], w[:, :, a, b])  # (N, C_out, H_out, W_out)
    return out


def batched(conv_case, dtype=np.float64):
    x, w, b = conv_case.arrays(dtype)
    return (x[None] if conv_case.n is None else x), w, b


def geometry(conv_case):
    return {k: v for k, v in conv_case.kwargs.items() if k != "groups"}


def test_groups_1_is_a_dense_convolution(conv_case):
    """With groups=1 every output sees every input: compare with the shift-and-add dense conv."""
    x, w, _ = batched(conv_case)
    w = np.random.default_rng(1).standard_normal((conv_case.c_out, conv_case.c_in, *w.shape[2:]))
    np.testing.assert_allclose(gl.conv2d(x, w, **geometry(conv_case)),
                               dense_conv_shift_and_add(x, w, **geometry(conv_case)), rtol=1e-10, atol=1e-10)


def test_grouped_is_per_group_dense_convolutions_concatenated(conv_case):
    x, w, b = batched(conv_case)
    g = conv_case.groups
    cin_g, cout_g = conv_case.c_in // g, conv_case.c_out // g
    pieces = [dense_conv_shift_and_add(x[:, i * cin_g : (i + 1) * cin_g], w[i * cout_g : (i + 1) * cout_g],
                                       **geometry(conv_case)) for i in range(g)]
    expected = np.concatenate(pieces, axis=1)  # (N, C_out, H_out, W_out)
    if b is not None:
        expected += b[:, None, None]
    np.testing.assert_allclose(gl.conv2d(x, w, b, **conv_case.kwargs), expected, rtol=1e-10, atol=1e-10)


def test_block_diagonal_dense_convolution_equals_grouped(conv_case):
    x, w, b = conv_case.arrays()
    dense = gl.block_diagonal_weight(w, conv_case.groups)  # (C_out, C_in, kH, kW)
    np.testing.assert_allclose(gl.conv2d(x, dense, b, **geometry(conv_case)),
                               gl.conv2d(x, w, b, **conv_case.kwargs), rtol=1e-10, atol=1e-10)


def test_depthwise_is_groups_equal_in_channels():
    """depthwise_conv2d == conv2d(groups=C_in), and output c*K+k is channel c alone with kernel c*K+k."""
    rng = np.random.default_rng(0)
    c_in, k_mult = 3, 2
    x = rng.standard_normal((2, c_in, 7, 6))
    w = rng.standard_normal((k_mult * c_in, 1, 3, 2))
    b = rng.standard_normal(k_mult * c_in)
    kwargs = dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1))
    out = gl.depthwise_conv2d(x, w, b, **kwargs)
    np.testing.assert_array_equal(out, gl.conv2d(x, w, b, groups=c_in, **kwargs))
    for c in range(c_in):
        for k in range(k_mult):
            o = c * k_mult + k
            alone = gl.conv2d(x[:, c : c + 1], w[o : o + 1], b[o : o + 1], **kwargs)  # (N, 1, H_out, W_out)
            np.testing.assert_allclose(out[:, o : o + 1], alone, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("groups", [1, 2, 4])
@pytest.mark.parametrize("stride", [1, 2])
def test_1x1_convolution_is_a_matrix_product(groups, stride):
    """A 1x1 kernel mixes channels at each pixel: out[n, o] = sum_c W[o, c] x[n, c] over the group."""
    rng = np.random.default_rng(groups)
    x = rng.standard_normal((2, 8, 5, 4))
    w = rng.standard_normal((12, 8 // groups, 1, 1))
    matrix = gl.block_diagonal_weight(w, groups)[:, :, 0, 0]  # (C_out, C_in)
    expected = np.einsum("oc,nchw->nohw", matrix, x[:, :, ::stride, ::stride])
    out = gl.conv2d(x, w, stride=stride, groups=groups)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- hypothesis: valid configurations
@st.composite
def valid_shapes(draw):
    """A conv2d configuration valid by construction, as (input shape, weight shape, bias shape,
    kwargs): channels multiples of groups, input at least the dilated kernel after padding."""
    groups = draw(st.integers(1, 4))
    c_in, c_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    form = draw(st.sampled_from(["int", "pair", "valid", "same"]))
    if form == "same":
        stride, padding = 1, "same"
        pads = [d * (k - 1) for k, d in zip(kernel, pair(dilation))]
    else:
        stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
        padding = {"int": draw(st.integers(0, 2)), "valid": "valid",
                   "pair": (draw(st.integers(0, 2)), draw(st.integers(0, 2)))}[form]
        pads = [0, 0] if padding == "valid" else [2 * p for p in pair(padding)]
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, pair(dilation))]
    size = tuple(max(1, s - p) + draw(st.integers(0, 4)) for s, p in zip(spans, pads))
    batch = draw(st.sampled_from([(), (1,), (2,), (0,)]))  # (): unbatched (C_in, H, W); (0,): empty
    return ((*batch, c_in, *size), (c_out, c_in // groups, *kernel),
            (c_out,) if draw(st.booleans()) else None,
            dict(stride=stride, padding=padding, dilation=dilation, groups=groups))


def random_arrays(input_shape, weight_shape, bias_shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(input_shape).astype(dtype), rng.standard_normal(weight_shape).astype(dtype),
            None if bias_shape is None else rng.standard_normal(bias_shape).astype(dtype))


@settings(max_examples=60, deadline=None)
@given(valid_shapes(), st.sampled_from([np.float64, np.float32]), st.integers(0, 2**16))
def test_valid_configurations_match_torch(config, dtype, seed):
    *shapes, kwargs = config
    x, w, b = random_arrays(*shapes, dtype, seed)
    ours = gl.conv2d(x, w, b, **kwargs)
    assert ours.dtype == dtype
    assert_close(ours, torch_conv2d(x, w, b, **kwargs), dtype)


# ---------------------------------------------------------------- hypothesis: any configuration
def _set(key, values):
    """A mutation that sets one keyword argument to one of ``values``."""
    return lambda draw, shapes, kw: (shapes, {**kw, key: draw(st.sampled_from(values))})


def _shape(i, change):
    """A mutation of shape ``i`` (0 input, 1 weight, 2 bias) by ``change(draw, shape)``."""
    def mutate(draw, shapes, kw):
        shapes = list(shapes)
        shapes[i] = change(draw, shapes[i])
        return tuple(shapes), kw
    return mutate


MUTATIONS = {
    "groups": _set("groups", [-1, 0, 1, 2, 3, 4, 5, 6]),
    "groups of a wrong type": _set("groups", [2.0, "2", None]),
    "stride": _set("stride", [0, -1, (1, 0), (2, -1), [2], [1, 2, 1], ()]),
    "stride of a wrong type": _set("stride", [1.0, (1.5, 1), "1"]),
    "padding": _set("padding", [-1, (0, -1), (1,), [1, 1, 1], "full", "SAME", 3, (5, 0)]),
    "padding of a wrong type": _set("padding", [1.0, None, (1.0, 0)]),
    "dilation": _set("dilation", [0, (1, 0), -2, [2], 4]),
    "'same' with a stride": lambda draw, shapes, kw: (
        shapes, {**kw, "padding": "same", "stride": draw(st.sampled_from([2, (1, 2)]))}),
    "in_channels": _shape(0, lambda draw, s: (*s[:-3], draw(st.integers(1, 8)), *s[-2:])),
    "input size": _shape(0, lambda draw, s: (*s[:-2], draw(st.integers(1, 3)), draw(st.integers(1, 3)))),
    "input ndim": _shape(0, lambda draw, s: draw(st.sampled_from([s[-2:], (1, 1, *s[-3:])]))),
    "out_channels": _shape(1, lambda draw, s: (draw(st.integers(1, 9)), *s[1:])),
    "weight.shape[1]": _shape(1, lambda draw, s: (s[0], draw(st.integers(1, 6)), *s[2:])),
    "kernel": _shape(1, lambda draw, s: (*s[:2], draw(st.integers(1, 7)), draw(st.integers(1, 7)))),
    "weight ndim": _shape(1, lambda draw, s: draw(st.sampled_from([s[:3], (*s, 1)]))),
    "bias": _shape(2, lambda draw, s: draw(st.sampled_from([(1,), (7,), (2, 1), ()]))),
}


@st.composite
def any_shapes(draw):
    """A valid configuration with up to two things changed: often invalid, sometimes still
    valid. Channel counts stay >= 1: see the deliberate differences from torch
    (test_differences.py)."""
    *shapes, kwargs = draw(valid_shapes())
    for name in draw(st.lists(st.sampled_from(sorted(MUTATIONS)), max_size=2)):
        shapes, kwargs = MUTATIONS[name](draw, shapes, kwargs)
    return (*shapes, kwargs)


@settings(max_examples=300, deadline=None)
@given(any_shapes(), st.sampled_from([np.float64, np.float32]))
def test_accepts_exactly_what_torch_accepts(config, dtype):
    """torch raises TypeError -> gconv_lib raises TypeError; torch raises another error ->
    gconv_lib raises ValueError; torch computes -> gconv_lib computes the same numbers."""
    *shapes, kwargs = config
    x, w, b = random_arrays(*shapes, dtype)
    assume(not (x.ndim == 4 and x.shape[0] == 0 and 0 in pair(kwargs["dilation"])))  # test_differences.py
    try:
        theirs = torch_conv2d(x, w, b, **kwargs)
    except TypeError:
        event("torch: TypeError")
        with pytest.raises(TypeError):
            gl.conv2d(x, w, b, **kwargs)
        return
    except (RuntimeError, ValueError):
        event("torch: rejected")
        with pytest.raises(ValueError):
            gl.conv2d(x, w, b, **kwargs)
        return
    event("torch: accepted")
    ours = gl.conv2d(x, w, b, **kwargs)
    assert ours.dtype == dtype
    assert_close(ours, theirs, dtype)


STRATEGIES = {"naive": gl.conv2d_naive, "im2col": gl.conv2d_im2col, "split": gl.conv2d_split,
              "block_diagonal": gl.conv2d_block_diagonal}


def outcome(fn, *args, **kwargs):
    """The result of a call, or its error's class and message."""
    try:
        return fn(*args, **kwargs)
    except (TypeError, ValueError) as e:
        return type(e), str(e)


@settings(max_examples=100, deadline=None)
@given(any_shapes())
def test_every_strategy_accepts_and_rejects_like_conv2d(config):
    """Every strategy checks its arguments as conv2d does: the same error and message, or a
    result (their values are compared in test_strategies.py)."""
    *shapes, kwargs = config
    x, w, b = random_arrays(*shapes, np.float64)
    expected = outcome(gl.conv2d, x, w, b, **kwargs)
    for name, strategy in STRATEGIES.items():
        got = outcome(strategy, x, w, b, **kwargs)
        if isinstance(expected, tuple):
            assert got == expected, name
        else:
            assert isinstance(got, np.ndarray) and got.shape == expected.shape, name
            np.testing.assert_allclose(got, expected, **TOL[x.dtype], err_msg=name)
