"""The gateway's native media edge (porteiro_gateway._media), built by `pip install` / `make setup`.

Optional: without a C compiler the build skips it and the gateway runs its pure-Python media
path (porteiro_gateway.playback), which passes the same tests.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "porteiro_gateway._media",
            ["src/porteiro_gateway/_media.c", "src/porteiro_gateway/_endpointer.c"],
            depends=["src/porteiro_gateway/_endpointer.h", "src/porteiro_gateway/_media_buf.h"],
            extra_compile_args=[
                "-O2",
                "-Wall",
                "-Wextra",
                "-Wno-unused-parameter",
                "-Wno-missing-field-initializers",
            ],
            libraries=["m"],
            optional=True,
        )
    ]
)
