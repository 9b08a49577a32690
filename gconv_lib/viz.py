"""Figures for the book, drawn from gconv_lib's own data (needs matplotlib).

Every function draws on a given ``ax`` (or on a new figure of a fixed size) and returns the
``Axes``, so a chapter can combine them. Colours always mean groups: group ``g`` is drawn in
colour ``g`` of matplotlib's ``tab10`` palette, in every figure.

* :func:`plot_channel_connectivity` -- input channels -> output channels, one line per path;
* :func:`plot_connectivity_matrix` -- the ``(C_out, C_in)`` matrix of which input feeds which
  output; with a weight, the block-diagonal dense weight as a heatmap;
* :func:`plot_sliding_window` -- one kernel position on an input and the output value it makes.

The figures are deterministic (no randomness, no timestamps): the same call draws the same
artists and renders the same pixels. matplotlib is imported only when a function is called.
"""

from __future__ import annotations

import numpy as np

from .cost import connectivity
from .grouped import block_diagonal_weight
from .validate import _as_tuple, _is_int, check_padding, conv_output_size

#: Size in inches of the new figure each function makes when no ``ax`` is given.
FIGSIZE = {
    "channel_connectivity": (4.0, 3.2),
    "connectivity_matrix": (3.6, 3.2),
    "sliding_window": (3.6, 3.6),
}


def _plt():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("gconv_lib.viz needs matplotlib: pip install 'gconv_lib[viz]'") from e
    return plt


def group_color(g):
    """The colour of group ``g``: colour ``g`` of ``tab10``, cycling after 10 groups.

    Parameters
    ----------
    g : int
        Group index, ``0 <= g``.

    Returns
    -------
    tuple of 4 floats
        RGBA, each in ``[0, 1]``.

    Raises
    ------
    ValueError
        If ``g`` is not a non-negative integer.

    Examples
    --------
    >>> tuple(round(v, 3) for v in group_color(0))   # tab10 blue
    (0.122, 0.467, 0.706, 1.0)
    >>> group_color(12) == group_color(2)
    True
    """
    if not _is_int(g) or g < 0:
        raise ValueError(f"group index must be a non-negative integer, but got g={g!r}")
    import matplotlib

    return tuple(float(v) for v in matplotlib.colormaps["tab10"](int(g) % 10))


def _axes(ax, figsize):
    if ax is None:
        _, ax = _plt().subplots(figsize=figsize, layout="constrained")
        return ax
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, but got {type(ax).__name__}")
    return ax


