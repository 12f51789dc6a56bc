"""What the patient needs from a hospital, from the clinical picture, with reasons (pure).

Trauma follows the 2021 National Guideline for the Field Triage of Injured Patients (American
College of Surgeons Committee on Trauma with the CDC, Newgard et al., J Trauma Acute Care Surg
2023;94:S1-S11):

* RED criteria (injury patterns; mental status and vital signs) → the highest-level trauma
  centre available: `Capability.TRAUMA_CENTRE` (level 1-2).
* YELLOW criteria (mechanism of injury; EMS judgment) → a trauma centre, which "need not be the
  highest-level": `Capability.TRAUMA_CENTRE_ANY` (level 1-4).

Stroke by BE-FAST (Balance, Eyes, Face, Arm, Speech, Time; Aroor et al., Stroke 2017): any
positive sign → stroke centre. STEMI by the 12-lead ECG finding (a STEMI or a STEMI equivalent)
→ PCI; chest pain without an ECG is a question, not a PCI requirement. Burns by the complaint;
under 16 → paediatric care.

The text rules read what a call-taker or crew writes (the complaint, the mechanism, the injuries
found): they are deliberately literal, and what they cannot decide (a "car crash" without its
details) comes back as a question to ask, not as a guess. A condition set by the dispatcher or
crew overrides the rules; the rules' reasons are still returned, marked as overridden.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from emsync.hospitals.destination import (
    CONDITION_NEEDS,
    PAEDIATRIC_UNDER_YEARS,
    Capability,
    Condition,
    conditions_from_complaint,
)

__all__ = [
    "BeFastSign",
    "ClinicalPicture",
    "EcgFinding",
    "Need",
    "Needs",
    "assess_needs",
]

GUIDELINE = "CDC/ACS 2021 field triage"
FALL_HEIGHT_M = 3.0  # "fall from height > 10 feet (all ages)"
FEET_PER_M = 3.2808


class BeFastSign(StrEnum):
    BALANCE = "balance"
    EYES = "eyes"
    FACE = "face"
    ARM = "arm"
    SPEECH = "speech"


class EcgFinding(StrEnum):
    STEMI = "stemi"
    STEMI_EQUIVALENT = "stemi_equivalent"  # new LBBB meeting Sgarbossa, posterior MI, de Winter
    NON_DIAGNOSTIC = "non_diagnostic"
    NORMAL = "normal"


@dataclass(frozen=True, slots=True)
class ClinicalPicture:
    """What is known of one patient: text as written, and findings when measured."""

    complaint: str = ""
    mechanism: str | None = None
    injuries: tuple[str, ...] = ()
    age_years: int | None = None
    injured: bool = False  # the triage form's "injury" answer
    sbp: float | None = None
    hr: float | None = None
    rr: float | None = None
    spo2: float | None = None
    on_oxygen: bool = False
    consciousness: str | None = None  # A, C (new confusion), V, P, U
    gcs_motor: int | None = None
    befast: frozenset[BeFastSign] = frozenset()
    ecg: EcgFinding | None = None
    set_conditions: frozenset[Condition] | None = None  # the dispatcher's or crew's override


@dataclass(frozen=True, slots=True)
class Need:
    condition: Condition | None  # None: a need of the patient's age, not of a condition
    capability: Capability
    criterion: str  # a stable code, e.g. "red.vitals.sbp", "yellow.mechanism.fall"
    reason: str
    source: str  # the guideline or "set by dispatcher/crew"
    applied: bool = True  # False when an override replaced the rules


@dataclass(frozen=True, slots=True)
class Needs:
    conditions: frozenset[Condition]
    capabilities: frozenset[Capability]
    needs: tuple[Need, ...]
    questions: tuple[str, ...] = field(default=())
    overridden: bool = False


def _rx(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(phrases) + r")", re.IGNORECASE)


_PROXIMAL = (
    r"(?:head|skull|face|neck|throat|chest|thorax|torso|back|abdomen|belly|stomach|flank"
    r"|pelvis|groin|buttock|thigh|upper arm|armpit|axilla|shoulder)"
)
_DISTAL_ONLY = _rx(r"finger", r"thumb", r"toe", r"hand", r"foot", r"feet", r"wrist", r"ankle")
_PENETRATING = _rx(r"gunshot", r"shot\b", r"stab(?:bed|bing)?\b", r"impale", r"penetrating")
_PENETRATING_SITE = re.compile(_PROXIMAL, re.IGNORECASE)

# RED: injury patterns, in the guideline's order.
_RED_PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "red.injury.skull",
        _rx(r"skull (?:fracture|deformity)", r"depressed skull", r"open head (?:injury|wound)"),
        "skull deformity or suspected skull fracture",
    ),
    (
        "red.injury.spine",
        _rx(
            r"spinal (?:cord )?injury with",
            r"paralys",
            r"paraplegi",
            r"tetraplegi",
            r"quadriplegi",
            r"cannot (?:move|feel) (?:his |her |their )?(?:legs|arms)",
            r"can't (?:move|feel) (?:his |her |their )?(?:legs|arms)",
        ),
        "suspected spinal injury with new motor or sensory loss",
    ),
    (
        "red.injury.chest_wall",
        _rx(
            r"flail chest",
            r"chest wall (?:instability|deformity)",
            r"paradoxical (?:chest|breathing)",
        ),
        "chest wall instability, deformity or suspected flail chest",
    ),
    (
        "red.injury.pelvis",
        _rx(
            r"pelvic (?:fracture|instability|injury)",
            r"(?:fractured|broken) pelvis",
            r"pelvis fracture",
        ),
        "suspected pelvic fracture",
    ),
    (
        "red.injury.extremity",
        _rx(
            r"crush(?:ed)? (?:arm|leg|limb|extremity)",
            r"deglov",
            r"mangled",
            r"pulseless (?:arm|leg|limb|extremity)",
        ),
        "crushed, degloved, mangled or pulseless extremity",
    ),
    (
        "red.injury.bleeding",
        _rx(
            r"tourniquet",
            r"wound packing",
            r"packed (?:the )?wound",
            r"uncontrolled (?:bleeding|ha?emorrhage)",
            r"catastrophic (?:bleeding|ha?emorrhage)",
        ),
        "active bleeding requiring a tourniquet or wound packing",
    ),
)
_AMPUTATION = _rx(r"amputat", r"severed (?:arm|leg|limb)")
_PROXIMAL_LONG_BONE = re.compile(
    r"\b(femur|femurs|femoral|thigh|thighs|humerus|humeri|humeral|upper arms?)\b", re.IGNORECASE
)
_FRACTURE = _rx(r"fractur", r"broken", r"deformed", r"deformity")
_BOTH = _rx(r"both", r"bilateral", r"two")
_RESP_SUPPORT = _rx(
    r"respiratory distress",
    r"intubat",
    r"bag[- ]valve",
    r"\bbvm\b",
    r"ventilat",
    r"struggling to breathe",
    r"airway compromise",
)

# YELLOW: mechanism of injury.
_YELLOW_MECHANISM: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "yellow.mechanism.crash_ejection",
        _rx(r"ejected", r"ejection"),
        "high-risk auto crash: partial or complete ejection",
    ),
    (
        "yellow.mechanism.crash_intrusion",
        _rx(r"intrusion", r"roof (?:crushed|collapsed|caved)"),
        "high-risk auto crash: significant intrusion "
        "(> 30 cm at the occupant's site, > 45 cm any site)",
    ),
    (
        "yellow.mechanism.crash_entrapment",
        _rx(r"trapped", r"entrap", r"extricat", r"pinned (?:in|under)", r"cut out of"),
        "high-risk auto crash: extrication needed for an entrapped patient",
    ),
    (
        "yellow.mechanism.crash_death",
        _rx(
            r"death in (?:the )?(?:same )?(?:vehicle|car|passenger compartment)",
            r"(?:fatality|dead|died) in (?:the )?(?:same )?(?:vehicle|car)",
            r"passenger (?:died|dead|killed)",
        ),
        "high-risk auto crash: death in the passenger compartment",
    ),
    (
        "yellow.mechanism.crash_telemetry",
        _rx(r"vehicle telemetry", r"ecall", r"automatic crash notification"),
        "high-risk auto crash: vehicle telemetry consistent with severe injury",
    ),
    (
        "yellow.mechanism.rider",
        _rx(
            r"(?:thrown|fell|ejected|came) (?:off|from) (?:a |the |his |her |their )?"
            r"(?:motorcycle|motorbike|moped|scooter|horse|atv|quad|snowmobile)",
            r"motorcycle (?:crash|collision|accident)",
            r"motorbike (?:crash|collision|accident)",
        ),
        "rider separated from a motorcycle, ATV, horse or similar with significant impact",
    ),
    (
        "yellow.mechanism.pedestrian",
        _rx(
            r"pedestrian (?:struck|hit|thrown|run over|vs)",
            r"(?:hit|struck|run over|knocked down) by (?:a |an |the )?"
            r"(?:car|vehicle|bus|truck|lorry|van|tram|train)",
            r"cyclist (?:struck|hit|thrown|run over)",
            r"bicycle rider (?:struck|hit|thrown|run over)",
        ),
        "pedestrian or bicycle rider thrown, run over or with significant impact",
    ),
)
_CRASH = _rx(
    r"car crash",
    r"car accident",
    r"(?:motor )?vehicle (?:crash|collision|accident)",
    r"\brtc\b",
    r"\bmvc\b",
    r"collision",
)
_UNRESTRAINED = _rx(
    r"unrestrained", r"no (?:seat ?belt|car seat)", r"unsecured (?:child )?(?:car|safety) seat"
)
_FALL = _rx(
    r"fall from",
    r"fell (?:from|off|out of)",
    r"fallen (?:from|off)",
    r"fall off",
    r"jumped from",
)
_FALL_ANY = _rx(r"fall", r"fell", r"fallen", r"slipped", r"tripped")
_HEIGHT = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(m|metres?|meters?|ft|feet|foot|storeys?|stories|floors?)\b",
    re.IGNORECASE,
)
_HIGH_PLACE = _rx(
    r"ladder",
    r"roof",
    r"scaffold",
    r"balcony",
    r"window",
    r"tree",
    r"bridge",
    r"cliff",
    r"height",
    r"stair",
    r"storey",
    r"floor",
    r"wall",
)
_HEAD = _rx(r"head", r"skull", r"scalp", r"face", r"concussion", r"\btbi\b")
_ANTICOAGULANT = _rx(
    r"anticoagul",
    r"blood thinner",
    r"warfarin",
    r"apixaban",
    r"rivaroxaban",
    r"edoxaban",
    r"dabigatran",
    r"\bdoac\b",
    r"heparin",
)
_PREGNANT = _rx(r"pregnan")
_BURN = _rx(r"burns?\b", r"burned", r"burnt", r"scald")
_CHILD_ABUSE = _rx(r"child abuse", r"non[- ]accidental", r"suspected abuse")
_INJURY_WORDS = _rx(
    r"injur",
    r"trauma",
    r"wound",
    r"fractur",
    r"broken",
    r"bleed",
    r"laceration",
    r"crash",
    r"collision",
    r"fall",
    r"fell",
    r"hit by",
    r"struck",
    r"assault",
    r"stab",
    r"shot",
)
_CHEST_PAIN = _rx(r"chest pain", r"chest tightness", r"chest pressure", r"angina")


def _text(p: ClinicalPicture) -> str:
    return " · ".join(t for t in (p.complaint, p.mechanism or "", *p.injuries) if t)


def _fall_height_m(text: str) -> float | None:
    """The height of a fall when the text gives it (metres; a storey counts as 3 m)."""
    match = _HEIGHT.search(text)
    if match is None:
        return None
    value = float(match.group(1).replace(",", "."))
    unit = match.group(2).lower()
    if unit in {"ft", "feet", "foot"}:
        return value / FEET_PER_M
    if unit.startswith(("storey", "stor", "floor")):
        return value * 3.0
    return value


def _trauma_red_injuries(text: str) -> list[tuple[str, str]]:
    found = [(code, why) for code, pattern, why in _RED_PATTERNS if pattern.search(text)]
    if _PENETRATING.search(text) and (
        _PENETRATING_SITE.search(text) or not _DISTAL_ONLY.search(text)
    ):
        found.append(
            (
                "red.injury.penetrating",
                "penetrating injury to the head, neck, torso or proximal extremities",
            )
        )
    if _AMPUTATION.search(text) and not (
        _DISTAL_ONLY.search(text) and not _PROXIMAL_LONG_BONE.search(text)
    ):
        found.append(("red.injury.amputation", "amputation proximal to the wrist or ankle"))
    bones = _PROXIMAL_LONG_BONE.findall(text)
    if _FRACTURE.search(text) and (len(bones) >= 2 or (bones and _BOTH.search(text))):
        found.append(
            ("red.injury.long_bones", "suspected fracture of two or more proximal long bones")
        )
    return found


def _sbp_limit(age: int | None) -> float:
    if age is not None and age <= 9:
        return 70.0 + 2.0 * age
    if age is not None and age >= 65:
        return 110.0
    return 90.0


def _trauma_red_vitals(p: ClinicalPicture, text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if (p.gcs_motor is not None and p.gcs_motor < 6) or (p.consciousness or "").upper() in {
        "P",
        "U",
    }:
        found.append(("red.vitals.commands", "unable to follow commands (motor GCS < 6)"))
    if p.rr is not None and (p.rr < 10 or p.rr > 29):
        found.append(("red.vitals.rr", f"respiratory rate {p.rr:g}/min (< 10 or > 29)"))
    if _RESP_SUPPORT.search(text):
        found.append(("red.vitals.support", "respiratory distress or need for respiratory support"))
    if p.spo2 is not None and not p.on_oxygen and p.spo2 < 90:
        found.append(("red.vitals.spo2", f"room-air SpO2 {p.spo2:g} % (< 90 %)"))
    limit = _sbp_limit(p.age_years)
    if p.sbp is not None and p.sbp < limit:
        band = (
            "age 0-9: < 70 + 2 x age"
            if p.age_years is not None and p.age_years <= 9
            else f"< {limit:g}"
        )
        found.append(("red.vitals.sbp", f"systolic BP {p.sbp:g} mmHg ({band})"))
    elif (
        p.sbp is not None
        and p.hr is not None
        and (p.age_years is None or p.age_years >= 10)
        and p.hr > p.sbp
    ):
        found.append(("red.vitals.shock_index", f"heart rate {p.hr:g} above systolic BP {p.sbp:g}"))
    return found


def _trauma_yellow(p: ClinicalPicture, text: str) -> tuple[list[tuple[str, str]], list[str]]:
    found = [(code, why) for code, pattern, why in _YELLOW_MECHANISM if pattern.search(text)]
    questions: list[str] = []
    child = p.age_years is not None and p.age_years <= 9
    if _CRASH.search(text) and child and _UNRESTRAINED.search(text):
        found.append(
            (
                "yellow.mechanism.crash_child",
                "high-risk auto crash: child (0-9) unrestrained or in an unsecured seat",
            )
        )
    if _CRASH.search(text) and not any(c.startswith("yellow.mechanism.crash") for c, _ in found):
        questions.append(
            "Vehicle crash: ask about ejection, intrusion (> 30 cm at the patient's seat), "
            "entrapment, a death in the vehicle, an unrestrained child (CDC/ACS high-risk crash)."
        )
    fall = _FALL.search(text) or (_FALL_ANY.search(text) and _HIGH_PLACE.search(text))
    if fall:
        height = _fall_height_m(text)
        if height is None and _HIGH_PLACE.search(text):
            found.append(
                (
                    "yellow.mechanism.fall",
                    "fall from height (ladder, roof, balcony…): counts as > 3 m (10 ft) until "
                    "the height is known",
                )
            )
            questions.append("Fall: how high? Under 3 m (10 ft) is not a mechanism criterion.")
        elif height is not None and height > FALL_HEIGHT_M:
            found.append(("yellow.mechanism.fall", f"fall from {height:.1f} m (> 3 m / 10 ft)"))
    older_or_young = p.age_years is not None and (p.age_years <= 5 or p.age_years >= 65)
    if _FALL_ANY.search(text) and _HEAD.search(text) and older_or_young:
        found.append(
            (
                "yellow.judgment.low_fall_head",
                "EMS judgment: fall with head impact at age <= 5 or >= 65",
            )
        )
    if _ANTICOAGULANT.search(text):
        found.append(("yellow.judgment.anticoagulant", "EMS judgment: injured on anticoagulants"))
    if _PREGNANT.search(text):
        found.append(
            ("yellow.judgment.pregnancy", "EMS judgment: injured and pregnant (> 20 weeks)")
        )
    if _BURN.search(text):
        found.append(("yellow.judgment.burns", "EMS judgment: burns with trauma"))
    if _CHILD_ABUSE.search(text):
        found.append(("yellow.judgment.abuse", "EMS judgment: suspected child abuse"))
    return found, questions


def _is_injured(p: ClinicalPicture, text: str, red_injuries: list[tuple[str, str]]) -> bool:
    return p.injured or bool(red_injuries) or bool(_INJURY_WORDS.search(text))


def _rules(p: ClinicalPicture) -> tuple[list[Need], list[str]]:
    text = _text(p)
    needs: list[Need] = []
    questions: list[str] = []
    red = _trauma_red_injuries(text)
    yellow, asked = _trauma_yellow(p, text)
    # Vital signs are criteria only for the injured; a mechanism says the patient is injured.
    if _is_injured(p, text, red) or any(c.startswith("yellow.mechanism") for c, _ in yellow):
        red += _trauma_red_vitals(p, text)
        questions += asked
        for code, why in red:
            needs.append(
                Need(
                    Condition.MAJOR_TRAUMA, Capability.TRAUMA_CENTRE, code, why, f"{GUIDELINE}, red"
                )
            )
        if not red:  # red already sends the patient to the highest level
            for code, why in yellow:
                needs.append(
                    Need(
                        Condition.TRAUMA,
                        Capability.TRAUMA_CENTRE_ANY,
                        code,
                        why,
                        f"{GUIDELINE}, yellow",
                    )
                )
    if p.befast:
        signs = ", ".join(s.value for s in BeFastSign if s in p.befast)
        needs.append(
            Need(
                Condition.STROKE,
                Capability.STROKE_CENTRE,
                "befast",
                f"BE-FAST positive: {signs}",
                "BE-FAST",
            )
        )
    if p.ecg in {EcgFinding.STEMI, EcgFinding.STEMI_EQUIVALENT}:
        what = "STEMI" if p.ecg is EcgFinding.STEMI else "STEMI equivalent"
        needs.append(
            Need(
                Condition.STEMI, Capability.PCI, f"ecg.{p.ecg.value}", f"12-lead ECG: {what}", "ECG"
            )
        )
    elif p.ecg is None and _CHEST_PAIN.search(text):
        questions.append("Chest pain: record a 12-lead ECG (STEMI → PCI centre).")
    for condition in sorted(conditions_from_complaint(text)):
        if condition is Condition.MAJOR_TRAUMA and any(
            n.condition is Condition.MAJOR_TRAUMA for n in needs
        ):
            continue
        if condition is Condition.STROKE and p.befast:
            continue
        if condition is Condition.STEMI and p.ecg is not None:
            continue  # the ECG decides, not the word
        needs.append(
            Need(
                condition,
                CONDITION_NEEDS[condition],
                f"complaint.{condition.value}",
                "the complaint or mechanism names it",
                "complaint",
            )
        )
    return needs, questions


def _paediatric(age: int | None) -> list[Need]:
    if age is None or age >= PAEDIATRIC_UNDER_YEARS:
        return []
    return [
        Need(
            None,
            Capability.PAEDIATRICS,
            "age.child",
            f"age {age}: under {PAEDIATRIC_UNDER_YEARS}",
            "age",
        )
    ]


def _dedupe(needs: Iterable[Need]) -> tuple[Need, ...]:
    seen: set[str] = set()
    out = []
    for n in needs:
        if n.criterion not in seen:
            seen.add(n.criterion)
            out.append(n)
    return tuple(out)


def assess_needs(picture: ClinicalPicture) -> Needs:
    """The conditions suspected, the capabilities they need and why (see the module doc)."""
    rules, questions = _rules(picture)
    if picture.set_conditions is not None:
        chosen = [
            Need(c, CONDITION_NEEDS[c], f"set.{c.value}", "set by the dispatcher or crew", "set")
            for c in sorted(picture.set_conditions)
        ]
        replaced = [
            Need(n.condition, n.capability, n.criterion, n.reason, n.source, applied=False)
            for n in rules
        ]
        needs = _dedupe([*chosen, *_paediatric(picture.age_years), *replaced])
        overridden = True
    else:
        needs = _dedupe([*rules, *_paediatric(picture.age_years)])
        overridden = False
    applied = [n for n in needs if n.applied]
    capabilities = {n.capability for n in applied}
    if Capability.TRAUMA_CENTRE in capabilities:
        capabilities.discard(Capability.TRAUMA_CENTRE_ANY)  # level 1-2 is also a trauma centre
    return Needs(
        conditions=frozenset(n.condition for n in applied if n.condition is not None),
        capabilities=frozenset(capabilities),
        needs=needs,
        questions=tuple(dict.fromkeys(questions)),
        overridden=overridden,
    )
