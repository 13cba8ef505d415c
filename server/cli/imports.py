"""The import commands: planning data from the spreadsheets a regency already keeps.

``jejak-server import-locations|import-packages|import-schedule|import-item-types FILE``
read a CSV or XLSX file (docs/import-format.md), check every row, and either
write all of it in one transaction or nothing: a rejected file exits with
status 2 and lists every bad row as ``line N, column C: what is wrong``.
The checks live in plain functions (``server.importers.locations``,
``server.importers.plan``) that the demo, the tests and the label printer reuse.
"""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy.exc import IntegrityError

from server.db import get_db
from server.importers.locations import ImportReport, import_locations, read_locations
from server.importers.plan import import_item_types, import_packages, import_schedule
from server.importers.read import ImportFileError, Problem

__all__ = ["ImportFileError", "ImportRejected", "ImportReport", "Problem", "import_item_types",
           "import_locations", "import_packages", "import_schedule", "read_locations", "run_import"]


class ImportRejected(click.ClickException):
    """A planning file was rejected; exits with status 2 like a usage error."""

    exit_code = 2


def run_import(importer, path) -> ImportReport:
    """Run one importer in its own transaction; commit on success, raise ImportRejected otherwise."""
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


IMPORT_COMMANDS = (
    ("import-locations", import_locations,
     "Import locations (code,name,level,parent_code,dapil) from a CSV or XLSX file."),
    ("import-packages", import_packages,
     "Import packages (package_id,item_type,quantity,destination,dapil) from CSV or XLSX."),
    ("import-schedule", import_schedule,
     "Import deadlines (level,deadline[,region]); no UTC offset means WIB (UTC+7)."),
    ("import-item-types", import_item_types,
     "Add item types (code,name_id,name_en,has_dapil) to the catalogue."),
)


def _register(app: Flask, name: str, importer, help_text: str) -> None:
    """Register command name: run importer on its FILE argument and print the summary."""
    @app.cli.command(name, help=help_text)
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    def command(file):
        click.echo(run_import(importer, file).summary())


def register(app: Flask) -> None:
    """Register the import commands (one body, four importers)."""
    for name, importer, help_text in IMPORT_COMMANDS:
        _register(app, name, importer, help_text)
