"""Fuzz: every public function of gconv_lib against torch, at the edges (hypothesis).

Each test draws configurations valid by construction (the accept/reject tests: any
configuration, empty dimensions included) and arrays that may hold inf, -inf, NaN and
zeros, in float16, float32 or float64, with empty batches, unbatched and one-pixel
inputs, laid out non-contiguous, reversed, Fortran-ordered or read-only. torch is the
referee:

* every value finite: torch in the same dtype, within ``TOL[dtype]``;
* some value not finite: torch in float64 on the same values (its float64 kernels compute
  the definition, zero padding included), and gconv_lib must have NaN exactly where torch
  has NaN, the same infinities in the same places, and the finite rest within
  ``TOL[dtype]``. Where torch's float32 kernels answer otherwise is a row of the table of
  deliberate differences (test_differences.py).

No gconv_lib call may warn (inf * 0 is input, not an accident). The last test runs drawn
configurations in several threads at once while the thread count changes.

Bounded for the README's test command: 200 examples per test, about 15 s on 2 cores in all;
set ``GCONV_FUZZ_EXAMPLES`` for a longer (or shorter) run.
"""

import os
import warnings

import numpy as np
import pytest
from conftest import TOL, run_while_the_thread_count_changes
from hypothesis import given, settings
from hypothesis import strategies as st

import gconv_lib as gl

torch = pytest.importorskip("torch")
F = torch.nn.functional

DTYPES = (np.float16, np.float32, np.float64)
SPECIALS = np.array([np.inf, -np.inf, np.nan, 0.0])
LAYOUTS = ("contiguous", "strided", "reversed", "fortran", "read-only")
FUZZ = settings(deadline=None, max_examples=int(os.environ.get("GCONV_FUZZ_EXAMPLES", 200)))


# ---------------------------------------------------------------- arrays and the referee
def values(rng, shape, dtype, special):
    """Standard normal values; with ``special``, about one in five is inf, -inf, NaN or 0."""
    x = rng.standard_normal(shape)
    if special:
        where = rng.random(shape) < 0.2
        x[where] = rng.choice(SPECIALS, size=int(where.sum()))
    return x.astype(dtype)


def laid_out(x, layout):
    """The same values as ``x`` in another memory layout."""
    if x is None or x.ndim == 0 or layout == "contiguous":
        return x
    if layout == "strided":  # every other element of a buffer twice as long
        buffer = np.zeros((*x.shape[:-1], 2 * x.shape[-1]), x.dtype)
        buffer[..., ::2] = x
        return buffer[..., ::2]
    if layout == "reversed":  # negative strides
        return np.flip(np.flip(x).copy())
    if layout == "fortran":
        return np.asfortranarray(x)
    x = x.copy()
    x.flags.writeable = False
    return x


def referee_dtype(dtype, *arrays):
    """torch's dtype for the reference: the same, or float64 when some value is not finite."""
    finite = all(a is None or np.isfinite(a).all() for a in arrays)
    return getattr(torch, np.dtype(dtype).name if finite else "float64")


def tensor(a, dtype, grad=False):
    if a is None:
        return None
    return torch.tensor(np.array(a, dtype=np.float64), dtype=dtype, requires_grad=grad)  # a copy


def assert_like_torch(ours, theirs, dtype):
    """Same shape and dtype, NaN and infinities in the same places, the rest within TOL."""
    assert ours.shape == theirs.shape and ours.dtype == dtype
    for where in (np.isnan, np.isposinf, np.isneginf):
        np.testing.assert_array_equal(where(ours), where(theirs), err_msg=where.__name__)
    finite = np.isfinite(theirs)
    np.testing.assert_allclose(ours[finite].astype(np.float64), theirs[finite].astype(np.float64),
                               **TOL[np.dtype(dtype)])


