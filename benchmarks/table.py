"""Prints benchmarks/run.sh's figures as one table: each measure, its ratio to its reference in
the same run, the target, and whether it holds.

    table.py FIGURES   (lines of "name value")
"""
import platform
import subprocess
import sys
from datetime import date

f = {}
for line in open(sys.argv[1]):
    name, _, value = line.strip().partition(" ")
    f[name] = value
n = lambda k: float(f.get(k) or 0)
# The 10-s windows of /me over 1,000 sessions ("rps:p99 ms" each): their mean, the slowest, the
# worst p99 and the median p99.
windows = [tuple(map(float, w.split(":"))) for w in f.get("windows", "").split()]
if windows:
    rates, p99s = sorted(w[0] for w in windows), sorted(w[1] for w in windows)
    f["many_rps"] = sum(rates) / len(rates)
    f["many_min"] = rates[0]
    f["many_p99"] = p99s[-1]
    f["many_p99_median"] = p99s[len(p99s) // 2]

rows = []  # (measure, figure, ratio, target, holds)


def row(measure, figure, ratio, target, holds):
    rows.append((measure, figure, "" if ratio is None else f"{ratio:.2f}×", target,
                 "" if holds is None else ("yes" if holds else "NO")))


bare = n("bare_rps")
c, s = f["connections"], f["seconds"]
row("bare Hummingbird route, GET /health (reference)", f"{bare:,.0f} rps, p99 {n('bare_p99'):.2f} ms",
    None, "", None)
row("GET /health", f"{n('health_rps'):,.0f} rps", n("health_rps") / bare, "≥ 0.80× bare",
    n("health_rps") / bare >= 0.8)
row("GET /api/users/me, one session", f"{n('me1_rps'):,.0f} rps", n("me1_rps") / bare, "≥ 0.60× bare",
    n("me1_rps") / bare >= 0.6)
row("  its p99", f"{n('me1_p99'):.2f} ms", None, "≤ 3 ms", n("me1_p99") <= 3)
row(f"GET /api/users/me, 1,000 sessions of 1,000 users, {f['many_seconds']} s",
    f"{n('many_rps'):,.0f} rps (mean of 10-s windows)", n("many_rps") / bare, "≥ 0.55× bare",
    n("many_rps") / bare >= 0.55)
row("  its slowest 10-s window (touches come due each minute)", f"{n('many_min'):,.0f} rps",
    n("many_min") / n("many_rps"), "≥ 0.80× its mean", n("many_min") / n("many_rps") >= 0.8)
row("  its p99 (worst window; median window)", f"{n('many_p99'):.2f} ms; {n('many_p99_median'):.2f} ms",
    None, "≤ 3 ms", n("many_p99") <= 3)
row(f"  its p99 during {f['at_once']} sign-in loops ({n('signin_rate'):.1f} sign-ins/s, "
    f"{int(n('shed'))} shed)", f"{n('busy_p99'):.2f} ms ({n('busy_rps'):,.0f} rps)",
    n("busy_p99") / n("many_p99_median"), "≤ 3× idle p99", n("busy_p99") <= 3 * n("many_p99_median"))
row(f"registrations/s ({f['at_once']} at once)", f"{n('reg_rps'):.2f}",
    n("reg_rps") / n("hash_rate") if n("hash_rate") else 0, f"≥ 0.90× hash-rate ({n('hash_rate'):.2f}/s)",
    n("hash_rate") > 0 and n("reg_rps") / n("hash_rate") >= 0.9)
row("idle RSS", f"{n('gh_rss'):.1f} MiB (bare {n('bare_rss'):.1f})", n("gh_rss") / n("bare_rss"),
    "≤ 30 MiB", n("gh_rss") <= 30)
row("start to first 200", f"{n('gh_start'):.0f} ms (bare {n('bare_start'):.0f})",
    n("gh_start") / n("bare_start") if n("bare_start") else 0, "≤ 100 ms", n("gh_start") <= 100)
big = int(n("users_big"))
for key, label, target in [
    ("me", "GET /api/users/me, 1,000 sessions", True),
    ("signin", f"sign-ins/s ({f['at_once']} at once)", True),
    ("first", "GET /api/account/users?limit=50", True),
    ("cursor", "  a page 90% down, by cursor (?before=)", True),
    ("offset", "  a page 90% down, by offset", False),
    ("account", "GET /api/account/me", True),
]:
    small, large = n("small_" + key), n("big_" + key)
    ratio = large / small if small else 0
    unit = "/s" if key == "signin" else " rps"
    fmt = "{:,.1f}" if key == "signin" else "{:,.0f}"
    row(f"{label}: {big:,} vs 1,000 users", f"{fmt.format(large)}{unit} vs {fmt.format(small)}", ratio,
        "0.90–1.10×" if target else "(shown)", (0.9 <= ratio <= 1.1) if target else None)

cpu = "?"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
print(f"Gatehouse benchmarks, {date.today()}, {platform.system()} {platform.machine()}, {cores} cores ({cpu})")
print(f"wrk -t2 -c{c} -d{s}s on loopback, release builds; ratios to figures of this run")
print(f"(1,000,000 users seeded in {n('seed_ms') / 1000:.1f} s; non-2xx replies in all measures: {f['bad']})")
print()
widths = [max(len(r[i]) for r in rows + [("measure", "figure", "ratio", "target", "holds")]) for i in range(5)]
header = ("measure", "figure", "ratio", "target", "holds")
print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
print("-|-".join("-" * w for w in widths))
for r in rows:
    print(" | ".join(v.ljust(w) for v, w in zip(r, widths)))
print()
print("10-s windows of /me over 1,000 sessions (rps:p99 ms):", f.get("windows", ""))
missed = [r[0].strip() for r in rows if r[4] == "NO"]
print("all targets hold" if not missed else f"missed: {'; '.join(missed)}")
