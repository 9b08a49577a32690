"""channel_shuffle against torch.nn.ChannelShuffle, and the connectivity of stacked layers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gconv_lib as gl
from gconv_lib.torch_check import TOLERANCES

torch = pytest.importorskip("torch")


def torch_shuffle(x, groups):
    """torch.nn.ChannelShuffle and F.channel_shuffle on a NumPy array; both must agree."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    module = torch.nn.ChannelShuffle(groups)(t).numpy()
    functional = torch.nn.functional.channel_shuffle(t, groups).numpy()
    np.testing.assert_array_equal(module, functional)
    return module


# (shape, groups): channels on axis 1, C = groups * (C // groups) by construction
CASES = {
    "NCHW g=2": ((2, 6, 3, 4), 2),
    "NCHW g=3": ((1, 6, 2, 2), 3),
    "groups=1 is the identity": ((1, 5, 2, 2), 1),
    "groups=C is the identity": ((1, 5, 2, 2), 5),
    "NCL (conv1d layout)": ((3, 8, 7), 4),
    "NCDHW (conv3d layout)": ((1, 12, 2, 3, 2), 3),
    "ShuffleNet g=3, 240 channels": ((1, 240, 2, 2), 3),
    "empty batch": ((0, 6, 2, 2), 3),
    "zero channels": ((2, 0, 2, 2), 2),
    "1x1 spatial": ((4, 9, 1, 1), 3),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64], ids=["f64", "f32", "i64"])
def test_matches_torch(case, dtype):
    shape, groups = case
    x = np.random.default_rng(0).standard_normal(shape) * 10
    x = x.astype(dtype)
    ours = gl.channel_shuffle(x, groups)
    assert ours.shape == x.shape
    assert ours.dtype == x.dtype
    np.testing.assert_array_equal(ours, torch_shuffle(x, groups))  # a permutation: exact


@settings(deadline=None, max_examples=60)
@given(
    n=st.integers(0, 3),
    groups=st.integers(1, 6),
    per_group=st.integers(1, 5),
    spatial=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    seed=st.integers(0, 2**16),
)
def test_matches_torch_hypothesis(n, groups, per_group, spatial, seed):
    x = np.random.default_rng(seed).standard_normal((n, groups * per_group, *spatial))
    np.testing.assert_array_equal(gl.channel_shuffle(x, groups), torch_shuffle(x, groups))


def test_returns_a_new_array():
    x = np.arange(8.0).reshape(1, 8, 1, 1)
    out = gl.channel_shuffle(x, 1)
    out[0, 0] = -1.0
    assert x[0, 0, 0, 0] == 0.0


def test_numpy_integer_groups():
    x = np.arange(6.0).reshape(1, 6, 1)
    np.testing.assert_array_equal(gl.channel_shuffle(x, np.int64(2)), torch_shuffle(x, 2))


# (shape, groups, exception, message): torch rejects each of these too
ERRORS = {
    "groups does not divide C": ((1, 6, 2, 2), 4, ValueError,
                                 r"channel_shuffle: groups \(4\) must divide the number of channels \(6\)"),
    "groups=0": ((1, 6, 2, 2), 0, ValueError, r"groups must be a positive integer, but got groups=0"),
    "groups=-2": ((1, 6, 2, 2), -2, ValueError, r"groups must be a positive integer, but got groups=-2"),
    "float groups": ((1, 6, 2, 2), 2.0, TypeError, r"groups must be an int, but got float \(2.0\)"),
    "2-D input (N, C)": ((2, 6), 2, ValueError,
                         r"at least 3 dimensions, but got input of shape \(2, 6\)"),
    "1-D input": ((6,), 2, ValueError, r"at least 3 dimensions, but got input of shape \(6,\)"),
}


@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_errors_where_torch_errors(case):
    shape, groups, exc, match = case
    x = np.zeros(shape)
    with pytest.raises(exc, match=match):
        gl.channel_shuffle(x, groups)
    with pytest.raises((RuntimeError, TypeError)):
        torch_shuffle(x, groups)


def test_bool_groups_is_rejected():
    with pytest.raises(TypeError, match=r"groups must be an int, but got bool"):
        gl.channel_shuffle(np.zeros((1, 2, 1)), True)


