"""Derived reconciliation state kept next to the scan log (tables of migration 0002).

``PackageState`` is a cache of what the scan log says about one package (first
receipt per level, first dispatch, last sighting), written by ingest so that
progress for a regency never aggregates the scan log.  ``DeadlineSweep``
remembers which deadlines the ``missing`` sweep has judged.  Both can be
rebuilt from the scan log and the plan; neither is evidence.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from server.models import Base

# Levels whose first receipt time PackageState keeps, as columns "<level>_at".
STATE_LEVELS = ("province", "regency", "district", "village", "tps")
STATE_COLUMNS = tuple(f"{level}_at" for level in STATE_LEVELS) + (
    "dispatched_at", "last_location_id", "last_scanned_at")


class PackageState(Base):
    """What the scan log says about one package, by device time."""

    __tablename__ = "package_states"

    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"), primary_key=True)
    province_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    regency_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    district_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    village_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    tps_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    last_scanned_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class DeadlineSweep(Base):
    """The last time the missing sweep judged one deadline row, and for which plan size."""

    __tablename__ = "deadline_sweeps"

    deadline_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deadline: Mapped[dt.datetime] = mapped_column(DateTime)
    max_package_id: Mapped[int] = mapped_column(Integer)
    max_scan_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    swept_at: Mapped[dt.datetime] = mapped_column(DateTime)
