"""How a person on this machine invokes the `syndication` command: what the start-up output and
the sign-in page print when they tell someone which command to run."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def command_name() -> str:
    """The `syndication` script installed beside this interpreter (relative to the working
    directory when it lies under it, e.g. `.venv/bin/syndication`: a virtualenv's scripts are
    not on PATH unless it is activated), else plain `syndication`."""
    script = Path(sys.executable).parent / "syndication"
    if not script.is_file():
        return "syndication"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)
    except OSError:  # the working directory was removed
        return os.fspath(script)


def first_admin_command() -> str:
    """The one command that creates the first administrator (it prompts for the password)."""
    return f"{command_name()} user create --username admin --role admin"
