#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# idx_make.py - writes the tiny IDX fixtures (idx_*) that tests/test_data.c and
# tests/lua/test_data.lua read: a valid 6-image set, plain and gzipped, and
# one file for each kind of damage the reader must name. Run from anywhere;
# the output is byte-for-byte reproducible (gzip mtime 0).
import gzip
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def idx(type_byte, dims, payload):
    head = bytes([0, 0, type_byte, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    return head + payload


def put(name, data):
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


# Six 2x3 images, pixel k of image i = 7 * (6 i + k); labels of 3 classes.
pixels = bytes(7 * k for k in range(36))
labels = bytes([2, 0, 1, 2, 0, 1])
images = idx(0x08, [6, 2, 3], pixels)
labfile = idx(0x08, [6], labels)
put("idx_images.idx", images)
put("idx_images.idx.gz", gz(images))
put("idx_labels.idx", labfile)
put("idx_labels.idx.gz", gz(labfile))

# Damage, one kind per file.
put("idx_bad_magic.idx", b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x00")
put("idx_double.gz", gz(gzip.compress(labfile, compresslevel=9, mtime=0)))
put("idx_bad_type.idx", b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00")
put("idx_short_header.idx", images[:10])
put("idx_short_data.idx", images[:16 + 30])
put("idx_trailing.idx", images + b"\x01\x02\x03")
put("idx_cut.idx.gz", gz(images)[:-12])
put("idx_labels_five.idx", idx(0x08, [5], labels[:5]))
put("idx_labels_neg.idx", idx(0x09, [6], struct.pack(">6b", 2, 0, 1, -1, 0, 1)))
put("idx_labels_2d.idx", idx(0x08, [3, 2], labels))
put("idx_cut_trailer.idx.gz", gz(images)[:-4])
