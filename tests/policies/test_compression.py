"""tmem's compressed pool: the allocators' packing, compressed sizes from content, rejection,
and the costs it prices — plain state machines on tiny worlds (no simulation is run)."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

import tmemsim
from tmemsim.api import select_policies
from tmemsim.compression import Compress, Compressibility
from tmemsim.images import ZERO_CONTENT
from tmemsim.model import World
from tmemsim.model.costs import CostModel
from tmemsim.policies.base import PUT_ACCEPTED, PUT_REJECTED, READ_HOST_CALL
from tmemsim.policies.compressed import CompressedTmem
from tmemsim.policies.tmem import Tmem
from tmemsim.policies.zpool import Zbud, Zsmalloc, zs_class, zs_pages_per_zspage

PAGE = 4096
A, B = 0, 1  # guest indexes


def make_world(policy, *, clone="cow", pool_pages=4, guests=("a", "b")) -> World:
    """Guests of 4 pages cloning a 64-page base image, and a pool of pool_pages pages."""
    data = {
        "seed": 0,
        "requests": 10,
        "host": {"memory": (4 * len(guests) + pool_pages) * PAGE},
        "disks": {"d": {"kind": "ssd"}},
        "images": {"base": {"size": 64 * PAGE}},
        "policies": [policy],
        "guests": [{"name": g, "memory": 4 * PAGE, "disk": {"image": "base", "clone": clone},
                    "workload": {"kind": "script", "steps": ["r 0"]}} for g in guests],
    }
    s = tmemsim.load_scenario(data)
    return World(s, select_policies(s)[0])


def loc(world, guest, vpage, written=False):
    return world.guests[guest].gdisk.location(vpage, written)


def compressed(pool_pages=4, ratio=0.5, spread=0.0, **compress):
    data = {"ratio": ratio, "spread": spread}
    return make_world({"kind": "tmem", "keep_free": 0,
                       "compress": {"allocator": "zbud", "data": data, **compress}},
                      clone="copy", pool_pages=pool_pages)


# ---------------------------------------------------------------- allocators


def test_zbud_pairs_two_halves_in_one_page_and_never_three():
    z = Zbud()
    handles = [z.alloc(2048), z.alloc(2048)]
    assert z.pages == 1 and not z.room(2048, 1) and not z.room(64, 1)
    handles.append(z.alloc(64))
    assert z.pages == 2
    z.free(handles[0])  # page 0 has 32 chunks free, page 1 (64 bytes) 63
    assert z.room(4032, 2) and not z.room(4033, 2) and z.room(4033, 3)
    z.check()


def test_zbud_puts_a_buddy_where_the_least_room_suffices():
    z = Zbud()
    big_room = z.alloc(1024)  # page 0: 16 chunks, 48 free
    small_room = z.alloc(3100)  # 49 chunks: a page of its own, 15 free
    assert big_room[0] != small_room[0]
    assert z.alloc(900)[0] == small_room[0]  # 15 chunks: the tighter page
    assert z.alloc(900)[0] == big_room[0]
    z.check()


def test_zbud_frees_a_page_with_its_last_buddy():
    z = Zbud()
    a, b = z.alloc(1000), z.alloc(1000)
    z.free(a)
    z.free(b)
    assert z.pages == 0 and z.room(4096, 1)
    z.check()


def test_zsmalloc_classes_are_16_bytes_apart_from_32():
    assert [zs_class(s) for s in (1, 32, 33, 48, 49, 2048, 4095, 4096)] == [
        32, 32, 48, 48, 64, 2048, 4096, 4096]


@pytest.mark.parametrize("cls", [32, 48, 208, 1024, 1360, 2048, 3264, 4096])
def test_zsmalloc_zspages_waste_least(cls):
    k = zs_pages_per_zspage(cls)
    used = [(n * PAGE - n * PAGE % cls) * 100 // (n * PAGE) for n in range(1, 5)]
    assert used[k - 1] == max(used) and used.index(max(used)) == k - 1


def test_zsmalloc_packs_a_class_and_frees_an_empty_zspage():
    z = Zsmalloc()
    k = zs_pages_per_zspage(1360)
    per_zspage = k * PAGE // 1360
    handles = [z.alloc(1350) for _ in range(per_zspage)]
    assert z.pages == k and not z.room(1350, k)
    extra = z.alloc(1350)
    assert z.pages == 2 * k
    for h in handles:
        z.free(h)
    assert z.pages == k
    z.free(extra)
    assert z.pages == 0
    z.check()


def test_zsmalloc_holds_more_small_pages_than_zbud():
    zb, zs = Zbud(), Zsmalloc()
    for _ in range(100):
        zb.alloc(800)
        zs.alloc(800)
    assert zb.pages == 50 and zs.pages < 25


# ---------------------------------------------------------------- compressed sizes


def test_sizes_depend_on_content_and_seed_alone():
    w = compressed()
    files = w.layout.files
    kind = Compressibility(ratio=0.5, spread=0.3)
    one = Compress(data=kind).sizes(files)
    again = Compress(data=kind).sizes(files)
    other_seed = Compress(data=kind, seed=1).sizes(files)
    contents = [w.contents.content(loc(w, A, p), 0) for p in range(64)]
    sizes = [one.of(c) for c in contents]
    assert sizes == [again.of(c) for c in contents]
    assert sizes != [other_seed.of(c) for c in contents]
    assert all(0.2 * PAGE - 1 <= s <= 0.8 * PAGE + 1 for s in sizes)
    assert one.of(ZERO_CONTENT) == 28


def test_an_image_compressibility_and_writes_have_their_own_sizes():
    data = {"seed": 0, "requests": 10, "host": {"memory": 12 * PAGE},
            "disks": {"d": {"kind": "ssd"}},
            "images": {"base": {"size": 64 * PAGE,
                                "compressibility": {"ratio": 0.25, "spread": 0}}},
            "policies": [{"kind": "tmem", "compress": {"writes": {"ratio": 0.75, "spread": 0}}}],
            "guests": [{"name": "a", "memory": 4 * PAGE, "disk": {"image": "base"},
                        "workload": {"kind": "script", "steps": ["r 0"]}}]}
    s = tmemsim.load_scenario(data)
    w = World(s, select_policies(s)[0])
    sizes = w.policy.sizes
    assert sizes.of(w.contents.content(loc(w, A, 3), 0)) == PAGE // 4
    assert sizes.of(w.contents.content(0, w.contents.new_write(A, 3, False))) == 3 * PAGE // 4


# ---------------------------------------------------------------- the pool


def test_compress_builds_the_compressed_pool_and_only_then():
    assert type(compressed().policy) is CompressedTmem
    assert type(make_world({"kind": "tmem"}).policy) is Tmem


def test_compress_with_dedup_is_refused():
    with pytest.raises(ValidationError, match="compress is not modelled together with dedup"):
        Tmem.Options.model_validate({"dedup": True, "compress": {}})


def test_half_size_pages_fill_a_pool_twice_over_then_the_oldest_goes():
    w = compressed(pool_pages=2)
    tm = w.policy
    for p in range(4):
        assert tm.evicted(A, p, loc(w, A, p), 0) == PUT_ACCEPTED
    assert tm.used_pages() == 2 and tm.stored_pages() == 4
    assert tm.evicted(A, 4, loc(w, A, 4), 0) == PUT_ACCEPTED
    assert not tm.holds(A, 0, loc(w, A, 0)) and tm.holds(A, 4, loc(w, A, 4))
    assert tm.counters[A].tmem_evictions == 1
    tm.check()
    tm.check_deep()


def test_an_exclusive_get_frees_its_room():
    w = compressed(pool_pages=1)
    tm = w.policy
    tm.evicted(A, 0, loc(w, A, 0), 0)
    tm.evicted(A, 1, loc(w, A, 1), 0)
    assert tm.read(A, 0, loc(w, A, 0))[0] == READ_HOST_CALL
    assert tm.stored_pages() == 1 and tm.zpool.room(2048, 1)
    tm.check_deep()


def test_pages_compressing_poorly_are_rejected_and_counted():
    w = compressed(ratio=0.9)
    tm = w.policy
    assert tm.evicted(A, 0, loc(w, A, 0), 0) == PUT_REJECTED
    c = tm.counters[A]
    assert (c.compress_rejected, c.tmem_puts_rejected, c.compressed_puts) == (1, 1, 0)
    assert tm.stored_pages() == 0
    w2 = compressed(ratio=0.9, max_compressed=0.95)
    assert w2.policy.evicted(A, 0, loc(w2, A, 0), 0) == PUT_ACCEPTED
    assert w2.policy.counters[A].compressed_bytes == round(0.9 * PAGE)


def test_a_rejected_overwrite_leaves_no_old_copy():
    w = compressed(pool_pages=1, ratio=0.5, writes={"ratio": 1.0, "spread": 0})
    tm = w.policy
    tm.evicted(B, 2, loc(w, B, 2), 0)
    where, data = loc(w, B, 2, True), w.contents.new_write(B, 2, False)
    assert tm.evicted(B, 2, where, data) == PUT_REJECTED
    assert not tm.holds(B, 2, where) and tm.used_pages() == 0
    tm.check_deep()


def test_frontswap_pages_are_compressed_and_zero_pages_take_a_chunk():
    w = compressed(pool_pages=1)
    tm = w.policy
    tm.set_allowance(A, 10)
    # never-written anonymous pages: zero-filled, 28 bytes each, one chunk of a zbud page
    assert [tm.frontswap_store(A, apage, 0) for apage in range(10)] == [True] * 2 + [False] * 8
    assert tm.used_pages() == 1 and tm.stored_pages() == 2  # zbud: two buddies per page
    assert tm.counters[A].frontswap_rejected == 8
    tm.frontswap_free(A, 0)
    assert tm.frontswap_load(A, 1) == 0 and tm.stored_pages() == 1
    tm.check_deep()


def test_compression_prices_puts_and_gets_and_nothing_else():
    w = compressed()
    tm, costs = w.policy, CostModel(w.scenario.host.costs)
    c, d = Compress().seconds()
    assert c == pytest.approx(4096 / 311e6) and d == pytest.approx(4096 / 480e6)
    priced = tm.eviction_costs(costs)
    assert priced[PUT_ACCEPTED] == costs.put + c
    assert priced[PUT_REJECTED] == costs.put_rejected + c
    read = tm.read_costs(costs)
    assert read[READ_HOST_CALL] == costs.read[READ_HOST_CALL] + d
    assert [r for i, r in enumerate(read) if i != READ_HOST_CALL] == [
        r for i, r in enumerate(costs.read) if i != READ_HOST_CALL]
    tm.set_allowance(A, 1)  # frontswap: a store is priced as a put, a load as a get hit
    assert w.hv.swap_out(A, 5, loc(w, A, 5), 0, 0.0) == priced[PUT_ACCEPTED]
    assert w.hv.swap_in(A, 5, loc(w, A, 5), 1.0) == (1.0 + read[READ_HOST_CALL], 0, True)


# ---------------------------------------------------------------- runs


def _scenario(policies):
    return {
        "seed": 4, "requests": 12000, "sample_interval": "1ms",
        "host": {"memory": 1100 * PAGE}, "disks": {"d": {"kind": "ssd"}},
        "policies": policies,
        "guests": [{"name": "g", "memory": 100 * PAGE, "disk": {"size": 4096 * PAGE},
                    "workload": {"kind": "zipf", "alpha": 0.7, "footprint": 4000,
                                 "read_fraction": 0.9}}],
    }


PLAIN = {"kind": "tmem", "name": "tmem", "keep_free": 0}
ZBUD = {**PLAIN, "name": "zbud", "compress": {"allocator": "zbud"}}
ZSMALLOC = {**PLAIN, "name": "zsmalloc",
            "compress": {"allocator": "zsmalloc", "data": {"ratio": 0.3, "spread": 0.2}}}


def test_a_compressed_pool_reports_stored_and_pool_pages():
    r = tmemsim.compare(_scenario([PLAIN, ZBUD, ZSMALLOC]))
    rows = r.summary[r.summary.guest == "ALL"].set_index("policy")
    assert rows.loc["tmem", "pool_compression_ratio"] == 1.0
    assert rows.loc["zbud", "host_pool_stored_pages"] > rows.loc["zbud", "host_pool_used_pages"]
    assert 1.5 < rows.loc["zbud", "pool_compression_ratio"] <= 2.0
    assert rows.loc["zsmalloc", "pool_compression_ratio"] > rows.loc["zbud",
                                                                      "pool_compression_ratio"]
    assert rows.loc["zsmalloc", "compressed_puts"] > 0 and rows.loc["tmem", "compressed_puts"] == 0
    stored = r.timeseries[r.timeseries.metric == "pool_stored_pages"]
    assert set(stored.policy) == {"zbud", "zsmalloc"}


def test_compressed_sizes_do_not_depend_on_the_policy_order():
    one = tmemsim.compare(_scenario([ZBUD, PLAIN, ZSMALLOC])).summary
    other = tmemsim.compare(_scenario([ZSMALLOC, ZBUD, PLAIN])).summary
    key = ["policy", "guest"]
    pd.testing.assert_frame_equal(one.sort_values(key).reset_index(drop=True),
                                  other.sort_values(key).reset_index(drop=True))


def test_zswap_under_check_stores_swapped_pages_compressed():
    """Frontswap through a compressed pool, every invariant checked after every action."""
    anon = {"size": 800 * PAGE, "fraction": 0.9, "alpha": 0.6, "read_fraction": 0.5}
    s = _scenario([PLAIN, {**ZBUD, "compress": {"allocator": "zbud",
                                                  "writes": {"ratio": 0.4, "spread": 0.3}}}])
    s.update(check=True, requests=6000, host={"memory": 2000 * PAGE})
    s["guests"] = [{"name": "g", "count": 2, "memory": 300 * PAGE, "max_memory": 900 * PAGE,
                    "disk": {"size": 4096 * PAGE},
                    "workload": {"kind": "uniform", "footprint": 200, "read_fraction": 0.9,
                                 "anon": anon}}]
    rows = tmemsim.compare(s).summary.query("guest == 'ALL'").set_index("policy")
    assert rows.loc["zbud", "frontswap_stores"] > 0 and rows.loc["zbud", "stale_reads"] == 0
    assert rows.loc["zbud", "host_pool_stored_pages"] > rows.loc["zbud", "host_pool_used_pages"]
