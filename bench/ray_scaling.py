"""Local engine against Ray Data with 1 and 2 actors, on the same articles of a real dump, in one run.

    python bench/ray_scaling.py --model runs/default/model --articles 2000 [--actors 1 2]

Takes the first N articles of the shared Moldovan dump into a temporary JSONL file (never into the
repository), scores it with `score_dump` and with `score_dump_ray` for each actor count (one CPU per actor,
one torch and tokenizer thread each, so the comparison is per core), and prints paragraphs/s and whether
every paragraph got the same label as the local engine. The local engine is run once with its default
threads (all cores) and once pinned to one thread (OMP_NUM_THREADS=1, which the classifier follows), the fair
unit for one actor.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DUMP = ROOT.parent / "shared" / "corpora" / "moldova_ru_news.jsonl"


def labels(path: Path) -> list[tuple[str, int, str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [(r["article_id"], r["paragraph"], r["label"]) for r in rows]


def run(args: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "inference", *args, "--quiet"], check=True, cwd=ROOT, env=env,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--dump", default=str(DUMP))
    p.add_argument("--articles", type=int, default=2000)
    p.add_argument("--actors", type=int, nargs="+", default=[1, 2])
    args = p.parse_args(argv)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("OMP_NUM_THREADS", None)  # "all threads" must mean all cores, whatever this shell pinned
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sample = tmp / "sample.jsonl"
        with open(args.dump, encoding="utf-8") as src, open(sample, "w", encoding="utf-8") as dst:
            dst.writelines(islice(src, args.articles))
        common = ["--model", args.model, "--input", str(sample)]
        results = []
        for name, extra, threads in [("local, all threads", [], None), ("local, 1 thread", [], "1")] + [
                (f"ray, {n} actor{'s' * (n > 1)}", ["--engine", "ray", "--actors", str(n)], "1")
                for n in args.actors]:
            out = tmp / f"{len(results)}.jsonl"
            run_env = dict(env, **({"OMP_NUM_THREADS": threads} if threads else {}))
            seconds = run([*common, "--output", str(out), *extra], run_env)
            results.append((name, seconds, labels(out)))
        reference = results[0][2]
        print(f"{args.articles} articles, {len(reference)} paragraphs of {Path(args.dump).name}; model {args.model}")
        print("| engine | seconds | paragraphs/s | same labels as local |")
        print("|---|---|---|---|")
        for name, seconds, got in results:
            same = sum(a == b for a, b in zip(got, reference)) if len(got) == len(reference) else 0
            print(f"| {name} | {seconds:.0f} | {len(got) / seconds:.0f} | {same}/{len(reference)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
