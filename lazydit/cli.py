"""The ``lazydit`` command: one subcommand per job, each with ``--help``; each group lives in
:mod:`lazydit.commands`.

Problems with the user's input end in one line on stderr (``lazydit: error: ...``) and exit status 2.
"""

from __future__ import annotations

import signal
import sys
import threading

from . import __version__
from .commands import bench, demo, eval, export, sample, train, tune
from .commands.common import HelpFormatter, Parser
from .errors import UserError


def build_parser() -> Parser:
    parser = Parser(
        prog="lazydit",
        formatter_class=HelpFormatter,
        description="LazyDiT from a checkpoint to a phone: train lazy gates, calibrate a static skip schedule, "
        "export one graph per step pattern (ExecuTorch, Core ML, ONNX) and run the bundle.",
        epilog="start with `lazydit demo`; every subcommand has --help with an example",
    )
    parser.add_argument("--version", action="version", version=f"lazydit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for group in (train, export, sample, eval, bench, tune, demo):
        group.register(sub)
    return parser


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    # A terminated export cleans up its partial folder as an interrupted one does (SIGKILL cannot be caught;
    # the next export at the same path removes what it left).
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a one-line usage error: its status, for callers of main()
        return int(e.code or 0)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args.func(args)
    except UserError as e:
        print(f"lazydit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lazydit: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
