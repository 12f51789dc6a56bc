"""FHIR rules `fhir.resources` does not check (it is structural only): required value sets,
the vital-signs profile, obs-6 (no value together with dataAbsentReason), local references
(pure; works on the JSON dict)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from emsync.handoffs.fhir_codes import (
    ACT_CODE,
    BP_COMPONENTS,
    BP_PANEL,
    LOINC,
    OBSERVATION_CATEGORY,
    UCUM,
    UNITS,
    VITAL_SIGN_LOINC,
)

# Required bindings of the elements EMsync emits (FHIR R4 value sets).
REQUIRED_CODES: Mapping[tuple[str, str], frozenset[str]] = {
    ("Bundle", "type"): frozenset(
        {
            "document", "message", "transaction", "transaction-response", "batch",
            "batch-response", "history", "searchset", "collection",
        }
    ),
    ("Patient", "gender"): frozenset({"male", "female", "other", "unknown"}),
    ("Encounter", "status"): frozenset(
        {
            "planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
            "entered-in-error", "unknown",
        }
    ),
    ("Observation", "status"): frozenset(
        {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
         "entered-in-error", "unknown"}
    ),
    ("Procedure", "status"): frozenset(
        {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
         "entered-in-error", "unknown"}
    ),
    ("MedicationAdministration", "status"): frozenset(
        {"in-progress", "not-done", "on-hold", "completed", "entered-in-error", "stopped",
         "unknown"}
    ),
    ("MedicationStatement", "status"): frozenset(
        {"active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown",
         "not-taken"}
    ),
    ("Composition", "status"): frozenset(
        {"preliminary", "final", "amended", "entered-in-error"}
    ),
}  # fmt: skip
CONDITION_CLINICAL_CODES = frozenset(
    {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}
)
CONDITION_VERIFICATION_CODES = frozenset(
    {"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"}
)
_VALUE_KEYS = (
    "valueQuantity", "valueCodeableConcept", "valueString", "valueBoolean", "valueInteger",
    "valueRange", "valueRatio", "valueSampledData", "valueTime", "valueDateTime", "valuePeriod",
)  # fmt: skip
_UNITS = UNITS


def _codes(concept: Mapping[str, Any] | None, system: str) -> set[str]:
    return {c.get("code") for c in (concept or {}).get("coding", ()) if c.get("system") == system}


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        ref = value.get("reference")
        if isinstance(ref, str):
            yield ref
        for v in value.values():
            yield from _references(v)
    elif isinstance(value, list):
        for v in value:
            yield from _references(v)


def _value_rules(where: str, element: Mapping[str, Any]) -> list[str]:
    values = [k for k in _VALUE_KEYS if k in element]
    problems = []
    if values and "dataAbsentReason" in element:
        problems.append(f"{where}: has {values[0]} and dataAbsentReason (obs-6)")
    quantity = element.get("valueQuantity")
    if isinstance(quantity, Mapping) and (
        quantity.get("system") != UCUM or not quantity.get("code")
    ):
        problems.append(f"{where}: valueQuantity must carry a UCUM system and code")
    return problems


def _observation(where: str, obs: Mapping[str, Any]) -> list[str]:
    problems = _value_rules(where, obs)
    loinc = _codes(obs.get("code"), LOINC)
    vital = loinc & VITAL_SIGN_LOINC
    for code in loinc:
        unit = _UNITS.get(code)
        quantity = obs.get("valueQuantity")
        if unit and isinstance(quantity, Mapping) and quantity.get("code") != unit:
            problems.append(f"{where}: LOINC {code} is measured in {unit!r}")
    if not vital:
        return problems
    if "vital-signs" not in {
        code for cat in obs.get("category", ()) for code in _codes(cat, OBSERVATION_CATEGORY)
    }:
        problems.append(f"{where}: a vital sign needs the 'vital-signs' category")
    if not obs.get("subject"):
        problems.append(f"{where}: a vital sign needs a subject")
    if not (obs.get("effectiveDateTime") or obs.get("effectivePeriod")):
        problems.append(f"{where}: a vital sign needs an effective time")
    components = obs.get("component", ())
    if not any(k in obs for k in _VALUE_KEYS) and not components and "dataAbsentReason" not in obs:
        problems.append(f"{where}: a vital sign needs a value or a dataAbsentReason (vs-2)")
    seen = set()
    for n, component in enumerate(components):
        cwhere = f"{where}.component[{n}]"
        problems.extend(_value_rules(cwhere, component))
        ccodes = _codes(component.get("code"), LOINC)
        seen |= ccodes
        for code in ccodes:
            q = component.get("valueQuantity")
            if code in _UNITS and isinstance(q, Mapping) and q.get("code") != _UNITS[code]:
                problems.append(f"{cwhere}: LOINC {code} is measured in {_UNITS[code]!r}")
        if not any(k in component for k in _VALUE_KEYS) and "dataAbsentReason" not in component:
            problems.append(f"{cwhere}: needs a value or a dataAbsentReason")
    if BP_PANEL.loinc in vital:
        for component_code in (c.loinc for c in BP_COMPONENTS.values()):
            if component_code not in seen:
                problems.append(f"{where}: the BP panel needs component {component_code}")
    # The vital-signs profile's SpO2 is 2708-6; 59408-5 alone is not found by profile searches.
    if "59408-5" in vital and "2708-6" not in vital:
        problems.append(f"{where}: SpO2 needs LOINC 2708-6 beside 59408-5 (vital-signs profile)")
    return problems


def _encounter(where: str, encounter: Mapping[str, Any]) -> list[str]:
    klass = encounter.get("class") or {}
    if klass.get("system") != ACT_CODE:
        return [f"{where}.class must be coded in {ACT_CODE}"]
    return []


def problems(bundle: Mapping[str, Any]) -> list[str]:
    """Every rule the bundle breaks; empty when it conforms."""
    found: list[str] = []
    if bundle.get("type") not in REQUIRED_CODES[("Bundle", "type")]:
        found.append(f"Bundle.type {bundle.get('type')!r} is not in the bundle-type value set")
    entries = bundle.get("entry", ())
    full_urls = {e.get("fullUrl") for e in entries}
    for n, entry in enumerate(entries):
        resource = entry.get("resource", {})
        kind = resource.get("resourceType", "?")
        where = f"entry[{n}] {kind}"
        for (rtype, element), allowed in REQUIRED_CODES.items():
            if rtype == kind and element in resource and resource[element] not in allowed:
                found.append(f"{where}.{element} {resource[element]!r} is not in its value set")
        if kind == "Observation":
            found.extend(_observation(where, resource))
        if kind == "Encounter":
            found.extend(_encounter(where, resource))
        if kind == "Condition":
            clinical = {c.get("code") for c in resource.get("clinicalStatus", {}).get("coding", ())}
            if not clinical <= CONDITION_CLINICAL_CODES or not clinical:
                found.append(f"{where}.clinicalStatus is not in condition-clinical")
            verification = {
                c.get("code") for c in resource.get("verificationStatus", {}).get("coding", ())
            }
            if not verification <= CONDITION_VERIFICATION_CODES:
                found.append(f"{where}.verificationStatus is not in condition-ver-status")
        found.extend(
            f"{where}: reference {ref} does not resolve inside the bundle"
            for ref in _references(resource)
            if ref.startswith("urn:uuid:") and ref not in full_urls
        )
    return found
