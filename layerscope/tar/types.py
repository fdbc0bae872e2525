"""Tar type flags, named once, in groups (as CPython's tarfile names them).

A flag is the byte at offset 156 of a header; these are its int values.
"""

from __future__ import annotations

# POSIX ustar
REGTYPE = ord("0")
AREGTYPE = 0  # pre-POSIX regular file: a NUL flag
LNKTYPE = ord("1")  # hard link
SYMTYPE = ord("2")
CHRTYPE = ord("3")
BLKTYPE = ord("4")
DIRTYPE = ord("5")
FIFOTYPE = ord("6")
CONTTYPE = ord("7")  # contiguous file: a regular file everywhere that matters

# pax extended headers
XHDTYPE = ord("x")  # for the next member
XGLTYPE = ord("g")  # global: for every member after it
SOLARIS_XHDTYPE = ord("X")  # Solaris' spelling of ``x``

# GNU
GNUTYPE_LONGNAME = ord("L")
GNUTYPE_LONGLINK = ord("K")
GNUTYPE_SPARSE = ord("S")  # old GNU sparse file
GNUTYPE_DUMPDIR = ord("D")  # a directory with a listing of its contents
GNUTYPE_VOLHDR = ord("V")  # volume label
GNUTYPE_MULTIVOL = ord("M")  # continuation of a file from the previous volume
GNUTYPE_NAMES = ord("N")  # old GNU long names

REGULAR_TYPES = frozenset((REGTYPE, AREGTYPE, CONTTYPE))
# Types whose data blocks never follow the header (tarfile treats unknown types
# as carrying data).
NO_DATA_TYPES = frozenset((LNKTYPE, SYMTYPE, CHRTYPE, BLKTYPE, DIRTYPE, FIFOTYPE))
PAX_TYPES = frozenset((XHDTYPE, XGLTYPE, SOLARIS_XHDTYPE))
GNU_NAME_TYPES = frozenset((GNUTYPE_LONGNAME, GNUTYPE_LONGLINK))
# Members that hold no file of the image: volume labels, multi-volume parts, old names.
# A pax global header comes back as an entry of its own (as Go returns it): it
# holds no file either.
SKIPPED_TYPES = frozenset((GNUTYPE_VOLHDR, GNUTYPE_MULTIVOL, GNUTYPE_NAMES, XGLTYPE))
