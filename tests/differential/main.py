"""scripts/differential's body: parse the flags, run the configs, print, exit 0/1.
See scripts/differential for the flags."""
import argparse
import json
import os
import shutil
import sys
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)  # tests/: the fuzzing and differential packages

from differential import harness  # noqa: E402
from fuzzing import configgen  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(prog="scripts/differential")
    ap.add_argument("--seed", type=int, default=None, help="default: from the clock")
    ap.add_argument("--count", type=int, default=100, help="generated configs (0: none)")
    ap.add_argument("--configs", default=harness.CONFIGS, help="captured engine configs")
    ap.add_argument("--no-engine", action="store_true", help="no engine configs")
    ap.add_argument("--pyrunc", default=shutil.which("pyrunc") or "/usr/local/bin/pyrunc")
    ap.add_argument("--runc", default=harness.RUNC)
    ap.add_argument("--json", help="write every result to this file")
    ap.add_argument("--verbose", "-v", action="store_true", help="print explained ones too")
    ap.add_argument("--keep", action="store_true", help="keep the bundles (in /tmp)")
    ap.add_argument("--only", type=int, action="append", help="run only config #N (repeat)")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        ap.error("must run as root")
    seed = args.seed if args.seed is not None else int(time.time()) % 100000
    start = time.monotonic()
    harness.become_subreaper()

    work = []
    if args.count:
        base = harness.probe_config(configgen.base_config())
        for i, (config, edits) in enumerate(configgen.generate(seed, args.count, base=base)):
            if not args.only or i in args.only:
                work.append((f"gen/{i}", config, configgen.describe(edits)))
    if not args.no_engine:
        for label, config in harness.load_engine_configs(args.configs):
            work.append((label, config, []))

    table = harness.Table()
    h = harness.Harness(args.pyrunc, runc=args.runc, table=table, keep=args.keep)
    results = []
    try:
        for label, config, edits in work:
            result = h.run_config(label, config)
            result["edits"] = edits
            results.append(result)
            _print_result(result, args.verbose)
    finally:
        h.close()

    elapsed = time.monotonic() - start
    diffs = [d for r in results for d in r["diffs"]]
    unexplained = [d for d in diffs if not d["explained"]]
    stale = table.stale()
    outcomes = {}
    for r in results:
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
    print()
    print(f"configs run: {len(results)} ({sum(1 for r in results if r['label'].startswith('gen/'))}"
          f" generated, {sum(1 for r in results if r['label'].startswith('engine/'))} engine); "
          + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
    print(f"differences: {len(diffs)}, explained: {len(diffs) - len(unexplained)}, "
          f"unexplained: {len(unexplained)}")
    used = {}
    for d in diffs:
        if d["explained"]:
            used[d["explained"]] = used.get(d["explained"], 0) + 1
    for eid, n in sorted(used.items()):
        print(f"  {eid}: {n}")
    if stale:
        print(f"table entries that could have matched and never did: {', '.join(stale)}")
    print(f"seed: {seed}  count: {args.count}  wall time: {elapsed:.1f}s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seed": seed, "count": args.count, "wall_time": elapsed,
                       "results": results, "stale": stale}, f, indent=1, default=str)
    return 1 if unexplained or stale else 0


def _print_result(r, verbose):
    unexplained = [d for d in r["diffs"] if not d["explained"]]
    mark = "DIFF" if unexplained else ("known" if r["diffs"] else "same")
    print(f"{r['label']}: {r['outcome']}: {mark}" + (f"  [{'; '.join(r['edits'])}]"
                                                   if r["edits"] else ""), flush=True)
    if r["outcome"] == "both refuse" and verbose:
        print(f"    runc:   {r['runc_error'][1]}\n    pyrunc: {r['pyrunc_error'][1]}")
    for d in r["diffs"]:
        if d["explained"] and not verbose:
            continue
        tag = f"known: {d['explained']}" if d["explained"] else "UNEXPLAINED"
        print(f"    {tag}: {d['kind']} {d['key']}\n      runc:   {d['runc'][:300]}\n"
              f"      pyrunc: {d['pyrunc'][:300]}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
