"""Labelled data: read a JSONL of code units with labels, and fingerprint it for the model card."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class LabelledSet:
    """Code units with their 0-5 labels and the package each came from (the CV group)."""

    ids: list[str]
    codes: list[str]
    languages: list[str]
    labels: npt.NDArray[np.float64]
    groups: list[str]
    sha256: str
    path: str

    def __len__(self) -> int:
        return len(self.codes)

    def label_counts(self) -> dict[str, int]:
        counts = Counter(int(np.floor(v + 0.5)) for v in self.labels)
        return {str(k): counts[k] for k in sorted(counts)}

    def subset(self, index: list[int]) -> LabelledSet:
        return LabelledSet(
            ids=[self.ids[i] for i in index],
            codes=[self.codes[i] for i in index],
            languages=[self.languages[i] for i in index],
            labels=self.labels[index],
            groups=[self.groups[i] for i in index],
            sha256=self.sha256,
            path=self.path,
        )


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_labelled(path: str | Path, *, label_field: str = "label") -> LabelledSet:
    """Read `{"id","code","label"[,"language","package"]}` lines; rows without code are skipped.

    Raises:
        ValueError: a line is not JSON or its label is missing or off the 0-5 scale.
    """
    ids, codes, languages, labels, groups = [], [], [], [], []
    with Path(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                label = float(row[label_field])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not a labelled unit ({exc})") from None
            if not 0.0 <= label <= 5.0:
                raise ValueError(f"{path}:{n}: label {label} is outside 0..5")
            if not row.get("code"):
                continue
            ids.append(str(row.get("id", n)))
            codes.append(row["code"])
            languages.append(row.get("language") or "")
            labels.append(label)
            groups.append(str(row.get("package") or row.get("group") or ""))
    return LabelledSet(
        ids=ids,
        codes=codes,
        languages=languages,
        labels=np.asarray(labels, dtype=np.float64),
        groups=groups,
        sha256=file_sha256(path),
        path=str(path),
    )
