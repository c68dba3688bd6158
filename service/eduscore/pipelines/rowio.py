"""JSONL/Parquet row I/O for `eduscore filter`: chunked, resumable readers and sinks."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eduscore.pipelines.rows import EDU_COLUMNS, EDU_UNITS, UNIT_FIELDS, UsageError

# --- input ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Chunk:
    rows: list[dict[str, Any]]
    end: int  # input position after this chunk


def count_rows(path: str, fmt: str) -> int:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def read_chunks(path: str, fmt: str, start: int, n: int, code_field: str) -> Iterator[Chunk]:
    """Chunks of up to `n` rows from input position `start`."""
    if fmt == "parquet":
        yield from _parquet_chunks(path, start, n, code_field)
        return
    with open(path, "rb") as f:
        f.seek(start)
        rows: list[dict[str, Any]] = []
        pos = start
        for line in f:
            pos += len(line)
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise UsageError(f"{path} at byte {pos - len(line)}: not JSON ({exc})") from None
            if not isinstance(row, dict) or code_field not in row:
                raise UsageError(
                    f"{path} at byte {pos - len(line)}: row has no field {code_field!r}"
                    " (set --code-field)"
                )
            rows.append(row)
            if len(rows) >= n:
                yield Chunk(rows, pos)
                rows = []
        if rows:
            yield Chunk(rows, pos)


def _parquet_chunks(path: str, start: int, n: int, code_field: str) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    if code_field not in pf.schema_arrow.names:
        raise UsageError(f"{path}: no column {code_field!r} in {pf.schema_arrow.names}")
    first, skip = 0, start  # skip whole row groups instead of reading and dropping them
    while first < pf.num_row_groups and skip >= pf.metadata.row_group(first).num_rows:
        skip -= pf.metadata.row_group(first).num_rows
        first += 1
    pos = start - skip
    groups = list(range(first, pf.num_row_groups))
    for batch in pf.iter_batches(batch_size=n, row_groups=groups) if groups else ():
        pos += batch.num_rows
        if skip >= batch.num_rows:
            skip -= batch.num_rows
            continue
        rows = batch.slice(skip).to_pylist()
        skip = 0
        yield Chunk(rows, pos)


# --- output ---------------------------------------------------------------------------------


class JsonlSink:
    """Appends to `<output>.partial`; `checkpoint` returns the durable byte size."""

    def __init__(self, output: Path, pos: int) -> None:
        self.output = output
        self.partial = output.with_name(output.name + ".partial")
        if pos and self.partial.exists():
            self.f = self.partial.open("r+b")
            self.f.truncate(pos)  # drop rows written after the last checkpoint
            self.f.seek(pos)
        else:
            self.f = self.partial.open("wb")

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        self.f.write(
            b"".join((json.dumps(r, ensure_ascii=False, default=str) + "\n").encode() for r in rows)
        )

    def checkpoint(self) -> int:
        self.f.flush()
        os.fsync(self.f.fileno())
        return self.f.tell()

    def finish(self) -> None:
        self.f.close()
        os.replace(self.partial, self.output)

    def close(self) -> None:
        self.f.close()


class ParquetSink:
    """One Parquet part per checkpoint under `<output>.parts/`, merged into `output` at the end.
    With `units`, rows carry `edu_units` (list<struct>, UNIT_FIELDS)."""

    def __init__(self, output: Path, pos: int, schema: Any | None, *, units: bool = False) -> None:
        self.output, self.schema, self.n_parts, self.units = output, schema, pos, units
        self.parts = output.with_name(output.name + ".parts")
        self.parts.mkdir(exist_ok=True)
        for part in self.parts.glob("part-*.parquet"):  # parts beyond the checkpoint
            if int(part.stem.split("-")[1]) >= pos:
                part.unlink()
        self.buffer: list[dict[str, Any]] = []

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        self.buffer.extend(rows)

    def checkpoint(self) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.buffer:
            if self.schema is not None:
                table = pa.Table.from_pylist(self.buffer, schema=self.schema)
            else:  # JSONL input: rows may differ in keys; take their union, in first-seen order
                keys = list(dict.fromkeys(k for r in self.buffer for k in r))
                # edu_units typed: a part whose rows have no units would infer list<null>.
                known = {EDU_UNITS: units_type()}
                table = pa.table(
                    {k: pa.array([r.get(k) for r in self.buffer], known.get(k)) for k in keys}
                )
            tmp = self.parts / f".tmp-{self.n_parts:06d}.parquet"
            pq.write_table(table, tmp)
            os.replace(tmp, self.parts / f"part-{self.n_parts:06d}.parquet")
            self.n_parts += 1
            self.buffer.clear()
        return self.n_parts

    def finish(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        paths = [self.parts / f"part-{i:06d}.parquet" for i in range(self.n_parts)]
        schemas = [pq.read_schema(p) for p in paths]
        if self.schema is not None:
            schemas.insert(0, self.schema)
        schema = (
            pa.unify_schemas(schemas, promote_options="permissive")
            if schemas
            else pa.schema(_edu_fields(self.units))
        )
        tmp = self.output.with_name(self.output.name + ".tmp")
        with pq.ParquetWriter(tmp, schema) as writer:  # streams part by part: bounded memory
            for p in paths:
                writer.write_table(pq.read_table(p).cast(schema))
            if not paths:
                writer.write_table(schema.empty_table())
        os.replace(tmp, self.output)
        shutil.rmtree(self.parts)

    def close(self) -> None:
        pass


def _edu_types() -> tuple[Any, ...]:
    """Arrow types of EDU_COLUMNS (a function: pyarrow is imported only when writing Parquet)."""
    import pyarrow as pa

    return (pa.float64(), pa.bool_(), pa.int64())


def units_type() -> Any:
    """Arrow type of `edu_units`: a list of UNIT_FIELDS structs."""
    import pyarrow as pa

    kinds = (
        pa.string(),
        pa.string(),
        pa.int32(),
        pa.int32(),
        pa.string(),
        pa.float64(),
        pa.bool_(),
    )
    return pa.list_(pa.struct(list(zip(UNIT_FIELDS, kinds, strict=True))))


def _edu_fields(units: bool) -> list[tuple[str, Any]]:
    fields = list(zip(EDU_COLUMNS, _edu_types(), strict=True))
    return [*fields, (EDU_UNITS, units_type())] if units else fields


def output_schema(input_path: str, in_fmt: str, *, units: bool = False) -> Any | None:
    """For Parquet to Parquet: the input's schema plus the edu columns, so parts agree."""
    if in_fmt != "parquet":
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(input_path)
    for name, kind in _edu_fields(units):
        if name not in schema.names:
            schema = schema.append(pa.field(name, kind))
    return schema
