"""Bytes -> tar members: named type flags, header fields, the reader, streams, the C walker.

Knows nothing of images: the sources turn members into layers.
"""
