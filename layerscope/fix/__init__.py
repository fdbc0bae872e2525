"""``layerscope fix``: the patch planner, one module per fix kind, the diff text and
``--verify`` (build the original and the patched Dockerfile and measure)."""
