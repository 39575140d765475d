"""readahead: on-demand readahead and page locks, exactly.

`verify/readahead.yaml`: one guest on an hdd under a host cache that reads ahead on the image
file. A sequential scan (never wrapping) with window W: after the warm-up every disk request is
one full window, so requests = pages read ahead / W, and the guest reads nothing from the disk
itself. A uniform random workload over the whole 8 GiB image: nothing is read ahead. With
readahead off (`max: 0`) every figure equals the host cache's without the option. Page locks:
N threads read one page at once: one disk read, N - 1 waits, under every policy.
"""

from __future__ import annotations

from tmemsim.api import select_policies
from tmemsim.model import World

from .checks import Check, Measurement
from .harness import run

FAMILY = "readahead"
LOCK_POLICIES = ("none", "host-cache", "tmem", "dedup")


def _host_ra(kb: int) -> str:
    return f"policies=[{{kind: host-cache, readahead: {{max: {kb}KiB}}}}]"


def sequential(check: Check, quick: bool) -> Measurement:
    """Disk requests after the warm-up against pages read ahead / W."""
    p = check.settings(quick)
    window = p["kb"] // 4
    out = run(check.load([_host_ra(p["kb"]), f"duration={p['duration']}"]))
    requests = sum(d["reads"] for d in out.disks.values())
    pages = out.policy_counters[0]["host_readahead_pages"]
    c = out.counters[0]
    expected = pages / window
    passed = requests == expected and c["disk_reads"] == 0 and pages > 0
    note = (f"W = {window} pages: {pages} pages read ahead in {requests} disk requests; "
            f"{c['reads']} guest reads, {c['disk_reads']} of them from the disk")
    return Measurement(expected, requests, note, passed=passed)


def random(check: Check, quick: bool) -> Measurement:
    """Uniform reads over the image: no page is read ahead."""
    p = check.settings(quick)
    out = run(check.load([_host_ra(p["kb"]), f"duration={p['duration']}",
                          "disks={hdd0: {kind: nvme}}",  # many reads in a short run
                          "guests.0.workload={kind: uniform, footprint: 2000000, "
                          "file_pages: 2000000}"]))
    c, pc = out.counters[0], out.policy_counters[0]
    note = (f"{c['reads']} uniform reads over 2,000,000 pages (nvme), {c['disk_reads']} from "
            f"the disk: {pc['host_readahead_pages']} pages read ahead")
    return Measurement(0, pc["host_readahead_pages"], note,
                       passed=pc["host_readahead_pages"] == 0 and c["disk_reads"] > 1000)


def off(check: Check, quick: bool) -> Measurement:
    """readahead max 0 against no readahead option: identical counters, disks and latency."""
    p = check.settings(quick)
    outs = [run(check.load([policy, f"duration={p['duration']}", "disks={hdd0: {kind: nvme}}",
                            "guests.0.workload={kind: mix, threads: 4, parts: [{weight: 1, "
                            "workload: {kind: scan, footprint: 300000}}, {weight: 1, workload: "
                            "{kind: zipf, alpha: 0.9, footprint: 300000}}]}"]))
            for policy in ("policies=[host-cache]", _host_ra(0))]
    same = [a == b for a, b in (
        (outs[0].counters, outs[1].counters), (outs[0].disks, outs[1].disks),
        (outs[0].merged_histogram().mean(), outs[1].merged_histogram().mean()))]
    c = outs[1].counters[0]
    ahead = [o.policy_counters[0]["host_readahead_pages"] for o in outs]
    note = (f"{c['reads']} reads ({c['host_hits']} host hits, {c['disk_reads']} disk): "
            f"counters, disks, latency equal: {same}; pages read ahead: {ahead}")
    return Measurement(c["reads"], outs[0].counters[0]["reads"], note,
                       passed=all(same) and ahead == [0, 0])


def page_lock(check: Check, quick: bool) -> Measurement:
    """N threads read one page at once: 1 disk read, N - 1 page-lock waits."""
    p = check.settings(quick)
    n = p["threads"]
    s = check.load([f"policies=[{p['policy']}]", "duration=1s", "warmup=0s",
                    f"guests.0.workload={{kind: script, steps: ['r 7'], threads: {n}}}"])
    out = World(s, select_policies(s)[0]).run()
    c = out.counters[0]
    note = f"{n} threads read page 7 at once: {c['disk_reads']} disk read, " \
           f"{c['page_lock_waits']} waits, {c['host_hits']} host hits"
    return Measurement(n - 1, c["page_lock_waits"], note,
                       passed=c["disk_reads"] == 1 and c["page_lock_waits"] == n - 1
                       and c["reads"] == n)


# ------------------------------------------------------------------ the guest's own readahead

def _guest_ra(kb: int) -> str:
    return f"guests.0.readahead={{max: {kb}KiB}}"


def guest_sequential(check: Check, quick: bool) -> Measurement:
    """The guest reads ahead, under none: disk requests after the warm-up against guest pages
    read ahead / W, and no demand read reaches the disk (every read finds its page read
    ahead: a hit, or a wait for its window)."""
    p = check.settings(quick)
    window = p["kb"] // 4
    out = run(check.load(["policies=[none]", _guest_ra(p["kb"]), f"duration={p['duration']}"]))
    requests = sum(d["reads"] for d in out.disks.values())
    c = out.counters[0]
    pages = c["guest_readahead_pages"]
    passed = requests == pages / window and c["disk_reads"] == 0 and pages > 0
    note = (f"W = {window} pages: {pages} pages read ahead by the guest in {requests} disk "
            f"requests; {c['reads']} reads: {c['guest_hits']} hits, {c['page_lock_waits']} "
            f"waits for a window, {c['disk_reads']} from the disk")
    return Measurement(pages / window, requests, note, passed=passed)


