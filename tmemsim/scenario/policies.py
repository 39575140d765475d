"""The scenario's policies: a `policies:` entry read into a PolicySpec, and choosing among them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from ..infra.suggest import suggest
from ..policies import POLICIES
from .located import Located, from_validation


class PolicySpec(BaseModel):
    """One policy of a comparison: its registry `kind`, a display `name`, and its options."""

    kind: str
    name: str
    options: dict = Field(default_factory=dict)
    # memory balancing for every guest under this policy ("static split" vs "selfballoon");
    # None keeps each guest's own balloon setting
    balloon: Literal["none", "selfballoon"] | None = None
    # KSM under this policy: True with host.ksm's settings (Linux's defaults if none), False
    # without it; None follows host.ksm (on if the host block has one)
    ksm: bool | None = None

    def make_options(self):
        return POLICIES[self.kind].Options.model_validate(self.options)


def policy_entry(entry, i: int) -> PolicySpec:
    if isinstance(entry, str):
        entry = {"kind": entry}
    if not isinstance(entry, dict):
        raise Located(("policies", i), f"expected a policy name or mapping, got {entry!r}")
    entry = dict(entry)
    kind = entry.pop("kind", None)
    name = entry.pop("name", None)
    balloon = entry.pop("balloon", None)
    ksm = entry.pop("ksm", None)
    if kind is not None and not isinstance(kind, str):
        raise Located(("policies", i, "kind"), f"expected a policy name, got {kind!r}")
    if name is not None and not isinstance(name, str):
        raise Located(("policies", i, "name"), f"expected a name (text), got {name!r}")
    if balloon not in (None, "none", "selfballoon"):
        raise Located(("policies", i, "balloon"),
                       f"expected none or selfballoon, got {balloon!r}")
    if ksm is not None and not isinstance(ksm, bool):
        raise Located(("policies", i, "ksm"), f"expected true or false, got {ksm!r}")
    if kind not in POLICIES:
        raise Located(
            ("policies", i, "kind") if kind is not None else ("policies", i),
            f"unknown policy {kind!r}{suggest(kind, POLICIES)}; "
            f"expected one of {', '.join(POLICIES)}",
        )
    try:
        POLICIES[kind].Options.model_validate(entry)
    except ValidationError as exc:
        raise from_validation(exc, ("policies", i), POLICIES[kind].Options, entry) from None
    if not name:
        name = _default_name(kind, {**entry, **({"balloon": balloon} if balloon else {})})
        if ksm is not None:
            name += "+ksm" if ksm else "+no-ksm"
    return PolicySpec(kind=kind, name=name, options=entry, balloon=balloon, ksm=ksm)


def _default_name(kind: str, options: dict) -> str:
    parts = [kind] + [f"{k}={v}" for k, v in sorted(options.items()) if k != "weights"]
    return "+".join(parts) if len(parts) > 1 else kind


__all__ = ["PolicySpec", "policy_entry"]
