"""How well page contents compress: a compressibility per image (and for writes), and the
compressed size of any content id, drawn from a hash so it is the same for every run.

A compressed pool (tmem's `compress:`, policies/compressed.py) asks `CompressedSizes.of(content)`
for the bytes a page compresses to. The answer depends on the content id, the seed and the
compressibility of the content's origin alone — never on a global random state, the policy
order or the engine — so the same bytes compress to the same size everywhere, and two guests
holding the same content hold the same compressed size.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .fields import Strict
from .images import ZERO_CONTENT, content_file, content_uniform
from .units import PAGE_SIZE

# LZO's output for a page of zeros is a few tens of bytes (a literal run and one long match);
# the allocators round it up to their smallest unit (zbud's 64-byte chunk, zsmalloc's 32 bytes).
ZERO_PAGE_BYTES = 28


class Compressibility(Strict):
    """Compressed sizes as a fraction of the page: uniform on [ratio - spread, ratio + spread],
    kept within (0, 1] (a page never grows: a compressor that expands it stores it as is)."""

    ratio: Annotated[float, Field(gt=0, le=1)] = 0.5
    spread: Annotated[float, Field(ge=0, le=1)] = 0.1

    def size(self, u: float) -> int:
        """Compressed bytes of a page whose uniform draw is u, in [1, PAGE_SIZE]."""
        fraction = self.ratio + self.spread * (2.0 * u - 1.0)
        return min(max(round(fraction * PAGE_SIZE), 1), PAGE_SIZE)


class CompressedSizes:
    """The compressed size of a content id: zero pages almost nothing, an image's original
    pages by the image's compressibility (`data` if it sets none, and for private disks), a
    write's bytes by `writes`."""

    __slots__ = ("per_file", "writes", "key")

    def __init__(self, files, data: Compressibility, writes: Compressibility, seed: int):
        self.per_file = [f.compressibility or data for f in files]
        self.writes = writes
        self.key = seed

    def of(self, content: int) -> int:
        if content == ZERO_CONTENT:
            return ZERO_PAGE_BYTES
        f = content_file(content)
        kind = self.writes if f is None else self.per_file[f]
        return kind.size(content_uniform(self.key, content))


# Throughputs of the period's compressors on one core, bytes per second: the LZ4 README's table
# (LZ4 r59, Core 2 Duo at 3 GHz, Silesia corpus): LZO 2.05 1x_1 compresses at 311 MB/s and
# decompresses at 480 MB/s; LZ4 at 330 and 915 MB/s. zcache and zswap used LZO by default.
COMPRESSORS = {"lzo": (311e6, 480e6), "lz4": (330e6, 915e6)}
# zcache rejected pages compressing to more than 7/8 of a page ("poor compression":
# zv_max_zsize = (PAGE_SIZE / 8) * 7, drivers/staging/zcache/zcache-main.c)
MAX_COMPRESSED = 0.875

Throughput = Annotated[float, Field(gt=0)]


class Compress(Strict):
    """tmem's `compress:` block: the allocator, the compressor's speed, what is rejected, and
    how data compresses where no image says (private disks, writes)."""

    allocator: Literal["zbud", "zsmalloc"] = "zbud"
    compressor: Literal["lzo", "lz4"] = "lzo"
    compress_mbps: Throughput | None = None  # MB (10^6 bytes) per second; None: compressor's
    decompress_mbps: Throughput | None = None
    # a page compressing to more than this fraction of a page is rejected (counted)
    max_compressed: Annotated[float, Field(gt=0, le=1)] = MAX_COMPRESSED
    data: Compressibility = Compressibility()  # images without their own, private disks
    writes: Compressibility | None = None  # the bytes of writes (file and anonymous); None: data
    seed: int = 0  # the compressed sizes' hash seed

    def seconds(self) -> tuple[float, float]:
        """CPU seconds to compress and to decompress one page."""
        c, d = COMPRESSORS[self.compressor]
        c = self.compress_mbps * 1e6 if self.compress_mbps is not None else c
        d = self.decompress_mbps * 1e6 if self.decompress_mbps is not None else d
        return PAGE_SIZE / c, PAGE_SIZE / d

    def sizes(self, files) -> CompressedSizes:
        return CompressedSizes(files, self.data, self.writes or self.data, self.seed)
