"""gconv_lib.viz draws what the library computes, at a fixed size, deterministically.

matplotlib runs on the Agg backend, switched on by the ``agg`` fixture of this module (not
globally), and every figure a test opens is closed again.
"""

import io
from types import SimpleNamespace

import numpy as np
import pytest

import gconv_lib as gl

matplotlib = pytest.importorskip("matplotlib")

from gconv_lib import viz  # noqa: E402  (after the importorskip)

# (C_in, C_out, groups): every case the book names
LAYERS = {
    "normal 4->6": (4, 6, 1),
    "in>out 8->4 g=2": (8, 4, 2),
    "in>out 8->4 g=4": (8, 4, 4),
    "in<out 4->8 g=2": (4, 8, 2),
    "in=out 6->6 g=3": (6, 6, 3),
    "depthwise 6": (6, 6, 6),
    "depthwise x2 3->6": (3, 6, 3),
    "12 groups (colours cycle)": (12, 12, 12),
}
LAYER_PARAMS = [pytest.param(*v, id=k) for k, v in LAYERS.items()]


@pytest.fixture(autouse=True)
def agg():
    """Draw with the non-interactive Agg backend; close every figure the test opened."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def png_bytes(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60, metadata={"Software": None})
    return buf.getvalue()


def same_rgb(a, b):
    return np.allclose(matplotlib.colors.to_rgb(a), matplotlib.colors.to_rgb(b))


def in_and_out_of(line):
    """The (c, o) pair a connectivity line joins, from its gid "in c -> out o"."""
    left, right = line.get_gid().split(" -> ")
    return int(left.split()[1]), int(right.split()[1])


# ---------------------------------------------------------------------------------------------
# fixed sizes, Axes returned, drawing on a given ax


DRAWINGS = {
    "channel_connectivity": lambda **kw: viz.plot_channel_connectivity(8, 4, groups=2, **kw),
    "connectivity_matrix": lambda **kw: viz.plot_connectivity_matrix(8, 4, groups=2, **kw),
    "connectivity_matrix with weight": lambda **kw: viz.plot_connectivity_matrix(
        8, 4, groups=2, weight=np.arange(4 * 4 * 3 * 3.0).reshape(4, 4, 3, 3), **kw),
    "sliding_window": lambda **kw: viz.plot_sliding_window(
        np.arange(20.0).reshape(4, 5), 3, position=(1, 1), padding=1, **kw),
}
EXPECTED_SIZE = {
    "channel_connectivity": (4.0, 3.2),
    "connectivity_matrix": (4.0, 3.2),
    "connectivity_matrix with weight": (4.0, 3.2),
    "sliding_window": (3.6, 3.6),
}


@pytest.mark.parametrize("name", list(DRAWINGS))
def test_new_figure_has_the_fixed_size(agg, name):
    ax = DRAWINGS[name]()
    assert isinstance(ax, matplotlib.axes.Axes)
    assert tuple(ax.figure.get_size_inches()) == pytest.approx(EXPECTED_SIZE[name])
    assert agg.get_fignums() == [ax.figure.number]


@pytest.mark.parametrize("name", list(DRAWINGS))
def test_draws_on_the_given_axes_without_opening_a_figure(agg, name):
    fig, axes = agg.subplots(1, 2, figsize=(5, 2))
    ax = DRAWINGS[name](ax=axes[1])
    assert ax is axes[1]
    assert agg.get_fignums() == [fig.number]
    assert not axes[0].has_data()


@pytest.mark.parametrize("name", list(DRAWINGS))
def test_the_same_call_renders_the_same_png(name):
    first = png_bytes(DRAWINGS[name]().figure)
    second = png_bytes(DRAWINGS[name]().figure)
    assert first == second


def test_different_calls_render_different_pngs():
    # guards the determinism test: it compares renderings that depend on the arguments
    a = png_bytes(viz.plot_channel_connectivity(8, 4, groups=2).figure)
    b = png_bytes(viz.plot_channel_connectivity(8, 4, groups=4).figure)
    assert a != b


# ---------------------------------------------------------------------------------------------
# plot_channel_connectivity


@pytest.mark.parametrize("c_in, c_out, groups", LAYER_PARAMS)
def test_one_line_per_connected_pair(c_in, c_out, groups):
    ax = viz.plot_channel_connectivity(c_in, c_out, groups)
    m = gl.connectivity(c_in, c_out, groups)                       # (C_out, C_in)
    assert len(ax.lines) == m.sum() == c_out * c_in // groups
    drawn = {in_and_out_of(line) for line in ax.lines}
    assert drawn == {(int(c), int(o)) for o, c in zip(*np.nonzero(m))}


@pytest.mark.parametrize("c_in, c_out, groups", LAYER_PARAMS)
def test_lines_join_the_channel_boxes_and_take_the_group_colour(c_in, c_out, groups):
    ax = viz.plot_channel_connectivity(c_in, c_out, groups)
    boxes = {col.get_gid(): col for col in ax.collections}
    assert len(boxes) == c_in + c_out
    y = {gid: col.get_offsets()[0] for gid, col in boxes.items()}  # gid -> (x, y) of the box
    for line in ax.lines:
        c, o = in_and_out_of(line)
        (x0, x1), (y0, y1) = line.get_xdata(), line.get_ydata()
        assert (x0, y0) == tuple(y[f"in {c}"]) and (x1, y1) == tuple(y[f"out {o}"])
        group = o // (c_out // groups)
        assert c // (c_in // groups) == group                      # a path never leaves its group
        assert same_rgb(line.get_color(), viz.group_color(group))
    for i in range(c_in):
        assert same_rgb(boxes[f"in {i}"].get_facecolor()[0], viz.group_color(i // (c_in // groups)))
    for o in range(c_out):
        assert same_rgb(boxes[f"out {o}"].get_facecolor()[0], viz.group_color(o // (c_out // groups)))


def test_as_many_line_colours_as_groups():
    ax = viz.plot_channel_connectivity(8, 8, groups=4)
    colours = {matplotlib.colors.to_hex(line.get_color()) for line in ax.lines}
    assert len(colours) == 4


def test_channel_connectivity_titles():
    assert viz.plot_channel_connectivity(8, 4, 4).get_title() == "C_in=8 -> C_out=4, groups=4"
    assert viz.plot_channel_connectivity(8, 4, 4, title="mine").get_title() == "mine"


# ---------------------------------------------------------------------------------------------
# plot_connectivity_matrix


@pytest.mark.parametrize("c_in, c_out, groups", LAYER_PARAMS)
def test_matrix_is_the_connectivity_coloured_by_group(c_in, c_out, groups):
    ax = viz.plot_connectivity_matrix(c_in, c_out, groups)
    rgba = np.asarray(ax.images[0].get_array())                    # (C_out, C_in, 4)
    assert rgba.shape == (c_out, c_in, 4)
    coloured = ~np.all(rgba == 1.0, axis=-1)                       # not white
    assert np.array_equal(coloured, gl.connectivity(c_in, c_out, groups))
    for o, c in zip(*np.nonzero(coloured)):
        assert np.allclose(rgba[o, c], viz.group_color(int(o) // (c_out // groups)))


@pytest.mark.parametrize("c_in, c_out, groups", LAYER_PARAMS)
def test_heatmap_is_the_block_diagonal_weight(c_in, c_out, groups):
    rng = np.random.default_rng(c_in * 100 + c_out * 10 + groups)
    w = rng.standard_normal((c_out, c_in // groups, 3, 2))        # (C_out, C_in/g, kH, kW)
    ax = viz.plot_connectivity_matrix(c_in, c_out, groups, weight=w)
    shown = np.asarray(ax.images[0].get_array())                   # (C_out, C_in)
    expected = np.abs(gl.block_diagonal_weight(w, groups)).sum(axis=(2, 3))
    assert np.array_equal(shown, expected)
    assert np.array_equal(shown > 0, gl.connectivity(c_in, c_out, groups))   # zero off the blocks


def test_out_order_draws_the_rows_in_that_order():
    shuffle = [0, 4, 1, 5, 2, 6, 3, 7]                             # ChannelShuffle(2) of 4 -> 8, groups=2
    plain = np.asarray(viz.plot_connectivity_matrix(4, 8, 2).images[0].get_array())
    ax = viz.plot_connectivity_matrix(4, 8, 2, out_order=shuffle)
    assert np.array_equal(np.asarray(ax.images[0].get_array()), plain[shuffle])
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(o) for o in shuffle]
    w = np.random.default_rng(0).standard_normal((8, 2, 3, 3))
    ax = viz.plot_connectivity_matrix(4, 8, 2, weight=w, out_order=shuffle)
    dense = np.asarray(ax.images[0].get_array())                   # (C_out, C_in), rows shuffled
    assert np.array_equal(dense, np.abs(gl.block_diagonal_weight(w, 2)).sum(axis=(2, 3))[shuffle])


@pytest.mark.parametrize("order", [[0, 1, 2], [0, 1, 2, 2], [1, 2, 3, 4], [[0, 1], [2, 3]]],
                         ids=["too short", "repeated", "out of range", "2-D"])
def test_out_order_must_be_a_permutation(agg, order):
    with pytest.raises(ValueError, match=r"out_order must be a permutation of range\(C_out\) = range\(4\), "
                                         r"but got \["):
        viz.plot_connectivity_matrix(8, 4, 2, out_order=order)
    assert agg.get_fignums() == []


def test_matrix_title_counts_the_connected_pairs():
    assert viz.plot_connectivity_matrix(8, 4, 4).get_title() == "groups=4: 8 of 32 channel pairs connected"
    assert viz.plot_connectivity_matrix(8, 4, 4, title="mine").get_title() == "mine"


# ---------------------------------------------------------------------------------------------
# plot_sliding_window

WINDOWS = {  # id: (H, W, kernel, position, stride, padding, dilation, padded size)
    "2x2 on 3x3": (3, 3, 2, (1, 1), 1, 0, 1, (3, 3)),
    "stride 2": (5, 5, 3, (1, 1), 2, 0, 1, (5, 5)),
    "dilation 2": (5, 5, 3, (0, 0), 1, 0, 2, (5, 5)),
    "padding 1, corner": (5, 5, 3, (0, 0), 1, 1, 1, (7, 7)),
    "same, even kernel": (4, 6, 4, (3, 5), 1, "same", 1, (7, 9)),     # 1 before, 2 after
    "per-dimension": (6, 7, (3, 2), (1, 2), (2, 1), (1, 0), (1, 2), (8, 7)),
}


@pytest.fixture(params=[pytest.param(v, id=k) for k, v in WINDOWS.items()])
def window(request):
    """One sliding-window figure of WINDOWS, with what the test needs to check it."""
    h, w, kernel, position, stride, padding, dilation, padded = request.param
    x = np.arange(1.0, h * w + 1).reshape(h, w)                   # distinct values; padding reads 0
    conv_args = dict(stride=stride, padding=padding, dilation=dilation)
    ax = viz.plot_sliding_window(x, kernel, position, **conv_args)
    kh, kw = (kernel, kernel) if np.isscalar(kernel) else kernel
    return SimpleNamespace(x=x, ax=ax, kh=kh, kw=kw, position=position, conv_args=conv_args, padded=padded)


def test_sliding_window_marks_exactly_the_taps_the_convolution_reads(window):
    # the convolution itself: a one-hot weight per tap picks the value it reads at `position`
    read = []
    for a in range(window.kh):
        for b in range(window.kw):
            one_hot = np.zeros((1, 1, window.kh, window.kw))
            one_hot[0, 0, a, b] = 1.0
            y = gl.conv2d(window.x[None, None], one_hot, **window.conv_args)   # (1, 1, H_out, W_out)
            read.append(float(y[(0, 0, *window.position)]))

    taps = [p for p in window.ax.patches if same_rgb(p.get_facecolor(), viz.group_color(0))]
    assert len(taps) == window.kh * window.kw
    texts = {(round(t.get_position()[0] - 0.5), round(t.get_position()[1] - 0.5)): float(t.get_text())
             for t in window.ax.texts}                             # (col, row) -> value written there
    tapped = [texts.get((round(p.get_x()), round(p.get_y())), 0.0) for p in taps]   # padding reads 0
    assert sorted(tapped) == sorted(read)


def test_sliding_window_draws_every_cell_and_hatches_the_padding(window):
    h, w = window.x.shape
    rows, cols = window.padded
    cells = {(round(p.get_y()), round(p.get_x())) for p in window.ax.patches}
    assert len(window.ax.patches) == rows * cols
    assert cells == {(r, c) for r in range(rows) for c in range(cols)}
    assert sum(p.get_hatch() == "//" for p in window.ax.patches) == rows * cols - h * w
    assert len(window.ax.texts) == h * w
    y = gl.conv2d(window.x[None, None], np.ones((1, 1, window.kh, window.kw)), **window.conv_args)
    assert window.ax.get_title() == f"output {tuple(window.position)} of {y.shape[2]} x {y.shape[3]}"


def test_sliding_window_title_and_values_can_be_turned_off():
    ax = viz.plot_sliding_window(np.ones((3, 3)), 2, title="step 1", show_values=False)
    assert ax.get_title() == "step 1"
    assert len(ax.texts) == 0


# ---------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize("fn", [viz.plot_channel_connectivity, viz.plot_connectivity_matrix],
                         ids=["channel_connectivity", "connectivity_matrix"])
@pytest.mark.parametrize("args, match", [
    pytest.param((8, 4, 3), r"groups \(3\) must divide in_channels \(8\)", id="groups 3 of 8"),
    pytest.param((8, 4, 8), r"groups \(8\) must divide out_channels \(4\)", id="groups 8 of 4 out"),
    pytest.param((0, 4, 1), r"in_channels must be a positive integer, but got in_channels=0", id="no inputs"),
    pytest.param((4, 4, 0), r"groups must be a positive integer, but got groups=0", id="groups 0"),
])
def test_invalid_layers_are_refused_with_the_rule(agg, fn, args, match):
    with pytest.raises(ValueError, match=match):
        fn(*args)
    assert agg.get_fignums() == []                                 # no half-drawn figure left open


@pytest.mark.parametrize("shape", [(4, 4, 3), (4, 2, 3, 3, 1), (2, 4, 3, 3), (4, 3, 3, 3)],
                         ids=["3-D", "5-D", "wrong C_out", "wrong C_in/g"])
def test_weight_of_the_wrong_shape_is_refused(shape):
    with pytest.raises(ValueError, match=r"weight must have shape \(C_out, C_in // groups, kH, kW\) = "
                                         r"\(4, 4, kH, kW\) for C_in=8, C_out=4, groups=2, but got shape"):
        viz.plot_connectivity_matrix(8, 4, groups=2, weight=np.ones(shape))


BAD_WINDOWS = {  # id: (arguments that replace x=ones((3, 3)), kernel_size=2, position=(0, 0); error; match)
    "3-D x": (dict(x=np.ones((2, 3, 3))), ValueError,
              r"x must be one non-empty channel of shape \(H, W\), but got shape \(2, 3, 3\)"),
    "empty x": (dict(x=np.ones((0, 3))), ValueError, r"non-empty"),
    "position below": (dict(position=(2, 0)), ValueError, r"position \(2, 0\) is outside the 2 x 2 output"),
    "negative position": (dict(position=(0, -1)), ValueError, r"position \(0, -1\) is outside"),
    "position int": (dict(position=0), ValueError, r"position must be a pair of ints"),
    "kernel too big": (dict(kernel_size=4), ValueError,
                       r"the kernel \(4x4, dilation \(1, 1\): spans 4x4\) "
                       r"does not fit the padded input \(3x3\)"),
    "dilation too big": (dict(dilation=3), ValueError, r"spans 4x4\) does not fit"),
    "kernel 0": (dict(kernel_size=0), ValueError,
                 r"kernel_size must be positive, but got kernel_size=\(0, 0\)"),
    "stride 0": (dict(stride=(1, 0)), ValueError, r"stride must be positive, but got stride=\(1, 0\)"),
    "3 kernel sizes": (dict(kernel_size=(2, 2, 2)), ValueError,
                       r"kernel_size must be an int or a sequence of 2 ints"),
    "negative padding": (dict(padding=-1), ValueError, r"padding must be non-negative"),
    "unknown padding": (dict(padding="full"), ValueError,
                        r"padding must be an int, a tuple, 'valid' or 'same'"),
    "same strided": (dict(padding="same", stride=2), ValueError, r"padding='same' needs stride 1"),
    "ax str": (dict(ax="axes"), TypeError, r"ax must be a matplotlib Axes or None, but got str"),
}


@pytest.mark.parametrize("kwargs, error, match", [pytest.param(*v, id=k) for k, v in BAD_WINDOWS.items()])
def test_sliding_window_rejects_bad_input(agg, kwargs, error, match):
    args = dict(x=np.ones((3, 3)), kernel_size=2, position=(0, 0)) | kwargs
    with pytest.raises(error, match=match):
        viz.plot_sliding_window(**args)
    assert agg.get_fignums() == []


@pytest.mark.parametrize("g", [-1, 1.5, True], ids=["negative", "float", "bool"])
def test_group_color_needs_a_group_index(g):
    with pytest.raises(ValueError, match=r"group index must be a non-negative integer"):
        viz.group_color(g)


def test_group_colours_are_tab10_and_cycle():
    palette = matplotlib.colormaps["tab10"]
    assert [viz.group_color(g) for g in range(10)] == [tuple(palette(g)) for g in range(10)]
    assert viz.group_color(10) == viz.group_color(0)
    assert len({viz.group_color(g) for g in range(10)}) == 10


# ---------------------------------------------------------------------------------------------
# the house style, the picture of groups and the animation


@pytest.mark.parametrize("c_in, c_out, groups", LAYER_PARAMS + [
    pytest.param(64, 128, 4, id="64->128 g=4"), pytest.param(32, 32, 32, id="32 groups (dots)")])
def test_plot_groups_draws_each_group_in_its_colour_and_fits_the_house_style(c_in, c_out, groups):
    ax = viz.plot_groups(c_in, c_out, groups)
    shown = list(range(groups)) if groups <= 6 else [0, 1, groups - 1]
    for part in ("input", "split", "kernels", "group output", "output"):
        patches = {int(p.get_gid().rsplit(" ", 1)[1]): p for p in ax.patches
                   if p.get_gid() and p.get_gid().rsplit(" ", 1)[0] == part}
        assert sorted(patches) == shown, part
        for j, patch in patches.items():
            colour = patch.get_edgecolor() if part == "kernels" else patch.get_facecolor()
            assert same_rgb(colour, viz.group_color(j)), (part, j)
    # the input blocks are C_in / g channels each, the outputs C_out / g: heights in that ratio
    height = {p.get_gid(): p.get_height() for p in ax.patches if p.get_gid()}
    assert height["input 0"] / height["output 0"] == pytest.approx(c_in / c_out)
    viz.check_figure(ax.figure)


def test_plot_groups_refuses_an_invalid_layer(agg):
    with pytest.raises(ValueError, match=r"groups \(3\) must divide in_channels \(8\)"):
        viz.plot_groups(8, 4, groups=3)


def test_check_figure_refuses_a_figure_wider_than_the_column(agg):
    fig, _ = agg.subplots(figsize=(11, 3), dpi=viz.DPI)
    with pytest.raises(ValueError, match=r"wider than the book's column of 832 px"):
        viz.check_figure(fig)


def test_check_figure_measures_text_at_the_displayed_size(agg):
    fig, ax = viz.figure(height=2)
    ax.set_title("9 pt", fontsize=9)
    sizes = viz.text_sizes(fig)
    assert min(px for px, _ in sizes) == pytest.approx(min(9, 9) * viz.DPI / 72)
    ax.axis("off")  # hidden tick labels are not text a reader sees
    assert [text for _, text in viz.text_sizes(fig)] == ["9 pt"]
    ax.text(0, 0, "tiny", fontsize=6)  # 8.3 px
    with pytest.raises(ValueError, match=r"text 'tiny' is 8.3 px high"):
        viz.check_figure(fig)


def test_every_figure_function_meets_the_house_style():
    for draw in DRAWINGS.values():
        viz.check_figure(draw().figure)


def test_sliding_window_writes_each_taps_kernel_value_and_the_sum_can_be_checked():
    x = np.arange(9.0).reshape(3, 3)
    k = np.array([[0.0, 1.0], [2.0, 3.0]])
    ax = viz.plot_sliding_window(x, 2, position=(0, 0), kernel=k)
    pairs = [t.get_text().split("\n×") for t in ax.texts if "×" in t.get_text()]
    assert sorted(pairs) == [["0", "0"], ["1", "1"], ["3", "2"], ["4", "3"]]
    assert sum(float(a) * float(b) for a, b in pairs) == gl.conv2d(x[None, None], k[None, None])[0, 0, 0, 0]
    with pytest.raises(ValueError, match=r"kernel must have shape \(kH, kW\) = \(2, 2\)"):
        viz.plot_sliding_window(x, 2, kernel=np.ones((3, 3)))


def test_heatmap_of_a_weight_has_a_colourbar():
    ax = viz.plot_connectivity_matrix(4, 2, groups=2, weight=np.ones((2, 2, 3, 3)))
    assert len(ax.figure.axes) == 2  # the matrix and its colourbar


def test_table_is_markdown_with_right_aligned_number_columns():
    md = viz.table(["layer", "params:"], [["a|b", 1]]).data
    assert md.splitlines() == ["| layer | params |", "| --- | ---: |", "| a\\|b | 1 |"]
    with pytest.raises(ValueError, match="every row needs 2 cells"):
        viz.table(["a", "b"], [[1]])


def test_animation_marks_exactly_the_channels_each_output_reads():
    anim = viz.group_animation(6, 4, groups=2, kernel_size=2, input_size=3)
    m = gl.connectivity(6, 4, groups=2)
    assert len(anim.reads) == 4 * 2 * 2  # C_out x H_out x W_out frames, channel by channel
    for frame, reads in enumerate(anim.reads):
        o = frame // 4
        assert reads == list(np.nonzero(m[o])[0])


def test_animation_html_plays_offline_and_is_the_same_every_time():
    pytest.importorskip("IPython")
    first, second = viz.animate_groups().data, viz.animate_groups().data
    assert first == second  # nbval compares it
    assert "https://" not in first and "<script" in first
    assert len(first) < 500_000  # a few hundred KB in the page


@pytest.mark.parametrize("kwargs, match", [
    (dict(in_channels=4, out_channels=4, groups=3), r"groups \(3\) must divide"),
    (dict(in_channels=16, out_channels=4, groups=2), r"in_channels must be at most 8"),
    (dict(kernel_size=5, input_size=4), r"kernel_size must be an int from 1 to input_size \(4\)"),
])
def test_animation_refuses_what_it_cannot_show(agg, kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.group_animation(**kwargs)
