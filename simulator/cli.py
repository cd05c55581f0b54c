"""The ``email2chat`` command. Each subcommand lives in its own module, imported only when used,
so ``email2chat score`` does not pay for moto or scikit-learn.

A subcommand module exposes ``configure(parser)`` (adds its arguments) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("simulator.runner.cli", "run the whole pipeline locally (moto + emulator) and report"),
    "emulator": ("simulator.emulator.cli", "run the Genesys Cloud emulator on 127.0.0.1"),
    "score": ("training.score_cli", "score emails (JSON lines on stdin) for urgency"),
    "train": ("training.train_cli", "train the urgency model from ../shared/data/intents"),
    "evaluate": ("training.evaluate_cli", "evaluate the urgency model: P/R/F1, AUROC, ECE"),
}


def _usage() -> str:
    lines = ["usage: email2chat <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {summary}" for name, (_, summary) in SUBCOMMANDS.items()]
    lines += ["", "`email2chat <command> --help` for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"email2chat: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"email2chat {name}", description=SUBCOMMANDS[name][1])
    module.configure(parser)
    return int(module.run(parser.parse_args(rest)))


if __name__ == "__main__":
    sys.exit(main())
