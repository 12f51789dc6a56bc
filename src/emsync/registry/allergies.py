"""Allergy conflicts of a medication: the same substance, or a drug class both belong to (an
allergy may also be recorded to a class itself: "penicillins"). Pure: the class table is data
(data/drug_classes.json, which states its source)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

_SPACES = re.compile(r"\s+")
# Free text as a crew writes it: "Penicillin (rash)", "latex: hives", "amoxicillin - 500 mg".
_QUALIFIER = re.compile(r"\s*(?:\(|,|;|:|\s[-\u2013]\s).*$")


def normalise_substance(name: str) -> str:
    return _SPACES.sub(" ", name.strip().lower())


@dataclass(frozen=True, slots=True)
class DrugClasses:
    source: str
    by_substance: dict[str, frozenset[str]]
    class_names: frozenset[str]
    cross_reactive: dict[str, frozenset[str]]

    def known(self, name: str) -> bool:
        key = normalise_substance(name)
        return key in self.by_substance or key in self.class_names

    def classes_of(self, name: str) -> frozenset[str]:
        """The classes a substance (or a class name) falls in, with cross-reactive ones."""
        key = normalise_substance(name)
        own = {key} if key in self.class_names else set(self.by_substance.get(key, frozenset()))
        for cls in list(own):
            own |= self.cross_reactive.get(cls, frozenset())
        return frozenset(own)


def load_classes(text: str) -> DrugClasses:
    raw = json.loads(text)
    by_substance: dict[str, set[str]] = {}
    for cls, spec in raw["classes"].items():
        for substance in spec["substances"]:
            by_substance.setdefault(normalise_substance(substance), set()).add(cls)
    cross: dict[str, set[str]] = {}
    for group in raw.get("cross_reactive", []):
        for cls in group:
            cross.setdefault(cls, set()).update(c for c in group if c != cls)
    return DrugClasses(
        source=raw["source"],
        by_substance={k: frozenset(v) for k, v in by_substance.items()},
        class_names=frozenset(raw["classes"]),
        cross_reactive={k: frozenset(v) for k, v in cross.items()},
    )


@dataclass(frozen=True, slots=True)
class RecordedAllergy:
    id: str
    substance: str
    severity: str | None


@dataclass(frozen=True, slots=True)
class Conflict:
    allergy: RecordedAllergy
    medication: str
    match: Literal["substance", "class"]
    drug_class: str | None


def conflicts(
    medication: str, allergies: Iterable[RecordedAllergy], table: DrugClasses
) -> list[Conflict]:
    wanted = normalise_substance(medication)
    med_classes = table.classes_of(wanted)
    found: list[Conflict] = []
    for allergy in allergies:
        if normalise_substance(allergy.substance) == wanted:
            found.append(Conflict(allergy, medication, "substance", None))
            continue
        shared = sorted(med_classes & table.classes_of(allergy.substance))
        if shared:
            found.append(Conflict(allergy, medication, "class", shared[0]))
    return found


def substance_of(text: str, table: DrugClasses) -> str:
    """The substance a free-text allergy or treatment names: the text before any qualifier,
    or its longest leading words that the class table knows ("paracetamol iv" -> "paracetamol");
    unknown text is kept whole (it still matches the same text exactly)."""
    name = normalise_substance(_QUALIFIER.sub("", text))
    if table.known(name):
        return name
    words = name.split()
    for n in range(len(words) - 1, 0, -1):
        if table.known(" ".join(words[:n])):
            return " ".join(words[:n])
    return name
