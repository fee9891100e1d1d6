"""The subcommands of ``lazydit``, one module per command group, each owning its parsers and handlers.

Heavy modules (torch) are imported inside the handlers so that ``--help`` and the runtime stay light.
"""
