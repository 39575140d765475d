"""KSM: the host merges identical guest pages copy-on-write (Linux's mm/ksm.c, ksmd).

ksmd wakes every `sleep` and visits up to `pages_to_scan` resident guest pages, guest after
guest, each guest's pages in key order (file pages by vpage; anonymous pages first). A visit
follows Linux's cmp_and_merge_page:
- a page already merged stays merged (a write would have broken it);
- a page whose content a stable node holds merges into it at once;
- else the page must be seen unchanged since its previous visit (Linux's checksum; "volatile"
  otherwise), then it is looked up in this round's unstable tree: a page of the same content
  there merges with it into a new stable node, else the page goes into the unstable tree
  (`pages_unshared`). The unstable tree starts empty at every full scan, as Linux's does.
A round takes a snapshot of the guests' resident pages when it starts; a page that arrives
during a round waits for the next one, and a page that left is skipped without being counted.

Content is the content id of images.Contents (same id, same bytes), so no comparison can fail.

The counters are Linux's: `pages_shared` (stable nodes), `pages_sharing` (the pages they save:
sharers less one per node), `pages_unshared` (pages in the unstable tree), `full_scans`, and
`cow_breaks` (per guest: writes to a merged page). Simplifications (README): a merged page
leaves its node at once when the guest writes it (a COW fault, charged `cow_fault`), evicts it,
or drops it in a truncate, and the counters follow at once (Linux finds out at its next visit);
a node left with one page dissolves, that page is an ordinary page again (Linux keeps it as a
one-page KSM page, and `pages_shared` counts it); ksmd's own CPU time is not charged.

What merging saves, the hypervisor's pool gains (World.merged_memory): the host cache, the tmem
pool or the dedup cache grows by `pages_sharing` pages and gives them back as they un-merge.
"""

from __future__ import annotations

from ..images import ZERO_CONTENT
from ..scenario.host import Ksm as KsmSettings


def ksm_settings(scenario, policy_spec):
    """The KSM settings of this run (scenario.host.Ksm), or None when it merges nothing: a
    policy entry's `ksm:` decides, else whether host.ksm is given."""
    settings = scenario.host.ksm
    on = policy_spec.ksm if policy_spec.ksm is not None else settings is not None
    if not on:
        return None
    return settings if settings is not None else KsmSettings()


