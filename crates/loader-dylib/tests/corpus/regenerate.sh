#!/bin/sh
# Regenerates the malformed-library corpus (needs gcc and python3; the tests never do).
# Files: see EXPECTED.tsv for what each must be refused with.
set -eu
cd "$(dirname "$0")"
CC="gcc -O1 -fPIC -nostdlib -fno-asynchronous-unwind-tables -Wl,--build-id=none -Wl,-z,noseparate-code -s"
lib() { out=$1; shift; $CC -shared "$@" src/library.c -o "$out"; }
lib wrong_abi_version.so -DVERSION=5
lib query_returns_null.so -DRETURN_NULL
lib missing_query.so -DQUERY_NAME=some_other_function
lib null_attrs.so -DNULL_ATTRS
lib null_export_name.so -DNULL_NAME
lib too_many_bindings.so -DBINDINGS=65
lib too_many_constants.so -DCONSTANTS=65
lib address_sanitizer.so -DSANITIZER=1
lib missing_import.so '-DIMPORT="host_function"'
$CC -static -DPROGRAM src/library.c -o static_executable
$CC -pie -Wl,-E -Wl,--dynamic-linker=/lib64/ld-linux-x86-64.so.2 -DPROGRAM src/library.c -o pie_executable
$CC -c src/library.c -o relocatable.o
python3 - <<'PY'
import os, random
good = open("../../../../fixtures/elf/cts_kernels.embedded.so", "rb").read()
random.seed(4)
open("garbage.bin", "wb").write(bytes(random.randrange(256) for _ in range(4096)))
open("garbage_with_magic.bin", "wb").write(b"\x7fELF" + bytes(random.randrange(256) for _ in range(4092)))
for n in (4, 16, 63, 64, 100, 1000, len(good) // 2, len(good) - 1):
    open(f"truncated_{n}.so", "wb").write(good[:n])
wrong = bytearray(good); wrong[18:20] = (183).to_bytes(2, "little")  # EM_AARCH64
open("wrong_machine.so", "wb").write(wrong)
elf32 = bytearray(good); elf32[4] = 1
open("elf32.so", "wb").write(elf32)
import struct
phoff = struct.unpack_from("<Q", good, 32)[0]
past = bytearray(good); struct.pack_into("<Q", past, phoff + 32, len(good) + 4096)  # p_filesz
open("segment_past_end.so", "wb").write(past)
PY
