"""The `mydocker` CLI's fork server (mydocker/forkserver.py): the CLI's modules and the engine's work
for the commands it serves, loaded once.

    python -c "from mydocker.cli.forkserver import main; main(PACKAGE_DIR)"   (forkserver_client.start_server)
"""

from __future__ import annotations

from mydocker import forkserver, forkserver_client


def preload() -> None:
    """The modules of the commands served, and of the engine's work for them (a served command
    imports no module of ours: tests/integration/test_forkserver.py)."""
    import importlib
    from mydocker.cli import main as cli_main
    import mydocker.engine.api
    mydocker.engine.api.preload(in_process=True)
    served = forkserver_client.COMMANDS & set(cli_main.COMMANDS)
    for name in sorted({cli_main.COMMANDS[name][0] for name in served}):
        importlib.import_module(name)
    for name in ("mydocker.exit", "mydocker.cli.terminal", "mydocker.cli.table", "mydocker.cli.gotemplate"):
        importlib.import_module(name)


def run() -> None:
    from mydocker.cli import main as cli_main
    cli_main.run_main()


def main(package_dir: str) -> None:
    forkserver.main(package_dir, forkserver.FrontEnd(forkserver_client.CLI, preload, run))
