"""pyrunc: a runc-compatible OCI container runtime.

The Python API, for orchestrators that would rather not shell out:

    import pyrunc
    c = pyrunc.Container.create("web", bundle="/srv/bundles/web")
    c.start()
    print(c.oci_state()["status"])      # running
    c.kill("SIGTERM") ... c.delete(force=True)

Names are loaded lazily so that `pyrunc` the command starts fast.
"""
__version__ = "0.1.0"
# The runtime-spec version pyrunc reports in state, hook state, seccomp notify messages and
# `pyrunc spec`: the version whose behaviour it implements (features reports the range it reads).
SPEC_VERSION = "1.0.2"

__all__ = ["Container", "list_containers", "PyruncError", "ConfigError", "InitError",
           "StateError", "ContainerNotFoundError", "ContainerExistsError", "InvalidIdError"]


def __getattr__(name):
    if name in ("Container", "list_containers"):
        from pyrunc import container
        return getattr(container, name)
    if name in __all__:
        from pyrunc import errors
        return getattr(errors, name)
    raise AttributeError(f"module 'pyrunc' has no attribute {name!r}")
