"""The reader's language: Indonesian by default, English on request."""

from __future__ import annotations

from flask import current_app, session

LANGUAGES = ("id", "en")


def select_locale() -> str:
    """Return the language of this request: the user's choice, else the configured default."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    default = current_app.config.get("BABEL_DEFAULT_LOCALE", "id")
    return default if default in LANGUAGES else "id"
