"""Telemetry API shapes: devices and keys, vitals, alerts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from emsync.telemetry.aead import Algorithm

DEVICE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class DeviceType(StrEnum):
    MONITOR = "monitor"
    WEARABLE = "wearable"
    AMBULANCE_MONITOR = "ambulance_monitor"
    AMBULANCE_GPS = "ambulance_gps"


class DeviceAlgorithm(StrEnum):
    ASCON_AEAD128 = "ascon-aead128"
    ASCON_128 = "ascon-128"
    AES_256_GCM = "aes-256-gcm"

    @property
    def code(self) -> Algorithm:
        return {
            "ascon-aead128": Algorithm.ASCON_AEAD128,
            "ascon-128": Algorithm.ASCON_128,
            "aes-256-gcm": Algorithm.AES_256_GCM,
        }[self.value]

    @classmethod
    def of(cls, code: int) -> DeviceAlgorithm:
        return {
            Algorithm.ASCON_AEAD128: cls.ASCON_AEAD128,
            Algorithm.ASCON_128: cls.ASCON_128,
            Algorithm.AES_256_GCM: cls.AES_256_GCM,
        }[Algorithm(code)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DeviceCreate(_In):
    id: str = Field(pattern=DEVICE_ID_PATTERN, description="Also the MQTT topic segment")
    type: DeviceType
    label: str | None = Field(default=None, max_length=100)
    algorithm: DeviceAlgorithm = DeviceAlgorithm.ASCON_AEAD128


class DeviceUpdate(_In):
    label: str | None = Field(default=None, max_length=100)


class DeviceBind(_In):
    patient_id: str | None = Field(default=None, min_length=1, max_length=36)
    incident_id: str | None = Field(default=None, min_length=1, max_length=36)
    unit_id: str | None = Field(default=None, min_length=1, max_length=36)
    spo2_scale: Literal[1, 2] = 1

    @model_validator(mode="after")
    def _something_to_bind(self) -> DeviceBind:
        if self.patient_id is None and self.incident_id is None and self.unit_id is None:
            raise ValueError("give at least one of patient_id, incident_id, unit_id")
        return self


class KeyRotate(_In):
    grace_seconds: float | None = Field(
        default=None, ge=0, le=30 * 24 * 3600, description="Old key accepted this long"
    )


class DeviceKeyRead(BaseModel):
    key_id: int
    algorithm: DeviceAlgorithm
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class DeviceRead(BaseModel):
    id: str
    type: DeviceType
    label: str | None
    algorithm: DeviceAlgorithm
    patient_id: str | None
    incident_id: str | None
    unit_id: str | None
    spo2_scale: int
    active_key_id: int | None
    keys: list[DeviceKeyRead]
    created_at: datetime
    bound_at: datetime | None
    last_seen_at: datetime | None
    revoked_at: datetime | None


class ProvisionedKey(BaseModel):
    """The device key in clear: returned once, when it is created. Store it on the device."""

    device_id: str
    key_id: int
    algorithm: DeviceAlgorithm
    algorithm_code: int
    key_hex: str
    topic: str


class DeviceProvisioned(BaseModel):
    device: DeviceRead
    key: ProvisionedKey


class FieldValue(BaseModel):
    value: float | bool | str
    ts: datetime
    artefact: str | None = Field(
        default=None,
        description="The probable artefact this value's reading was flagged with (e.g. lead_off): "
        "shown, and a suppressing kind is scored with the last unflagged value instead",
    )


class News2Read(BaseModel):
    total: int
    band: str
    subscores: list[int]
    assumed: list[str] = Field(description="Parameters not measured, taken as normal")
    ts: datetime


class PewsLiveRead(BaseModel):
    """A child's Bedside PEWS over the monitor's values (capillary refill and work of breathing
    are not measured by a monitor and are listed as such)."""

    scale: str
    total: int
    band: str
    subscores: list[int]
    not_measured: list[str]
    age_group: str
    ts: datetime


class RiskRead(BaseModel):
    """A live score of the shipped deterioration model (an aid beside NEWS2): one schema for
    the latest view, the history and the `risk` message of `vitals:<patient_id>`."""

    patient_id: str
    ts: datetime
    probability: float = Field(description="probability of in-hospital death (ICU-trained)")
    previous: float | None = Field(description="the score about 15 minutes earlier")
    trend: Literal["rising", "falling", "steady", "new"]
    hours_observed: float
    model_version: str


class LatestVitals(BaseModel):
    patient_id: str
    values: dict[str, FieldValue]
    news2: News2Read | None
    pews: PewsLiveRead | None = None
    risk: RiskRead | None = None


class ArtefactRead(BaseModel):
    """A probable artefact in one parameter of a reading: shown as such, never dropped."""

    field: str
    kind: str


class VitalsReading(BaseModel):
    """One reading, as the history returns it and as the live `vitals:<patient_id>` push carries
    it: the same schema on both paths, so the browser needs no reconciling."""

    ts: datetime
    device_id: str
    hr: float | None = None
    spo2: float | None = None
    rr: float | None = None
    sbp: float | None = None
    dbp: float | None = None
    temp: float | None = None
    o2: bool | None = None
    avpu: str | None = None
    news2: int | None = None
    band: str | None = None
    pews: int | None = Field(default=None, description="A child's Bedside PEWS (never NEWS2)")
    artefacts: list[ArtefactRead] = Field(
        default_factory=list,
        description="Probable artefacts in this reading ({field, kind}); shown, never dropped",
    )


# The messages of the `vitals:<patient_id>` WebSocket channel, by message type. They are
# exported into the OpenAPI components (see bootstrap.CHANNELS) for the generated types. Type
# `risk` carries a RiskRead (above), as the latest view and the history return it.


class VitalsPush(BaseModel):
    """Message type `vitals`: a batch of one device's readings for the patient, as stored."""

    patient_id: str
    device_id: str
    readings: list[VitalsReading]


class ReadingArtefacts(BaseModel):
    ts: datetime = Field(description="the reading's time (as in its VitalsReading)")
    artefacts: list[ArtefactRead]


class ArtefactsPush(BaseModel):
    """Message type `artefacts`: readings already pushed that the window judge (flat lines, the
    window model) later found probable artefacts in."""

    patient_id: str
    readings: list[ReadingArtefacts]


class SeriesPoint(BaseModel):
    ts: datetime
    value: float
    n: int = Field(description="Readings averaged into this point")


class VitalsHistory(BaseModel):
    patient_id: str
    start: datetime
    end: datetime
    total: int
    limit: int
    offset: int
    items: list[VitalsReading]
    series: dict[str, list[SeriesPoint]] | None = None
    risk: list[RiskRead] = Field(
        default_factory=list,
        description="the live deterioration scores in [start, end], oldest first (thinned to "
        "`points` when given); none for a child",
    )


class AlertRead(BaseModel):
    id: str
    patient_id: str
    kind: str
    scope: str
    level: str
    status: str
    raised_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    escalation_step: int
    escalated_to: str | None
    news2: int | None = Field(default=None, description="the current NEWS2 (newest reading)")
    pews: int | None = Field(default=None, description="A child's alert: Bedside PEWS total")
    risk: float | None = Field(
        default=None,
        description="A deterioration alert: the model's risk (its peak is in percent)",
    )
    peak: int | None = Field(
        default=None, description="the highest NEWS2 (or PEWS) total since the alert was raised"
    )
    band: str | None = Field(default=None, description="the current score's band")
    peak_band: str | None = None
    scored_at: datetime | None = Field(default=None, description="time of the current score")
    peak_at: datetime | None = None
