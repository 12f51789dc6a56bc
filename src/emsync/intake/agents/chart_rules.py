"""Medical records' checks, pure: every active or planned medication against every active
allergy, by substance or by a drug class both share (the registry's class table from #17,
data/drug_classes.json, with its cross-reactive groups), and a device report's summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emsync.registry.allergies import Conflict, DrugClasses, RecordedAllergy, conflicts

RULE = "allergy-medication-conflict (substance or drug class)"


@dataclass(frozen=True, slots=True)
class FlaggedConflict:
    conflict: Conflict
    origin: str  # "current" (on the chart) or "planned" (asked for in this session)

    def as_json(self) -> dict[str, Any]:
        c = self.conflict
        return {
            "medication": c.medication,
            "origin": self.origin,
            "allergy_id": c.allergy.id,
            "allergy": c.allergy.substance,
            "severity": c.allergy.severity,
            "match": c.match,
            "drug_class": c.drug_class,
        }


def flag_conflicts(
    allergies: Sequence[RecordedAllergy],
    current: Sequence[str],
    planned: Sequence[str],
    table: DrugClasses,
) -> list[FlaggedConflict]:
    """Each (medication, allergy) conflict once, current medications first."""
    out: list[FlaggedConflict] = []
    seen: set[tuple[str, str]] = set()
    for origin, names in (("current", current), ("planned", planned)):
        for name in names:
            for c in conflicts(name, allergies, table):
                if (c.medication.lower(), c.allergy.id) not in seen:
                    seen.add((c.medication.lower(), c.allergy.id))
                    out.append(FlaggedConflict(c, origin))
    return out


def reported(substances: Sequence[Any]) -> list[RecordedAllergy]:
    """Allergies reported in the handoff ("penicillin - rash"), as allergies to check against;
    their ids say where they came from."""
    out = []
    for i, text in enumerate(substances):
        substance = str(text).split(" - ")[0].split("(")[0].strip()
        if substance and substance.lower() not in ("none", "nkda", "none known"):
            out.append(RecordedAllergy(id=f"handoff:{i}", substance=substance, severity=None))
    return out


def device_summary(device: Mapping[str, Any]) -> str | None:
    """One line for the chart from the device step's output; None without readings."""
    latest = device.get("latest_vitals")
    if not isinstance(latest, Mapping) or not latest:
        return None
    shown = ", ".join(
        f"{k} {latest[k]}"
        for k in ("hr", "spo2", "rr", "sbp", "dbp", "temp")
        if latest.get(k) is not None
    )
    news2 = device.get("news2")
    parts = [f"Latest vitals: {shown}" if shown else "Latest vitals recorded"]
    if isinstance(news2, Mapping) and news2.get("total") is not None:
        parts.append(f"NEWS2 {news2['total']} ({news2.get('band')})")
    risk = device.get("deterioration")
    if isinstance(risk, Mapping) and risk.get("probability") is not None:
        parts.append(f"deterioration risk {float(risk['probability']):.0%}")
    return "; ".join(parts)
