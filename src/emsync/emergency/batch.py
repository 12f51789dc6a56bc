"""A unit of work for imports: the use cases it runs commit as flushes, and `finish` commits
them all at once (events published after that one commit), so an import is all or nothing."""

from __future__ import annotations

from emsync.core.uow import UnitOfWork


class BatchUnitOfWork(UnitOfWork):
    async def commit(self) -> None:
        await self.session.flush()

    async def finish(self) -> None:
        await UnitOfWork.commit(self)