def quietly(fn, *args, **kwargs):
    """Call a gconv_lib function; any warning is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


def torch_quietly(fn, *args, **kwargs):
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'same' with an even kernel warns about a copy
        return fn(*args, **kwargs)


# ---------------------------------------------------------------- configurations
@st.composite
def arrays_setup(draw):
    """dtype, whether special values appear, a layout per array, and a seed."""
    return dict(dtype=draw(st.sampled_from(DTYPES)), special=draw(st.booleans()),
                layouts=draw(st.lists(st.sampled_from(LAYOUTS), min_size=4, max_size=4)),
                seed=draw(st.integers(0, 2**16)))


@st.composite
def input_weight_bias(draw, x_shape, w_shape, c_out):
    """[x, w, b or None] laid out as drawn (x batched, unbatched or an empty batch), the
    arrays_setup they were made with, and the generator, for more arrays like them."""
    batch = draw(st.sampled_from([(), (0,), (1,), (2,)]))
    setup = draw(arrays_setup())
    rng, dtype, special = np.random.default_rng(setup["seed"]), setup["dtype"], setup["special"]
    x, w = values(rng, (*batch, *x_shape), dtype, special), values(rng, w_shape, dtype, special)
    b = values(rng, (c_out,), dtype, special) if draw(st.booleans()) else None
    return [laid_out(a, layout) for a, layout in zip((x, w, b), setup["layouts"])], setup, rng


@st.composite
def conv_configs(draw, nd=None):
    """A valid convolution: shapes, arguments and arrays (x, w, b), by construction."""
    nd = draw(st.sampled_from([1, 2, 2, 3])) if nd is None else nd
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    axes = lambda lo, hi: tuple(draw(st.integers(lo, hi)) for _ in range(nd))
    kernel, stride, dilation = axes(1, 3), axes(1, 2), axes(1, 2)
    padding = draw(st.one_of(st.just("valid"), st.just("same"), st.tuples(*[st.integers(0, 2)] * nd)))
    if padding == "same":
        stride = (1,) * nd
    totals = [0] * nd if padding == "valid" else [d * (k - 1) for k, d in zip(kernel, dilation)] \
        if padding == "same" else [2 * p for p in padding]
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    size = tuple(draw(st.integers(max(1, s - t), max(1, s - t) + 3)) for s, t in zip(spans, totals))
    arrays, setup, rng = draw(input_weight_bias((c_in, *size), (c_out, c_in // groups, *kernel), c_out))
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return dict(nd=nd, arrays=arrays, kwargs=kwargs, dtype=setup["dtype"], rng=rng, layouts=setup["layouts"])


STRATEGIES_2D = [gl.conv2d, gl.conv2d_fast, gl.conv2d_naive, gl.conv2d_im2col, gl.conv2d_split,
                 gl.conv2d_block_diagonal, gl.depthwise_conv2d]
CONV = {1: gl.conv1d, 3: gl.conv3d}
TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def torch_forward(cfg, block_diagonal=False):
    """torch's convolution of cfg's arrays; ``block_diagonal``: the dense one with the
    block-diagonal weight, which conv2d_block_diagonal is (a row of the table of differences)."""
    (x, w, b), kwargs = cfg["arrays"], dict(cfg["kwargs"])
    if block_diagonal:
        w, kwargs["groups"] = gl.block_diagonal_weight(w, kwargs["groups"]), 1
    dtype = referee_dtype(cfg["dtype"], x, w, b)
    out = torch_quietly(TORCH_CONV[cfg["nd"]], tensor(x, dtype), tensor(w, dtype), tensor(b, dtype), **kwargs)
    return out.numpy()


# ---------------------------------------------------------------- the convolutions
@FUZZ
@given(cfg=conv_configs(), data=st.data())
def test_convolutions(cfg, data):
    """conv1d, conv2d (every strategy, depthwise_conv2d where it applies) and conv3d."""
    x, w, b = cfg["arrays"]
    fn = CONV.get(cfg["nd"])
    if fn is None:
        depthwise = w.shape[1] == 1 and cfg["kwargs"]["groups"] == x.shape[-3]
        fn = data.draw(st.sampled_from(STRATEGIES_2D if depthwise else STRATEGIES_2D[:-1]), "strategy")
    kwargs = dict(cfg["kwargs"])
    if fn is gl.depthwise_conv2d:
        kwargs.pop("groups")
    theirs = torch_forward(cfg, block_diagonal=fn is gl.conv2d_block_diagonal)
    assert_like_torch(quietly(fn, x, w, b, **kwargs), theirs, cfg["dtype"])
    if cfg["dtype"] == np.float64 or np.isfinite(theirs).all():  # (padding-nonfinite-float32)
        comparison = gl.compare_with_torch(x, w, b, **cfg["kwargs"])  # torch in the same dtype
        assert comparison.matches, str(comparison)


@st.composite
def transpose_configs(draw):
    """A valid conv_transpose2d: arrays (x, w, b) and arguments, by construction."""
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    pair = lambda lo, hi: (draw(st.integers(lo, hi)), draw(st.integers(lo, hi)))
    kernel, stride, dilation, size = pair(1, 3), pair(1, 3), pair(1, 2), pair(1, 4)
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    room = [(h - 1) * s + d * (k - 1) + op
            for h, s, d, k, op in zip(size, stride, dilation, kernel, output_padding)]
    padding = tuple(draw(st.integers(0, r // 2)) for r in room)
    arrays, setup, _ = draw(input_weight_bias((c_in, *size), (c_in, c_out // groups, *kernel), c_out))
    kwargs = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                  dilation=dilation)
    return arrays, kwargs, setup["dtype"]


@FUZZ
@given(transpose_configs())
def test_conv_transpose2d(cfg):
    (x, w, b), kwargs, dtype = cfg
    ref = referee_dtype(dtype, x, w, b)
    theirs = torch_quietly(F.conv_transpose2d, tensor(x, ref), tensor(w, ref), tensor(b, ref), **kwargs)
    assert_like_torch(quietly(gl.conv_transpose2d, x, w, b, **kwargs), theirs.numpy(), dtype)


@FUZZ
@given(cfg=conv_configs(nd=2))
def test_conv2d_backward(cfg):
    """grad_input, grad_weight and grad_bias against torch.autograd (grad_output fuzzed too)."""
    x, w, _ = cfg["arrays"]
    out_shape = gl.conv2d(x, w, **cfg["kwargs"]).shape
    special = any(not np.isfinite(a).all() for a in (x, w))
    grad_output = laid_out(values(cfg["rng"], out_shape, cfg["dtype"], special), cfg["layouts"][3])
    ref = referee_dtype(cfg["dtype"], x, w, grad_output)
    tx, tw, tb = tensor(x, ref, True), tensor(w, ref, True), tensor(np.zeros(w.shape[0]), ref, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        F.conv2d(tx, tw, tb, **cfg["kwargs"]).backward(tensor(grad_output, ref))
    ours = quietly(gl.conv2d_backward, grad_output, x, w, **cfg["kwargs"])
    for mine, theirs in zip(ours, (tx.grad, tw.grad, tb.grad)):
        assert_like_torch(mine, theirs.numpy(), cfg["dtype"])


@FUZZ
@given(data=st.data(), setup=arrays_setup())
def test_conv2d_layer_and_its_padding_modes(data, setup):
    """gl.Conv2d.from_torch(module) computes what the module computes, and to_torch gives it back."""
    draw = data.draw
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel, dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3))), draw(st.integers(1, 2))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    padding = draw(st.one_of(st.just("same"), st.just("valid"), st.integers(0, 2),
                             st.tuples(st.integers(0, 2), st.integers(0, 2))))
    stride = 1 if padding == "same" else draw(st.integers(1, 2))
    pads = gl.validate.check_padding(padding, kernel, (stride, stride), (dilation, dilation), 2, "Conv2d")
    # big enough for the kernel, and for reflect (pad < size) and circular (pad <= size)
    size = [max(dilation * (k - 1) + 1 - sum(p), max(p) + 1, 1) + draw(st.integers(0, 2))
            for k, p in zip(kernel, pads)]
    rng, dtype = np.random.default_rng(setup["seed"]), setup["dtype"]
    module = torch.nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation, groups,
                             bias=draw(st.booleans()), padding_mode=mode)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy(values(rng, tuple(p.shape), np.float64, setup["special"])))
    module = module.to(getattr(torch, np.dtype(dtype).name))
    layer = gl.Conv2d.from_torch(module)
    assert layer.padding_mode == mode and layer.weight.dtype == dtype
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    x = laid_out(values(rng, (*batch, c_in, *size), dtype, setup["special"]), setup["layouts"][0])
    ref = referee_dtype(dtype, x, layer.weight, layer.bias)
    theirs = torch_quietly(module.to(ref), tensor(x, ref)).numpy()
    assert_like_torch(quietly(layer, x), theirs, dtype)
    back = layer.to_torch()
    assert back.padding_mode == mode and back.weight.dtype == getattr(torch, np.dtype(dtype).name)
    np.testing.assert_array_equal(back.weight.detach().numpy(), layer.weight)


@FUZZ
@given(n=st.integers(0, 2), groups=st.integers(1, 4), per_group=st.integers(0, 3),
       spatial=st.lists(st.integers(1, 3), min_size=1, max_size=3), setup=arrays_setup())
def test_channel_shuffle(n, groups, per_group, spatial, setup):
    """A permutation: torch's exactly, NaN included, whatever the layout."""
    rng = np.random.default_rng(setup["seed"])
    x = laid_out(values(rng, (n, groups * per_group, *spatial), setup["dtype"], setup["special"]),
                 setup["layouts"][0])
    theirs = torch.nn.ChannelShuffle(groups)(torch.from_numpy(np.array(x))).numpy()
    ours = quietly(gl.channel_shuffle, x, groups)
    assert ours.dtype == x.dtype
    np.testing.assert_array_equal(ours, theirs)


