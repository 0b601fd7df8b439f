"""Typed errors of pyrunc. Every failure the user can cause or meet is one of these; the CLI edge
turns them into a one-line message and an exit code (no traceback unless --debug)."""


class PyruncError(Exception):
    """Base of every error pyrunc reports to its caller."""

    exit_code = 1


class UsageError(PyruncError):
    """The command line is wrong (a missing argument, an unknown option value)."""


class PidfdSocketError(UsageError):
    """--pidfd-socket names no socket that takes the pidfd. A usage error: exit 1 and no
    post-mortem, for exec too (whose other failures are runc's 255)."""


class ConfigError(PyruncError):
    """A field of config.json is missing, malformed or unsupported."""

    def __init__(self, field, reason):
        self.field = field
        self.reason = reason
        super().__init__(f"config: {field}: {reason}")


class MountError(PyruncError):
    """A mount of config.json could not be made as asked (an id-mapped mount the kernel or
    the filesystem refuses): the message names the mount."""

    def __init__(self, field, reason):
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class InvalidIdError(PyruncError):
    """A container id that runc would refuse too."""


class ContainerNotFoundError(PyruncError):
    def __init__(self, container_id):
        super().__init__(f"container {container_id!r} does not exist")


class ContainerExistsError(PyruncError):
    def __init__(self, container_id):
        super().__init__(f"container {container_id!r} already exists")


class StateError(PyruncError):
    """The container is in the wrong state for the command (start of a running container...)."""


class InitError(PyruncError):
    """The container's init (or an exec'd process) failed during setup; carries the failing step."""

    def __init__(self, step, message, errno=0):
        self.step = step
        self.errno = errno
        super().__init__(f"container init failed at {step}: {message}")


class ExecFailedError(PyruncError):
    """`exec` could not run its process: exit code 255, as runc's exec (whose own exit status
    is otherwise the process's), with runc's "exec failed: " before the reason."""

    exit_code = 255

    def __init__(self, reason):
        super().__init__(f"exec failed: {reason}")


class SystemdUnavailableError(PyruncError):
    pass


class SettingsError(PyruncError):
    """pyrunc's host settings file (networks) is unreadable or a field in it is wrong."""

    def __init__(self, path, field, reason):
        self.field = field
        self.reason = reason
        super().__init__(f"settings {path}: {field}: {reason}")


class NetworkError(PyruncError):
    """A container's network could not be set up or torn down (a full subnet, a netlink error)."""
