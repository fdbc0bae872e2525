"""layerscope: find the wasted bytes in container images."""

__version__ = "0.1.0"
