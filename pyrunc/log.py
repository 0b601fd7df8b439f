"""pyrunc's log: --log FILE with --log-format text|json, as runc writes it. In json, one
{"level","msg","time"} object a line; the error that ends a command is the last "error" line
(containerd shows only that one)."""
import os
import sys
import time

from pyrunc import jsonio

_target = {"path": None, "format": "text", "debug": False}
LEVELS = ("debug", "info", "warning", "error")


def configure(path=None, fmt="text", debug=False):
    _target.update(path=path, format=fmt, debug=debug)


def _timestamp():
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e9):09d}Z"


def write(level, msg):
    if level == "debug" and not _target["debug"]:
        return
    path = _target["path"]
    if not path:
        if level in ("warning", "error") or _target["debug"]:
            if level != "error":  # the CLI prints the error itself, once
                sys.stderr.write(f"pyrunc: {level}: {msg}\n")
        return
    if _target["format"] == "json":
        line = jsonio.dumps({"level": level, "msg": msg, "time": _timestamp()})
    else:
        line = f'time="{_timestamp()}" level={level} msg={jsonio.dumps(msg)}'
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
    except OSError:
        sys.stderr.write(f"pyrunc: cannot write log {path}; {level}: {msg}\n")


def debug(msg):
    write("debug", msg)


def info(msg):
    write("info", msg)


def warning(msg):
    write("warning", msg)


def error(msg):
    write("error", msg)
