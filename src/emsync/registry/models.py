"""The person registry's tables. Everything that identifies a person (names, date of birth,
contacts, identifiers' values, clinical entries) is sealed with the master keyring; lookups go
through the keyed blind index, so no table holds a name, phone or identifier in the clear."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from emsync.core.db import Base


class Person(Base):
    __tablename__ = "registry_persons"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Merged persons keep every row; reads follow merged_into to the survivor (unmerge clears it).
    merged_into: Mapped[str | None] = mapped_column(
        ForeignKey("registry_persons.id"), default=None, index=True
    )
    unknown: Mapped[bool] = mapped_column(Boolean, default=False)
    # Administrative sex is not secret on its own (incident patients carry it in the clear).
    sex: Mapped[str | None] = mapped_column(String(10), default=None)
    # Sealed JSON: names, aliases, date of birth, gender, contacts, address, emergency contacts,
    # insurance, language (schemas.PersonIdentity).
    identity_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class PersonIdentifier(Base):
    """National health id, MRN of a hospital, other ids. One value belongs to one person: the
    unique blind index makes concurrent registrations of the same id create one person."""

    __tablename__ = "registry_identifiers"
    __table_args__ = (UniqueConstraint("system", "assigner", "blind", name="uq_registry_ident"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ForeignKey("registry_persons.id", ondelete="CASCADE"), index=True
    )
    system: Mapped[str] = mapped_column(String(20))  # national, mrn, passport, other
    assigner: Mapped[str] = mapped_column(String(64), default="")  # hospital of an MRN
    blind: Mapped[str] = mapped_column(String(32))
    value_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class PersonKey(Base):
    """Blocking keys (date of birth, phonetic names, phone, e-mail) as blind index entries."""

    __tablename__ = "registry_keys"
    __table_args__ = (Index("ix_registry_keys_lookup", "kind", "blind"),)

    person_id: Mapped[str] = mapped_column(
        ForeignKey("registry_persons.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    blind: Mapped[str] = mapped_column(String(32), primary_key=True)


class PersonLink(Base):
    """Something of another domain that is this person: an incident's patient, a handoff, a
    device binding, a triage result. Optional everywhere: care never waits for a link."""

    __tablename__ = "registry_links"
    __table_args__ = (UniqueConstraint("kind", "ref_id", name="uq_registry_link_ref"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ForeignKey("registry_persons.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    ref_id: Mapped[str] = mapped_column(String(80))
    # The incident patient a handoff, binding or triage belongs to (how it reached the person).
    via_patient_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    incident_id: Mapped[str | None] = mapped_column(String(36), default=None)
    method: Mapped[str] = mapped_column(String(12))  # manual, exact, auto, review, follow
    linked_by: Mapped[str] = mapped_column(String(100))
    linked_at: Mapped[datetime]


class MatchReview(Base):
    """A grey-zone pair a person decides: is the newly registered person the candidate?"""

    __tablename__ = "registry_reviews"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ForeignKey("registry_persons.id", ondelete="CASCADE"), index=True
    )
    candidate_id: Mapped[str] = mapped_column(
        ForeignKey("registry_persons.id", ondelete="CASCADE"), index=True
    )
    match_weight: Mapped[float] = mapped_column(Float)
    match_probability: Mapped[float] = mapped_column(Float)
    # Which fields agree, nearly agree or disagree (names of fields, never their values).
    comparison: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), index=True)  # open, merged, distinct
    created_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(100), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class Merge(Base):
    """One merge: the merged person's rows stay where they are, so unmerge restores it exactly."""

    __tablename__ = "registry_merges"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    survivor_id: Mapped[str] = mapped_column(ForeignKey("registry_persons.id"), index=True)
    merged_id: Mapped[str] = mapped_column(ForeignKey("registry_persons.id"), index=True)
    method: Mapped[str] = mapped_column(String(12))  # manual, exact, auto, review
    reason: Mapped[str] = mapped_column(String(500))
    match_weight: Mapped[float | None] = mapped_column(Float, default=None)
    merged_by: Mapped[str] = mapped_column(String(100))
    merged_at: Mapped[datetime]
    unmerged_by: Mapped[str | None] = mapped_column(String(100), default=None)
    unmerged_at: Mapped[datetime | None] = mapped_column(default=None)
    unmerge_reason: Mapped[str | None] = mapped_column(String(500), default=None)


class ClinicalEntry(Base):
    """An allergy, medication, problem, encounter, observation reference, document or device
    report. The content is sealed; kind, status, source and who/when are not."""

    __tablename__ = "registry_entries"
    __table_args__ = (
        Index("ix_registry_entries_person", "person_id", "kind", "recorded_at"),
        UniqueConstraint("person_id", "source_key", name="uq_registry_entry_source"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ForeignKey("registry_persons.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))  # crew, monitor, hospital, import, clinician
    # What the entry came from, for idempotency (a FHIR resource, a handoff): unique per person.
    source_key: Mapped[str | None] = mapped_column(String(200), default=None)
    content_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    occurred_at: Mapped[datetime | None] = mapped_column(default=None)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime]
