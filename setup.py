"""The C extension; everything else about the package is declared in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "emsync.telemetry._ascon",
            sources=["src/emsync/telemetry/_ascon.c"],
            extra_compile_args=["-O3", "-std=c11", "-Wall", "-Wextra"],
        )
    ]
)
