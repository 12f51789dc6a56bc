"""Settings section of handoffs."""

from __future__ import annotations

from pydantic import BaseModel, Field


class HandoffSettings(BaseModel):
    # A handoff the hospital has not acknowledged this long after sending alerts the dispatcher.
    ack_timeout_seconds: float = Field(
        default=120.0, gt=0, description="unacknowledged handoff alerts the dispatcher after this"
    )
    ack_check_interval_seconds: float = Field(
        default=5.0, gt=0, description="how often that check runs"
    )
    attachment_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        le=100 * 1024 * 1024,
        description="largest attachment (ECG, photo) accepted",
    )
    # A 1 Hz monitor must not flood the receiving department with one update a second.
    vitals_update_seconds: float = Field(
        default=60.0,
        ge=0,
        description="at most one monitor vitals update per en-route handoff this often; "
        "0 sends none",
    )
    max_clock_skew_seconds: float = Field(
        default=300,
        ge=0,
        description="times of observations (signs, onset, treatment) later than now plus this "
        "are refused with 422",
    )
