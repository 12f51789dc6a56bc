"""Handoff request and response bodies, validated at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from emsync.handoffs.attachments import AttachmentKind
from emsync.handoffs.lifecycle import HandoffStatus

HospitalId = Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="The receiving hospital's id")
Sex = Literal["female", "male", "other", "unknown"]
Avpu = Literal["A", "C", "V", "P", "U"]
# How supplemental oxygen is given (the devices of the JRCALC / BTS oxygen guideline).
O2Device = Literal[
    "nasal_cannula",
    "simple_face_mask",
    "venturi_mask",
    "non_rebreather_mask",
    "high_flow_nasal_cannula",
    "cpap_niv",
    "bag_valve_mask",
    "ventilator",
    "other",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# The telemetry artefact rules' kinds (telemetry/artefacts.py, where SUPPRESSING names the ones
# whose value is not the patient's) as a handoff carries them.
ArtefactKindName = Literal["lead_off", "motion", "probe_off", "damped_line", "flat_line", "anomaly"]


class SignArtefact(_Strict):
    """A value of a monitor-filled set that the telemetry rules flagged as a probable artefact
    (a lead off's heart rate of 0): carried beside the value, shown with it, exported with it."""

    field: Literal["hr", "spo2", "rr", "sbp", "dbp", "temp"]
    kind: ArtefactKindName


class PatientFacts(_Strict):
    """A: who the patient is (name optional: often unknown on scene)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    age_years: int | None = Field(default=None, ge=0, le=120)
    age_band: str | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="e.g. '70-80' when the age is unknown",
    )
    sex: Sex | None = None


class VitalSigns(_Strict):
    """S: one set of vital signs (units as in DESIGN §3.1)."""

    ts: AwareDatetime
    hr: int | None = Field(default=None, ge=0, le=300, description="bpm")
    spo2: int | None = Field(default=None, ge=0, le=100, description="%")
    rr: int | None = Field(default=None, ge=0, le=80, description="/min")
    sbp: int | None = Field(default=None, ge=0, le=300, description="mmHg")
    dbp: int | None = Field(default=None, ge=0, le=250, description="mmHg")
    temp: float | None = Field(default=None, ge=25, le=45, description="°C")
    o2: bool | None = Field(default=None, description="on supplemental oxygen (false: room air)")
    o2_device: O2Device | None = Field(default=None, description="how the oxygen is given")
    o2_flow: float | None = Field(default=None, ge=0, le=80, description="oxygen flow, L/min")
    avpu: Avpu | None = None
    source: Literal["crew", "telemetry"] = Field(
        default="crew",
        description="who recorded the set: the crew, or filled in from the patient's monitor",
    )
    artefacts: list[SignArtefact] | None = Field(
        default=None,
        max_length=12,
        description="values of a monitor-filled set flagged as probable artefacts (never the "
        "crew's); a lead off, motion or probe off value is left out of the handoff's NEWS2",
    )

    @model_validator(mode="after")
    def _checks(self) -> Self:
        for artefact in self.artefacts or ():
            if self.source != "telemetry":
                raise ValueError("artefacts are flagged on sets filled in from the monitor only")
            if getattr(self, artefact.field) is None:
                raise ValueError(f"an artefact is flagged on {artefact.field}, which the set lacks")
        if (self.sbp is None) != (self.dbp is None):
            raise ValueError("sbp and dbp are given together")
        if self.sbp is not None and self.dbp is not None and self.dbp >= self.sbp:
            raise ValueError("dbp must be below sbp")
        if self.o2 is False and (self.o2_device is not None or self.o2_flow):
            raise ValueError("o2 is false (room air) but an oxygen device or flow is given")
        if self.o2 is None and (self.o2_device is not None or self.o2_flow):
            self.o2 = True  # a device or a flow says the patient is on oxygen (NEWS2 scores it)
        return self


class Treatment(_Strict):
    """T: one treatment given: a procedure (splint, IV access) or a medication."""

    kind: Literal["procedure", "medication"]
    name: str = Field(min_length=1, max_length=200)
    at: AwareDatetime | None = None
    dose_value: float | None = Field(default=None, gt=0, le=100_000)
    dose_unit: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9/\[\]%.{}]{1,20}$", description="UCUM, e.g. mg, ug, mL"
    )
    route: str | None = Field(default=None, min_length=1, max_length=50)
    response: str | None = Field(
        default=None, min_length=1, max_length=500, description="the patient's response to it"
    )

    @model_validator(mode="after")
    def _dose(self) -> Self:
        if (self.dose_value is None) != (self.dose_unit is None):
            raise ValueError("dose_value and dose_unit are given together")
        if self.kind == "procedure" and self.dose_value is not None:
            raise ValueError("a procedure has no dose")
        return self


# The incident's clinical findings as the handoff carries them (the words of incidents'
# ClinicalFindings: the handoff is its own wire format, read by hospitals that never see the
# incident).
BeFastSign = Literal["balance", "eyes", "face", "arm", "speech"]
EcgFinding = Literal["stemi", "stemi_equivalent", "non_diagnostic", "normal"]
SuspectedCondition = Literal["stroke", "stemi", "major_trauma", "trauma", "burns"]


class Assessment(_Strict):
    """What the dispatcher or crew found and decided on the incident (BE-FAST, ECG, GCS motor,
    mechanism of injury, the condition set by hand): what the destination was chosen for, so the
    ED reads it too. Copied from the incident when the draft is made or refreshed."""

    befast: list[BeFastSign] = Field(
        default_factory=list, max_length=5, description="positive BE-FAST signs"
    )
    ecg: EcgFinding | None = Field(default=None, description="12-lead ECG finding")
    gcs_motor: int | None = Field(default=None, ge=1, le=6, description="GCS motor score")
    injury_mechanism: str | None = Field(default=None, min_length=1, max_length=1000)
    conditions: list[SuspectedCondition] | None = Field(
        default=None,
        max_length=5,
        description="the condition set by hand ([] none); null: left to the destination rules",
    )

    def is_empty(self) -> bool:
        return (
            not self.befast
            and self.ecg is None
            and self.gcs_motor is None
            and (self.injury_mechanism is None and self.conditions is None)
        )


class AtmistRecord(_Strict):
    """The ATMIST pre-alert. A draft may leave fields empty; sending checks atmist.py's rules."""

    patient: PatientFacts = Field(default_factory=PatientFacts)
    time_of_onset: AwareDatetime | None = None
    onset_unknown: bool = False
    mechanism: str | None = Field(
        default=None, min_length=1, max_length=1000, description="M: mechanism or complaint"
    )
    injuries: list[str] | None = Field(
        default=None, max_length=50, description="I: injuries or illness found"
    )
    signs: list[VitalSigns] = Field(default_factory=list, max_length=200)
    treatment: list[Treatment] | None = Field(
        default=None, max_length=100, description="T: treatment given; [] states none"
    )
    allergies: list[str] | None = Field(
        default=None,
        max_length=50,
        description="known allergies (substance, and reaction if known); [] states none known",
    )
    notes: str | None = Field(default=None, max_length=4000)
    assessment: Assessment | None = Field(
        default=None, description="the incident's clinical findings (BE-FAST, ECG, GCS motor)"
    )

    @model_validator(mode="after")
    def _checks(self) -> Self:
        for name, items in (("injuries", self.injuries), ("allergies", self.allergies)):
            for n, item in enumerate(items or ()):
                if not item.strip() or len(item) > 500:
                    raise ValueError(f"{name}[{n}] must be 1 to 500 characters")
        return self


class HandoffCreate(_Strict):
    incident_id: str = Field(min_length=1, max_length=36)
    patient_id: str | None = Field(default=None, min_length=1, max_length=36)
    unit_id: str | None = Field(default=None, min_length=1, max_length=64)
    hospital_id: str = HospitalId
    eta: AwareDatetime | None = None
    acuity: int | None = Field(default=None, ge=1, le=5, description="KTAS 1-5")
    news2: int | None = Field(default=None, ge=0, le=20)
    crew: list[str] = Field(default_factory=list, max_length=10)
    content: AtmistRecord = Field(default_factory=AtmistRecord)


class HandoffDraftEdit(_Strict):
    """Replaces parts of a draft; after sending, changes are appended as updates instead."""

    unit_id: str | None = Field(default=None, min_length=1, max_length=64)
    eta: AwareDatetime | None = None
    acuity: int | None = Field(default=None, ge=1, le=5)
    news2: int | None = Field(default=None, ge=0, le=20)
    crew: list[str] | None = Field(default=None, max_length=10)
    content: AtmistRecord | None = None


class DraftRequest(_Strict):
    """The bridge: ids of what exists; the hub pulls the rest and drafts the handoff."""

    incident_id: str = Field(min_length=1, max_length=36)
    patient_id: str | None = Field(default=None, min_length=1, max_length=36)
    unit_id: str | None = Field(default=None, min_length=1, max_length=64)
    hospital_id: str = HospitalId
    eta: AwareDatetime | None = None


class UpdateCreate(_Strict):
    """Something new while en route: vitals, a new ETA, findings, treatment, a note."""

    kind: Literal["vitals", "eta", "findings", "treatment", "note"]
    vitals: VitalSigns | None = None
    eta: AwareDatetime | None = None
    findings: list[str] | None = Field(default=None, min_length=1, max_length=20)
    treatment: Treatment | None = None
    note: str | None = Field(default=None, min_length=1, max_length=4000)

    @model_validator(mode="after")
    def _matches_kind(self) -> Self:
        given = {
            name
            for name in ("vitals", "eta", "findings", "treatment", "note")
            if getattr(self, name) is not None
        }
        if given != {self.kind}:
            raise ValueError(
                f"an update of kind {self.kind!r} carries exactly the field {self.kind!r}"
            )
        return self


class StatusChange(_Strict):
    status: HandoffStatus
    reason: str | None = Field(default=None, max_length=500)


class Redirect(_Strict):
    hospital_id: str = HospitalId
    eta: AwareDatetime | None = None
    reason: str | None = Field(default=None, max_length=500)


class FeedAck(_Strict):
    hospital_id: str = HospitalId
    client_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    seq: int = Field(ge=0, le=2**62)


class UpdateRead(BaseModel):
    seq: int
    kind: str
    at: datetime
    actor: str
    status_from: str | None = None
    status_to: str | None = None
    data: dict[str, Any] | None = None


class AttachmentRead(BaseModel):
    id: str
    kind: AttachmentKind
    media_type: str
    size: int
    name: str | None
    created_at: datetime


class NoteRead(BaseModel):
    text: str
    at: datetime | None = Field(
        default=None, description="when an update added it; None: written in the handoff itself"
    )


class HandoffNews2Read(BaseModel):
    """NEWS2 (RCP 2017) of one recorded vital-sign set, computed by EMsync."""

    total: int
    band: str
    subscores: dict[str, int]
    assumed: list[str] = Field(
        description="fields the set did not record and NEWS2 took as normal: o2 (air), avpu (A)"
    )
    carried: list[str] = Field(
        default_factory=list,
        description="fields the set did not record, taken from an earlier set (within 15 min)",
    )
    ts: datetime = Field(description="the vital-sign set's time")
    source: str


class ClinicalPicture(BaseModel):
    """Everything recorded for the patient so far: the handoff merged with its updates, in time
    order. The hospital view and the FHIR export read this one merge."""

    signs: list[VitalSigns]
    latest_signs: VitalSigns | None = Field(description="the newest set, crew's or monitor's")
    injuries: list[str]
    treatment: list[Treatment] | None = Field(description="None: not recorded; []: none given")
    allergies: list[str] | None = Field(description="None: not recorded; []: none known")
    notes: list[NoteRead]
    assessment: Assessment | None = Field(description="BE-FAST, ECG, GCS motor, condition")
    news2: HandoffNews2Read | None = Field(description="of the newest set that allows NEWS2")


class HandoffRead(BaseModel):
    """`content` is None when the caller may see only the routing metadata."""

    id: str
    status: HandoffStatus
    incident_id: str
    patient_id: str | None
    unit_id: str | None
    hospital_id: str
    acuity: int | None
    eta: datetime | None
    key_version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    acknowledged_at: datetime | None
    sealed: bool
    news2: int | None = None
    crew: list[str] | None = None
    content: AtmistRecord | None = None
    trends: dict[str, str] | None = None
    picture: ClinicalPicture | None = None
    problems: list[dict[str, str]] | None = Field(
        default=None, description="ATMIST rules a draft still breaks before it can be sent"
    )
    updates: list[UpdateRead] | None = None
    attachments: list[AttachmentRead] | None = None


class FeedEntryRead(BaseModel):
    seq: int
    kind: str
    handoff_id: str
    update_seq: int
    at: datetime
    meta: dict[str, Any]
    withdrawn: bool = False
    handoff: HandoffRead | None = None
    update: UpdateRead | None = None


class FeedPage(BaseModel):
    hospital_id: str
    entries: list[FeedEntryRead]
    last_seq: int


class HospitalKeyRead(BaseModel):
    hospital_id: str
    version: int
    public_key: str = Field(description="raw X25519 public key, base64")
    active: bool
    created_at: datetime
