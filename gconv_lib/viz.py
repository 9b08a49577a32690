"""Figures for the book, drawn from gconv_lib's own data (needs matplotlib).

Every function draws on a given ``ax`` (or on a new figure of a fixed size) and returns the
``Axes``, so a chapter can combine them. Colours always mean groups: group ``g`` is drawn in
colour ``g`` of matplotlib's ``tab10`` palette, in every figure.

* :func:`plot_groups` -- the one picture of ``groups``: split the input channels, convolve
  each group with its own kernels, concatenate the outputs;
* :func:`animate_groups` -- the same layer computed step by step, as an animation that plays
  in a web page without a kernel;
* :func:`plot_channel_connectivity` -- input channels -> output channels, one line per path;
* :func:`plot_connectivity_matrix` -- the ``(C_out, C_in)`` matrix of which input feeds which
  output; with a weight, the block-diagonal dense weight as a heatmap with a colourbar;
* :func:`plot_sliding_window` -- one kernel position on an input, with the kernel's values.

**House style.** The book's text column is ``COLUMN_PX`` CSS px wide at a 1280 px window
(``book/_static/custom.css``; the browser tests measure it). Figures are stored at ``DPI``
dots per inch, so a figure up to ``WIDTH`` inches wide shows at its own size, and a text of
``s`` points shows ``s * DPI / 72`` px high. :func:`check_figure` holds a figure to this:
no wider than the column, no text smaller than ``MIN_TEXT_PX`` at the displayed size.
Chapters draw with :func:`figure` and show with :func:`show`, which checks first.

The figures are deterministic (no randomness, no timestamps): the same call draws the same
artists and renders the same pixels. matplotlib is imported only when a function is called.
"""

from __future__ import annotations

import numpy as np

from .cost import connectivity
from .grouped import block_diagonal_weight
from .validate import _as_tuple, _is_int, check_padding, conv_output_size

#: Width of the book's text column, in CSS px, at a 1280 px browser window.
COLUMN_PX = 832
#: Dots per inch of every figure the book stores: one dot is one CSS px.
DPI = 100
#: Width in inches of a full-column figure (800 px: it fits COLUMN_PX with room to spare).
WIDTH = 8.0
#: The smallest text allowed in a figure, in CSS px at the size the reader sees it.
MIN_TEXT_PX = 9
#: Font sizes in points of the house style: 9 pt is 12.5 px at ``DPI``.
FONT = {"small": 9, "normal": 10, "title": 11}
#: matplotlib settings of the house style (:func:`use_style` applies them).
STYLE = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.size": FONT["normal"],
    "axes.titlesize": FONT["title"],
    "axes.labelsize": FONT["normal"],
    "xtick.labelsize": FONT["small"],
    "ytick.labelsize": FONT["small"],
    "legend.fontsize": FONT["small"],
    "legend.title_fontsize": FONT["small"],
    "figure.titlesize": FONT["title"],
    "figure.constrained_layout.use": True,
}