def guest_random(check: Check, quick: bool) -> Measurement:
    """Uniform reads over the image, the guest reading ahead: no page is read ahead."""
    p = check.settings(quick)
    out = run(check.load(["policies=[none]", _guest_ra(p["kb"]), f"duration={p['duration']}",
                          "disks={hdd0: {kind: nvme}}",
                          "guests.0.workload={kind: uniform, footprint: 2000000, "
                          "file_pages: 2000000}"]))
    c = out.counters[0]
    note = (f"{c['reads']} uniform reads over 2,000,000 pages (nvme), {c['disk_reads']} from "
            f"the disk: {c['guest_readahead_pages']} pages read ahead by the guest")
    return Measurement(0, c["guest_readahead_pages"], note,
                       passed=c["guest_readahead_pages"] == 0 and c["disk_reads"] > 1000)


def guest_off(check: Check, quick: bool) -> Measurement:
    """The guest's readahead at max 0 against no setting, under none and tmem: identical
    counters, disks and latency."""
    p = check.settings(quick)
    same, reads = [], 0
    for policy in ("none", "tmem"):
        outs = [run(check.load([f"policies=[{policy}]", f"duration={p['duration']}",
                                "warmup=100ms", "disks={hdd0: {kind: nvme}}", *extra,
                                "guests.0.workload={kind: mix, threads: 4, parts: [{weight: 1, "
                                "workload: {kind: scan, footprint: 300000}}, {weight: 1, "
                                "workload: {kind: zipf, alpha: 0.9, footprint: 300000}}]}"]))
                for extra in ([], [_guest_ra(0)])]
        same += [a == b for a, b in (
            (outs[0].counters, outs[1].counters), (outs[0].disks, outs[1].disks),
            (outs[0].merged_histogram().mean(), outs[1].merged_histogram().mean()))]
        reads = outs[1].counters[0]["reads"]
        ahead = outs[1].counters[0]["guest_readahead_pages"]
    note = (f"none and tmem, {reads} reads (tmem): counters, disks, latency equal: {same}; "
            f"pages read ahead: {ahead}")
    return Measurement(0, same.count(False), note, passed=all(same) and ahead == 0)


def guest_tmem(check: Check, quick: bool) -> Measurement:
    """Under tmem, a scan re-reading what its guest put: every page of a window is a get, page
    by page, and every get hits. After the warm-up (a first pass), tmem_gets = pages read
    ahead + the reads that missed (each misses, then gets: host_hits + disk_reads), every get
    hits, and the disk serves no request."""
    p = check.settings(quick)
    out = run(check.load(["policies=[{kind: tmem, keep_free: 0}]", _guest_ra(p["kb"]),
                          f"duration={p['duration']}", f"warmup={p['warmup']}",
                          "disks={hdd0: {kind: nvme}}",
                          "guests.0.workload={kind: scan, footprint: 20000, file_pages: 20000, "
                          "think_time: 20us}"]))
    c, pc = out.counters[0], out.policy_counters[0]
    requests = sum(d["reads"] for d in out.disks.values())
    expected = c["guest_readahead_pages"] + c["host_hits"] + c["disk_reads"]
    passed = (pc["tmem_gets"] == expected == pc["tmem_get_hits"] and requests == 0
              and c["guest_readahead_pages"] > 0)
    note = (f"a 20,000-page scan over a 12,288-page cache, re-read from the pool: "
            f"{c['guest_readahead_pages']} pages read ahead + {c['host_hits']} host hits + "
            f"{c['disk_reads']} disk reads; {pc['tmem_gets']} gets, {pc['tmem_get_hits']} "
            f"hits; {requests} disk requests")
    return Measurement(expected, pc["tmem_gets"], note, passed=passed)


def checks() -> list[Check]:
    """Windows of 32 and 8 pages, random reads, readahead off, and page locks per policy; all
    quick except the longer scan."""
    scenario = "verify/readahead.yaml"
    out = [Check(FAMILY, f"sequential-{kb}k", scenario, sequential, 0.0, quick=kb == 128,
                 params=dict(kb=kb, duration="4s"), quick_params=dict(duration="2s"))
           for kb in (128, 32)]
    out.append(Check(FAMILY, "random", scenario, random, 0.0, quick=True,
                     params=dict(kb=128, duration="4s"), quick_params=dict(duration="2s")))
    out.append(Check(FAMILY, "off", scenario, off, 0.0, quick=True,
                     params=dict(duration="3s"), quick_params=dict(duration="2s")))
    out += [Check(FAMILY, f"page-lock-{policy}", scenario, page_lock, 0.0, quick=True,
                  params=dict(policy=policy, threads=8)) for policy in LOCK_POLICIES]
    out += [Check(FAMILY, f"guest-sequential-{kb}k", scenario, guest_sequential, 0.0,
                  quick=kb == 128, params=dict(kb=kb, duration="4s"),
                  quick_params=dict(duration="2s")) for kb in (128, 32)]
    out.append(Check(FAMILY, "guest-random", scenario, guest_random, 0.0, quick=True,
                     params=dict(kb=128, duration="4s"), quick_params=dict(duration="2s")))
    out.append(Check(FAMILY, "guest-off", scenario, guest_off, 0.0, quick=True,
                     params=dict(duration="1s"), quick_params=dict(duration="250ms")))
    out.append(Check(FAMILY, "guest-tmem-gets", scenario, guest_tmem, 0.0, quick=True,
                     params=dict(kb=128, duration="1s", warmup="500ms")))
    return out
