"""cffi builder for pyrunc._native: the thin syscall layer (API mode, compiled at install time).

Only what Python's standard library cannot do is here; every policy decision is made in Python.
"""
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))

ffibuilder = FFI()

with open(os.path.join(HERE, "pyrunc_native.h")) as header:
    ffibuilder.cdef(header.read())

with open(os.path.join(HERE, "pyrunc_native.c")) as source:
    ffibuilder.set_source(
        "pyrunc._native",
        source.read(),
        libraries=["seccomp"],
        extra_compile_args=["-O2", "-Wall"],
    )

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
