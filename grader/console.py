"""The terminal that `grade` commands print to: one rich Console, configured in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def make_console() -> Console:
    """A Console for a command's output; long lines are left whole (soft_wrap), so piped output stays greppable."""
    # Imported here: rich is a fifth of a `grade` start-up, and `grade hint` and `grade sim` print without it.
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)
