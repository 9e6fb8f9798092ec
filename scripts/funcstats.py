#!/usr/bin/env python3
"""Function lengths and block nesting of C files (a rough, brace-counting
measure: good enough to find long or deeply nested functions).

usage: scripts/funcstats.py [--over N] [--deeper D] FILES...
Prints one line per function over N lines or nested deeper than D, then a
summary: functions, longest, count over 150 lines, count nested deeper than 4."""
import re, sys

def strip(src):
    # drop comments, strings and char literals, keeping newlines
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith('/*', i):
            j = src.find('*/', i + 2); j = n if j < 0 else j + 2
            out.append('\n' * src.count('\n', i, j)); i = j
        elif src.startswith('//', i):
            j = src.find('\n', i); j = n if j < 0 else j
            i = j
        elif c in '"\'':
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == '\\' else 1
            out.append(c + c); i = j + 1
        else:
            out.append(c); i += 1
    return ''.join(out)

def functions(path):
    src = strip(open(path, errors='replace').read())
    lines = src.split('\n')
    depth, start, name, maxd, res = 0, None, None, 0, []
    for ln, line in enumerate(lines, 1):
        if line.startswith('#'):
            continue
        for ch in line:
            if ch == '{':
                depth += 1
                if depth == 1:
                    # a function body opens at column 0 after a ')' line
                    head = '\n'.join(lines[max(0, ln - 6):ln])
                    m = re.findall(r'(\w+)\s*\([^;{}]*\)\s*(?:\n\s*)?\{?\s*$', head, re.S)
                    if line.strip() == '{' or line.rstrip().endswith('{'):
                        name = m[-1] if m else None
                        start, maxd = ln, 1
                maxd = max(maxd, depth)
            elif ch == '}':
                depth -= 1
                if depth == 0 and start is not None:
                    if name and name not in ('struct', 'enum', 'union'):
                        res.append((path, name, ln - start + 1, maxd - 1))
                    start = name = None
    return res

def main():
    args = sys.argv[1:]
    over, deeper = 150, 4
    while args and args[0].startswith('--'):
        if args[0] == '--over': over = int(args[1]); args = args[2:]
        elif args[0] == '--deeper': deeper = int(args[1]); args = args[2:]
        else: sys.exit('unknown option ' + args[0])
    allf = []
    for p in args:
        allf += functions(p)
    for p, name, n, d in sorted(allf, key=lambda x: -x[2]):
        if n > over or d > deeper:
            print(f'{p}:{name}: {n} lines, nesting {d}')
    if allf:
        longest = max(allf, key=lambda x: x[2])
        print(f'summary: {len(allf)} functions; longest {longest[1]} {longest[2]} lines; '
              f'{sum(1 for f in allf if f[2] > over)} over {over} lines; '
              f'{sum(1 for f in allf if f[3] > deeper)} nested deeper than {deeper}')

main()
