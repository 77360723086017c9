"""Score a dump on Ray Data: the same reader, splitter, classifier and writer as `score_dump`, spread over a
cluster (or the local cores) by Ray.

    from inference.ray_engine import score_dump_ray
    score_dump_ray("runs/default/model", "dumps/", "scored.parquet", actors=4)

    python -m inference --engine ray --actors 4 --model runs/default/model --input dumps/ --output scored.parquet

How the work is spread: the dump's files (`readers.dump_units`: each JSONL/CSV/Parquet file, or a folder of
.txt articles) become Ray Data read tasks that run the project's own readers, so bad records carry the same
`FILE:LINE` errors as locally. `map_batches` hands batches of records to a pool of actors, each holding one
`EventClassifier` (torch or ONNX, CPU or GPU), which splits and scores them exactly as the local engine does.
The driver streams the results back in input order (`preserve_order`) and writes them through the local
engine's `ScoredWriter`, so the output, the errors file, the article summary and the resume point have the
same schema and the same meaning.

Without `RAY_ADDRESS` (or `address=`) Ray starts on this machine; with it, the run joins that cluster. The
driver must be able to write the output path; workers must be able to read the dump and the model folder
(shared storage, or the same paths on every node).

Resume: the writer commits after every `chunk_articles` records, as locally. A run started again with the
same arguments counts, file by file, the records already committed and starts each read task after them: no
record is written twice or lost, and the committed part is read again but not scored again.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from dataclasses import asdict
from itertools import islice
from pathlib import Path

from tqdm import tqdm

from .classifier import EventClassifier, ScoredParagraph
from .output import ScoredWriter
from .readers import Article, BadRecord, Fields, dump_units, iter_records
from .scoring import commit_chunk, run_summary, scorable
from .splitter import split_article

# Read tasks parse JSON and CSV, light next to scoring; reserving whole CPUs for them would leave none free when
# the actors take every core (2 actors on a 2-core laptop), and the read tasks would wait forever.
READ_CPUS = 0


def _record_json(record: Article | BadRecord) -> str:
    return json.dumps({"bad": isinstance(record, BadRecord), **asdict(record)}, ensure_ascii=False)


def _from_json(text: str) -> Article | BadRecord:
    values = json.loads(text)
    return BadRecord(**{k: v for k, v in values.items() if k != "bad"}) if values["bad"] else \
        Article(**{k: v for k, v in values.items() if k != "bad"})


def committed_per_unit(units: list[tuple[Path, str]], fields: Fields, records_done: int) -> list[int]:
    """How many leading records of each unit a previous run already committed (it committed the first
    `records_done` of the dump, in `iter_records` order)."""
    skips, left = [], records_done
    for unit, fmt in units:
        if left <= 0:
            skips.append(0)
            continue
        n = sum(1 for _ in islice(iter_records(unit, fmt, fields), left))
        skips.append(n)
        left -= n
    return skips


def _datasource(units: list[tuple[Path, str]], skips: list[int], fields: Fields, block_records: int):
    absolutes = [str(Path(unit).absolute()) for unit, _ in units]
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    class DumpDatasource(Datasource):
        """One read task per dump unit, running the project's reader; a block is a column of record JSON."""

        def estimate_inmemory_data_size(self):
            return None

        def get_read_tasks(self, parallelism, per_task_row_limit=None, data_context=None):
            import pyarrow as pa

            def read(given: str, absolute: str, fmt: str, skip: int):
                batch = []
                for record in islice(iter_records(absolute, fmt, fields), skip, None):
                    if record.source.startswith(absolute):
                        record.source = given + record.source[len(absolute):]
                    batch.append(_record_json(record))
                    if len(batch) == block_records:
                        yield pa.table({"record": batch})
                        batch = []
                if batch:
                    yield pa.table({"record": batch})

            # Workers may not share the driver's working directory: they open the absolute path (taken on the
            # driver) and report the path as the user gave it, as the local engine does.
            return [ReadTask(lambda g=str(unit), a=absolute, f=fmt, s=skip: read(g, a, f, s),
                             BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None,
                                           input_files=(absolute,)))
                    for (unit, fmt), absolute, skip in zip(units, absolutes, skips)]

    return DumpDatasource()


