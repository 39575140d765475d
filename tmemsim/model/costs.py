"""The cost model: CPU time charged on every path a request can take.

Defaults and their basis are in docs/model.md ("Costs"); a scenario overrides them in
host.costs.
"""

from __future__ import annotations

from ..policies.base import (
    READ_DISK,
    READ_DISK_AFTER_CALL,
    READ_HOST_CALL,
    READ_HOST_IO,
    WRITE_ABSORBED,
    WRITE_DISK,
)


class CostModel:
    """Seconds per path. The device time of a disk path is added by the disk itself.

    Simplification: the device sees a request the moment the guest issues it and the CPU
    overheads are added after the device; the sum is the same and it keeps every disk FIFO in
    issue order, which makes completion times computable at issue time.
    """

    __slots__ = ("guest_hit", "hypercall", "page_copy", "virtio", "read", "write", "put",
                 "put_rejected")

    def __init__(self, costs):
        self.guest_hit = costs.guest_hit
        self.hypercall = costs.hypercall
        self.page_copy = costs.page_copy
        self.virtio = costs.virtio
        read = {
            READ_HOST_IO: self.virtio + self.page_copy,
            READ_HOST_CALL: self.hypercall + self.page_copy,
            READ_DISK: self.virtio,
            READ_DISK_AFTER_CALL: self.hypercall + self.virtio,
        }
        self.read = [read[i] for i in range(len(read))]
        write = {WRITE_DISK: self.virtio, WRITE_ABSORBED: self.virtio + self.page_copy}
        self.write = [write[i] for i in range(len(write))]
        self.put = self.hypercall + self.page_copy
        # a refused put still paid for the exit; Xen copies only once it has a page for it
        self.put_rejected = self.hypercall
