"""Whole files through the served API: their units go through the batcher, the file is judged as
the in-process Scorer judges it, and the units come back only when asked (gRPC, HTTP, both
clients, `eduscore score`); a file over --max-file-units is refused with the flag named."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from eduscore.client import AsyncEduScoreClient, EduScoreClient, SnippetIn, UnitResult
from eduscore.scoring.scorer import Snippet
from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc as pb_grpc

from .conftest import MODEL_DIR, RunningServer, start_server, stop_server
from .long_files import JS_MODULE, PY_MODULE
from .snippets import SETTINGS, SMALL, TEXTBOOK
from .test_http import call, grpc_json
from .test_server import scrape, scrape_until

TOL = 1e-6  # the style guide's oracle bound
#: The declarations each file holds, by name: what its units must be.
PY_NAMES = {
    "Graph": "class",
    "breadth_first": "function",
    "dijkstra": "function",
    "bellman_ford": "function",
    "path_to": "function",
    "example": "function",
}
JS_NAMES = {
    "EventEmitter": "class",
    "debounce": "function",
    "rankMatches": "function",
    "createSearchBox": "function",
    "throttle": "function",
    "LruCache": "class",
}


def _snippet(code: str, id: str = "", language: str = "") -> pb.Snippet:
    return pb.Snippet(id=id, code=code, language=language)


def _in_process(scorer, codes: Sequence[tuple[str, str, str]], threshold: float | None = None):
    """The oracle: the in-process Scorer on (id, code, language)."""
    return scorer.score_batch(
        [Snippet(id=i, code=c, language=lang) for i, c, lang in codes], threshold
    )


def _same(got: pb.ScoreResult, want: Any) -> None:
    """A served result equals the in-process one: score within TOL, the rest exactly."""
    assert got.id == want.id
    assert got.score == pytest.approx(want.score, abs=TOL)
    assert (got.keep, got.label, got.n_tokens, got.truncated, got.language, got.tier) == (
        want.keep,
        want.label,
        want.n_tokens,
        want.truncated,
        want.language,
        want.tier,
    )


def _same_units(got: Sequence[Any], want: Sequence[Any]) -> None:
    assert [(u.kind, u.name, u.start_line, u.end_line, u.language) for u in got] == [
        (u.kind, u.name, u.start_line, u.end_line, u.language) for u in want
    ]
    for g, w in zip(got, want, strict=True):
        assert g.score == pytest.approx(w.score, abs=TOL) and g.keep == w.keep


def _check_against_text(code: str, units: Sequence[Any], names: dict[str, str]) -> None:
    """Units in file order and inside the file, the declarations not overlapping (the head, the
    file's first lines, may cover some); each declaration a unit of its kind whose lines start
    at its text (or at the comment or decorator above it) and hold it."""
    lines = code.split("\n")
    assert units[0].kind == "head" and units[0].start_line == 1
    spans = [(u.start_line, u.end_line) for u in units]
    assert spans == sorted(spans) and all(1 <= a <= b <= len(lines) for a, b in spans)
    for a, b in itertools.pairwise([u for u in units if u.kind != "head"]):
        assert a.end_line < b.start_line
    declared = {u.name: u for u in units if u.name}
    assert {n: declared[n].kind for n in names} == names
    for name, u in declared.items():
        text = "\n".join(lines[u.start_line - 1 : u.end_line])
        assert name in text.split("\n", 1)[0] or lines[u.start_line - 1].lstrip().startswith(
            ("#", "/", "*", "@")
        ), (name, lines[u.start_line - 1])
        assert name in text


# ---- the session server --------------------------------------------------------------------


def test_a_file_comes_back_with_its_units_scored_as_in_process(stub, scorer) -> None:
    got = stub.Score(
        pb.ScoreRequest(snippet=_snippet(PY_MODULE, "graph.py", "python"), units=True), timeout=120
    )
    (want,) = _in_process(scorer, [("graph.py", PY_MODULE, "python")])
    _same(got, want)
    _same_units(got.units, want.units)
    assert len(got.units) > len(PY_NAMES)  # the head and the __main__ block besides
    _check_against_text(PY_MODULE, got.units, PY_NAMES)
    bellman = next(u for u in got.units if u.name == "bellman_ford")
    assert PY_MODULE.split("\n")[bellman.end_line - 1].strip() == "return distance"
    # The file's signals and counts: its units' (a mean and a sum), not its first 256 tokens.
    assert got.n_tokens > 1000 and got.signals["is_python"] == 1.0


def test_units_only_when_asked(stub) -> None:
    asked = pb.ScoreRequest(snippet=_snippet(JS_MODULE, "ui.js", "javascript"), units=True)
    with_units = stub.Score(asked, timeout=120)
    without = stub.Score(pb.ScoreRequest(snippet=asked.snippet), timeout=120)
    assert len(with_units.units) >= len(JS_NAMES) and len(without.units) == 0
    assert without.score == with_units.score and without.keep == with_units.keep
    batch = stub.ScoreBatch(pb.ScoreBatchRequest(snippets=[asked.snippet]), timeout=120)
    assert len(batch.results[0].units) == 0 and batch.results[0].score == with_units.score


def test_a_short_snippet_scores_as_before_and_has_no_units(stub, scorer) -> None:
    got = stub.Score(pb.ScoreRequest(snippet=_snippet(TEXTBOOK, "t"), units=True), timeout=60)
    # As before whole files: the snippet scored as one unit, with no splitting.
    (want,) = scorer.score_units([Snippet(id="t", code=TEXTBOOK)])
    _same(got, want)
    assert len(got.units) == 0
    assert dict(got.signals).keys() == dict(want.signals).keys()


def test_files_and_snippets_mixed_in_one_batch_come_back_in_order(stub, scorer) -> None:
    codes = [
        ("s0", SMALL[0], ""),
        ("py", PY_MODULE, "python"),
        ("book", TEXTBOOK, ""),
        ("js", JS_MODULE, "javascript"),
        ("conf", SETTINGS, ""),
    ]
    request = pb.ScoreBatchRequest(
        snippets=[_snippet(c, i, lang) for i, c, lang in codes], units=True, threshold=2.5
    )
    reply = stub.ScoreBatch(request, timeout=180)
    want = _in_process(scorer, codes, threshold=2.5)
    assert [r.id for r in reply.results] == [i for i, _, _ in codes]
    for got, exp in zip(reply.results, want, strict=True):
        _same(got, exp)
        _same_units(got.units, exp.units)
        assert all(u.keep == (u.score >= 2.5) for u in got.units)
    assert [bool(r.units) for r in reply.results] == [False, True, False, True, False]
    _check_against_text(JS_MODULE, reply.results[3].units, JS_NAMES)


def test_a_stream_returns_units_per_request(stub, scorer) -> None:
    requests = [
        pb.ScoreRequest(snippet=_snippet(PY_MODULE, "a", "python"), units=True),
        pb.ScoreRequest(snippet=_snippet(JS_MODULE, "b", "javascript")),
        pb.ScoreRequest(snippet=_snippet(TEXTBOOK, "c"), units=True),
    ]
    replies = list(stub.ScoreStream(iter(requests), timeout=180))
    want = _in_process(
        scorer, [("a", PY_MODULE, "python"), ("b", JS_MODULE, "javascript"), ("c", TEXTBOOK, "")]
    )
    for got, exp in zip(replies, want, strict=True):
        _same(got, exp)
    _same_units(replies[0].units, want[0].units)
    assert [len(r.units) for r in replies][1:] == [0, 0]


def test_http_returns_the_same_units(server, stub) -> None:
    snippet = {"id": "g", "code": PY_MODULE, "language": "python"}
    status, _, body = call(
        server.http_url, "POST", "/v1/score", {"snippet": snippet, "units": True}
    )
    assert status == 200, body
    want = grpc_json(
        stub.Score(pb.ScoreRequest(snippet=_snippet(PY_MODULE, "g", "python"), units=True))
    )
    assert [{k: v for k, v in u.items() if k != "score"} for u in body["units"]] == [
        {k: v for k, v in u.items() if k != "score"} for u in want["units"]
    ]
    for got, exp in zip(body["units"], want["units"], strict=True):
        assert set(got) == {"kind", "name", "start_line", "end_line", "language", "score", "keep"}
        assert got["score"] == pytest.approx(exp["score"], abs=TOL)
    status, _, plain = call(server.http_url, "POST", "/v1/score_batch", {"snippets": [snippet]})
    assert status == 200 and plain["results"][0]["units"] == []
    assert plain["results"][0]["score"] == pytest.approx(body["score"], abs=TOL)
    status, _, bad = call(server.http_url, "POST", "/v1/score", {"snippet": snippet, "units": 1})
    assert status == 400 and bad["message"] == "units: must be true or false, got int"


async def test_both_clients_return_unit_results(server, scorer) -> None:
    (want,) = _in_process(scorer, [("", PY_MODULE, "python")])
    with EduScoreClient(server.address) as client:
        one = client.score(PY_MODULE, language="python", units=True)
        (batched,) = client.score_batch([SnippetIn(PY_MODULE, language="python")], units=True)
        (streamed,) = client.score_stream([SnippetIn(PY_MODULE, language="python")], units=True)
        plain = client.score(PY_MODULE, language="python")
    async with AsyncEduScoreClient(server.address) as aclient:
        aone = await aclient.score(PY_MODULE, language="python", units=True)
    for got in (one, batched, streamed, aone):
        assert isinstance(got.units, tuple) and all(isinstance(u, UnitResult) for u in got.units)
        assert got.score == pytest.approx(want.score, abs=TOL)
        _same_units(got.units, want.units)
    assert plain.units == () and plain.score == one.score


def test_split_files_are_counted(server, stub) -> None:
    before = scrape(server.metrics_url)
    code = PY_MODULE + f"\n# {uuid.uuid4().hex}\n"
    stub.Score(pb.ScoreRequest(snippet=_snippet(code, language="python")), timeout=120)
    stub.Score(pb.ScoreRequest(snippet=_snippet(TEXTBOOK)), timeout=60)  # one unit: not counted
    after = scrape_until(
        server.metrics_url,
        lambda m: m.get("eduscore_file_units_count", 0) >= before["eduscore_file_units_count"] + 1,
    )
    assert after["eduscore_file_units_count"] == before["eduscore_file_units_count"] + 1
    assert after["eduscore_file_units_sum"] - before["eduscore_file_units_sum"] > len(PY_NAMES)


def test_eduscore_score_prints_units_when_asked(server, tmp_path: Path) -> None:
    src = tmp_path / "graph.py"
    src.write_text(PY_MODULE)

    def score(*flags: str) -> dict[str, Any]:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "eduscore",
                "score",
                str(src),
                "--server",
                server.address,
                *flags,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert out.returncode == 0, out.stderr
        (line,) = out.stdout.splitlines()
        return json.loads(line)

    with_units, without = score("--units"), score()
    assert "units" not in without  # the line as before
    assert {u["name"]: u["kind"] for u in with_units["units"] if u["name"]} == PY_NAMES
    assert with_units["score"] == without["score"]


# ---- a server with small limits: --max-file-units 4, --max-queue-size 8 ----------------------

#: Plain text of 3 pieces (each under a unit), 3 files of which are 9 units: more than 8.
TEXT = "\n\n".join(f"Paragraph {i}: " + "the quick brown fox jumps. " * 40 for i in range(6))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The fast tier loads no encoder, so this second server starts in seconds."""
    if not (MODEL_DIR / "fast" / "metadata.json").exists():
        pytest.skip("the shipped model has no fast tier (models/current/fast/)")
    running = start_server(
        tmp_path_factory.mktemp("small"),
        *("--tier", "fast", "--max-file-units", "4", "--max-queue-size", "8"),
        *("--max-batch-snippets", "8", "--max-stream-inflight", "8"),
    )
    yield running
    assert stop_server(running) == 0, running.log()


def _refused(call_it: Any) -> str:
    with pytest.raises(grpc.RpcError) as err:
        call_it()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    return err.value.details()


def test_a_file_over_max_file_units_is_invalid_argument(small: RunningServer) -> None:
    with grpc.insecure_channel(small.address) as channel:
        stub = pb_grpc.EduScorerStub(channel)
        one = _refused(lambda: stub.Score(pb.ScoreRequest(snippet=_snippet(PY_MODULE)), timeout=60))
        assert one.startswith("snippet.code: the file splits into ")
        assert "--max-file-units=4" in one
        many = _refused(
            lambda: stub.ScoreBatch(
                pb.ScoreBatchRequest(snippets=[_snippet(TEXTBOOK), _snippet(PY_MODULE)]),
                timeout=60,
            )
        )
        assert many.startswith("snippets[1].code: ") and "--max-file-units=4" in many
        stream = _refused(
            lambda: list(
                stub.ScoreStream(iter([pb.ScoreRequest(snippet=_snippet(PY_MODULE, "f"))]))
            )
        )
        assert stream.startswith("request[0] (id='f').snippet.code: ")
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    status, _, body = call(small.http_url, "POST", "/v1/score", {"snippet": {"code": PY_MODULE}})
    assert status == 400 and body == {"code": "INVALID_ARGUMENT", "message": one}


def test_files_whose_units_exceed_the_queue_are_refused_and_the_cli_splits_them(
    small: RunningServer, tmp_path: Path
) -> None:
    with EduScoreClient(small.address) as client:
        (alone,) = client.score_batch([SnippetIn(TEXT)], units=True)
        assert len(alone.units) == 3 and {u.kind for u in alone.units} == {"piece"}
        with pytest.raises(grpc.RpcError) as err:
            client.score_batch([SnippetIn(TEXT, id=str(i)) for i in range(3)])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == (
        "snippets: the files of this request split into 9 units, more than --max-queue-size=8"
        " holds; send fewer files per request"
    )
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"notes{i}.txt")
        paths[-1].write_text(TEXT + f"\n{i}\n")
    out = subprocess.run(
        [sys.executable, "-m", "eduscore", "score", *map(str, paths), "--server", small.address],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["id"] for line in out.stdout.splitlines()] == list(map(str, paths))
