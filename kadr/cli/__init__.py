"""The ``kadr`` command line.

Each sub-command is one module in this package that defines ``COMMAND`` (the name users
type), ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args)``. ``run`` returns a
JSON-serialisable result (printed with ``--json``) and may define ``render(result)`` for
humans. Modules are discovered automatically; keep heavy imports inside ``run``.
Modules whose name starts with ``_`` are helpers, not commands.
"""

from kadr.cli.main import main

__all__ = ["main"]
