"""Hypervisor policies, registered by name: adding one is one module and one entry here."""

from .base import Host, Policy
from .dedup import Dedup
from .host_cache import HostCache
from .host_exclusive import HostExclusive
from .none import NoCache
from .tmem import Tmem

POLICIES: dict[str, type[Policy]] = {p.name: p for p in (NoCache, HostCache, Tmem, Dedup,
                                                    HostExclusive)}

__all__ = ["POLICIES", "Host", "Policy"]
