"""Scenario files: faults, permissions, pacing and timed events for ``--scenario``.

A scenario is JSON or YAML (``.yaml``/``.yml``), every key optional::

    seed: 7
    start: "2026-11-24T15:00:00Z"
    frozen: false
    not_permissioned: [NQ]            # 354 on live requests for these symbols
    pacing: {identical_window: 15, same_contract_max: 5, same_contract_window: 2,
             max_requests: 60, window: 600, enabled: true}
    price: {etf_lag_slots: 1, etf_correlation: 0.9}
    expired_retention_days: 730       # bars of an expired future, days after its last trade
    faults:                           # FaultRule fields, see faults.py
      - {action: delay, request: snapshot, seconds: 0.25}
      - {action: error, request: snapshot, symbol: SPY, code: 10197, times: 1}
      - {action: hang, request: historical_data, symbol: RTY}
      - {action: drop, request: historical_data, times: 1}
    events:                           # seconds after the simulator starts
      - {at: 5, action: broadcast, code: 1100}
      - {at: 8, action: broadcast, code: 1102}
      - {at: 10, action: disconnect_all}
      - {at: 10, action: refuse_connections}
      - {at: 15, action: accept_connections}

``seed``/``start``/``frozen``/``expired_retention_days`` apply when the CLI flags leave them
unset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .contracts import DEFAULT_EXPIRED_RETENTION_DAYS
from .faults import FaultRule
from .pacing import PacingLimits
from .prices import PriceModelConfig

if TYPE_CHECKING:
    from .server import GatewaySimulator

EVENT_ACTIONS = ("broadcast", "disconnect_all", "refuse_connections", "accept_connections")


@dataclass(frozen=True)
class ScheduledEvent:
    at: float
    action: str
    code: int | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if self.action not in EVENT_ACTIONS:
            raise ValueError(f"unknown event action {self.action!r}; use one of {EVENT_ACTIONS}")
        if self.action == "broadcast" and self.code is None:
            raise ValueError("a broadcast event needs a code")

    def fire(self, sim: GatewaySimulator) -> None:
        if self.action == "broadcast":
            assert self.code is not None
            sim.broadcast(self.code, self.message)
        elif self.action == "disconnect_all":
            sim.disconnect_all()
        elif self.action == "refuse_connections":
            sim.refuse_connections()
        else:
            sim.accept_connections()


@dataclass
class Scenario:
    seed: int | None = None
    start: str | None = None
    frozen: bool | None = None
    not_permissioned: list[str] = field(default_factory=list)
    pacing: PacingLimits | None = None
    price: dict[str, Any] = field(default_factory=dict)
    faults: list[FaultRule] = field(default_factory=list)
    events: list[ScheduledEvent] = field(default_factory=list)
    expired_retention_days: int = DEFAULT_EXPIRED_RETENTION_DAYS

    def price_config(self, seed: int) -> PriceModelConfig:
        return PriceModelConfig(seed=seed, **self.price)

    def apply(self, sim: GatewaySimulator) -> None:
        """Load faults and permissions into ``sim`` (events run once it has started)."""
        for rule in self.faults:
            sim.faults.add(rule)
        for symbol in self.not_permissioned:
            sim.set_permissioned(symbol, False)
        if self.pacing is not None:
            sim.pacer.limits = self.pacing


def scenario_from_dict(data: dict[str, Any]) -> Scenario:
    known = {f.name for f in fields(Scenario)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown scenario keys: {sorted(unknown)}")
    price = dict(data.get("price") or {})
    price_fields = {f.name for f in fields(PriceModelConfig)}
    if set(price) - price_fields:
        raise ValueError(f"unknown price keys: {sorted(set(price) - price_fields)}")
    pacing = data.get("pacing")
    return Scenario(
        seed=data.get("seed"),
        start=data.get("start"),
        frozen=data.get("frozen"),
        not_permissioned=[str(s) for s in data.get("not_permissioned") or []],
        pacing=PacingLimits(**pacing) if pacing is not None else None,
        price=price,
        faults=[FaultRule(**rule) for rule in data.get("faults") or []],
        events=[ScheduledEvent(**event) for event in data.get("events") or []],
        expired_retention_days=int(data.get("expired_retention_days", DEFAULT_EXPIRED_RETENTION_DAYS)),
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario from a ``.json`` or ``.yaml``/``.yml`` file."""
    path = Path(path)
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            # PyYAML is the optional "yaml" extra: JSON scenarios need nothing beyond stdlib.
            import yaml
        except ImportError as exc:
            raise ValueError(
                f"{path}: YAML scenarios need PyYAML (pip install 'ib-gateway-sim[yaml]'), "
                "or write the scenario as JSON"
            ) from exc
        data = yaml.safe_load(text) or {}
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a scenario must be a mapping")
    return scenario_from_dict(data)