# ---- the permutation and its matrix ----------------------------------------------------

SHUFFLES = {"C=6 g=2": (6, 2), "C=6 g=3": (6, 3), "C=12 g=4": (12, 4), "C=8 g=1": (8, 1),
            "C=8 g=8": (8, 8), "C=240 g=3": (240, 3)}


@pytest.mark.parametrize("case", SHUFFLES.values(), ids=SHUFFLES.keys())
def test_permutation_is_what_the_shuffle_does(case):
    c, g = case
    perm = gl.shuffle_permutation(c, g)
    assert sorted(perm.tolist()) == list(range(c))  # a permutation
    x = np.random.default_rng(1).standard_normal((2, c, 3))
    np.testing.assert_array_equal(x[:, perm], gl.channel_shuffle(x, g))


@pytest.mark.parametrize("case", SHUFFLES.values(), ids=SHUFFLES.keys())
def test_shuffle_with_c_over_g_undoes_it(case):
    c, g = case
    x = np.random.default_rng(2).standard_normal((1, c, 2, 2))
    np.testing.assert_array_equal(gl.channel_shuffle(gl.channel_shuffle(x, g), c // g), x)
    identity = gl.compose_connectivity(gl.shuffle_matrix(c, g), gl.shuffle_matrix(c, c // g))
    np.testing.assert_array_equal(identity, np.eye(c, dtype=bool))


@pytest.mark.parametrize("case", SHUFFLES.values(), ids=SHUFFLES.keys())
def test_shuffle_matrix_is_the_permutation_matrix(case):
    c, g = case
    p = gl.shuffle_matrix(c, g)
    assert p.shape == (c, c) and p.dtype == bool
    assert (p.sum(axis=0) == 1).all() and (p.sum(axis=1) == 1).all()
    v = np.random.default_rng(3).standard_normal(c)
    np.testing.assert_array_equal(p.astype(float) @ v, gl.channel_shuffle(v[None, :, None], g)[0, :, 0])


def test_groups_one_and_c_are_identities():
    np.testing.assert_array_equal(gl.shuffle_permutation(7, 1), np.arange(7))
    np.testing.assert_array_equal(gl.shuffle_permutation(7, 7), np.arange(7))


def test_permutation_errors():
    with pytest.raises(ValueError, match=r"shuffle_permutation: groups \(4\) must divide the number of "
                                         r"channels \(6\)"):
        gl.shuffle_permutation(6, 4)
    with pytest.raises(ValueError, match=r"channels must be a non-negative integer, but got channels=-1"):
        gl.shuffle_permutation(-1, 1)
    with pytest.raises(ValueError, match=r"groups \(3\) must divide the number of channels \(8\)"):
        gl.shuffle_matrix(8, 3)


# ---- composing connectivity ------------------------------------------------------------

def test_one_matrix_composes_to_itself():
    m = gl.connectivity(8, 4, groups=2)
    np.testing.assert_array_equal(gl.compose_connectivity(m), m)


@pytest.mark.parametrize("g", [1, 2, 3, 6], ids=lambda g: f"g={g}")
def test_stacked_grouped_layers_never_mix_groups(g):
    # 6 -> 12 -> 6 -> 12, all with the same groups: still one block per group
    layers = [gl.connectivity(6, 12, g), gl.connectivity(12, 6, g), gl.connectivity(6, 12, g)]
    np.testing.assert_array_equal(gl.compose_connectivity(*layers), gl.connectivity(6, 12, g))


@pytest.mark.parametrize("c, g", [(4, 2), (9, 3), (12, 3), (16, 4), (240, 3), (18, 3)],
                         ids=lambda v: str(v))
def test_a_shuffle_makes_two_grouped_layers_full_when_c_at_least_g_squared(c, g):
    layer = gl.connectivity(c, c, g)
    mixed = gl.compose_connectivity(layer, gl.shuffle_matrix(c, g), layer)
    assert mixed.all()


@pytest.mark.parametrize("c, g", [(8, 4), (6, 3), (10, 5), (12, 6), (32, 8), (24, 8), (16, 4)],
                         ids=lambda v: str(v))
def test_each_shuffled_grouped_layer_multiplies_the_reach_by_c_over_g(c, g):
    # every output of L grouped layers with shuffles between them sees min(C, (C/g)^L) inputs;
    # so one shuffle is not enough when C < g^2 (e.g. 8 channels in 4 groups)
    layer, shuffle = gl.connectivity(c, c, g), gl.shuffle_matrix(c, g)
    mats = [layer]
    for n_layers in range(1, 6):
        reach = gl.compose_connectivity(*mats).sum(axis=1)  # (C,): inputs each output sees
        assert (reach == min(c, (c // g) ** n_layers)).all()
        mats += [shuffle, layer]


def test_depthwise_then_pointwise_is_full():
    dw, pw = gl.connectivity(8, 8, groups=8), gl.connectivity(8, 16, groups=1)
    assert gl.compose_connectivity(dw, pw).all()
    np.testing.assert_array_equal(gl.compose_connectivity(dw, dw), np.eye(8, dtype=bool))


@settings(deadline=None, max_examples=40)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5), seed=st.integers(0, 2**16))
def test_composition_is_associative_and_matches_pairwise_products(sizes, seed):
    rng = np.random.default_rng(seed)
    mats = [rng.random((sizes[i + 1], sizes[i])) < 0.4 for i in range(len(sizes) - 1)]
    expected = mats[0]
    for m in mats[1:]:
        # o depends on c when some middle channel k has m[o, k] and expected[k, c]
        expected = (m[:, :, None] & expected[None, :, :]).any(axis=1)  # (C_next, C_0)
    np.testing.assert_array_equal(gl.compose_connectivity(*mats), expected)
    if len(mats) >= 3:
        left = gl.compose_connectivity(gl.compose_connectivity(*mats[:2]), *mats[2:])
        right = gl.compose_connectivity(mats[0], gl.compose_connectivity(*mats[1:]))
        np.testing.assert_array_equal(left, right)


def probe_torch(module, c_in, size=5):
    """Row c: which output channels of ``module`` change when input channel c changes."""
    x = torch.from_numpy(np.random.default_rng(4).standard_normal((1, c_in, size, size)))
    with torch.no_grad():
        base = module(x)
        rows = []
        for c in range(c_in):
            poked = x.clone()
            poked[:, c] += 1.0
            change = (module(poked) - base).abs().amax(dim=(0, 2, 3))  # (C_out,)
            rows.append(change > TOLERANCES[np.dtype(np.float64)]["atol"])
    return torch.stack(rows).numpy()  # (C_in, C_out)


@pytest.mark.parametrize("shuffle", [False, True], ids=["no shuffle", "shuffle"])
@pytest.mark.parametrize("c, g", [(6, 2), (12, 3), (8, 4)], ids=lambda v: str(v))
def test_composition_predicts_what_torch_stacks_depend_on(c, g, shuffle):
    torch.manual_seed(0)
    conv = lambda: torch.nn.Conv2d(c, c, 3, padding=1, groups=g, dtype=torch.float64)
    middle = [torch.nn.ChannelShuffle(g)] if shuffle else []
    stack = torch.nn.Sequential(conv(), torch.nn.ReLU(), *middle, conv())
    layer = gl.connectivity(c, c, g)
    mats = [layer, gl.shuffle_matrix(c, g), layer] if shuffle else [layer, layer]
    np.testing.assert_array_equal(probe_torch(stack, c).T, gl.compose_connectivity(*mats))


COMPOSE_ERRORS = {
    "no matrices": ((), r"needs at least one connectivity matrix"),
    "chain mismatch": ((np.ones((4, 8), bool), np.ones((2, 6), bool)),
                       r"layer 1 reads 6 channels \(matrix shape \(2, 6\)\), but layer 0 writes 4 "
                       r"\(matrix shape \(4, 8\)\)"),
    "not a matrix": ((np.ones(4, bool),), r"connectivity matrix 0 must have shape \(C_out, C_in\), "
                                          r"but has shape \(4,\)"),
}


@pytest.mark.parametrize("case", COMPOSE_ERRORS.values(), ids=COMPOSE_ERRORS.keys())
def test_compose_errors(case):
    mats, match = case
    with pytest.raises(ValueError, match=match):
        gl.compose_connectivity(*mats)
