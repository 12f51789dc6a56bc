"""Registry shapes in and out: persons, identifiers, match results, reviews, merges."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

Sex = Literal["male", "female", "other", "unknown"]
IdentifierSystem = Literal["national", "mrn", "passport", "other"]
Decision = Literal["created", "exact", "auto", "review"]
_EARLIEST_BIRTH = date(1880, 1, 1)


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    postcode: str | None = Field(default=None, max_length=20)
    state: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=2, pattern=r"^[A-Z]{2}$")


class EmergencyContact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    relation: str | None = Field(default=None, max_length=60)
    phone: str | None = Field(default=None, max_length=40)


class Insurance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payer: str = Field(min_length=1, max_length=200)
    member_id: str | None = Field(default=None, max_length=80)
    plan: str | None = Field(default=None, max_length=120)


class PersonIdentity(BaseModel):
    """The sealed part of a person: everything that says who they are."""

    model_config = ConfigDict(extra="forbid")
    given_name: str | None = Field(default=None, max_length=100)
    family_name: str | None = Field(default=None, max_length=100)
    aliases: list[str] = Field(default_factory=list, max_length=20)
    birth_date: date | None = None
    birth_date_estimated: bool = False
    gender: str | None = Field(default=None, max_length=60)
    phone: str | None = Field(default=None, max_length=40)
    email: EmailStr | None = None
    address: Address | None = None
    emergency_contacts: list[EmergencyContact] = Field(default_factory=list, max_length=10)
    insurance: list[Insurance] = Field(default_factory=list, max_length=10)
    language: str | None = Field(
        default=None, max_length=35, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
    )
    # For unknown patients: what tells them apart ("tattoo on left forearm").
    description: str | None = Field(default=None, max_length=500)

    @field_validator("birth_date")
    @classmethod
    def _possible_birth_date(cls, value: date | None) -> date | None:
        if value is not None and value < _EARLIEST_BIRTH:
            raise ValueError(f"a date of birth before {_EARLIEST_BIRTH} is not possible")
        return value

    @field_validator("aliases")
    @classmethod
    def _aliases_not_blank(cls, value: list[str]) -> list[str]:
        if any(not a.strip() or len(a) > 200 for a in value):
            raise ValueError("an alias is 1-200 characters")
        return value


class IdentifierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    system: IdentifierSystem
    value: str = Field(min_length=1, max_length=64)
    # The hospital that issued an MRN (required for an MRN: the same number at two hospitals is
    # two different records).
    assigner: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _mrn_has_assigner(self) -> IdentifierIn:
        if self.system == "mrn" and self.assigner is None:
            raise ValueError("an MRN needs the assigner (the hospital id that issued it)")
        return self


class IdentifierRead(BaseModel):
    system: IdentifierSystem
    value: str
    assigner: str | None


class PersonRegistration(PersonIdentity):
    sex: Sex | None = None
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=20)
    # An unknown patient ("Unknown male ~40"): registered in seconds, matched and merged later.
    unknown: bool = False
    estimated_age_years: int | None = Field(default=None, ge=0, le=130)
    # Match against the registry first (exact identifiers, then probabilistic); false: always new.
    match: bool = True


class IdentityUpdate(BaseModel):
    """Replace the identity (a PUT of the sealed part) and optionally sex; identifiers apart."""

    model_config = ConfigDict(extra="forbid")
    identity: PersonIdentity
    sex: Sex | None = None
    version: int = Field(ge=1, description="the version read: a stale write is refused (409)")


class PersonSummary(BaseModel):
    id: str
    display_name: str
    birth_date: date | None
    birth_date_estimated: bool
    sex: Sex | None
    unknown: bool
    merged_into: str | None


class RegisteredPerson(PersonIdentity):
    id: str
    sex: Sex | None
    unknown: bool
    display_name: str
    identifiers: list[IdentifierRead]
    merged_into: str | None
    # Records merged into this one, each as it was registered (a merge loses nothing).
    merged_records: list[PersonSummary] = Field(default_factory=list)
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int


class FieldComparison(BaseModel):
    agree: list[str]
    near: list[str]
    disagree: list[str]
    unknown: list[str]


class CandidateRead(BaseModel):
    person: PersonSummary
    match_weight: float
    match_probability: float
    decision: Literal["link", "review", "distinct"]
    fields: FieldComparison


class RegistrationResult(BaseModel):
    """What registering did: a new person, or the record linked to an existing one."""

    decision: Decision
    person: RegisteredPerson
    # The person the new record belongs to after exact or automatic linking (else None).
    linked_to: str | None = None
    review_id: str | None = None
    candidates: list[CandidateRead] = Field(default_factory=list)


class SearchHit(BaseModel):
    person: PersonSummary
    score: float
    matched_on: list[str]


class ReviewRead(BaseModel):
    id: str
    person: PersonSummary
    candidate: PersonSummary
    match_weight: float
    match_probability: float
    fields: FieldComparison
    status: Literal["open", "merged", "distinct"]
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None


class ReviewDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    same_person: bool
    reason: str = Field(min_length=1, max_length=500)


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    merged_id: str = Field(min_length=1, max_length=36)
    reason: str = Field(min_length=1, max_length=500)


class UnmergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class MergeRead(BaseModel):
    id: str
    survivor_id: str
    merged_id: str
    method: str
    reason: str
    match_weight: float | None
    merged_by: str
    merged_at: datetime
    unmerged_by: str | None
    unmerged_at: datetime | None
    unmerge_reason: str | None


LinkKind = Literal["incident_patient", "handoff", "device_binding", "triage"]


class LinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["incident_patient"] = "incident_patient"
    patient_id: str = Field(min_length=1, max_length=36)
    incident_id: str = Field(min_length=1, max_length=36)


class LinkRead(BaseModel):
    id: str
    person_id: str
    kind: LinkKind
    ref_id: str
    via_patient_id: str | None
    incident_id: str | None
    method: str
    linked_by: str
    linked_at: datetime
