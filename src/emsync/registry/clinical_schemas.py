"""Clinical record shapes: one entry kind each, a discriminated union on `kind`, and the chart."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from emsync.registry.schemas import LinkRead, RegisteredPerson

Source = Literal["crew", "monitor", "hospital", "import", "clinician"]
_Name = Field(min_length=1, max_length=200)
_Note = Field(default=None, max_length=2000)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Source = "clinician"
    occurred_at: datetime | None = None
    note: str | None = _Note


class AllergyIn(_Entry):
    kind: Literal["allergy"] = "allergy"
    substance: str = _Name
    # Optional coded substance (SNOMED CT or RxNorm), kept as given.
    code: str | None = Field(default=None, max_length=40)
    category: Literal["medication", "food", "environment", "biologic"] = "medication"
    reaction: str | None = Field(default=None, max_length=200)
    severity: Literal["mild", "moderate", "severe"] | None = None
    status: Literal["active", "inactive", "resolved"] = "active"


class MedicationIn(_Entry):
    kind: Literal["medication"] = "medication"
    substance: str = _Name
    dose: str | None = Field(default=None, max_length=80)
    route: str | None = Field(default=None, max_length=40)
    frequency: str | None = Field(default=None, max_length=80)
    status: Literal["active", "completed", "stopped", "given"] = "active"
    # Recording despite an allergy conflict needs a reason (the conflict is still returned).
    override_reason: str | None = Field(default=None, min_length=1, max_length=500)


class ProblemIn(_Entry):
    kind: Literal["problem"] = "problem"
    condition: str = _Name
    code: str | None = Field(default=None, max_length=40)  # ICD-10 or SNOMED CT
    onset: date | None = None
    status: Literal["active", "resolved", "inactive"] = "active"


class EncounterIn(_Entry):
    kind: Literal["encounter"] = "encounter"
    encounter_class: Literal["ambulance", "emergency", "inpatient", "outpatient"] = "emergency"
    facility: str | None = Field(default=None, max_length=200)
    incident_id: str | None = Field(default=None, max_length=36)
    reason: str | None = Field(default=None, max_length=500)
    symptoms: str | None = Field(default=None, max_length=2000)
    diagnosis: str | None = Field(default=None, max_length=500)
    treatment: str | None = Field(default=None, max_length=2000)
    ended_at: datetime | None = None
    status: Literal["planned", "in-progress", "finished"] = "finished"


class ObservationIn(_Entry):
    """A measurement: either a value (LOINC code, UCUM unit) or a reference to where the values
    live (a patient's vitals in telemetry, a handoff), which are never copied here."""

    kind: Literal["observation"] = "observation"
    code: str | None = Field(default=None, max_length=20, pattern=r"^[0-9]{1,7}-[0-9]$")
    display: str | None = Field(default=None, max_length=200)
    value: float | None = None
    unit: str | None = Field(default=None, max_length=20)
    ref_kind: Literal["vitals", "handoff", "triage"] | None = None
    ref_id: str | None = Field(default=None, max_length=80)
    status: Literal["final", "preliminary", "amended"] = "final"


class DocumentIn(_Entry):
    kind: Literal["document"] = "document"
    title: str = _Name
    content_type: str = Field(default="text/plain", max_length=100)
    text: str | None = Field(default=None, max_length=20_000)
    url: str | None = Field(default=None, max_length=2000)
    status: Literal["current", "superseded", "entered-in-error"] = "current"


class DeviceReportIn(_Entry):
    kind: Literal["device_report"] = "device_report"
    device_id: str = Field(min_length=1, max_length=64)
    summary: str = Field(min_length=1, max_length=2000)
    status: Literal["final", "preliminary"] = "final"


EntryIn = Annotated[
    AllergyIn
    | MedicationIn
    | ProblemIn
    | EncounterIn
    | ObservationIn
    | DocumentIn
    | DeviceReportIn,
    Field(discriminator="kind"),
]
EntryKind = Literal[
    "allergy", "medication", "problem", "encounter", "observation", "document", "device_report"
]


class EntryRead(BaseModel):
    id: str
    person_id: str
    kind: EntryKind
    status: str
    source: Source
    recorded_by: str
    recorded_at: datetime
    occurred_at: datetime | None
    content: EntryIn


class AllergyConflict(BaseModel):
    allergy_id: str
    allergy_substance: str
    medication_substance: str
    # Same substance, or the class both belong to (drug_classes.json names its source).
    match: Literal["substance", "class"]
    drug_class: str | None
    severity: str | None


class EntryResult(BaseModel):
    entry: EntryRead
    conflicts: list[AllergyConflict] = Field(default_factory=list)


class MedicationCheck(BaseModel):
    substance: str
    conflicts: list[AllergyConflict]


class MedicationConflict(BaseModel):
    """A medication the crew recorded against an allergy: the handoff's own allergy list, or
    the person's record in the registry."""

    medication: str
    allergy: str
    source: Literal["handoff", "record"]
    match: Literal["substance", "class"]
    drug_class: str | None
    severity: str | None = None
    allergy_id: str | None = Field(default=None, description="the record's entry, when from it")


class HandoffMedicationCheck(BaseModel):
    handoff_id: str
    person_id: str | None = Field(description="the registry person the handoff's patient is")
    record_checked: bool = Field(
        description="false: no linked person, or the caller may not read the registry"
    )
    conflicts: list[MedicationConflict]
    class_table_source: str


class VitalsRef(BaseModel):
    """Where the vitals of a linked incident patient are read (telemetry keeps them)."""

    patient_id: str
    incident_id: str | None
    href: str


class TimelineItem(BaseModel):
    at: datetime
    kind: str
    title: str
    ref_id: str | None
    source: str


class Chart(BaseModel):
    person: RegisteredPerson
    allergies: list[EntryRead]
    medications: list[EntryRead]
    problems: list[EntryRead]
    encounters: list[EntryRead]
    observations: list[EntryRead]
    documents: list[EntryRead]
    device_reports: list[EntryRead]
    links: list[LinkRead]
    vitals: list[VitalsRef]
    timeline: list[TimelineItem]
