"""Timing shared by the Python peers: the median seconds of a step, as bench/util.ts timeIt does."""
import time


def median_seconds(step, repeats, budget):
    """Run `step` once untimed (counted when it alone took over half the budget: a slow step is
    not run twice for nothing), then timed until `repeats` runs or `budget` seconds, whichever
    comes first (at least one). Returns (median seconds, runs)."""
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    times = [first] if first > budget / 2 else []
    start = time.perf_counter()
    while len(times) < repeats and (not times or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    h = len(times) // 2
    return (times[h] if len(times) % 2 else (times[h - 1] + times[h]) / 2), len(times)
