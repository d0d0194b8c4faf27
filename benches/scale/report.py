#!/usr/bin/env python3
"""benches/scale.sh's report: the table, then the JSON object as the last line of stdout.

Arguments: WORK_DIR OPEN_MS_CLEAN OPEN_MS_AFTER_KILL. WORK_DIR holds scale.json (and
pg_scale.json with PgStore) from benches/scale/main.rs, http.txt ("STORE ROUND FIGURE req/s
non-2xx" lines) and criterion/ (CRITERION_HOME of the hot_path run).

The layer's own cost is matched by name among criterion's benchmark ids (benchmark.json's
full_id): "app alone" is the base; the layered figure is the id that has "valid cookie" and
"behind" or "AuthLayer", a cached one first when several match. Both medians come from
new/estimates.json beside them.
"""
import glob
import json
import os
import statistics
import sys

KEYS = ["n", "uncached_p50_ns_1k", "uncached_p50_ns_n", "uncached_p99_ns_n", "cached_p50_ns_1k",
        "cached_p50_ns_n", "cache_bytes_per_session", "http_rps_1k", "http_rps_n",
        "http_rps_n_skewed", "unknown_cookie_rps_ratio", "disk_bytes_per_user_session",
        "layer_overhead_ns", "open_ms_clean", "open_ms_after_kill", "sessions_per_s", "fsync_ms"]

# The table: the JSON's keys and, beside them, what explains them.
TABLE = KEYS[1:4] + ["validation p99 ns, idle / during writes"] + KEYS[4:6] + [
    "cache bytes a session: resident / accounted / filter"] + KEYS[7:10] + [
    "http_rps_n_default", "http_rps_n_unknown"] + KEYS[10:]


def criterion_medians(home):
    """{full_id: median ns} of every benchmark criterion stored under `home`."""
    medians = {}
    for bench in glob.glob(os.path.join(home, "**", "new", "benchmark.json"), recursive=True):
        with open(bench) as f:
            full_id = json.load(f)["full_id"]
        with open(os.path.join(os.path.dirname(bench), "estimates.json")) as f:
            medians[full_id] = json.load(f)["median"]["point_estimate"]
    return medians


def layer_overhead(medians):
    base = [i for i in medians if "app alone" in i]
    layered = [i for i in medians if "valid cookie" in i and ("behind" in i or "AuthLayer" in i)]
    layered.sort(key=lambda i: ("uncached" in i, "cached" not in i, i))
    if not base or not layered:
        sys.exit(f"criterion ids not found among {sorted(medians)}")
    print(f"layer overhead: {layered[0]!r} {medians[layered[0]]:.0f} ns "
          f"- {base[0]!r} {medians[base[0]]:.0f} ns")
    return round(medians[layered[0]] - medians[base[0]])


def http_figures(path, store):
    """Medians over the rounds of each figure of `store`, and of the per-round ratio of
    unknown-cookie to valid-cookie rates (same demo, same round)."""
    runs = {}
    with open(path) as f:
        for line in f:
            label, rnd, figure, rps, non2xx = line.split()
            if label == store:
                runs.setdefault(figure, {})[rnd] = (float(rps), int(non2xx))
    for figure, rounds in runs.items():
        if figure != "rps_n_unknown" and any(bad for _, bad in rounds.values()):
            sys.exit(f"{store} {figure}: valid cookies answered non-2xx: {rounds}")
    med = {k: round(statistics.median(r for r, _ in v.values())) for k, v in runs.items()}
    unknown, valid = runs["rps_n_unknown"], runs["rps_n_default"]
    med["ratio"] = round(statistics.median(unknown[r][0] / valid[r][0] for r in unknown), 3)
    return med


def main():
    work, open_clean, open_kill = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with open(os.path.join(work, "scale.json")) as f:
        inproc = json.load(f)
    http = http_figures(os.path.join(work, "http.txt"), "redb")
    out = dict(inproc)
    out.update({
        "http_rps_1k": http["rps_1k"], "http_rps_n": http["rps_n"],
        "http_rps_n_skewed": http["rps_n_skewed"], "unknown_cookie_rps_ratio": http["ratio"],
        "layer_overhead_ns": layer_overhead(criterion_medians(os.path.join(work, "criterion"))),
        "open_ms_clean": open_clean, "open_ms_after_kill": open_kill,
    })
    result = {k: out[k] for k in KEYS}
    out["validation p99 ns, idle / during writes"] = \
        f'{out["validation_p99_ns_idle"]} / {out["validation_p99_ns_writes"]}'
    out["cache bytes a session: resident / accounted / filter"] = \
        f'{out["cache_bytes_per_session"]} / {out["cache_accounted_bytes_per_session"]} / {out["filter_bytes_per_session"]}'
    out["http_rps_n_default"] = http["rps_n_default"]
    out["http_rps_n_unknown"] = http["rps_n_unknown"]
    rows = [(k, out[k], "") for k in TABLE]
    pg_path = os.path.join(work, "pg_scale.json")
    if os.path.exists(pg_path):
        with open(pg_path) as f:
            pg = json.load(f)
        pg_http = http_figures(os.path.join(work, "http.txt"), "pg")
        pg.update({"http_rps_1k": pg_http["rps_1k"], "http_rps_n": pg_http["rps_n"],
                   "http_rps_n_skewed": pg_http["rps_n_skewed"],
                   "http_rps_n_default": pg_http["rps_n_default"],
                   "http_rps_n_unknown": pg_http["rps_n_unknown"],
                   "unknown_cookie_rps_ratio": pg_http["ratio"]})
        if "validation_p99_ns_idle" in pg:
            pg["validation p99 ns, idle / during writes"] = \
                f'{pg["validation_p99_ns_idle"]} / {pg["validation_p99_ns_writes"]}'
        rows = [(k, v, pg.get(k, "")) for k, v, _ in rows]
        result["pg"] = {k: pg[k] for k in KEYS if k in pg}
    print(f"{'figure (N = ' + str(result['n']) + ')':<48} {'redb':>14} {'PgStore' if os.path.exists(pg_path) else '':>14}")
    for k, v, p in rows:
        print(f"{k:<48} {v!s:>14} {p!s:>14}")
    print(json.dumps(result))


main()