class Ksm:
    """The scanner's state: stable nodes, this round's unstable tree, what each page was when
    last visited, and the counters. Plain Python; the world wakes it (World._ksm_scanner)."""

    def __init__(self, settings, guests: list, contents, costs, memory_changed):
        self.pages_to_scan = settings.pages_to_scan
        self.sleep = settings.sleep
        self.cow_fault = (settings.cow_fault if settings.cow_fault is not None
                          else costs.hypercall + costs.page_copy)
        self.guests = guests
        self.content_of = contents.content
        self.memory_changed = memory_changed  # (t): pages_sharing changed, the pool follows
        n = len(guests)
        self.merged: list[dict] = [{} for _ in range(n)]  # key -> content of its stable node
        self.seen: list[dict] = [{} for _ in range(n)]  # key -> content at its last visit
        self.unshared: list[dict] = [{} for _ in range(n)]  # key -> content, unstable tree
        self.stable: dict[int, set] = {}  # content -> {(guest, key)}: two pages or more
        self.unstable: dict[int, tuple] = {}  # content -> (guest, key), this round's
        self.pages_sharing = 0
        self.pages_unshared = 0
        self.full_scans = 0
        self.cow_breaks = [0] * n  # since the warm-up ended
        self.todo: list | None = None  # this round's pages still to visit, last first

    @property
    def pages_shared(self) -> int:
        return len(self.stable)

    def content(self, g: int, key: int) -> int:
        """The content of guest g's resident page `key`: its latest version's bytes; an
        anonymous page never written is a zero-fill."""
        guest = self.guests[g]
        data = guest.versions.get(key, 0)
        if data:
            return self.content_of(0, data)  # a write's bytes, wherever they are
        if key < 0:
            return ZERO_CONTENT
        # an unwritten page: the base image's under a CoW clone (base_loc is own_loc else)
        return self.content_of(guest.base_loc | key, 0)

    # ------------------------------------------------------------ ksmd

    def wake(self, t: float) -> None:
        """One batch: up to pages_to_scan resident pages. A batch ends where a full scan ends,
        as Linux's (scan_get_next_rmap_item returns no page there)."""
        if self.todo is None:
            self.unstable = {}
            self.todo = [(g, key) for g in reversed(range(len(self.guests)))
                         for key in sorted(self.guests[g].cache.keys(), reverse=True)]
        todo, visit = self.todo, self._visit
        resident = [g.cache.members() for g in self.guests]  # live views of the caches' keys
        before = self.pages_sharing
        left = self.pages_to_scan
        while left:
            if not todo:
                self.full_scans += 1
                self.todo = None
                break
            g, key = todo.pop()
            if key in resident[g]:
                left -= 1
                visit(g, key)
        if self.pages_sharing != before:
            self.memory_changed(t)

    def _visit(self, g: int, key: int) -> None:
        merged = self.merged[g]
        if key in merged:
            return
        c = self.content(g, key)
        if self.unshared[g].pop(key, None) is not None:  # last round's unstable tree
            self.pages_unshared -= 1
        node = self.stable.get(c)
        if node is not None:
            node.add((g, key))
            merged[key] = c
            self.pages_sharing += 1
            return
        seen = self.seen[g]
        if seen.get(key) != c:  # new, or changed since its last visit: volatile
            seen[key] = c
            return
        other = self.unstable.pop(c, None)
        if other is None:
            self.unstable[c] = (g, key)
            self.unshared[g][key] = c
            self.pages_unshared += 1
            return
        og, okey = other
        del self.unshared[og][okey]
        self.pages_unshared -= 1
        self.stable[c] = {other, (g, key)}
        self.merged[og][okey] = c
        merged[key] = c
        self.pages_sharing += 1

    # ------------------------------------------------------------ what guests tell it

    def written(self, g: int, key: int, t: float) -> float:
        """Guest g wrote its page `key` at t: a merged page breaks away (a COW fault). Returns
        the CPU time the write pays."""
        if self._drop(g, key, t):
            self.cow_breaks[g] += 1
            return self.cow_fault
        return 0.0

    def left(self, g: int, key: int, t: float) -> None:
        """Guest g's page `key` left its memory at t (evicted, swapped out, truncated)."""
        self.seen[g].pop(key, None)
        self._drop(g, key, t)

    def _drop(self, g: int, key: int, t: float) -> bool:
        """The page leaves the trees; True if it was merged."""
        c = self.unshared[g].pop(key, None)
        if c is not None:
            self.pages_unshared -= 1
            if self.unstable.get(c) == (g, key):
                del self.unstable[c]
            return False
        c = self.merged[g].pop(key, None)
        if c is None:
            return False
        node = self.stable[c]
        node.discard((g, key))
        self.pages_sharing -= 1
        if len(node) == 1:  # the last page of a node is an ordinary page again
            og, okey = node.pop()
            del self.merged[og][okey]
            del self.stable[c]
        self.memory_changed(t)
        return True

    # ------------------------------------------------------------ observation

    def reset(self) -> None:
        """The warm-up ended: the COW breaks count from now (the gauges do not reset)."""
        self.cow_breaks = [0] * len(self.cow_breaks)

    def gauges(self) -> dict:
        """The host-wide counters, by their Linux names, and the COW breaks since the warm-up."""
        return {"pages_shared": self.pages_shared, "pages_sharing": self.pages_sharing,
                "pages_unshared": self.pages_unshared, "full_scans": self.full_scans,
                "cow_breaks": sum(self.cow_breaks)}

    def check_deep(self) -> None:
        """Raise AssertionError if the trees and the counters disagree with the guests: every
        merged or unshared page is resident and holds the content it was filed under, every
        node holds two pages or more, and the counters count them."""
        sharing = 0
        for c, node in self.stable.items():
            assert len(node) >= 2, f"stable node {c:#x} holds {len(node)} page"
            sharing += len(node) - 1
            for g, key in node:
                assert self.merged[g].get(key) == c, f"guest {g} page {key}: not filed in its node"
        assert sharing == self.pages_sharing, f"pages_sharing {self.pages_sharing} != {sharing}"
        assert sum(len(m) for m in self.merged) == sharing + len(self.stable), "merged pages"
        assert sum(len(u) for u in self.unshared) == self.pages_unshared, "pages_unshared"
        for g, guest in enumerate(self.guests):
            for table in (self.merged[g], self.unshared[g]):
                for key, c in table.items():
                    assert key in guest.cache, f"{guest.name}: page {key} merged, not resident"
                    assert self.content(g, key) == c, f"{guest.name}: page {key} changed"