# ---------------------------------------------------------------- the layer arithmetic
@FUZZ
@given(c_in=st.integers(1, 6), c_out=st.integers(1, 6), groups=st.integers(1, 6),
       kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       size=st.tuples(st.integers(1, 5), st.integers(1, 5)),
       stride=st.integers(1, 3), padding=st.integers(0, 2), dilation=st.integers(1, 2), bias=st.booleans())
def test_layer_arithmetic(c_in, c_out, groups, kernel, size, stride, padding, dilation, bias):
    """classify, valid_groups, weight_shape, param_count, conv_output_size, macs, connectivity,
    block_diagonal_weight and conv_transpose_output_size against the torch layer itself."""
    try:
        module = torch.nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation, groups, bias=bias)
    except ValueError:
        assert not gl.classify(c_in, c_out, groups).valid and groups not in gl.valid_groups(c_in, c_out)
        with pytest.raises(ValueError):
            gl.weight_shape(c_in, c_out, kernel, groups)
        return
    assert gl.classify(c_in, c_out, groups).valid and groups in gl.valid_groups(c_in, c_out)
    assert gl.weight_shape(c_in, c_out, kernel, groups) == tuple(module.weight.shape)
    assert gl.param_count(c_in, c_out, kernel, groups, bias=bias) == sum(
        p.numel() for p in module.parameters())
    expected = [gl.conv_output_size(s, k, stride, padding, dilation) for s, k in zip(size, kernel)]
    x = torch.ones(1, c_in, *size)
    if min(expected) < 1:
        with pytest.raises(RuntimeError):
            torch_quietly(module, x)
    else:
        out = torch_quietly(module, x)
        assert tuple(out.shape[2:]) == tuple(expected)
        assert gl.macs(c_in, c_out, kernel, size, groups, stride, padding, dilation) == (
            out.numel() * (c_in // groups) * kernel[0] * kernel[1])
    # connectivity: with positive weights, output o of image c (channel c lit) is non-zero iff o reads c
    lit = torch.eye(c_in).reshape(c_in, c_in, 1, 1).expand(c_in, c_in, *kernel)
    reads = F.conv2d(lit, module.weight.detach().abs() + 1, groups=groups)[:, :, 0, 0].T != 0
    np.testing.assert_array_equal(gl.connectivity(c_in, c_out, groups), reads.numpy())
    w = module.weight.detach().double().numpy()
    dense = gl.block_diagonal_weight(w, groups)
    x64 = torch.rand(1, c_in, kernel[0] + 2, kernel[1] + 2, dtype=torch.float64)
    np.testing.assert_allclose(F.conv2d(x64, torch.from_numpy(dense)).numpy(),
                               F.conv2d(x64, torch.from_numpy(w), groups=groups).numpy(), rtol=1e-12)
    transposed = torch.nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding, groups=groups,
                                          dilation=dilation)
    sizes = [gl.conv_transpose_output_size(s, k, stride, padding, 0, dilation) for s, k in zip(size, kernel)]
    if min(sizes) >= 1:
        assert tuple(torch_quietly(transposed, x).shape[2:]) == tuple(sizes)


@FUZZ
@given(groups=st.integers(1, 4), per_group=st.integers(1, 4), second=st.integers(1, 4))
def test_shuffle_permutation_matrix_and_composition(groups, per_group, second):
    """shuffle_permutation and shuffle_matrix are nn.ChannelShuffle; compose_connectivity is what
    torch computes through a grouped layer, a shuffle and another grouped layer."""
    c = groups * per_group
    perm = torch.nn.ChannelShuffle(groups)(torch.arange(c, dtype=torch.float64).reshape(1, c, 1))
    np.testing.assert_array_equal(gl.shuffle_permutation(c, groups), perm.numpy().ravel())
    np.testing.assert_array_equal(gl.shuffle_matrix(c, groups).argmax(axis=1), perm.numpy().ravel())
    g2 = second if c % second == 0 else 1
    first, then = torch.ones(c, c // groups, 1, 1, dtype=torch.float64), torch.ones(c, c // g2, 1, 1,
                                                                                     dtype=torch.float64)
    lit = torch.eye(c, dtype=torch.float64).reshape(c, c, 1, 1)
    out = F.conv2d(torch.nn.ChannelShuffle(groups)(F.conv2d(lit, first, groups=groups)), then, groups=g2)
    expected = gl.compose_connectivity(gl.connectivity(c, c, groups), gl.shuffle_matrix(c, groups),
                                       gl.connectivity(c, c, g2))
    np.testing.assert_array_equal(expected, out[:, :, 0, 0].T.numpy() != 0)


# ---------------------------------------------------------------- accepted exactly when torch accepts
@st.composite
def edge_shapes(draw):
    """Shapes with empty dimensions (batch, channels, rows, columns) and the arguments."""
    groups = draw(st.integers(1, 2))
    n, c_in = draw(st.integers(0, 2)), groups * draw(st.integers(0, 2))
    c_out = groups * draw(st.integers(1, 2))
    size = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    kernel = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    kwargs = dict(stride=draw(st.integers(1, 2)), padding=draw(st.integers(0, 2)),
                  dilation=draw(st.integers(0, 2)), groups=groups)
    return (n, c_in, *size), kernel, c_out, kwargs


def outcome(fn, *args, **kwargs):
    """The result of a call, or the class of its error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    except (TypeError, ValueError, RuntimeError) as e:
        return type(e)


@FUZZ
@given(edge_shapes(), st.booleans())
def test_empty_dimensions_are_accepted_exactly_when_torch_accepts_them(shapes, transposed):
    """conv2d and conv_transpose2d; the only exceptions are rows of the table of differences."""
    x_shape, kernel, c_out, kwargs = shapes
    x, groups = np.zeros(x_shape), kwargs["groups"]
    if transposed:
        kwargs = dict(kwargs, output_padding=0)
        w = np.zeros((x_shape[1], c_out // groups, *kernel))
        ours, theirs = outcome(gl.conv_transpose2d, x, w, **kwargs), outcome(
            F.conv_transpose2d, torch.from_numpy(x), torch.from_numpy(w), **kwargs)
    else:
        w = np.zeros((c_out, x_shape[1] // groups, *kernel))
        ours, theirs = outcome(gl.conv2d, x, w, **kwargs), outcome(
            F.conv2d, torch.from_numpy(x), torch.from_numpy(w), **kwargs)
    if isinstance(theirs, type):
        assert ours in (ValueError, TypeError), (ours, theirs)
    elif x_shape[1] == 0 or x_shape[0] == 0 and (transposed or kwargs["dilation"] == 0):
        # no-input-channels, empty-batch-checks: gconv_lib's answer or a ValueError
        assert ours is ValueError or np.array_equal(ours, theirs.numpy())
    else:
        assert isinstance(ours, np.ndarray) and ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours, theirs.numpy())


# ---------------------------------------------------------------- several threads at once
@settings(deadline=None, max_examples=8)
@given(st.lists(conv_configs(nd=2), min_size=3, max_size=3))
def test_concurrent_calls_while_the_thread_count_changes(cfgs):
    """Three threads run drawn convolutions (each several times) while the count changes;
    every result is torch's and the same bit for bit each time."""
    expected = [torch_forward(cfg) for cfg in cfgs]
    results = [[] for _ in cfgs]

    def run(k):
        x, w, b = cfgs[k]["arrays"]
        for _ in range(4):
            results[k].append(gl.conv2d(x, w, b, **cfgs[k]["kwargs"]))

    errors, _ = run_while_the_thread_count_changes([lambda k=k: run(k) for k in range(len(cfgs))], (1, 2, 3))
    assert errors == []
    for cfg, mine, theirs in zip(cfgs, results, expected):
        for again in mine[1:]:
            np.testing.assert_array_equal(again, mine[0])
        assert_like_torch(mine[0], theirs, cfg["dtype"])
