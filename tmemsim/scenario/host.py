"""The host and its disks: memory, per-operation costs, and the disk models' parameters."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from ..fields import Distribution, Duration, DurationOrZero, Rate, Size, SizeOrZero, Strict
from ..units import parse_size


class Costs(Strict):
    """Per-operation CPU costs (docs/model.md, "Costs")."""

    guest_hit: DurationOrZero = 1e-6
    hypercall: DurationOrZero = 1e-6
    page_copy: DurationOrZero = 1e-6
    virtio: DurationOrZero = 20e-6


class Ksm(Strict):
    """KSM, the host's same-page merging (model/ksm.py); the defaults are Linux's
    (/sys/kernel/mm/ksm: pages_to_scan 100, sleep_millisecs 20)."""

    pages_to_scan: int = Field(100, ge=1)
    sleep: Duration = 0.020
    # a guest's write to a merged page: a VM exit and a page copy (docs/model.md, "KSM");
    # None: host.costs.hypercall + host.costs.page_copy
    cow_fault: DurationOrZero | None = None


class Host(Strict):
    memory: Size
    reserved: SizeOrZero = 0
    costs: Costs = Field(default_factory=Costs)
    ksm: Ksm | None = None  # absent: no merging (a policy entry may still ask for it)


def _bandwidth(value):
    # "150MB/s" is a size per second; a plain number is bytes per second
    if isinstance(value, str) and value.strip().endswith("/s"):
        return parse_size(value.strip()[:-2])
    return value


Bandwidth = Annotated[float, BeforeValidator(_bandwidth), Field(gt=0)]


class HddDisk(Strict):
    """A rotating disk: square-root seek curve, uniform rotational delay, transfer time."""

    kind: Literal["hdd"]
    rpm: Rate = 7200.0
    single_track: Duration = 1e-3
    full_stroke: Duration = 15e-3
    bandwidth: Bandwidth = 150e6
    channels: int = Field(1, ge=1)


class SsdDisk(Strict):
    kind: Literal["ssd"]
    read: Duration = 80e-6
    write: Duration = 20e-6
    channels: int = Field(8, ge=1)
    bandwidth: Bandwidth = 250e6  # each further page of a multi-page read (readahead)


class NvmeDisk(Strict):
    kind: Literal["nvme"]
    read: Duration = 20e-6
    write: Duration = 10e-6
    channels: int = Field(32, ge=1)
    bandwidth: Bandwidth = 2e9  # each further page of a multi-page read (readahead)


class CustomDisk(Strict):
    """Service times drawn from distributions: the validation disks (M/M/1, M/D/1, M/M/c)."""

    kind: Literal["custom"]
    read: Distribution
    write: Distribution | None = None
    channels: int = Field(1, ge=1)
    bandwidth: Bandwidth = 150e6  # each further page of a multi-page read (readahead)


Disk = Annotated[HddDisk | SsdDisk | NvmeDisk | CustomDisk, Field(discriminator="kind")]


__all__ = ["Bandwidth", "Costs", "CustomDisk", "Disk", "HddDisk", "Host", "Ksm", "NvmeDisk",
           "SsdDisk"]
