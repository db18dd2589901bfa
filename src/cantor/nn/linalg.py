"""Linear algebra that survives a torch 2.13.0 CPU trap.

With torch 2.13.0's CPU build, after ``torch.set_num_threads(2)`` a *batched* ``torch.linalg.solve`` on larger
matrices fails every time inside MKL ("Pivots given to lu_solve must all be greater or equal to 1"), while the same
call on one thread works. Everything in Cantor that solves batched systems goes through :func:`solve`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def single_thread() -> Iterator[None]:
    """Run the block with one intra-op thread, restoring the caller's thread count afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def solve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``torch.linalg.solve(a, b)`` for ``a`` ``[..., n, n]``, ``b`` ``[..., n, k]``, safe at any thread count.

    Systems of 2×2 (stereo covariances, the common case) use the closed-form inverse, which is also the fastest;
    other batched systems are solved on one thread.
    """
    if a.shape[-1] == 2 and a.shape[-2] == 2:
        p, q, r, s = a[..., 0, 0], a[..., 0, 1], a[..., 1, 0], a[..., 1, 1]
        determinant = (p * s - q * r)[..., None]
        top = (s[..., None] * b[..., 0, :] - q[..., None] * b[..., 1, :]) / determinant
        bottom = (p[..., None] * b[..., 1, :] - r[..., None] * b[..., 0, :]) / determinant
        return torch.stack([top, bottom], dim=-2)
    if a.ndim > 2 and torch.get_num_threads() > 1:
        with single_thread():
            return torch.linalg.solve(a, b)
    return torch.linalg.solve(a, b)
