"""How a command's failure reaches the person who ran it: one line on stderr and an exit
code, the traceback only on request (`mosaic --debug ...` or MOSAIC_DEBUG=1)."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable

from mosaic.errors import MosaicError, validation_problems

DEBUG_ENV = "MOSAIC_DEBUG"
"""Set to 1 (or pass --debug) to get the traceback behind a one-line error."""

_OS_HINTS = {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
             errno.EACCES: "permission denied", errno.EEXIST: "it already exists",
             errno.ENOTDIR: "a part of the path is a file, not a folder",
             errno.EISDIR: "it is a folder"}


def os_error_line(error: OSError) -> str:
    """An operating-system error as one line naming the path and what to do about it."""
    paths = " -> ".join(str(p) for p in (error.filename, error.filename2) if p is not None)
    reason = _OS_HINTS.get(error.errno or 0, error.strerror or str(error) or type(error).__name__)
    return f"{paths}: {reason}" if paths else str(reason)


def run_reporting_errors(command: Callable[[], int], *, debug: bool = False) -> int:
    """Run `command`; its exit code, or the one-line report of what went wrong: 2 for a
    mistake mosaic names (MosaicError, a setting out of range), 1 for what the machine
    refused (OSError), 141 quietly when the reader of stdout went away."""
    from pydantic import ValidationError

    debug = debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        code = command()
        sys.stdout.flush()  # inside the try: buffered output meets a closed pipe here
        return code
    except BrokenPipeError:
        # The reader went away (`mosaic status RUN | head`): stop quietly, as cat does;
        # point stdout at /dev/null so the interpreter's final flush does not complain.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # stdout is not a file (in-process callers)
            pass
        return 141
    except MosaicError as error:
        if debug:
            raise
        print(f"mosaic: error: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:  # a setting out of its range, e.g. --batch-size 0
        if debug:
            raise
        print(f"mosaic: error: invalid setting: {'; '.join(validation_problems(error))}",
              file=sys.stderr)
        return 2
    except OSError as error:  # the machine said no: an existing file as --out, a full disk
        if debug:
            raise
        print(f"mosaic: error: {os_error_line(error)} (rerun with --debug for the "
              "traceback)", file=sys.stderr)
        return 1
