#!/usr/bin/env python3
"""Stream an .fvecs file as COPY text rows: id<TAB>[x1,...,xd] (or with a word column).

Usage: fvecs2copy.py FILE.fvecs [--words WORDS.txt] [--limit N] [--first-id K]

Each float32 is printed with repr() of its exact double value, which reads
back as the same float32, so the loaded vectors are bit-identical to the file.
Only the standard library is used.
"""
import argparse
import struct
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fvecs")
    ap.add_argument("--words", help="text file, line i is the word of vector i")
    ap.add_argument("--limit", type=int, default=-1)
    ap.add_argument("--first-id", type=int, default=0)
    args = ap.parse_args()

    words = None
    if args.words:
        with open(args.words, encoding="utf-8") as f:
            words = [line.rstrip("\n") for line in f]

    out = sys.stdout
    with open(args.fvecs, "rb") as f:
        i = 0
        while args.limit < 0 or i < args.limit:
            head = f.read(4)
            if not head:
                break
            (d,) = struct.unpack("<i", head)
            body = f.read(4 * d)
            if len(body) != 4 * d:
                sys.exit(f"{args.fvecs}: truncated vector {i}")
            vec = "[" + ",".join(repr(x) for x in struct.unpack(f"<{d}f", body)) + "]"
            row_id = args.first_id + i
            if words is not None:
                word = words[i].replace("\\", "\\\\").replace("\t", "\\t")
                out.write(f"{row_id}\t{word}\t{vec}\n")
            else:
                out.write(f"{row_id}\t{vec}\n")
            i += 1


if __name__ == "__main__":
    main()
