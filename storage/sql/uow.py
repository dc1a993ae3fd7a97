"""An async unit of work: repositories over one session that rolls back unless committed."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.sql.repositories import ConversationRepo, MemoryRepo, MetaRepo, PeopleRepo
from storage.sql.tiers import TierRepo


class UnitOfWork:
    """``async with UnitOfWork(sessions) as uow: ...; await uow.commit()``."""

    session: AsyncSession

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self.people = PeopleRepo(self.session)
        self.conversations = ConversationRepo(self.session)
        self.memories = MemoryRepo(self.session)
        self.meta = MetaRepo(self.session)
        self.tiers = TierRepo(self.session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # close() rolls back whatever was not committed; unlike rollback() it leaves loaded rows readable.
        await self.session.close()

    async def commit(self) -> None:
        """Make the work durable."""
        await self.session.commit()
