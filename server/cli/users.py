"""User, token and device commands: create-user, set-password, deactivate-user, create-token, create-device, revoke-device."""

from __future__ import annotations

import sys

import click
from flask import Flask
from sqlalchemy.orm import Session

from server.access import (
    AccessError,
    create_device,
    create_token,
    create_user,
    deactivate_user,
    revoke_device,
    set_password,
)
from server.db import get_db
from server.models import ROLES
from server.scan.pages import enrolment_url


def _session_from_app() -> Session:
    return get_db().session()


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def register(app: Flask) -> None:
    """Register the user, token and device commands."""

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", required=True, type=click.Choice(ROLES))
    @click.option("--region", required=True, help="code of the region the user sees")
    def create_user_command(username, role, region):
        """Create a dashboard user; the password is read from standard input or prompted."""
        password = _read_password()
        with _session_from_app() as session:
            try:
                create_user(session, username, password, role, region)
            except AccessError as exc:
                raise click.UsageError(str(exc)) from None
            session.commit()
        click.echo(f"created {role} {username!r} for region {region}")

    @app.cli.command("set-password")
    @click.argument("username")
    def set_password_command(username):
        """Give a user a new password (read like create-user's) and end all their sessions."""
        password = _read_password()
        with _session_from_app() as session:
            try:
                set_password(session, username, password)
            except AccessError as exc:
                raise click.UsageError(str(exc)) from None
            session.commit()
        click.echo(f"new password for {username!r}; their open sessions are ended")

    @app.cli.command("deactivate-user")
    @click.argument("username")
    def deactivate_user_command(username):
        """Stop a user logging in, end their sessions and revoke their API tokens."""
        with _session_from_app() as session:
            try:
                deactivate_user(session, username)
            except AccessError as exc:
                raise click.UsageError(str(exc)) from None
            session.commit()
        click.echo(f"user {username!r} deactivated; their sessions and tokens are ended")

    @app.cli.command("create-token")
    @click.option("--role", required=True, type=click.Choice(ROLES))
    @click.option("--region", required=True, help="code of the region the token reaches")
    @click.option("--name", default="", help="who holds it, shown in the scan log")
    @click.option("--ttl-days", type=int, default=None,
                  help="days until it expires (default: TOKEN_TTL_DAYS; 0: never)")
    def create_token_command(role, region, name, ttl_days):
        """Create an API token and print it alone on the last line."""
        ttl = app.config["TOKEN_TTL_DAYS"] if ttl_days is None else ttl_days
        with _session_from_app() as session:
            try:
                token = create_token(session, role, region, name=name, ttl_days=ttl or None)
            except AccessError as exc:
                raise click.UsageError(str(exc)) from None
            session.commit()
        click.echo(f"{role} token for region {region} (shown once; store it safely):", err=True)
        click.echo(token)

    @app.cli.command("create-device")
    @click.option("--location", required=True, help="code of the location the device scans at")
    @click.option("--name", default="", help="a name for the device, shown in the scan log")
    @click.option("--ttl-days", type=int, default=None,
                  help="days until its token expires (default: TOKEN_TTL_DAYS; 0: never)")
    @click.option("--url", "base_url", default=None, metavar="BASE",
                  help="the server's address as phones reach it, e.g. https://jejak.example: "
                       "also print the phone enrolment address BASE/scan#token=...")
    def create_device_command(location, name, ttl_days, base_url):
        """Register a scanning device and print its token alone on the last line."""
        ttl = app.config["TOKEN_TTL_DAYS"] if ttl_days is None else ttl_days
        with _session_from_app() as session:
            try:
                device, token = create_device(session, location, name, ttl_days=ttl or None)
            except AccessError as exc:
                raise click.UsageError(str(exc)) from None
            session.commit()
            click.echo(f"device {device.id} ({device.name}) at {location}; its token (shown once):",
                       err=True)
        if base_url:
            click.echo("phone enrolment address (open it on the phone, or show it as a QR):",
                       err=True)
            click.echo(enrolment_url(base_url, token))
        click.echo(token)

    @app.cli.command("revoke-device")
    @click.argument("device_id", type=int)
    def revoke_device_command(device_id):
        """Revoke a lost or stolen device's tokens: it can no longer scan or confirm handovers."""
        with _session_from_app() as session:
            try:
                device, count = revoke_device(session, device_id)
            except AccessError as exc:
                raise click.UsageError(str(exc)) from None
            session.commit()
            click.echo(f"device {device.id} ({device.name}): {count} tokens revoked; its key "
                       f"signs nothing the server takes (enrol a new device for a new phone)")
