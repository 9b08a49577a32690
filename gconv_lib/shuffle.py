"""ShuffleNet's channel shuffle, and the connectivity of a stack of layers.

Two grouped layers in a row never mix their groups: output group ``k`` of the second layer
reads only what group ``k`` of the first layer wrote. ShuffleNet (Zhang et al., 2018) puts
a *channel shuffle* between them, a fixed permutation of the channels that deals each
group's channels out across all groups, exactly what ``torch.nn.ChannelShuffle`` does.

* :func:`channel_shuffle` -- the shuffle itself, with ``torch.nn.ChannelShuffle``'s meaning;
* :func:`shuffle_permutation`, :func:`shuffle_matrix` -- the same permutation as an index
  array and as a ``(C, C)`` connectivity matrix;
* :func:`compose_connectivity` -- the connectivity of layers applied one after another, as
  the boolean product of their connectivity matrices.
"""

from __future__ import annotations

import numpy as np

from .validate import _is_int, _require_int


def _check_groups(groups, channels, fn):
    """``groups`` a positive int that divides ``channels``; returns it as an int."""
    _require_int(groups, "groups", f"{fn}: ")
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"{fn}: groups must be a positive integer, but got groups={groups}")
    if channels % groups:
        raise ValueError(f"{fn}: groups ({groups}) must divide the number of channels ({channels})")
    return groups


