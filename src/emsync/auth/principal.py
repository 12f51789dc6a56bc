"""Who is making a request: a user (JWT) or a machine (API key)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from emsync.auth.permissions import Perm, Role, allows


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    name: str
    role: Role
    kind: Literal["user", "api_key"]
    hospital_id: str | None = None

    def can(self, perm: Perm) -> bool:
        return allows(self.role, perm)

    @property
    def audit_name(self) -> str:
        return f"{self.kind}:{self.id}"
