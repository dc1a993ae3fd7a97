"""Periodic jobs, run by whichever Kindred process holds the scheduler lease.

The composition root builds ``KindredScheduler(storage, settings.scheduler, default_jobs(...))``; features
register their own jobs (``compression_job``, ``crystal_formation_job``) before or after ``start()``.
"""

from bot.scheduler.jobs import (
    CACHE_CLEANUP,
    COMPRESSION,
    CRYSTAL_FORMATION,
    REFLECTION_SWEEP,
    cache_cleanup,
    compression_job,
    crystal_formation_job,
    default_jobs,
    reflection_sweep,
)
from bot.scheduler.lease import CacheLease, Lease, SqlLease, make_lease
from bot.scheduler.runner import JobStatus, KindredScheduler, ScheduledJob

__all__ = [
    "CACHE_CLEANUP",
    "COMPRESSION",
    "CRYSTAL_FORMATION",
    "REFLECTION_SWEEP",
    "CacheLease",
    "JobStatus",
    "KindredScheduler",
    "Lease",
    "ScheduledJob",
    "SqlLease",
    "cache_cleanup",
    "compression_job",
    "crystal_formation_job",
    "default_jobs",
    "make_lease",
    "reflection_sweep",
]
