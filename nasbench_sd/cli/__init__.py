"""The ``nasbench-sd`` command line.

Each sub-command lives in a small module, calls the Python API
(:mod:`nasbench_sd.api`) and prints its answer; heavy packages (torch, pandas,
matplotlib) are imported inside the functions, so ``nasbench-sd --help``
stays fast and never imports torch. :func:`main` turns every :class:`UserError` and click
usage error into ONE line on stderr and exit code 2, without a traceback; so
is a full disk (ENOSPC/EDQUOT) wherever it strikes: finished work is kept.
SIGTERM (``kill``, a batch scheduler's stop) is handled like Ctrl-C: runs
stop (a search at its next step, after writing a checkpoint there),
experiment.json says "interrupted", and the exit code is 143 (130 for Ctrl-C).
"""

from __future__ import annotations

import signal
import sys

import click

from nasbench_sd import __version__
from nasbench_sd.errors import RunError, Stopped, Terminated, UserError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nasbench-sd")
def cli() -> None:
    """Differentiable NAS on NAS-Bench-201, centred on SD-DARTS."""


def _register() -> None:
    from nasbench_sd.cli import bench, experiments, inspect, search

    for module in (bench, search, experiments, inspect):
        for command in module.COMMANDS:
            cli.add_command(command)


def fail(message: str) -> None:
    """Print one error line and exit 2."""
    click.echo(f"nasbench-sd: error: {message}", err=True)
    sys.exit(2)


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    _register()
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> None:
    try:
        rv = cli.main(args=argv, prog_name="nasbench-sd", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help() if e.ctx else str(e))
        sys.exit(0)
    except click.UsageError as e:
        fail(e.format_message().replace("\n", " "))
    except click.exceptions.Abort as e:  # click turns a KeyboardInterrupt into Abort
        if isinstance(e.__cause__, KeyboardInterrupt):
            _interrupted(e.__cause__)
        click.echo("nasbench-sd: aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        fail(e.format_message().replace("\n", " "))
    except UserError as e:
        fail(str(e).replace("\n", " "))
    except RunError as e:
        click.echo(f"nasbench-sd: error: {str(e).replace(chr(10), ' ')}", err=True)
        sys.exit(1)
    except OSError as e:
        from nasbench_sd.io import disk_full_error, is_disk_full

        if not is_disk_full(e):
            raise
        fail(str(disk_full_error(e.filename or "a file", e)))
    except KeyboardInterrupt as e:
        _interrupted(e)
    except Stopped as e:  # a search stopped by a signal at a step, its checkpoint written
        _interrupted(Terminated() if e.signum == signal.SIGTERM else KeyboardInterrupt())
    sys.exit(rv if isinstance(rv, int) else 0)


def _interrupted(e: KeyboardInterrupt) -> None:
    """One line and exit 130 (Ctrl-C) or 143 (SIGTERM)."""
    what = "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"
    click.echo(f"nasbench-sd: {what}; finished work is kept (rerun the same `run` command, "
               "or `search` with --resume, to continue)", err=True)
    sys.exit(143 if isinstance(e, Terminated) else 130)
