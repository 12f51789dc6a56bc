"""Settings section of emergency management."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class EmergencySettings(BaseModel):
    cap_sender: str = Field(
        default="emsync@localhost",
        pattern=r"^[^\s,<&]+$",
        description="CAP `<sender>` of public alerts (e.g. alerts@region.example); no spaces",
    )
    cap_sender_name: str = Field(
        default="EMsync", max_length=120, description="CAP `<senderName>` shown to the public"
    )
    cap_signing_key_file: Path | None = Field(
        default=None, description="PEM private key: public alerts are XML-DSig signed"
    )
    cap_signing_cert_file: Path | None = Field(
        default=None, description="PEM certificate embedded in signed alerts (with the key)"
    )
    hazard_fetch_timeout_seconds: float = Field(
        default=15.0, gt=0, le=300, description="HTTP timeout reading a hazard feed"
    )
    hazard_max_bytes: int = Field(
        default=10_000_000, ge=1024, description="a hazard feed larger than this is refused"
    )
    hazard_file_dir: Path | None = Field(
        default=None,
        description=(
            "file:// hazard feeds are read only from under this directory (none: file feeds"
            " are refused, so an account that may add feeds cannot read the server's files)"
        ),
    )