class _Scorer:
    """A Ray actor: one classifier, loaded once, scoring batches of records."""

    def __init__(self, model: str, backend: str, int8: bool, device: str | None, batch_size: int, threads: int,
                 bf16: bool = False):
        # An actor owns `cpus_per_actor` cores: without these, torch and the tokenizer's thread pool each start
        # one thread per core of the node, and actors sharing a node fight over the cores (measured: CPU time
        # above wall time in every actor, and 2 actors slower than 1 on 2 cores).
        os.environ["TOKENIZERS_PARALLELISM"] = "false" if threads == 1 else "true"
        os.environ["RAYON_NUM_THREADS"] = str(threads)
        self.classifier = EventClassifier.from_pretrained(model, backend=backend, int8=int8, bf16=bf16,
                                                          device=device, batch_size=batch_size, threads=threads)

    def __call__(self, batch: dict) -> dict:
        records = [scorable(_from_json(text)) for text in batch["record"]]
        articles = [r for r in records if isinstance(r, Article)]
        rows = iter(self.classifier.score(articles))
        # score() returns each article's paragraphs in order; article ids may repeat in a dump, so rows go back
        # to their article by its paragraph count, not by id.
        by_article = [list(islice(rows, len(split_article(a.title, a.text)))) for a in articles]
        out_kind, out_payload, out_last = [], [], []
        article_index = 0
        for record in records:
            if isinstance(record, BadRecord):
                out_kind.append("error")
                out_payload.append(_record_json(record))
                out_last.append(True)
                continue
            taken = by_article[article_index]
            article_index += 1
            for i, row in enumerate(taken):
                out_kind.append("row")
                out_payload.append(json.dumps(row.to_dict(), ensure_ascii=False))
                out_last.append(i == len(taken) - 1)
        return {"kind": out_kind, "payload": out_payload, "last": out_last}


def _labels(model: str | Path) -> list[str]:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(model))
    return [config.id2label[i] for i in range(len(config.id2label))]


def score_dump_ray(model: str | Path, input: str | Path, output: str | Path, *,
                   errors: str | Path | None = None, article_summary: str | Path | None = None,
                   fmt: str | None = None, fields: Fields | None = None, backend: str = "torch",
                   int8: bool = False, bf16: bool = False, device: str | None = None, batch_size: int = 32,
                   actors: int = 2, cpus_per_actor: float = 1, gpus_per_actor: float = 0,
                   records_per_batch: int = 16, chunk_articles: int = 256, overwrite: bool = False,
                   progress: bool = True, print_errors: bool = True, address: str | None = None) -> dict:
    """`score_dump` on Ray Data; the same output files and summary keys (see the module docstring)."""
    import ray

    if not Path(input).exists():
        raise FileNotFoundError(f"{input}: no such file or folder")
    if isinstance(model, EventClassifier):
        raise TypeError("the Ray engine loads the model in each actor: pass the model folder, not a classifier")
    model = str(Path(model).resolve()) if Path(model).exists() else str(model)
    fields = fields or Fields()
    labels = _labels(model)
    writer = ScoredWriter(output, labels, errors=errors, summary=article_summary, resume=not overwrite)
    units = dump_units(input, fmt)
    skips = committed_per_unit(units, fields, writer.records_done)
    if not ray.is_initialized():
        # RAY_ADDRESS (or address=) joins a cluster; otherwise a local Ray on this machine's cores.
        ray.init(address=address or os.environ.get("RAY_ADDRESS"), include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
    context = ray.data.DataContext.get_current()
    # Input order in, input order out: the writer's resume point counts records in dump order.
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    # One block per actor batch: the actor pool hands out whole blocks, so blocks larger than a batch would give
    # one actor a whole block's batches while the others wait (measured: 2 actors slower than 1 with 256-record
    # blocks on a 300-article dump).
    dataset = ray.data.read_datasource(_datasource(units, skips, fields, records_per_batch),
                                       num_cpus=READ_CPUS).map_batches(
        _Scorer, fn_constructor_kwargs={"model": model, "backend": backend, "int8": int8, "bf16": bf16,
                                        "device": device,
                                        "batch_size": batch_size, "threads": max(1, int(cpus_per_actor))},
        batch_size=records_per_batch, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=cpus_per_actor, num_gpus=gpus_per_actor)
    bar = tqdm(desc="articles", unit="art", initial=writer.records_done, disable=not progress)
    counts: Counter = Counter()
    started, finished, uncommitted = time.time(), False, 0
    try:
        rows: list[ScoredParagraph] = []
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            for kind, payload, last in zip(batch["kind"], batch["payload"], batch["last"]):
                if kind == "error":
                    record = _from_json(payload)
                    if print_errors:
                        print(f"error: {record}", file=sys.stderr)
                    writer.write_error(record)
                else:
                    rows.append(ScoredParagraph(**json.loads(payload)))
                if last:
                    uncommitted += 1
                    if uncommitted >= chunk_articles:
                        commit_chunk(writer, rows, counts, uncommitted, bar)
                        rows, uncommitted = [], 0
        commit_chunk(writer, rows, counts, uncommitted, bar)
        finished = True
    finally:
        bar.close()
        writer.close(finished)
    return {
        **run_summary(writer, counts, labels, finished, started),
        "engine": f"ray ({actors} actors)",
        "output": str(output),
        "errors_file": str(writer.errors),
    }

