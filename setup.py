"""Only here because cffi_modules (the native syscall layer built at install) has no pyproject key."""
from setuptools import setup

setup(cffi_modules=["native/build_native.py:ffibuilder"])
