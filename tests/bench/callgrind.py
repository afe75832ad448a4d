"""Instructions by component from a callgrind output file, for the deterministic cost scenario of `make bench`.

Every function's own instructions count for the component of the object it lives in (hookd's binary is split into
hookd's sources and the libraries linked into it statically, told apart by their archives' symbols). The C library (and the
dynamic loader, libm, libgcc) is not a component of its own: what it executes is charged to the component that
called into it, through the call edges' inclusive costs, minus whatever those calls ran outside the C library
again (callbacks, thread start routines). So is code of no known object (PLT stubs).
"""
import re
import subprocess
from collections import defaultdict

LIBC = re.compile(r"/(libc|ld-linux[^/]*|libm|libgcc_s|libpthread|libdl|librt)[.-][^/]*$")
COMPONENTS = [
    (re.compile(r"/libjson-c\.so"), "json-c"),
    (re.compile(r"/lib(sodium|crypto|ssl)\.so"), "crypto"),
    (re.compile(r"/lib(curl|nghttp2|idn2|psl|z|zstd|brotli[a-z]*|ssh2|rtmp|gssapi[^/]*|krb5[^/]*|ldap[^/]*|lber[^/]*|"
                r"unistring|k5crypto|sasl2|gnutls|nettle|hogweed|gmp|p11-kit|tasn1|ffi|keyutils|com_err|"
                r"resolv)[.-]"), "curl"),
    (re.compile(r"/lib(mongoc|bson|microhttpd)[.-]"), "other libraries"),
]


def archive_symbols(archive):
    out = subprocess.run(["nm", "--defined-only", archive], check=True, capture_output=True, text=True).stdout
    return {line.split()[-1] for line in out.splitlines() if len(line.split()) == 3}


def parse(path):
    """Returns ({(ob, fn): self}, {(caller, callee): inclusive}) with functions keyed by (object, name)."""
    names = {"ob": {}, "fl": {}, "fn": {}}
    selfc = defaultdict(int)
    calls = defaultdict(int)
    ob = fn = cob = cfn = None
    pending_call = False

    def name(kind, value):
        m = re.match(r"\((\d+)\)(?: (.*))?$", value)
        if not m:
            return value
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
        return names[kind][m.group(1)]

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                cost = line.split()
                ir = int(cost[1]) if len(cost) > 1 else 0
                if pending_call:
                    calls[((ob, fn), (cob or ob, cfn))] += ir
                    pending_call = False
                    cob = None
                else:
                    selfc[(ob, fn)] += ir
                continue
            key, _, value = line.partition("=")
            if key == "ob":
                ob = name("ob", value)
            elif key == "fn":
                fn = name("fn", value)
            elif key == "cob":
                cob = name("ob", value)
            elif key == "cfn":
                cfn = name("fn", value)
            elif key in ("fl", "fi", "fe", "cfi", "cfl"):
                name("fl", value)
            elif key == "calls":
                pending_call = True
    return selfc, calls


def components(path, static, binary):
    """Instructions per component ({component: {"own": n, "libc": n}}), the inclusive cost of every function
    ({name: n}, summed over its callers, for the breakdown of hookd's own steps), the total, and what each of
    hookd's functions spends in the C library ({name: n}). static maps components linked into the binary to
    their archives' symbols ({"librdkafka": {...}})."""
    selfc, calls = parse(path)
    # Code of no known object (PLT stubs) is glue, charged to its caller like the C library.
    is_libc = lambda f: not f[0] or f[0] == "???" or bool(LIBC.search(f[0]))

    def comp(f):
        ob, fn = f
        if ob and ob.endswith(binary):
            return next((c for c, syms in static.items() if fn in syms), "hookd")
        for rx, c in COMPONENTS:
            if ob and rx.search(ob):
                return c
        return "other libraries"

    out = defaultdict(lambda: {"own": 0, "libc": 0})
    for f, n in selfc.items():
        if not is_libc(f):
            out[comp(f)]["own"] += n
    # The share of a C library function's inclusive cost spent inside the C library.
    incl = defaultdict(int)
    for f, n in selfc.items():
        incl[f] += n
    out_edges = defaultdict(list)
    for (a, b), n in calls.items():
        if a != b:
            incl[a] += n
            out_edges[a].append((b, n))
    libc_fns = [f for f in incl if is_libc(f)]
    ratio = {f: 1.0 for f in libc_fns}
    for _ in range(30):
        for f in libc_fns:
            pure = selfc.get(f, 0) + sum(n * ratio[b] for b, n in out_edges[f] if b in ratio)
            ratio[f] = pure / incl[f] if incl[f] else 1.0
    charged = 0
    libc_by_fn = defaultdict(int)  # hookd's functions: what each spends in the C library
    for (a, b), n in calls.items():
        if b in ratio and not is_libc(a):
            out[comp(a)]["libc"] += n * ratio[b]
            charged += n * ratio[b]
            if comp(a) == "hookd":
                libc_by_fn[a[1]] += n * ratio[b]
    libc_total = sum(n for f, n in selfc.items() if is_libc(f))
    out["C library, no caller outside it"]["libc"] += libc_total - charged
    inclusive = defaultdict(int)
    for (a, b), n in calls.items():
        if a != b:
            inclusive[b[1]] += n
    return {k: dict(v) for k, v in out.items()}, dict(inclusive), sum(selfc.values()), dict(libc_by_fn)
