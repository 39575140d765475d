"""Images, the guests' disks, their memory balancing, and the guests themselves."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from ..caches import CacheSpec
from ..compression import Compressibility
from ..fields import Duration, DurationOrZero, Fraction, Size, SizeOrZero, Strict
from ..policies.readahead import ReadaheadSpec
from ..units import PAGE_SIZE
from ..workloads import WORKLOADS


class Image(Strict):
    """A base image: its size, its disk, and how its content is made."""

    size: Size
    disk: str | None = None
    zero_fraction: Fraction = 0.0
    internal_dup: Fraction = 0.0
    # how its pages compress in a compressed pool (tmem's compress:); None: the pool's `data`
    compressibility: Compressibility | None = None

    @model_validator(mode="after")
    def _fractions(self):
        if self.zero_fraction + self.internal_dup > 1:
            raise ValueError("zero_fraction + internal_dup must be at most 1")
        return self


class GuestDiskSpec(Strict):
    """`{image: NAME, clone: cow|copy}` or a private disk `{size: 4GiB}`."""

    image: str | None = None
    clone: Literal["cow", "copy"] = "cow"
    size: Size | None = None
    disk: str | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.image is None) == (self.size is None):
            raise ValueError("give either image (a clone) or size (a private disk), not both")
        return self


def _workload_union():
    kinds = tuple(WORKLOADS.values())
    return Annotated[Union[kinds], Field(discriminator="kind")]  # noqa: UP007 - built at runtime


Workload = _workload_union()


class Balloon(Strict):
    """Memory balancing: `selfballoon` periodically sets the guest's memory to what it needs.

    Xen's selfballoon driver: target = reserved + committed anonymous memory + headroom, never
    below `floor` nor above max_memory. Memory given up joins the hypervisor pool.
    """

    kind: Literal["none", "selfballoon"] = "none"
    interval: Duration = 1.0
    floor: Size | None = None  # default: the guest's reserved memory plus 16 MiB of page cache
    headroom: SizeOrZero = 16 << 20


class Guest(Strict):
    name: str = Field(min_length=1)
    count: int = Field(1, ge=1)
    memory: Size
    reserved: SizeOrZero = 0
    cache: CacheSpec = Field("lru", validate_default=True)
    disk: GuestDiskSpec
    workload: Workload
    writeback_interval: DurationOrZero = 5.0
    dirty_expire: DurationOrZero = 30.0
    max_memory: Size | None = None  # default: memory (no frontswap allowance unless ballooned)
    balloon: Balloon = Field(default_factory=Balloon)
    # the guest kernel's readahead on its files (read_ahead_kb); 0 or absent: off
    readahead: ReadaheadSpec = Field(default_factory=ReadaheadSpec)

    def cache_pages(self) -> int:
        return (self.memory - self.reserved) // PAGE_SIZE

    def max_bytes(self) -> int:
        return self.max_memory if self.max_memory is not None else self.memory

    def floor_bytes(self) -> int:
        floor = self.balloon.floor
        return floor if floor is not None else min(self.reserved + (16 << 20), self.memory)

    def names(self) -> list[str]:
        if self.count == 1:
            return [self.name]
        return [f"{self.name}-{i}" for i in range(self.count)]


__all__ = ["Balloon", "Guest", "GuestDiskSpec", "Image", "Workload"]
