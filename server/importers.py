"""The import commands: planning data from the spreadsheets a regency already keeps.

``jejak-server import-locations|import-packages|import-schedule|import-item-types FILE``
read a CSV or XLSX file (docs/import-format.md), check every row, and either
write all of it in one transaction or nothing: a rejected file exits with
status 2 and lists every bad row as ``line N, column C: what is wrong``.
The checks live in plain functions (``importers_locations``,
``importers_plan``) that the demo, the tests and the label printer reuse.
"""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy.exc import IntegrityError

from .importers_locations import ImportReport, import_locations, read_locations
from .importers_plan import import_item_types, import_packages, import_schedule
from .importers_read import ImportFileError, Problem

__all__ = ["ImportFileError", "ImportRejected", "ImportReport", "Problem", "import_item_types",
           "import_locations", "import_packages", "import_schedule", "read_locations", "run_import"]


class ImportRejected(click.ClickException):
    """A planning file was rejected; exits with status 2 like a usage error."""

    exit_code = 2


def run_import(importer, path) -> ImportReport:
    """Run one importer in its own transaction; commit on success, raise ImportRejected otherwise."""
    from .db import get_db

    with get_db().session() as session:
        try:
            report = importer(session, path)
            session.commit()
        except ImportFileError as exc:
            session.rollback()
            raise ImportRejected(exc.render()) from None
        except IntegrityError as exc:
            # Another import wrote the same codes between our checks and our commit.
            session.rollback()
            raise ImportRejected(f"{path} rejected, nothing imported: the database changed during "
                                 f"the import ({exc.orig}); run it again") from None
    return report


def init_app(app: Flask) -> None:
    """Register the import commands."""
    path_type = click.Path(exists=True, dir_okay=False)

    @app.cli.command("import-locations")
    @click.argument("file", type=path_type)
    def import_locations_command(file):
        """Import locations (code,name,level,parent_code,dapil) from a CSV or XLSX file."""
        click.echo(run_import(import_locations, file).summary())

    @app.cli.command("import-packages")
    @click.argument("file", type=path_type)
    def import_packages_command(file):
        """Import packages (package_id,item_type,quantity,destination,dapil) from CSV or XLSX."""
        click.echo(run_import(import_packages, file).summary())

    @app.cli.command("import-schedule")
    @click.argument("file", type=path_type)
    def import_schedule_command(file):
        """Import deadlines (level,deadline[,region]); no UTC offset means WIB (UTC+7)."""
        click.echo(run_import(import_schedule, file).summary())

    @app.cli.command("import-item-types")
    @click.argument("file", type=path_type)
    def import_item_types_command(file):
        """Add item types (code,name_id,name_en,has_dapil) to the catalogue."""
        click.echo(run_import(import_item_types, file).summary())
