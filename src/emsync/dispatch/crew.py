"""The crew-qualification port: who may say that a unit has no qualified crew on shift.

Dispatch does not keep rosters. The composition root provides a `CrewCheck` (wrapping the
emergency domain's roster) on the runtime; without one, every unit counts as crewed, as before
rosters existed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class CrewProblems(Protocol):
    async def __call__(
        self, *, session: AsyncSession, units: Sequence[tuple[str, str]], at: datetime
    ) -> Mapping[str, str]:
        """For (unit id, unit type) pairs: the reason each uncrewed unit cannot be sent."""
        ...


@dataclass(frozen=True, slots=True)
class CrewCheck:
    problems: CrewProblems

    async def __call__(
        self, *, session: AsyncSession, units: Sequence[tuple[str, str]], at: datetime
    ) -> Mapping[str, str]:
        return await self.problems(session=session, units=units, at=at)
