"""What every `python -m cyclegan_tf.<command>` entry point shares.

A command is its flags, grouped by purpose, one usage example, and one call. `run_command`
defines the flags (never at import), answers `--help` with the command's own flags (absl's
and TensorFlow's only under `--helpfull`), hides TensorFlow's routine start-up logging
unless `--verbosity` asks for it, treats stray arguments as a usage error, and prints the
errors a user can fix as one line naming the flag or file, with exit status 2.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import textwrap
from typing import Any, Callable, Mapping, NoReturn, Sequence

from absl import app, flags, logging

from cyclegan_tf.core import precision

# Exit statuses, as the README documents them.
EXIT_USER_ERROR = 2
HELP_FLAGS = ("--help", "-help", "-h", "-?", "--helpshort", "-helpshort")


@dataclasses.dataclass(frozen=True)
class Command:
    """A command-line program: its name, what it does, and how its help is laid out."""

    program: str  # e.g. "cyclegan_tf.train"
    summary: str  # One paragraph: what the command does.
    usage: str  # The synopsis, without "python -m PROGRAM".
    example: str  # One complete command line a user can paste.
    define_flags: Callable[[flags.FlagValues], None]
    groups: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    notes: str = ""  # Printed after the flags.

    @property
    def invocation(self) -> str:
        """How the program is started."""
        return (f"python {self.program}" if self.program.endswith(".py")
                else f"python -m {self.program}")


def _flag_help(flag: flags.Flag, width: int) -> str:
    default = flag.default
    if isinstance(default, str):
        shown = repr(default)
    elif isinstance(default, (list, tuple)):
        shown = repr(",".join(map(str, default)))
    else:
        shown = str(default).lower() if isinstance(default, bool) else str(default)
    text = flag.help.rstrip()
    if flag.default is not None and "[default" not in text and "default:" not in text:
        text += f" (default: {shown})"
    choices = getattr(flag.parser, "enum_values", None)
    if choices and "one of" not in text:
        text += f" One of: {', '.join(choices)}."
    name = f"--{flag.name}" + ("" if flag.boolean else f"={flag.name.upper()}")
    body = textwrap.fill(text, width=width, initial_indent="      ", subsequent_indent="      ")
    return f"  {name}\n{body}"


def help_text(command: Command, flag_values: flags.FlagValues, own: Sequence[str]) -> str:
    """The command's `--help`: usage, example, summary, its flags by group, notes."""
    width = max(60, min(shutil.get_terminal_size((80, 24)).columns, 100)) - 1
    usage = [textwrap.fill(f"{'usage:' if i == 0 else '      '} {part}", width=width,
                           subsequent_indent=" " * 10, break_on_hyphens=False)
             for i, part in enumerate(f"{command.invocation} {command.usage}".split("\n"))]
    lines = [*usage, "",
             f"example:\n  {command.example}", "",
             textwrap.fill(command.summary, width=width), ""]
    groups = dict(command.groups) or {"flags": list(own)}
    listed = {name for names in groups.values() for name in names}
    others = [name for name in own if name not in listed]
    if others:
        groups = {**groups, "other": others}
    for group, names in groups.items():
        lines.append(f"{group}:")
        lines.extend(_flag_help(flag_values[name], width) for name in names)
        lines.append("")
    if command.notes:
        lines += [textwrap.fill(command.notes, width=width), ""]
    lines.append(textwrap.fill("--helpfull lists every flag, including absl's and "
                               "TensorFlow's; --verbosity=0 shows TensorFlow's start-up log.",
                               width=width))
    return "\n".join(lines)


def quiet_absl_logging(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """TensorFlow logs routine INFO lines through absl; show them only with --verbosity."""
    if not flag_values["verbosity"].present:
        logging.set_verbosity(logging.WARNING)


class _PrecisionParser(flags.EnumParser):
    """One of a list of precisions; the older spellings (`bfloat16`, `off`, ...) are read as
    the vocabulary's names (`precision.ALIASES`)."""

    def parse(self, argument: str) -> str:
        return super().parse(precision.canonical(argument) or argument)


def define_precision_flag(name: str, default: str, choices: Sequence[str], help_text: str,
                          flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines a precision flag that takes one of `choices` or an older spelling of one."""
    flags.DEFINE(_PrecisionParser(list(choices)), name, default, help_text,
                 flag_values=flag_values)


def run_command(command: Command, action: Callable[[], Any],
                user_errors: tuple[type[Exception], ...],
                argv: Sequence[str] | None = None) -> None:
    """Defines the command's flags, parses `argv` (default sys.argv) and runs `action`.

    `action` returns None or an exit status; `user_errors`, flag errors (an unknown flag,
    a bad value, a missing required flag) and stray arguments are printed as one line,
    `program: error: ...`, with exit status 2.
    """
    argv = list(sys.argv if argv is None else argv)
    before = set(flags.FLAGS)
    command.define_flags(flags.FLAGS)
    own = [name for name in flags.FLAGS if name not in before]
    if any(arg in HELP_FLAGS for arg in argv[1:]):
        print(help_text(command, flags.FLAGS, own))
        sys.exit(0)

    def fail(message: str) -> NoReturn:
        print(f"{command.program}: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)

    def parse(args: list[str]) -> list[str]:
        try:
            rest = flags.FLAGS(args)
        except flags.Error as error:  # Unknown flag, bad value, missing required flag.
            fail("; ".join(str(error).splitlines()) + " (see --help)")
        if len(rest) > 1:
            fail(f"Unexpected arguments: {' '.join(rest[1:])} (flags take the form "
                 "--name=value or --name value, true/false flags --name or --noname; "
                 "see --help)")
        return rest

    def main(args: list[str]) -> None:
        del args  # Parsed and checked by `parse`.
        quiet_absl_logging()
        try:
            status = action()
        except user_errors as error:
            fail(str(error))
        if status:
            sys.exit(status)

    app.run(main, argv=argv, flags_parser=parse)
