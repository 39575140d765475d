"""Hit-ratio curves in one pass over the requests: `curve()` gives, for each policy of a
scenario, the read hit ratio (guest, host, total) and the disk reads at N sizes along an axis
(pool, split, guest-memory), as a `Curves` table with its figure.

How. A guest's page cache sees only its own requests, so one replay of each guest (replay.py)
gives what it asks of the hypervisor at every pool size. The hypervisor's side is then served
at every size at once (engines.py): an LRU host cache (host-cache, dedup) by stack distances,
tmem's private pools by the oldest-put criterion (pool.py), anything else by one instance of
the policy per size. Each size's request times (timing.py) give its measured window.

Exact (equal hit counts to a full run, at every size; tests/analysis/test_curve.py):
- one guest, one closed-loop thread, no churn, phases or flusher write-backs during the run:
  every policy the engines serve by stack or criterion (none, host-cache and dedup with LRU,
  tmem private pools), on the pool axis; and on the guest-memory axis an LRU guest cache;
  with a request budget and no warm-up always, with a warm-up or duration too when the times
  are exact (flash disks without queueing, which a lone closed-loop thread never builds);
- several such guests when no outcome moves any time (e.g. zero costs and a zero disk).

Approximate (error measured against full runs, README "Curves"):
- several guests: their events are ordered by their times when every read misses (the
  interleaving of a pool of 0), so a pool that changes how fast a guest runs compared with
  the others is seen with the interleaving of a pool of 0;
- disks at their mean service time, without queueing (rotating disks, busy flash);
- the flusher, file churn, workload phases, several threads and open loops, on a reference
  clock where a miss costs a disk read;
- self-ballooning (shrinking guests only, no anonymous memory) taken as done from the start;
- policies served by instances see that order too.

Refused (ScenarioError): self-ballooning that grows a guest, or with anonymous memory, or on
the split and guest-memory axes.
"""

from .curve import curve
from .result import Curves, read_curves

__all__ = ["Curves", "curve", "read_curves"]
