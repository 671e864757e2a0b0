#!/usr/bin/env python3
"""Builds a GCC precompiled header for the tests with the exact command of a reference test.

    make_pch.py COMPILE_COMMANDS REFERENCE HEADER OUT_GCH OUT_HEADER DEPFILE

GCC uses a .gch only when it was made with the same options as the translation unit that
includes it, and meson's own cpp_pch builds one per target (80 here, each as slow as a test).
This takes the compile command meson wrote for REFERENCE (a test source built like the others),
compiles HEADER with it into OUT_GCH beside OUT_HEADER (a copy of HEADER: GCC looks for
NAME.gch next to the NAME it includes) and writes DEPFILE, which also names COMPILE_COMMANDS:
a reconfigure that changes the options rebuilds the header.
"""
import json
import os
import shlex
import shutil
import subprocess
import sys


def main():
    commands, reference, header, out_gch, out_header, depfile = sys.argv[1:7]
    with open(commands) as f:
        entries = json.load(f)
    entry = next((e for e in entries if e['file'].endswith(reference)), None)
    if entry is None:
        sys.exit(f'make_pch.py: no compile command for {reference} in {commands}')
    args = entry['arguments'] if 'arguments' in entry else shlex.split(entry['command'])
    cmd, skip = [], 0  # without its output, dependency and -include (this header) options
    for a in args:
        if skip:
            skip -= 1
        elif a in ('-o', '-MQ', '-MF', '-MT', '-include'):
            skip = 1
        elif a in ('-c', '-MD', '-MMD') or a == entry['file']:
            continue
        else:
            cmd.append(a)
    shutil.copyfile(header, out_header)
    tmp_dep = depfile + '.tmp'
    cmd += ['-x', 'c++-header', os.path.abspath(out_header), '-o', os.path.abspath(out_gch),
            '-MD', '-MF', tmp_dep, '-MT', out_gch]
    subprocess.run(cmd, cwd=entry['directory'], check=True)
    with open(tmp_dep) as f:
        deps = f.read().rstrip()
    with open(depfile, 'w') as f:
        f.write(deps + ' \\\n ' + os.path.abspath(commands) + '\n')
    os.remove(tmp_dep)


if __name__ == '__main__':
    main()