def plot_channel_connectivity(in_channels, out_channels, groups=1, ax=None, title=None):
    """Draw input channels (left) and output channels (right), joined where they connect.

    Each line is one path, one ``kH x kW`` slice ``w[o, c]`` of the weight: output ``o``
    is joined to input ``c`` when ``connectivity(in_channels, out_channels, groups)[o, c]``
    is True, so there are ``C_out * C_in / groups`` lines. Lines and channel boxes take
    their group's colour (:func:`group_color`).

    Parameters
    ----------
    in_channels, out_channels : int
        ``C_in`` and ``C_out``, positive.
    groups : int
        Must divide both channel counts.
    ax : matplotlib Axes, optional
        Where to draw; default a new figure of ``FIGSIZE["channel_connectivity"]``
        (4.0 x 3.2 inches).
    title : str, optional
        Default: ``"C_in={in_channels} -> C_out={out_channels}, groups={groups}"``.

    Returns
    -------
    matplotlib Axes
        ``ax.lines`` holds one ``Line2D`` per path, with ``gid`` ``"in {c} -> out {o}"``;
        ``ax.collections`` one marker per channel box, with ``gid`` ``"in {c}"`` or
        ``"out {o}"``.

    Raises
    ------
    ValueError
        If the channel counts are not positive integers or ``groups`` does not divide
        both (the message of :func:`gconv_lib.classify`).
    TypeError
        If ``ax`` is not a matplotlib Axes.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = plot_channel_connectivity(8, 4, groups=2, ax=Figure().add_subplot())
    >>> len(ax.lines)            # 4 * 8 / 2 paths
    16
    >>> ax.get_title()
    'C_in=8 -> C_out=4, groups=2'
    """
    m = connectivity(in_channels, out_channels, groups)  # (C_out, C_in); validates the layer
    ax = _axes(ax, FIGSIZE["channel_connectivity"])
    in_per_group, out_per_group = in_channels // groups, out_channels // groups
    n = max(in_channels, out_channels)

    def ys(count):  # vertical positions, centred, top to bottom
        return (n - 1) / 2 + (count - 1) / 2 - np.arange(count) * 1.0

    y_in, y_out = ys(in_channels), ys(out_channels)
    for o, c in zip(*np.nonzero(m)):
        ax.plot([0, 1], [y_in[c], y_out[o]], color=group_color(int(o) // out_per_group), lw=1.2,
                alpha=0.8, gid=f"in {c} -> out {o}")
    for x, y, per_group, label in ((0, y_in, in_per_group, "in"), (1, y_out, out_per_group, "out")):
        for i, yi in enumerate(y):
            ax.scatter([x], [yi], s=180, marker="s", color=group_color(i // per_group),
                       edgecolor="black", zorder=3, gid=f"{label} {i}")
            ax.annotate(f"{label} {i}", (x, yi), xytext=(-12 if x == 0 else 12, 0),
                        textcoords="offset points", ha="right" if x == 0 else "left", va="center",
                        fontsize=8)
    ax.set_xlim(-0.45, 1.45)
    ax.set_ylim(-0.8, n - 0.2)
    ax.axis("off")
    ax.set_title(title or f"C_in={in_channels} -> C_out={out_channels}, groups={groups}", fontsize=10)
    return ax


def plot_connectivity_matrix(in_channels, out_channels, groups=1, weight=None, ax=None, title=None,
                             out_order=None):
    """Show which input channel feeds which output channel, as a ``(C_out, C_in)`` grid.

    Without ``weight``: cell ``(o, c)`` is coloured by the group of output ``o`` where
    output ``o`` reads input ``c``, and white where it cannot, so ``groups`` coloured
    blocks of ``(C_out / groups) x (C_in / groups)`` cells lie on the diagonal. With
    ``weight``: the dense block-diagonal weight ``W`` of
    :func:`gconv_lib.block_diagonal_weight`, summarised per channel pair as
    ``sum_{a, b} |W[o, c, a, b]|`` on a grey scale: exactly zero (white) outside the blocks.
    With ``out_order``, row ``p`` shows output channel ``out_order[p]``, as after a channel
    shuffle; the row labels then name the channel in each row.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C_in`` and ``C_out``, positive.
    groups : int
        Must divide both channel counts.
    weight : ndarray of shape (C_out, C_in // groups, kH, kW), optional
        The grouped weight to draw.
    ax : matplotlib Axes, optional
        Where to draw; default a new figure of ``FIGSIZE["connectivity_matrix"]``
        (3.6 x 3.2 inches).
    title : str, optional
        Default: ``"groups={groups}: {connected} of {C_out * C_in} channel pairs connected"``.
    out_order : sequence of int, optional
        A permutation of ``range(C_out)``: the output channel drawn in each row. Default:
        the channels in order, ``0 .. C_out - 1`` (PyTorch's group-major order).

    Returns
    -------
    matplotlib Axes
        ``ax.images[0]`` holds the drawn array: RGBA of shape ``(C_out, C_in, 4)`` without
        ``weight``, the ``(C_out, C_in)`` sums with it (rows in ``out_order``).

    Raises
    ------
    ValueError
        If the layer is invalid, ``weight`` does not have shape
        ``(C_out, C_in // groups, kH, kW)``, or ``out_order`` is not a permutation of
        ``range(C_out)``.
    TypeError
        If ``ax`` is not a matplotlib Axes.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = plot_connectivity_matrix(4, 2, groups=2, ax=Figure().add_subplot())
    >>> ax.get_title()
    'groups=2: 4 of 8 channel pairs connected'
    >>> w = np.ones((2, 2, 3, 3))                     # (C_out, C_in // groups, kH, kW)
    >>> ax = plot_connectivity_matrix(4, 2, groups=2, weight=w, ax=Figure().add_subplot())
    >>> np.asarray(ax.images[0].get_array())          # sum |W[o, c]| over the 3x3 taps
    array([[9., 9., 0., 0.],
           [0., 0., 9., 9.]])
    >>> ax = plot_connectivity_matrix(4, 2, groups=2, weight=w, out_order=[1, 0], ax=Figure().add_subplot())
    >>> np.asarray(ax.images[0].get_array())          # rows swapped
    array([[0., 0., 9., 9.],
           [9., 9., 0., 0.]])
    """
    m = connectivity(in_channels, out_channels, groups)  # (C_out, C_in); validates the layer
    if weight is not None:
        weight = np.asarray(weight)
        expected = (out_channels, in_channels // groups)
        if weight.ndim != 4 or weight.shape[:2] != expected:
            raise ValueError(
                f"weight must have shape (C_out, C_in // groups, kH, kW) = ({expected[0]}, {expected[1]}, "
                f"kH, kW) for C_in={in_channels}, C_out={out_channels}, groups={groups}, "
                f"but got shape {weight.shape}"
            )
    order = np.arange(out_channels)
    if out_order is not None:
        order = np.asarray(out_order)
        if order.shape != (out_channels,) or not np.array_equal(np.sort(order), np.arange(out_channels)):
            raise ValueError(
                f"out_order must be a permutation of range(C_out) = range({out_channels}), "
                f"but got {list(np.ravel(order))}"
            )
    ax = _axes(ax, FIGSIZE["connectivity_matrix"])
    if weight is None:
        out_per_group = out_channels // groups
        rgba = np.ones((out_channels, in_channels, 4))  # (C_out, C_in, RGBA), white
        for o, c in zip(*np.nonzero(m)):
            rgba[o, c] = group_color(int(o) // out_per_group)
        ax.imshow(rgba[order], interpolation="nearest")  # row p: output channel order[p]
    else:
        dense = block_diagonal_weight(weight, groups)  # (C_out, C_in, kH, kW)
        strength = np.abs(dense).sum(axis=(2, 3))  # (C_out, C_in)
        ax.imshow(strength[order], cmap="Greys", interpolation="nearest", vmin=0)
    ax.set_xticks(np.arange(in_channels))
    ax.set_yticks(np.arange(out_channels), labels=[str(o) for o in order])
    ax.tick_params(labelsize=7)
    ax.set_xticks(np.arange(in_channels + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(out_channels + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="lightgrey", lw=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("input channel c")
    ax.set_ylabel("output channel o" if out_order is None else "output channel o, reordered")
    default = f"groups={groups}: {int(m.sum())} of {m.size} channel pairs connected"
    ax.set_title(title or default, fontsize=9)
    return ax


def plot_sliding_window(x, kernel_size, position=(0, 0), stride=1, padding=0, dilation=1,
                        ax=None, show_values=True, title=None):
    """Draw one input channel with the taps the kernel reads at one output position.

    The padded input is drawn as a grid of ``(H + pad_top + pad_bottom) x
    (W + pad_left + pad_right)`` cells: input cells white (with their values), padding cells
    hatched grey, and the ``kH * kW`` cells read for output ``(i, j)``, rows
    ``i * sH + a * dH`` and columns ``j * sW + b * dW`` of the padded input, in the colour of
    group 0.

    Parameters
    ----------
    x : array_like of shape (H, W)
        One input channel (before padding).
    kernel_size : int or (int, int)
        ``(kH, kW)``, positive.
    position : (int, int)
        The output position ``(i, j)`` whose window is drawn, ``0 <= i < H_out`` and
        ``0 <= j < W_out``.
    stride, dilation : int or (int, int)
        Positive.
    padding : int, (int, int), 'valid' or 'same'
        As in :func:`gconv_lib.conv2d`; ``'same'`` puts an odd extra row/column at the end.
    ax : matplotlib Axes, optional
        Where to draw; default a new figure of ``FIGSIZE["sliding_window"]``
        (3.6 x 3.6 inches).
    show_values : bool
        Write the input values in the cells.
    title : str, optional
        Default: ``"output ({i}, {j}) of {H_out} x {W_out}"``.

    Returns
    -------
    matplotlib Axes
        ``ax.patches`` holds one ``Rectangle`` per cell of the padded input, row by row.

    Raises
    ------
    ValueError
        If ``x`` is not a non-empty 2-D array, an argument is not positive (padding:
        negative), the kernel does not fit the padded input, or ``position`` lies outside
        the ``H_out x W_out`` output.
    TypeError
        If ``ax`` is not a matplotlib Axes.

    Notes
    -----
    Along each dimension ``H_out = floor((H + pad_top + pad_bottom - d (k - 1) - 1) / s) + 1``
    (:func:`gconv_lib.conv_output_size`).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> x = np.arange(9.0).reshape(3, 3)
    >>> ax = plot_sliding_window(x, kernel_size=2, position=(1, 0), ax=Figure().add_subplot())
    >>> ax.get_title()
    'output (1, 0) of 2 x 2'
    >>> len(ax.patches)          # one cell per input value, no padding
    9
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.size == 0:
        raise ValueError(f"x must be one non-empty channel of shape (H, W), but got shape {x.shape}")
    (kh, kw) = _as_tuple(kernel_size, 2, "kernel_size", "plot_sliding_window")
    (sh, sw) = _as_tuple(stride, 2, "stride", "plot_sliding_window")
    (dh, dw) = _as_tuple(dilation, 2, "dilation", "plot_sliding_window")
    for name, pair in (("kernel_size", (kh, kw)), ("stride", (sh, sw)), ("dilation", (dh, dw))):
        if min(pair) < 1:
            raise ValueError(f"{name} must be positive, but got {name}={pair}")
    (pt, pb), (pl, pr) = check_padding(padding, (kh, kw), (sh, sw), (dh, dw), 2, "plot_sliding_window")
    rows, cols = x.shape[0] + pt + pb, x.shape[1] + pl + pr
    h_out = conv_output_size(x.shape[0], kh, sh, (pt, pb), dh)
    w_out = conv_output_size(x.shape[1], kw, sw, (pl, pr), dw)
    if h_out < 1 or w_out < 1:
        raise ValueError(
            f"the kernel ({kh}x{kw}, dilation ({dh}, {dw}): spans {dh * (kh - 1) + 1}x{dw * (kw - 1) + 1}) "
            f"does not fit the padded input ({rows}x{cols})"
        )
    if (not isinstance(position, (tuple, list)) or len(position) != 2
            or not all(_is_int(p) for p in position)):
        raise ValueError(f"position must be a pair of ints (i, j), but got position={position!r}")
    i, j = (int(p) for p in position)
    if not (0 <= i < h_out and 0 <= j < w_out):
        raise ValueError(f"position {(i, j)} is outside the {h_out} x {w_out} output")
    ax = _axes(ax, FIGSIZE["sliding_window"])
    from matplotlib.patches import Rectangle

    taps = {(i * sh + a * dh, j * sw + b * dw) for a in range(kh) for b in range(kw)}  # padded coordinates
    for r in range(rows):
        for c in range(cols):
            inside = pt <= r < pt + x.shape[0] and pl <= c < pl + x.shape[1]
            face = group_color(0) if (r, c) in taps else ("white" if inside else "0.9")
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor=face, edgecolor="grey",
                                   hatch=None if inside else "//", alpha=0.9 if (r, c) in taps else 1))
            if show_values and inside:
                ax.text(c + 0.5, r + 0.5, f"{x[r - pt, c - pl]:g}", ha="center", va="center", fontsize=7)
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"output ({i}, {j}) of {h_out} x {w_out}", fontsize=9)
    return ax
