"""`none`: cache=none / directsync — O_DIRECT I/O, the hypervisor pool sits idle.

Every guest miss and every write-back is a disk I/O; the baseline the others are measured against.
"""

from __future__ import annotations

from .base import READ_DISK, WRITE_DISK, Policy


class NoCache(Policy):
    name = "none"

    @classmethod
    def per_pool_page(cls, options):
        return ()  # the pool sits idle

    def read(self, guest, vpage, loc):
        return READ_DISK, self.store.get(loc, 0)

    def write(self, guest, vpage, loc, data):
        self.store[loc] = data
        return WRITE_DISK
