"""Only the optional C accelerator lives here; everything else is in pyproject.toml.

``optional=True``: without a compiler (or Python headers) the build warns and
goes on, and layerscope uses its pure-Python tar reader.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "layerscope._tarwalk",
            sources=["layerscope/_tarwalk.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
