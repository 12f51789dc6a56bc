"""The master patient index as a running app holds it: sealing, the blind index key, the
national-id rule, the matching policy and the linkage model (loaded once, on first use)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from emsync.core.crypto import Keyring, KeyringError
from emsync.core.settings import Settings
from emsync.registry import identity
from emsync.registry.linkage import LinkageModel, Scored
from emsync.registry.matching import Policy
from emsync.registry.schemas import PersonIdentity


@dataclass
class PersonIndex:
    keyring: Keyring
    blind_key: bytes
    national_id_rule: ModuleType | None
    phone_region: str
    policy: Policy
    max_candidates: int
    _model: LinkageModel | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, keyring: Keyring) -> PersonIndex:
        reg = settings.registry
        key_id = reg.blind_index_key_id or min(keyring.keys)
        if key_id not in keyring.keys:
            raise KeyringError(f"registry.blind_index_key_id {key_id} is not in the keyring")
        return cls(
            keyring=keyring,
            blind_key=identity.blind_index_key(keyring.keys[key_id]),
            national_id_rule=identity.identifier_rule(reg.national_id_scheme),
            phone_region=reg.phone_region,
            policy=Policy(
                auto_link_weight=reg.auto_link_weight,
                review_weight=reg.review_weight,
                identifier_overrides_dob=reg.identifier_overrides_dob,
            ),
            max_candidates=reg.max_candidates,
        )

    def blind(self, kind: str, value: str) -> str:
        return identity.blind(self.blind_key, kind, value)

    def seal_identity(self, person_id: str, data: PersonIdentity) -> bytes:
        sealed = self.keyring.seal_text(data.model_dump_json(), aad=f"person:{person_id}:identity")
        assert sealed is not None
        return sealed

    def open_identity(self, person_id: str, sealed: bytes) -> PersonIdentity:
        text = self.keyring.open_text(sealed, aad=f"person:{person_id}:identity")
        return PersonIdentity.model_validate_json(text or "{}")

    def seal(self, value: str, *, aad: str) -> bytes:
        sealed = self.keyring.seal_text(value, aad=aad)
        assert sealed is not None
        return sealed

    def open(self, sealed: bytes, *, aad: str) -> str:
        return self.keyring.open_text(sealed, aad=aad) or ""

    @property
    def model(self) -> LinkageModel:
        if self._model is None:
            self._model = LinkageModel.load()
        return self._model

    async def score(self, record: dict[str, Any], candidates: list[dict[str, Any]]) -> list[Scored]:
        """Off the event loop: splink scores in DuckDB (tens of milliseconds)."""
        return await asyncio.to_thread(self.model.score, record, candidates)
