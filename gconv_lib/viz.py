"""Figures for the book, drawn from gconv_lib's own data (needs matplotlib).

Every function draws on a given ``ax`` (or a new figure of fixed size) and returns the
``Axes``, so a chapter can combine them. Colours always mean groups: group ``g`` is drawn in
colour ``g`` of matplotlib's ``tab10`` palette, in every figure.

* :func:`plot_channel_connectivity` -- input channels -> output channels, one line per path;
* :func:`plot_connectivity_matrix` -- the ``(C_out, C_in)`` matrix of which input feeds which
  output; with a weight, the block-diagonal dense weight as a heatmap;
* :func:`plot_sliding_window` -- one kernel position on an input and the output value it makes.
"""

from __future__ import annotations

import numpy as np

from .cost import connectivity
from .grouped import block_diagonal_weight
from .validate import check_padding, conv_output_size


def _plt():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("gconv_lib.viz needs matplotlib: pip install 'gconv_lib[viz]'") from e
    return plt


def group_color(g):
    """The colour of group ``g`` (``tab10``, cycling after 10 groups)."""
    return _plt().get_cmap("tab10")(g % 10)


def _axes(ax, figsize):
    if ax is None:
        _, ax = _plt().subplots(figsize=figsize, layout="constrained")
    return ax


def plot_channel_connectivity(in_channels, out_channels, groups=1, ax=None, title=None):
    """Draw input channels (left) and output channels (right), joined where they connect.

    Each line is one path a kernel channel takes: output ``o`` is joined to input ``c``
    when ``connectivity(in_channels, out_channels, groups)[o, c]`` is True. Lines and
    channel boxes take their group's colour.

    Parameters
    ----------
    in_channels, out_channels, groups : int
    ax : matplotlib Axes, optional
    title : str, optional
        Default: ``"C_in={in_channels} -> C_out={out_channels}, groups={groups}"``.

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax, (4.0, 3.2))
    m = connectivity(in_channels, out_channels, groups)  # (C_out, C_in)
    in_per_group, out_per_group = in_channels // groups, out_channels // groups
    n = max(in_channels, out_channels)

    def ys(count):  # vertical positions, centred, top to bottom
        return (n - 1) / 2 + (count - 1) / 2 - np.arange(count) * 1.0

    y_in, y_out = ys(in_channels), ys(out_channels)
    for o, c in zip(*np.nonzero(m)):
        ax.plot([0, 1], [y_in[c], y_out[o]], color=group_color(o // out_per_group), lw=1.2, alpha=0.8)
    for x, y, per_group, label in ((0, y_in, in_per_group, "in"), (1, y_out, out_per_group, "out")):
        for i, yi in enumerate(y):
            ax.scatter([x], [yi], s=180, marker="s", color=group_color(i // per_group),
                       edgecolor="black", zorder=3)
            ax.annotate(f"{label} {i}", (x, yi), xytext=(-12 if x == 0 else 12, 0),
                        textcoords="offset points", ha="right" if x == 0 else "left", va="center",
                        fontsize=8)
    ax.set_xlim(-0.45, 1.45)
    ax.set_ylim(-0.8, n - 0.2)
    ax.axis("off")
    ax.set_title(title or f"C_in={in_channels} -> C_out={out_channels}, groups={groups}", fontsize=10)
    return ax


def plot_connectivity_matrix(in_channels, out_channels, groups=1, weight=None, ax=None, title=None):
    """Show which input channel feeds which output channel, as a ``(C_out, C_in)`` grid.

    Without ``weight``: cell ``(o, c)`` is coloured by group where output ``o`` reads
    input ``c``, and white where it cannot. With ``weight`` (shape
    ``(C_out, C_in // groups, kH, kW)``): the dense block-diagonal weight of
    :func:`gconv_lib.block_diagonal_weight`, summarised per channel pair as
    ``sum |w|`` over the kernel taps, on a grey scale: zero outside the blocks.

    Parameters
    ----------
    in_channels, out_channels, groups : int
    weight : ndarray of shape (C_out, C_in // groups, kH, kW), optional
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax, (3.6, 3.2))
    m = connectivity(in_channels, out_channels, groups)  # (C_out, C_in)
    if weight is None:
        out_per_group = out_channels // groups
        rgba = np.ones((out_channels, in_channels, 4))  # white
        for o, c in zip(*np.nonzero(m)):
            rgba[o, c] = group_color(o // out_per_group)
        ax.imshow(rgba, interpolation="nearest")
    else:
        dense = block_diagonal_weight(np.asarray(weight), groups)  # (C_out, C_in, kH, kW)
        strength = np.abs(dense).sum(axis=(2, 3))  # (C_out, C_in)
        ax.imshow(strength, cmap="Greys", interpolation="nearest", vmin=0)
    ax.set_xticks(np.arange(in_channels))
    ax.set_yticks(np.arange(out_channels))
    ax.tick_params(labelsize=7)
    ax.set_xticks(np.arange(in_channels + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(out_channels + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="lightgrey", lw=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("input channel c")
    ax.set_ylabel("output channel o")
    default = f"groups={groups}: {int(m.sum())} of {m.size} channel pairs connected"
    ax.set_title(title or default, fontsize=9)
    return ax


def plot_sliding_window(x, kernel_size, position=(0, 0), stride=1, padding=0, dilation=1,
                        ax=None, show_values=True):
    """Draw one input channel with the taps the kernel reads at one output position.

    Parameters
    ----------
    x : ndarray of shape (H, W)
        One input channel (before padding).
    kernel_size : int or (int, int)
    position : (int, int)
        The output position ``(i, j)`` whose window is drawn.
    stride, dilation : int or (int, int)
    padding : int or (int, int)
        Padding cells are drawn hatched.
    ax : matplotlib Axes, optional
    show_values : bool
        Write the input values in the cells.

    Returns
    -------
    matplotlib Axes
        The title gives the output size ``H_out x W_out`` and the input rows/columns read.
    """
    from matplotlib.patches import Rectangle

    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be one channel of shape (H, W), but got shape {x.shape}")
    pair = (lambda v: (v, v) if np.isscalar(v) else tuple(v))
    (kh, kw), (sh, sw), (dh, dw) = pair(kernel_size), pair(stride), pair(dilation)
    (pt, pb), (pl, pr) = check_padding(padding, (kh, kw), (sh, sw), (dh, dw), 2, "plot_sliding_window")
    h_out = conv_output_size(x.shape[0], kh, sh, (pt, pb), dh)
    w_out = conv_output_size(x.shape[1], kw, sw, (pl, pr), dw)
    i, j = position
    if not (0 <= i < h_out and 0 <= j < w_out):
        raise ValueError(f"position {position} is outside the {h_out} x {w_out} output")
    ax = _axes(ax, (3.6, 3.6))
    rows, cols = x.shape[0] + pt + pb, x.shape[1] + pl + pr
    taps = {(i * sh + a * dh, j * sw + b * dw) for a in range(kh) for b in range(kw)}
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
    ax.set_title(f"output ({i}, {j}) of {h_out} x {w_out}: kernel {kh}x{kw}, "
                 f"stride {sh}, dilation {dh}", fontsize=8)
    return ax
