"""archsearch's log: the ``archsearch`` logger, and how the CLI's --quiet, --verbose and --log-file set it up.

The library only logs (a line per finished trial, stage progress, notes); it never configures handlers. The
CLI calls :func:`configure`: messages go to stderr (INFO by default, WARNING with --quiet, DEBUG with
--verbose) and, with ``--log-file``, are appended to a file with timestamps at DEBUG. On a terminal the
progress bars replace the per-trial lines on stderr (the file still gets them).
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["LOGGER", "configure", "get_logger", "has_handlers"]

LOGGER = "archsearch"
_OURS = "_archsearch_cli_handler"


def reset() -> None:
    """Remove the handlers :func:`configure` installed (the CLI calls this when a command ends)."""
    logger = logging.getLogger(LOGGER)
    for handler in [h for h in logger.handlers if getattr(h, _OURS, False)]:
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def get_logger(name: str = "") -> logging.Logger:
    """``archsearch`` or a child logger (``archsearch.search``)."""
    return logging.getLogger(f"{LOGGER}.{name}" if name else LOGGER)


def has_handlers() -> bool:
    """Whether anyone (the CLI, or an application) has configured where archsearch's messages go."""
    logger = logging.getLogger(LOGGER)
    while logger is not None:
        if logger.handlers:
            return True
        if not logger.propagate:
            break
        logger = logger.parent  # type: ignore[assignment]
    return False


def is_quiet() -> bool:
    """Whether --quiet is in force (the archsearch logger's level is above INFO): no progress bars."""
    return logging.getLogger(LOGGER).getEffectiveLevel() > logging.INFO and has_handlers()


def verbosity_level(quiet: bool, verbose: bool) -> int:
    """The stderr level: WARNING (--quiet), DEBUG (--verbose) or INFO."""
    if quiet and verbose:
        raise ValueError("--quiet and --verbose contradict each other")
    return logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO


def configure(level: int = logging.INFO, log_file: str | os.PathLike[str] | None = None,
              stderr_lines: bool | None = None) -> None:
    """Send archsearch's messages to stderr at ``level`` (``stderr_lines=False``: not to stderr; None: only when
    stderr is not a terminal, where no progress bar is drawn) and, with ``log_file``, append them with timestamps
    to that file at DEBUG. Replaces the handlers an earlier call installed. A file that cannot be opened is an
    OSError (the CLI reports it as one line)."""
    reset()
    logger = logging.getLogger(LOGGER)
    if stderr_lines is None:
        stderr_lines = not sys.stderr.isatty()
    stream = logging.StreamHandler(sys.stderr)
    # on a terminal the bars show the progress: only warnings and errors as lines
    stream.setLevel(level if stderr_lines else max(level, logging.WARNING))
    stream.setFormatter(logging.Formatter("%(message)s"))
    handlers: list[logging.Handler] = [stream]
    if log_file is not None:
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setLevel(logging.DEBUG)
        to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handlers.append(to_file)
    for handler in handlers:
        setattr(handler, _OURS, True)
        logger.addHandler(handler)
    logger.setLevel(min([logging.DEBUG if log_file is not None else level, level]))
    logger.propagate = False
