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
    sizes = [(t.get_fontsize() * fig.dpi / 72 * scale, t.get_text())
             for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
             and t.get_figure(root=True) is fig and _is_shown(t)]
    return sorted(sizes)


def _is_shown(text):
    """Tick labels of an axis that is turned off are Text objects the reader never sees."""
    axes = getattr(text, "axes", None)
    return axes is None or axes.axison or text not in (
        list(axes.get_xticklabels()) + list(axes.get_yticklabels()))


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
    >>> check_figure(fig)
    Traceback (most recent call last):
      ...
    ValueError: text 'too small' is 6.9 px high as shown (5 pt at 100 dpi); the book's smallest text is 9 px
    >>> _plt().close(fig)
    """
    width = displayed_width_px(fig)
    if width > COLUMN_PX + 1:
        raise ValueError(
            f"the figure is {width:.0f} px wide as stored ({fig.get_figwidth():g} in at {fig.dpi:g} dpi), "
            f"wider than the book's column of {COLUMN_PX} px: draw it at most {WIDTH:g} in wide"
        )
    px, text = text_sizes(fig)[0] if text_sizes(fig) else (MIN_TEXT_PX, "")
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
