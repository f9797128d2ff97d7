"""What every `python -m cyclegan_tf.<command>` entry point shares.

Each command defines its absl flags only when run as a program (never on import), then
hands its work to `main_for`: stray arguments are a usage error, TensorFlow's routine INFO
logging is hidden unless `--verbosity` asks for it, and the errors a user can fix are
printed as one line naming the flag or file, with exit status 2.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from absl import app, flags, logging


def quiet_absl_logging() -> None:
    """TensorFlow logs routine INFO lines through absl; show them only with --verbosity."""
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)


def main_for(program: str, action: Callable[[], Any],
             user_errors: tuple[type[Exception], ...]) -> Callable[[list[str]], None]:
    """An absl `main` that runs `action` and reports `user_errors` as `program: error: ...`."""

    def main(argv: list[str]) -> None:
        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
        quiet_absl_logging()
        try:
            action()
        except user_errors as error:
            print(f"{program}: error: {error}", file=sys.stderr)
            sys.exit(2)

    return main
