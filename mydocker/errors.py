"""One exception hierarchy for every layer; the CLI maps each class to Docker's exit codes."""


class MyDockerError(Exception):
    """An error a user can act on. The message says what was wrong and what to do."""

    exit_code = 125


class InvalidArgument(MyDockerError):
    """Bad user input: a flag, a reference, a config.json field."""


class NotFound(MyDockerError):
    """A container, image, network or volume that does not exist."""


class NoSuchImage(NotFound):
    """An image that is not in the store (Docker's API answers "No such image", and its clients pull)."""


class Conflict(MyDockerError):
    """The object exists already, or is in the wrong state for the operation."""


class RuntimeFailure(MyDockerError):
    """The kernel or a host tool refused something while creating or running a container."""


class NotSupported(MyDockerError):
    """A verb of the engine's interface that this engine does not implement yet."""


class Forbidden(MyDockerError):
    """An operation the engine never allows on this object (a pre-defined network: Docker's 403)."""


class Unauthorized(MyDockerError):
    """A registry refused the credentials (or wants some): the API's 401."""


class StoreUnavailable(MyDockerError):
    """The cluster store (etcd, for overlay networks) cannot be reached or answered with an error."""


class CommandNotExecutable(MyDockerError):
    """The container's command exists but cannot be executed (Docker's 126)."""

    exit_code = 126


class CommandNotFound(MyDockerError):
    """The container's command is not on its PATH (Docker's 127)."""

    exit_code = 127


def describe(exc: BaseException) -> str:
    """One line for a user: our messages as they are, an OSError as "what: path", a bug by its type."""
    if isinstance(exc, MyDockerError):
        return str(exc)
    if isinstance(exc, OSError):
        text = exc.strerror or str(exc)
        return f"{text}: {exc.filename}" if exc.filename and str(exc.filename) not in text else text
    return (f"internal error: {type(exc).__name__}: {exc} "
            "(please report it; set MYDOCKER_DEBUG=1 to see where it happened)")