def shuffle_permutation(channels, groups):
    """The channel order a shuffle produces: output channel ``p`` is input channel ``perm[p]``.

    Think of the ``C`` channels as a ``(groups, C // groups)`` table, one row per group, and
    read it column by column: the first channel of every group, then the second of every
    group, and so on. With ``n = C // groups``,

    ``perm[p] = (p % groups) * n + p // groups``.

    Parameters
    ----------
    channels : int
        ``C``, the number of channels.
    groups : int
        Must divide ``channels``.

    Returns
    -------
    ndarray of int, shape (C,)

    Examples
    --------
    >>> shuffle_permutation(6, 2)
    array([0, 3, 1, 4, 2, 5])
    >>> shuffle_permutation(6, 3)
    array([0, 2, 4, 1, 3, 5])
    """
    if not _is_int(channels) or channels < 0:
        raise ValueError(f"channels must be a non-negative integer, but got channels={channels!r}")
    groups = _check_groups(groups, channels, "shuffle_permutation")
    p = np.arange(channels)  # (C,)
    return (p % groups) * (channels // groups) + p // groups


def channel_shuffle(input, groups):
    """Shuffle the channels of ``input`` across ``groups``, like ``torch.nn.ChannelShuffle(groups)``.

    The channel axis (axis 1) is split into ``groups`` blocks of ``C // groups`` channels,
    and the blocks are interleaved: the output holds the first channel of each group, then
    the second of each group, and so on. After a grouped convolution with ``groups`` groups,
    every run of ``C // groups`` consecutive output channels (what one group of the next
    grouped layer reads) then holds channels from ``min(C // groups, groups)`` different
    groups: from every group once ``C // groups >= groups``.

    Parameters
    ----------
    input : ndarray of shape (N, C, *spatial)
        At least 3 dimensions, as torch requires; channels on axis 1. Any dtype.
    groups : int
        Must be positive and divide ``C``.

    Returns
    -------
    ndarray of shape (N, C, *spatial)
        A new array; ``out[:, p] == input[:, perm[p]]`` with ``perm`` from
        :func:`shuffle_permutation`.

    Notes
    -----
    It is one reshape, one transpose and one reshape back:
    ``(N, C, ...) -> (N, g, C/g, ...) -> (N, C/g, g, ...) -> (N, C, ...)``. It has no
    parameters and does no arithmetic. Shuffling with ``groups = C // g`` undoes a
    shuffle with ``g``.

    Examples
    --------
    >>> x = np.arange(6).reshape(1, 6, 1)
    >>> channel_shuffle(x, 2).ravel()
    array([0, 3, 1, 4, 2, 5])
    >>> channel_shuffle(channel_shuffle(x, 2), 3).ravel()   # 3 = 6 // 2 undoes it
    array([0, 1, 2, 3, 4, 5])
    """
    x = np.asarray(input)
    if x.ndim < 3:
        raise ValueError(
            f"channel_shuffle expects input of shape (N, C, *spatial) with at least 3 dimensions, "
            f"but got input of shape {tuple(x.shape)}"
        )
    n, c, *spatial = x.shape
    g = _check_groups(groups, c, "channel_shuffle")
    out = x.reshape(n, g, c // g, *spatial)  # (N, g, C/g, *spatial)
    out = out.swapaxes(1, 2)  # (N, C/g, g, *spatial)
    return out.reshape(n, c, *spatial).copy()  # (N, C, *spatial)


def shuffle_matrix(channels, groups):
    """The connectivity matrix of a channel shuffle: a ``(C, C)`` permutation matrix.

    ``P[p, c]`` is True when output channel ``p`` of the shuffle is input channel ``c``,
    in the same ``(C_out, C_in)`` layout as :func:`gconv_lib.connectivity`, so that a
    shuffle can sit in :func:`compose_connectivity` like any layer.

    Returns
    -------
    ndarray of bool, shape (C, C)
        Exactly one True in every row and every column.

    Examples
    --------
    >>> shuffle_matrix(4, 2).astype(int)
    array([[1, 0, 0, 0],
           [0, 0, 1, 0],
           [0, 1, 0, 0],
           [0, 0, 0, 1]])
    """
    perm = shuffle_permutation(channels, groups)  # (C,)
    return np.arange(channels)[None, :] == perm[:, None]  # (C, C): row p has its True at perm[p]


def compose_connectivity(*matrices):
    """The connectivity of layers applied one after another, first layer first.

    Output channel ``o`` of the last layer depends on input channel ``c`` of the first
    layer when some chain of channels joins them, one connection per layer. For two
    layers that is the boolean matrix product ``M2 @ M1``: ``o`` reads some middle channel
    ``m`` that reads ``c``.

    Parameters
    ----------
    *matrices : array_like of bool, shapes (C_1, C_0), (C_2, C_1), ..., (C_L, C_{L-1})
        Connectivity matrices in ``(C_out, C_in)`` layout (as from
        :func:`gconv_lib.connectivity` or :func:`shuffle_matrix`), in the order the layers
        are applied. Non-zero entries count as connected.

    Returns
    -------
    ndarray of bool, shape (C_L, C_0)

    Examples
    --------
    >>> from gconv_lib import connectivity
    >>> grouped = connectivity(4, 4, groups=2)
    >>> compose_connectivity(grouped, grouped).astype(int)          # groups never mix
    array([[1, 1, 0, 0],
           [1, 1, 0, 0],
           [0, 0, 1, 1],
           [0, 0, 1, 1]])
    >>> bool(compose_connectivity(grouped, shuffle_matrix(4, 2), grouped).all())  # a shuffle mixes
    True
    """
    if not matrices:
        raise ValueError("compose_connectivity needs at least one connectivity matrix")
    mats = [np.asarray(m) != 0 for m in matrices]
    for i, m in enumerate(mats):
        if m.ndim != 2:
            raise ValueError(f"connectivity matrix {i} must have shape (C_out, C_in), "
                             f"but has shape {tuple(m.shape)}")
    for i in range(1, len(mats)):
        if mats[i].shape[1] != mats[i - 1].shape[0]:
            raise ValueError(
                f"layer {i} reads {mats[i].shape[1]} channels (matrix shape {tuple(mats[i].shape)}), "
                f"but layer {i - 1} writes {mats[i - 1].shape[0]} (matrix shape {tuple(mats[i - 1].shape)})"
            )
    total = mats[0]  # (C_1, C_0)
    for m in mats[1:]:
        # counts of chains joining each pair, then "at least one chain"
        total = (m.astype(np.int64) @ total.astype(np.int64)) > 0  # (C_next, C_0)
    return total