#: Size in inches of the new figure each function makes when no ``ax`` is given.
FIGSIZE = {
    "channel_connectivity": (4.0, 3.2),
    "connectivity_matrix": (4.0, 3.2),
    "sliding_window": (3.6, 3.6),
    "groups": (WIDTH, 3.6),
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


def use_style():
    """Apply the house style (``STYLE``: dpi and font sizes) to matplotlib's ``rcParams``.

    Chapters call it once in their first cell, so that figures they draw themselves follow
    the same sizes as the ones drawn here.
    """
    _plt().rcParams.update(STYLE)


def figure(ncols=1, nrows=1, height=3.0, width=WIDTH, **kwargs):
    """A new figure of the house style, ``width x height`` inches, with its grid of Axes.

    Parameters
    ----------
    ncols, nrows : int
        The grid of Axes, as in ``plt.subplots``.
    height, width : float
        Inches; the default width fills the column (``WIDTH``).
    **kwargs
        Passed on to ``plt.subplots`` (``sharey``, ``width_ratios``, ...).

    Returns
    -------
    (Figure, Axes or ndarray of Axes)
        As ``plt.subplots`` returns them, with constrained layout and ``DPI``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig, axes = figure(ncols=3, height=2.5)
    >>> fig.get_size_inches().tolist(), float(fig.dpi), len(axes)
    ([8.0, 2.5], 100.0, 3)
    >>> _plt().close(fig)
    """
    plt = _plt()
    with plt.rc_context(STYLE):
        return plt.subplots(nrows, ncols, figsize=(width, height), dpi=DPI, layout="constrained",
                            **kwargs)


def displayed_width_px(fig):
    """The width in CSS px at which the book shows ``fig``: as stored, at most the column.

    The notebook stores a figure cropped to what is drawn (``bbox_inches="tight"`` with
    0.1 inch of padding, as Jupyter's inline backend does) at the figure's dpi.
    """
    renderer = fig.canvas.get_renderer()
    bbox = fig.get_tightbbox(renderer)
    return (bbox.width + 0.2) * fig.dpi


def text_sizes(fig):
    """Every visible text of ``fig`` with its height in CSS px at the size the reader sees.

    Returns
    -------
    list of (float, str)
        ``(px, text)``, smallest first: ``points * dpi / 72``, times the factor by which a
        figure wider than ``COLUMN_PX`` is scaled down to fit the column.
    """
    from matplotlib.text import Text

    fig.canvas.draw()  # tick labels exist only once drawn
    scale = min(1.0, COLUMN_PX / displayed_width_px(fig))
    # an Axes turned off keeps its tick and axis labels as Text objects that are never drawn
    hidden = {id(t) for ax in fig.axes if not ax.axison
              for axis in (ax.xaxis, ax.yaxis) for t in axis.findobj(Text)}
    sizes = [(t.get_fontsize() * fig.dpi / 72 * scale, t.get_text())
             for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and id(t) not in hidden]
    return sorted(sizes)


def check_figure(fig):
    """Hold ``fig`` to the house style: it fits the column and every text reads.

    Parameters
    ----------
    fig : matplotlib Figure

    Raises
    ------
    ValueError
        If the stored figure would be wider than ``COLUMN_PX`` (the book would scale it
        down), or a text is smaller than ``MIN_TEXT_PX`` at the displayed size; the message
        names the widths, the text and its size.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig, ax = figure(height=2)
    >>> _ = ax.set_title("fits", fontsize=10)
    >>> check_figure(fig)
    >>> _ = ax.text(0.5, 0.5, "too small", fontsize=5)
    >>> check_figure(fig)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    ValueError: text 'too small' is 6.9 px high as shown (5 pt at 100 dpi); the book's ...
    >>> _plt().close(fig)
    """
    width = displayed_width_px(fig)
    if width > COLUMN_PX + 1:
        raise ValueError(
            f"the figure is {width:.0f} px wide as stored ({fig.get_figwidth():g} in at {fig.dpi:g} dpi), "
            f"wider than the book's column of {COLUMN_PX} px: draw it at most {WIDTH:g} in wide"
        )
    sizes = text_sizes(fig)  # draws the figure: once
    px, text = sizes[0] if sizes else (MIN_TEXT_PX, "")
    if px < MIN_TEXT_PX - 1e-9:
        points = px * 72 / fig.dpi
        raise ValueError(
            f"text {text!r} is {px:.1f} px high as shown ({points:g} pt at {fig.dpi:g} dpi); "
            f"the book's smallest text is {MIN_TEXT_PX} px"
        )


def show(fig=None):
    """Check ``fig`` (default: the current figure) with :func:`check_figure`, then show it."""
    plt = _plt()
    fig = plt.gcf() if fig is None else fig
    check_figure(fig)
    plt.show()


def table(header, rows):
    """A table of results as Markdown, for a notebook to display (and nbval to compare).

    Parameters
    ----------
    header : sequence of str
        The column titles. A title ending in ``":"`` aligns its column right (numbers).
    rows : sequence of sequences
        The cells; each is shown with ``str``.

    Returns
    -------
    IPython.display.Markdown
        Its ``.data`` is the Markdown text.

    Examples
    --------
    >>> print(table(["layer", "params:"], [["3x3", "36,928"]]).data)
    | layer | params |
    | --- | ---: |
    | 3x3 | 36,928 |
    """
    from IPython.display import Markdown

    names = [h[:-1] if h.endswith(":") else h for h in header]
    align = ["---:" if h.endswith(":") else "---" for h in header]
    lines = ["| " + " | ".join(names) + " |", "| " + " | ".join(align) + " |"]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"every row needs {len(header)} cells (one per header), but got {list(row)}")
        lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |")
    return Markdown("\n".join(lines))


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
                        fontsize=FONT["small"])
    ax.set_xlim(-0.45, 1.45)
    ax.set_ylim(-0.8, n - 0.2)
    ax.axis("off")
    ax.set_title(title or f"C_in={in_channels} -> C_out={out_channels}, groups={groups}",
                 fontsize=FONT["normal"])
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
    >>> ax = plot_connectivity_matrix(4, 2, groups=2, weight=w, out_order=[1, 0],
    ...                               ax=Figure().add_subplot())
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
        image = ax.imshow(strength[order], cmap="Greys", interpolation="nearest", vmin=0)
        colorbar = ax.get_figure().colorbar(image, ax=ax, shrink=0.9)
        colorbar.set_label("sum over taps of |w[o, c]|", fontsize=FONT["small"])
        colorbar.ax.tick_params(labelsize=FONT["small"])
    step_in, step_out = max(1, in_channels // 16), max(1, out_channels // 16)  # at most ~16 labels
    ax.set_xticks(np.arange(0, in_channels, step_in))
    ax.set_yticks(np.arange(0, out_channels, step_out), labels=[str(o) for o in order[::step_out]])
    ax.tick_params(labelsize=FONT["small"])
    ax.set_xticks(np.arange(in_channels + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(out_channels + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="lightgrey", lw=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("input channel c")
    ax.set_ylabel("output channel o" if out_order is None else "output channel o, reordered")
    default = f"groups={groups}: {int(m.sum())} of {m.size} channel pairs connected"
    ax.set_title(title or default, fontsize=FONT["normal"])
    return ax


def plot_sliding_window(x, kernel_size, position=(0, 0), stride=1, padding=0, dilation=1,
                        ax=None, show_values=True, title=None, kernel=None):
    """Draw one input channel with the taps the kernel reads at one output position.

    The padded input is drawn as a grid of ``(H + pad_top + pad_bottom) x
    (W + pad_left + pad_right)`` cells: input cells white (with their values), padding cells
    hatched grey, and the ``kH * kW`` cells read for output ``(i, j)``, rows
    ``i * sH + a * dH`` and columns ``j * sW + b * dW`` of the padded input, in the colour of
    group 0. With ``kernel``, each of those cells also shows the kernel value it is
    multiplied by, as ``x`` over ``×k``, so the output value can be checked by hand.

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
    kernel : array_like of shape (kH, kW), optional
        The kernel's values, written under the input value in each tap's cell.

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
    >>> ax = plot_sliding_window(x, kernel_size=2, position=(1, 0),
    ...                          ax=Figure().add_subplot())
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
    if kernel is not None:
        kernel = np.asarray(kernel)
        if kernel.shape != (kh, kw):
            raise ValueError(f"kernel must have shape (kH, kW) = ({kh}, {kw}), but got shape {kernel.shape}")
    if (not isinstance(position, (tuple, list)) or len(position) != 2
            or not all(_is_int(p) for p in position)):
        raise ValueError(f"position must be a pair of ints (i, j), but got position={position!r}")
    i, j = (int(p) for p in position)
    if not (0 <= i < h_out and 0 <= j < w_out):
        raise ValueError(f"position {(i, j)} is outside the {h_out} x {w_out} output")
    ax = _axes(ax, FIGSIZE["sliding_window"])
    from matplotlib.patches import Rectangle

    # padded coordinates of each tap -> (a, b), the kernel entry read there
    taps = {(i * sh + a * dh, j * sw + b * dw): (a, b) for a in range(kh) for b in range(kw)}
    for r in range(rows):
        for c in range(cols):
            inside = pt <= r < pt + x.shape[0] and pl <= c < pl + x.shape[1]
            tap = taps.get((r, c))
            face = group_color(0) if tap else ("white" if inside else "0.9")
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor=face, edgecolor="grey",
                                   hatch=None if inside else "//", alpha=0.45 if tap else 1))
            value = f"{x[r - pt, c - pl]:g}" if show_values and inside else ""
            if kernel is not None and tap and not inside:
                value = "0"  # a padding cell: the tap reads zero
            if kernel is not None and tap:
                value += f"\n×{kernel[tap]:g}"
            if value:
                ax.text(c + 0.5, r + 0.5, value, ha="center", va="center", fontsize=FONT["small"],
                        linespacing=1.0)
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"output ({i}, {j}) of {h_out} x {w_out}", fontsize=FONT["normal"])
    return ax


def _shown_groups(groups, most=6):
    """The groups a picture draws: all of them up to ``most``, else 0, 1, '...', g - 1."""
    return list(range(groups)) if groups <= most else [0, 1, None, groups - 1]


def _span(first, count):
    """'3' for one channel, '0-3' for several: the channels first .. first + count - 1."""
    return f"{first}" if count == 1 else f"{first}–{first + count - 1}"


def plot_groups(in_channels, out_channels, groups=1, kernel_size=3, ax=None, title=None):
    """The picture of a grouped convolution: split -> convolve each group -> concatenate.

    Five columns, left to right: the ``C_in`` input channels, coloured by group; the same
    channels split into ``groups`` blocks of ``C_in / groups``; each group's own kernels
    (``C_out / groups`` of them, each ``C_in / groups x kH x kW``); each group's
    ``C_out / groups`` outputs; and the ``C_out`` output channels, the groups' outputs
    concatenated in group order. Arrows show what feeds what. With more than 6 groups the
    picture draws groups 0, 1 and the last, with a row of dots for the rest.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C_in`` and ``C_out``, positive.
    groups : int
        Must divide both channel counts.
    kernel_size : int or (int, int)
        ``(kH, kW)``, only written in the kernels' labels.
    ax : matplotlib Axes, optional
        Where to draw; default a new figure of ``FIGSIZE["groups"]`` (8.0 x 3.6 inches).
    title : str, optional
        Default: ``"nn.Conv2d({C_in}, {C_out}, {k}, groups={groups})"``.

    Returns
    -------
    matplotlib Axes
        ``ax.patches`` holds the channel blocks and kernel boxes; each has a ``gid``:
        ``"input {j}"``, ``"split {j}"``, ``"kernels {j}"``, ``"group output {j}"`` or
        ``"output {j}"`` for group ``j``, filled with ``group_color(j)``.

    Raises
    ------
    ValueError
        If the layer is invalid (the message of :func:`gconv_lib.classify`) or
        ``kernel_size`` is not positive.
    TypeError
        If ``ax`` is not a matplotlib Axes.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = plot_groups(8, 4, groups=2, ax=Figure().add_subplot())
    >>> sorted(p.get_gid() for p in ax.patches if p.get_gid().startswith("kernels"))
    ['kernels 0', 'kernels 1']
    >>> ax.get_title()
    'nn.Conv2d(8, 4, 3, groups=2)'
    """
    connectivity(in_channels, out_channels, groups)  # validates the layer
    kh, kw = _as_tuple(kernel_size, 2, "kernel_size", "plot_groups")
    if min(kh, kw) < 1:
        raise ValueError(f"kernel_size must be positive, but got kernel_size={(kh, kw)}")
    from matplotlib.patches import FancyBboxPatch, Rectangle

    ax = _axes(ax, FIGSIZE["groups"])
    cin_g, cout_g = in_channels // groups, out_channels // groups
    shown = _shown_groups(groups)
    widest = max(cin_g, cout_g)
    band = min(widest, 6)  # height of one group's band, in rows
    h_in, h_out = band * cin_g / widest, band * cout_g / widest  # a group's input and output blocks
    gap = 0.6
    # top of each shown group's band (None: the row of dots), stacked with gaps
    tops, y = [], 0.0
    for j in shown:
        tops.append(y)
        y += (band if j is not None else 0.8) + gap
    total = y - gap
    x_in, x_split, x_kernel, x_gout, x_out = 0.9, 2.9, 4.55, 6.35, 8.35
    width, kernel_width = 0.55, 1.3

    def block(x, top, height, count, first, j, gid):
        """A column of ``count`` channels starting at ``first``, one block of group ``j``."""
        color = group_color(j)
        ax.add_patch(Rectangle((x - width / 2, top), width, height, facecolor=color, alpha=0.75,
                               edgecolor="black", lw=0.8, gid=gid))
        if count <= 12:  # a thin line between channels
            for i in range(1, count):
                yy = top + height * i / count
                ax.plot([x - width / 2, x + width / 2], [yy, yy], color="white", lw=0.8)
        return top + height / 2

    def dots(x, top):
        ax.text(x, top + 0.4, "⋮", ha="center", va="center", fontsize=FONT["title"])

    # input and output columns: the groups' blocks touching, centred on the bands
    n_blocks = len([j for j in shown if j is not None]) + (1 if None in shown else 0)
    in_top = (total - (n_blocks * h_in)) / 2
    out_top = (total - (n_blocks * h_out)) / 2
    for slot, (j, top) in enumerate(zip(shown, tops)):
        if j is None:
            for x, t in ((x_in, in_top + slot * h_in - 0.4 + h_in / 2),
                         (x_out, out_top + slot * h_out - 0.4 + h_out / 2),
                         (x_split, top), (x_kernel, top), (x_gout, top)):
                dots(x, t)
            continue
        mid = top + band / 2
        y_in = block(x_in, in_top + slot * h_in, h_in, cin_g, j * cin_g, j, f"input {j}")
        y_split = block(x_split, mid - h_in / 2, h_in, cin_g, j * cin_g, j, f"split {j}")
        y_gout = block(x_gout, mid - h_out / 2, h_out, cout_g, j * cout_g, j, f"group output {j}")
        y_out = block(x_out, out_top + slot * h_out, h_out, cout_g, j * cout_g, j, f"output {j}")
        ax.add_patch(FancyBboxPatch((x_kernel - kernel_width / 2, mid - band / 2 + 0.1), kernel_width,
                                    band - 0.2, boxstyle="round,pad=0.02,rounding_size=0.15",
                                    facecolor="white", edgecolor=group_color(j), lw=2,
                                    gid=f"kernels {j}"))
        ax.text(x_kernel, mid, f"group {j}", ha="center", va="center", fontsize=FONT["small"])
        ax.text(x_in - width / 2 - 0.1, y_in, _span(j * cin_g, cin_g), ha="right", va="center",
                fontsize=FONT["small"])
        ax.text(x_out + width / 2 + 0.1, y_out, _span(j * cout_g, cout_g), ha="left", va="center",
                fontsize=FONT["small"])
        arrow = dict(arrowstyle="->", color=group_color(j), lw=1.2, shrinkA=0, shrinkB=0)
        for (x0, y0), (x1, y1) in (((x_in + width / 2, y_in), (x_split - width / 2, y_split)),
                                   ((x_split + width / 2, y_split), (x_kernel - kernel_width / 2, mid)),
                                   ((x_kernel + kernel_width / 2, mid), (x_gout - width / 2, y_gout)),
                                   ((x_gout + width / 2, y_gout), (x_out - width / 2, y_out))):
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=arrow)
    plural = "s" if cout_g > 1 else ""
    heads = [(x_in, f"input\n{in_channels} channels"),
             (x_split, f"split into\n{groups} group" + ("s" if groups > 1 else "")),
             (x_kernel, f"each group: {cout_g} kernel{plural}\nof {cin_g}×{kh}×{kw}"),
             (x_gout, "group\noutputs"),
             (x_out, f"concatenate:\n{out_channels} channels")]
    above = ax.get_xaxis_transform()  # x in data, y in axes fraction: a row above the bands
    for x, text in heads:
        ax.text(x, 1.02, text, transform=above, ha="center", va="bottom", fontsize=FONT["small"])
    ax.set_xlim(0, 9.4)
    ax.set_ylim(total + 0.2, -0.2)
    ax.axis("off")
    ax.set_title(title or f"nn.Conv2d({in_channels}, {out_channels}, {kh if kh == kw else (kh, kw)}, "
                 f"groups={groups})", fontsize=FONT["title"], pad=34)
    return ax


def group_animation(in_channels=4, out_channels=4, groups=2, kernel_size=3, input_size=4):
    """A grouped convolution computed step by step, as a matplotlib animation.

    One frame per output value, in PyTorch's order: output channel by output channel (so
    group by group), and within a channel position by position. Each frame marks the
    ``kH x kW`` window on the input channels that output channel reads (those of its group,
    in its colour; the other groups' channels are faded) and fills the output value. Inputs
    and weights are small integers (seeded), so the values are exact; they come from
    :func:`gconv_lib.conv2d`.

    Parameters
    ----------
    in_channels, out_channels : int
        The layer's channels, at most 8 each.
    groups : int
        Must divide both channel counts.
    kernel_size : int
        ``k`` of a square ``k x k`` kernel, no larger than ``input_size``.
    input_size : int
        ``H = W`` of the input, at most 6; the output is ``H - k + 1`` square.

    Returns
    -------
    matplotlib.animation.FuncAnimation
        ``C_out * H_out * W_out`` frames; its figure is closed (it is not shown by itself).
        The attribute ``reads`` lists, per frame, the input channels marked as read.

    Raises
    ------
    ValueError
        If the layer is invalid, or larger than the limits above.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> anim = group_animation(4, 4, groups=2, kernel_size=3, input_size=4)
    >>> len(anim.reads)             # 4 output channels x 2 x 2 positions
    16
    >>> anim.reads[0], anim.reads[-1]
    ([0, 1], [2, 3])
    """
    from matplotlib.animation import FuncAnimation
    from matplotlib.patches import Rectangle

    from .conv import conv2d

    m = connectivity(in_channels, out_channels, groups)  # (C_out, C_in); validates the layer
    for name, value, most in (("in_channels", in_channels, 8), ("out_channels", out_channels, 8),
                              ("input_size", input_size, 6)):
        if value > most:
            raise ValueError(f"{name} must be at most {most} for an animation that reads, "
                             f"but got {name}={value}")
    if not _is_int(kernel_size) or not 1 <= kernel_size <= input_size:
        raise ValueError(f"kernel_size must be an int from 1 to input_size ({input_size}), "
                         f"but got kernel_size={kernel_size!r}")
    k, h_out = int(kernel_size), input_size - kernel_size + 1
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, size=(1, in_channels, input_size, input_size)).astype(float)
    w = rng.integers(-1, 2, size=(out_channels, in_channels // groups, k, k)).astype(float)
    y = conv2d(x, w, groups=groups)[0]  # (C_out, H_out, W_out)
    out_per_group = out_channels // groups
    plt = _plt()
    with plt.rc_context(STYLE):
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(WIDTH, 3.9), dpi=DPI, layout="constrained",
                                          height_ratios=[input_size, h_out + 1.6])
    gap = 1.0

    def grids(ax, count, size, label, per_group):
        cells = []
        for ch in range(count):
            x0 = ch * (size + gap)
            cells.append([[ax.add_patch(Rectangle((x0 + c, r), 1, 1, facecolor="white",
                                                  edgecolor="0.6", lw=0.6))
                           for c in range(size)] for r in range(size)])
            ax.add_patch(Rectangle((x0, 0), size, size, fill=False, lw=2,
                                   edgecolor=group_color(ch // per_group)))
            ax.text(x0 + size / 2, -0.25, f"{label} {ch}", ha="center", va="bottom",
                    fontsize=FONT["small"])
        ax.set_xlim(-0.5, count * (size + gap))
        ax.set_aspect("equal")
        ax.axis("off")
        return cells

    in_cells = grids(top, in_channels, input_size, "in", in_channels // groups)
    top.set_ylim(input_size + 0.2, -1.2)
    out_cells = grids(bottom, out_channels, h_out, "out", out_per_group)
    bottom.set_ylim(h_out + 1.5, -1.2)
    values = [[[bottom.text(o * (h_out + gap) + j + 0.5, i + 0.5, "", ha="center", va="center",
                            fontsize=FONT["small"]) for j in range(h_out)] for i in range(h_out)]
              for o in range(out_channels)]
    caption = bottom.text(0, h_out + 0.5, "", ha="left", va="top", fontsize=FONT["normal"])
    steps = [(o, i, j) for o in range(out_channels) for i in range(h_out) for j in range(h_out)]

    def draw(frame):
        o, i, j = steps[frame]
        reads = np.nonzero(m[o])[0]
        color = group_color(o // out_per_group)
        for c in range(in_channels):
            for r in range(input_size):
                for col in range(input_size):
                    inside = c in reads and i <= r < i + k and j <= col < j + k
                    idle = "white" if c in reads else "0.85"  # the other groups' channels: grey
                    in_cells[c][r][col].set_facecolor(color if inside else idle)
                    in_cells[c][r][col].set_alpha(0.8 if inside else 1)
        for p, (oo, ii, jj) in enumerate(steps):
            done = p <= frame
            out_cells[oo][ii][jj].set_facecolor(group_color(oo // out_per_group) if done else "white")
            out_cells[oo][ii][jj].set_alpha(0.9 if p == frame else 0.35)
            values[oo][ii][jj].set_text(f"{y[oo, ii, jj]:g}" if done else "")
        caption.set_text(f"out {o} at ({i}, {j}), group {o // out_per_group}: a {k}×{k} window of "
                         f"in {_span(int(reads[0]), len(reads))}, times kernel w[{o}], summed = "
                         f"{y[o, i, j]:g}")
        return []

    anim = FuncAnimation(fig, draw, frames=len(steps), interval=900, blit=False)
    anim.reads = [[int(c) for c in np.nonzero(m[o])[0]] for o, _, _ in steps]
    draw(0)
    check_figure(fig)
    plt.close(fig)
    return anim


def animate_groups(in_channels=4, out_channels=4, groups=2, kernel_size=3, input_size=4):
    """:func:`group_animation` as HTML that plays in a web page without a kernel.

    matplotlib's JavaScript player (play, pause, step, speed) with the frames embedded as
    PNG; the page's element ids are derived from the frames, so the same call returns the
    same text (nbval compares it). Arguments as for :func:`group_animation`.

    Returns
    -------
    IPython.display.HTML
        Display it as a cell's last expression; ``.data`` is the HTML text.
    """
    import hashlib
    import re

    from IPython.display import HTML

    anim = group_animation(in_channels, out_channels, groups, kernel_size, input_size)
    html = anim.to_jshtml(fps=1, default_mode="once")
    # The player links Font Awesome 4 from a CDN for its button icons; the book serves its own
    # Font Awesome (the theme's), and a page must load nothing from elsewhere.
    html = re.sub(r'<link rel="stylesheet"\s+href="https://[^"]*font-awesome[^"]*">', "", html)
    random_id = re.search(r'id="_anim_img([0-9a-f]{32})"', html).group(1)
    stable_id = hashlib.sha256(html.replace(random_id, "").encode()).hexdigest()[:32]
    return HTML(html.replace(random_id, stable_id))
