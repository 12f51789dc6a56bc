"""Intake request and response shapes (one schema per payload, shared by REST and the live
channel's `intake.session` summaries)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

HOSPITAL_ID = r"^[A-Za-z0-9._:-]{1,64}$"
AGENT_NAME = r"^[a-z_]{1,30}$"


class Vitals(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hr: float | None = Field(default=None, ge=0, le=300)
    spo2: float | None = Field(default=None, ge=0, le=100)
    rr: float | None = Field(default=None, ge=0, le=100)
    sbp: float | None = Field(default=None, ge=0, le=350)
    dbp: float | None = Field(default=None, ge=0, le=250)
    temp: float | None = Field(default=None, ge=20, le=45)
    on_oxygen: bool | None = None
    consciousness: Literal["A", "C", "V", "P", "U"] | None = None


class Identifier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: str = Field(max_length=20)
    value: str = Field(min_length=1, max_length=64)
    assigner: str | None = Field(default=None, max_length=64)


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    relation: str | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=10)


class Insurance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payer: str = Field(min_length=1, max_length=100)
    member_id: str | None = Field(default=None, max_length=64)
    plan: str | None = Field(default=None, max_length=100)


class PersonFields(BaseModel):
    """What the arriving patient or the paramedic says; admission matches it in the registry
    (field names as intake.agents.arrival reads them)."""

    model_config = ConfigDict(extra="forbid")

    given_name: str | None = Field(default=None, max_length=100)
    family_name: str | None = Field(default=None, max_length=100)
    birth_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    sex: Literal["male", "female", "other", "unknown"] | None = None
    phone: str | None = Field(default=None, max_length=40)
    language: str | None = Field(default=None, max_length=10)
    identifiers: list[Identifier] = Field(default_factory=list, max_length=10)
    emergency_contacts: list[Contact] = Field(default_factory=list, max_length=10)
    insurance: list[Insurance] = Field(default_factory=list, max_length=5)
    unknown: bool | None = None
    estimated_age_years: int | None = Field(default=None, ge=0, le=130)
    description: str | None = Field(default=None, max_length=500)


class FollowUp(BaseModel):
    model_config = ConfigDict(extra="forbid")

    specialty: str = Field(min_length=1, max_length=50)
    within_days: int | None = Field(default=None, ge=0, le=365)
    kind: str | None = Field(default=None, max_length=30)


class SessionStart(BaseModel):
    """A new intake session: the workflow and what is known at the door."""

    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(max_length=30)
    hospital_id: str | None = Field(default=None, pattern=HOSPITAL_ID)
    hospital_name: str | None = Field(default=None, max_length=200)
    jurisdiction: str | None = Field(default=None, max_length=20)
    person: PersonFields | None = None
    age: int | None = Field(default=None, ge=0, le=130)
    sex: Literal["male", "female", "other", "unknown"] | None = None
    chief_complaint: str | None = Field(default=None, max_length=500)
    # Mechanism in plain words ("stabbed with a kitchen knife"): the legal agent's rules.
    mechanism: str | None = Field(default=None, max_length=200)
    flags: list[str] = Field(default_factory=list, max_length=20)
    injury: bool | None = None
    dead_on_arrival: bool | None = None
    # KTAS's arrival modes (triage.ktas.ArrivalMode).
    arrival_mode: (
        Literal["walking", "public_ambulance", "private_vehicle", "private_ambulance", "other"]
        | None
    ) = None
    pain: bool | None = None
    nrs_pain: int | None = Field(default=None, ge=0, le=10)
    vitals: Vitals | None = None
    planned_medications: list[str] = Field(default_factory=list, max_length=30)
    consent: str | None = Field(default=None, max_length=50)
    capacity: str | None = Field(default=None, max_length=50)
    follow_up: FollowUp | None = None
    device_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    patient_id: str | None = Field(default=None, max_length=36)
    handoff_id: str | None = Field(default=None, max_length=36)
    incident_id: str | None = Field(default=None, max_length=36)

    def payload(self) -> dict[str, Any]:
        body = self.model_dump(exclude={"workflow"}, exclude_none=True)
        return {k: v for k, v in body.items() if v != []}


class EmergencyTriage(SessionStart):
    """`POST /emergency/triage`: an `emergency` session (or `emergency_device`)."""

    workflow: str = Field(default="emergency", max_length=30)


class Override(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["skip", "force", "reorder"]
    agent: str | None = Field(default=None, pattern=AGENT_NAME)
    order: list[str] | None = Field(default=None, max_length=8)
    reason: str = Field(min_length=3, max_length=500)

    @model_validator(mode="after")
    def _target(self) -> Override:
        if self.action == "reorder" and not self.order:
            raise ValueError("a reorder needs `order`: the pending steps in their new order")
        if self.action != "reorder" and not self.agent:
            raise ValueError(f"a {self.action} needs `agent`: the step to {self.action}")
        return self


class Completion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)


class DecisionRead(BaseModel):
    rule: str
    version: str
    inputs: dict[str, Any]
    result: str


class StepRead(BaseModel):
    agent: str
    position: int
    clinical: bool
    status: str
    attempts: int
    forced: bool
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None
    output: dict[str, Any] | None = None
    decisions: list[DecisionRead] = Field(default_factory=list)


class OverrideRead(BaseModel):
    action: str
    agent: str | None
    order: list[str] | None
    reason: str
    actor: str
    # The person (or API key) behind `actor`, as the audit view shows it; None when the actor
    # names no account (a deleted user, the system).
    actor_name: str | None = None
    created_at: datetime


class SessionSummary(BaseModel):
    id: str
    workflow: str
    status: str
    hospital_id: str | None
    created_at: datetime
    clinical_done_at: datetime | None
    finished_at: datetime | None
    steps: list[StepRead]


class SessionRead(SessionSummary):
    payload: dict[str, Any]
    overrides: list[OverrideRead]


class AgentLogRead(BaseModel):
    id: int
    session_id: str
    agent: str
    agent_version: str
    attempt: int
    outcome: str
    rules: list[str]
    error: str | None
    started_at: datetime
    duration_ms: float
    inputs: dict[str, Any] | None = None


class AgentHealth(BaseModel):
    agent: str
    clinical: bool
    version: str
    circuit: str
    runs: int
    failures: int
    last_error: str | None


class WorkerHealth(BaseModel):
    """An intake worker process (its DBOS executor id) and its heartbeat; a dead one's runs
    are taken over by a live one (intake.workers)."""

    executor_id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    # Seconds since heartbeat_at by the server's clock: a browser's clock may be off.
    silent_seconds: float
    alive: bool
    # Its unfinished durable runs as of its last heartbeat; 0 once taken over.
    runs_in_flight: int
    taken_over_by: str | None
    taken_over_at: datetime | None
    runs_taken_over: int


class DeviceScan(BaseModel):
    """`POST /devices/scan`: a `device_scan` session for a registered, unrevoked device."""

    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    hospital_id: str | None = Field(default=None, pattern=HOSPITAL_ID)


class EmergencyCheck(BaseModel):
    output: dict[str, Any]
    decisions: list[DecisionRead]


SESSION_ID = r"^[0-9a-f-]{36}$"


class DeviceReport(BaseModel):
    """`POST /devices/{device_id}/reports`: a device's report, filed on the chart of the
    session's person and shown on the session."""

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(pattern=SESSION_ID)
    summary: str = Field(min_length=1, max_length=2000)


class DeviceReportRead(BaseModel):
    id: str
    session_id: str
    person_id: str
    device_id: str
    summary: str
    filed_at: datetime


class DeviceVitals(BaseModel):
    """`GET /devices/{device_id}/vital-signs`: the bound patient's newest vital signs from
    this device's readings, NEWS2 over them, and the device's link and battery."""

    device_id: str
    bound: bool
    patient_id: str | None
    latest: dict[str, Any]
    artefacts: dict[str, str] = Field(
        default_factory=dict,
        description="fields of `latest` the monitor's rules flagged as probable artefacts -> "
        "the kind (lead_off...); NEWS2 leaves out a lead off, motion or probe off value",
    )
    latest_at: str | None
    news2: dict[str, Any] | None
    connectivity: str
    battery_pct: float | None
    battery: str


class AppointmentSchedule(BaseModel):
    """`POST /appointments/schedule`: a follow-up for the session's person, in the earliest
    free slot of `specialty` from `not_before` (default now)."""

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(pattern=SESSION_ID)
    specialty: str = Field(min_length=1, max_length=60)
    reason: str = Field(min_length=1, max_length=200)
    not_before: datetime | None = None
