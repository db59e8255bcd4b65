"""The soak's figures (bench/README.md): slots, faults by kind and outcome, rows, the audit."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from .audit import AuditResult
from .run import SoakRun


def fault_outcome(record: dict[str, Any]) -> str:
    outcome = record["outcome"]
    if outcome is None:
        return "slot skipped"
    if record["what"].startswith("not injected"):
        return "not injected (gateway down)"
    if not outcome.errors:
        return "no effect on the slot"
    sources = set(outcome.stored.values())
    missing = set(outcome.symbols) - set(outcome.stored)
    if missing:
        return "left to the repair"
    if sources == {"live"}:
        return f"recovered by retry {outcome.tries - 1}"
    return "filled from history (late retry)"


def figures(run: SoakRun, result: AuditResult) -> dict[str, Any]:
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    for record in run.fault_log:
        by_kind[record["kind"]][fault_outcome(record)] += 1
    collected = len(run.outcomes)
    minutes = run.wall_s / 60
    data = {
        "days": run.plan.days, "seed": run.plan.seed, "slots": run.slots_total,
        "slots_collected": collected, "faults": {k: dict(v) for k, v in sorted(by_kind.items())},
        "events": dict(run.events), "rows_live": result.rows_live,
        "rows_history": result.rows_history, "expected": result.expected,
        "unfillable": result.unfillable, "alerted": result.alerted,
        "lost": len(result.lost), "duplicated": len(result.duplicated),
        "invented": len(result.invented), "differs": len(result.differs),
        "unalerted": len(result.unalerted), "maintenance_runs": len(run.maintenance),
        "maintenance_count_changes": len(result.maintenance),
        "max_files_per_partition": result.max_files_per_partition,
        "repairs": len(run.repairs), "repaired_filled": sum(r.filled for r in run.repairs),
        "wall_s": round(run.wall_s, 1), "slots_per_minute": round(run.slots_total / minutes, 1),
        "rss_mb_first_last_max": [round(x, 1) for x in (run.rss_mb[:1] + run.rss_mb[-1:]
                                                         + [max(run.rss_mb, default=0)])],
        "examples": {"lost": result.lost[:5], "invented": result.invented[:5],
                     "differs": result.differs[:5], "duplicated": result.duplicated[:5],
                     "unalerted": result.unalerted[:5], "maintenance": result.maintenance[:5]},
    }  # fmt: skip
    lines = [f"soak: {data['days']:g} days from {run.plan.start:%Y-%m-%d}, seed {run.plan.seed}",
             f"slots {data['slots']} (collected {collected}), wall {data['wall_s']} s, "
             f"{data['slots_per_minute']} slots/min", "", "| fault | outcomes |", "|---|---|"]  # fmt: skip
    for kind, outcomes in sorted(by_kind.items()):
        lines.append(f"| {kind} | {', '.join(f'{n}x {o}' for o, n in sorted(outcomes.items()))} |")
    lines += ["", *(f"{k}: {v}" for k, v in data.items() if k not in ("faults", "examples"))]
    for kind, examples in data["examples"].items():
        for example in examples:
            lines.append(f"  {kind}: {example}")
    lines.append("AUDIT " + ("PASSED" if result.ok else "FAILED"))
    return {"data": data, "markdown": "\n".join(lines)}
