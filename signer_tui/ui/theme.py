"""Themes and status colours. Status is always a word too; colour only reinforces it."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.theme import Theme

from signer_tui.model import Status

SIGNER_DARK = Theme(
    name="signer-dark",
    primary="#5fafff",
    secondary="#5f87af",
    accent="#d7afff",
    warning="#ffd75f",
    error="#ff5f5f",
    success="#5fd787",
    foreground="#e4e4e4",
    background="#121212",
    surface="#1c1c1c",
    panel="#262626",
    dark=True,
)

SIGNER_LIGHT = Theme(
    name="signer-light",
    primary="#005fd7",
    secondary="#005f87",
    accent="#8700af",
    warning="#af5f00",
    error="#d70000",
    success="#008700",
    foreground="#1c1c1c",
    background="#ffffff",
    surface="#f2f2f2",
    panel="#e4e4e4",
    dark=False,
)

THEMES = (SIGNER_DARK, SIGNER_LIGHT)


def rich_color(value: str | None, fallback: str) -> str:
    """Theme colours may be ANSI names ('ansi_bright_red'); Rich spells them 'bright_red'."""
    if not value:
        return fallback
    if value.startswith("ansi_"):
        name = value[5:]
        return "default" if name == "default" else name
    return value


def status_color(app: App[Any], status: Status) -> str:
    theme = app.current_theme
    if status is Status.OK:
        return rich_color(theme.success, "green")
    if status is Status.WARN:
        return rich_color(theme.warning, "yellow")
    if status is Status.CRIT:
        return rich_color(theme.error, "red")
    return "magenta" if theme.ansi else rich_color(theme.accent, "magenta")


def status_style(app: App[Any], status: Status) -> str:
    color = status_color(app, status)
    if status is Status.CRIT:
        return f"bold reverse {color}"
    return f"bold {color}"
