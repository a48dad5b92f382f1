"""Layer arithmetic of the multi-scale network: every size follows from the input size.

With the paper's NYU input (W x H = 304 x 228) this gives a 74 x 55 output and an 8 x 6 x 256
coarse5 map; with KITTI's 576 x 172 it gives 142 x 41 (the paper's "142 x 27" does not follow
from its own layers).
"""

from __future__ import annotations

from dataclasses import dataclass


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a convolution or pooling window along one axis (floor mode)."""
    return (size + 2 * padding - kernel) // stride + 1


@dataclass(frozen=True)
class Geometry:
    """Input, intermediate and output sizes for one input size, all as (height, width)."""

    input_hw: tuple[int, int]
    coarse5_hw: tuple[int, int]  # after coarse5's 3x3/2 pool, the map fc6 sees
    output_hw: tuple[int, int]  # the fine branch's map; coarse7 is reshaped to it

    @property
    def fc6_in(self) -> int:
        return 256 * self.coarse5_hw[0] * self.coarse5_hw[1]

    @property
    def fc7_out(self) -> int:
        return self.output_hw[0] * self.output_hw[1]


def geometry_for(height: int, width: int) -> Geometry:
    """Sizes of the network for an input of ``height`` x ``width`` pixels."""

    def coarse(n: int) -> int:
        n = conv_out(n, 11, 4)  # coarse1 conv 11x11/4, valid
        n = conv_out(n, 2, 2)  # 2x2 max-pool
        n = conv_out(n, 2, 2)  # coarse2 (same conv) + 2x2 max-pool
        return conv_out(n, 3, 2)  # coarse3-5 keep the size; coarse5's 3x3/2 pool

    def fine(n: int) -> int:
        n = conv_out(n, 9, 2)  # fine1 conv 9x9/2, valid
        return conv_out(n, 2, 2)  # 2x2 max-pool

    return Geometry(
        input_hw=(height, width),
        coarse5_hw=(coarse(height), coarse(width)),
        output_hw=(fine(height), fine(width)),
    )
