"""Bad input, overload and faults: precise statuses, nothing lost, the server stays healthy."""

from __future__ import annotations

import asyncio
import math
import random
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eduscore.config import Settings
from eduscore.scoring.scorer import ScoredSnippet, Scorer, Snippet
from eduscore.serving.app import App
from eduscore.serving.server import build_server
from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc

from .snippets import TEXTBOOK

TOL = 1e-6  # the style guide's oracle bound: scores are float32 in process and on the wire


def _req(code: str, id: str = "", **kw: float) -> pb.ScoreRequest:
    return pb.ScoreRequest(snippet=pb.Snippet(id=id, code=code), **kw)


def _alone(scorer: Scorer, code: str) -> ScoredSnippet:
    """What the model says of `code` scored by itself, in-process: the reference for a result."""
    return scorer.score_batch([Snippet(code=code)])[0]


def _serving(channel: grpc.Channel) -> bool:
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


# ---- against the shared server process -------------------------------------------------------


def test_invalid_utf8_on_the_wire_is_invalid_argument(channel: grpc.Channel) -> None:
    raw = channel.unary_unary("/eduscore.v1.EduScorer/Score")  # bytes in, bytes out
    good = _req("AB", id="x").SerializeToString()
    with pytest.raises(grpc.RpcError) as err:
        raw(good.replace(b"AB", b"\xff\xfe"), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "UTF-8" in err.value.details()
    stream = channel.stream_stream("/eduscore.v1.EduScorer/ScoreStream")
    with pytest.raises(grpc.RpcError) as err:
        list(stream(iter([good, good.replace(b"AB", b"\xc3\x28")]), timeout=30))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _serving(channel)


def test_message_over_receive_limit_is_resource_exhausted(stub, channel) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.Score(_req("x" * (17 * 1024 * 1024)), timeout=30)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _serving(channel)


def test_long_lines_unknown_language_and_odd_ids_are_scored(stub) -> None:
    minified = "var a=" + ",".join(str(i) for i in range(60_000)) + ";"
    reqs = [
        pb.Snippet(id="", code=minified, language="javascript"),
        pb.Snippet(id="dup", code="x = 1", language="klingon"),
        pb.Snippet(id="dup", code="y = 2"),
    ]
    out = stub.ScoreBatch(pb.ScoreBatchRequest(snippets=reqs), timeout=60).results
    assert [r.id for r in out] == ["", "dup", "dup"]
    assert out[0].truncated and out[0].n_tokens > 256
    assert all(0.0 <= r.score <= 5.0 for r in out)


def test_client_cancelling_mid_stream_leaves_server_healthy(stub, channel, scorer) -> None:
    def endless():
        i = 0
        while True:
            yield _req(f"def f{i}():\n    return {i}\n", id=str(i))
            i += 1

    call = stub.ScoreStream(endless(), timeout=120)
    got = [next(call).id for _ in range(3)]
    call.cancel()
    assert got == ["0", "1", "2"]
    assert _serving(channel)
    after = stub.Score(_req("z = 3"), timeout=30)
    assert after.score == pytest.approx(_alone(scorer, "z = 3").score, abs=TOL)


def test_hostile_snippets_are_never_executed(stub, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payloads = [
        f"import os\nos.system('touch {marker}')\n",
        f"__import__('pathlib').Path('{marker}').touch()\n",
        f"exec(\"open('{marker}', 'w').write('x')\")\n",
        f"eval(compile(\"open('{marker}','w')\", 'x', 'exec'))\n",
        f"#!/bin/sh\ntouch {marker}\n",
        f'{{"$(touch {marker})": "`touch {marker}`"}}',
    ]
    for code in payloads:
        assert 0.0 <= stub.Score(_req(code), timeout=30).score <= 5.0
    assert not marker.exists()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    code=st.text(max_size=400),
    threshold=st.one_of(st.none(), st.floats()),
    language=st.text(max_size=12),
)
def test_fuzzed_requests_never_internal(
    stub, code: str, threshold: float | None, language: str
) -> None:
    req = pb.ScoreRequest(snippet=pb.Snippet(code=code, language=language))
    if threshold is not None:
        req.threshold = threshold
    try:
        res = stub.Score(req, timeout=30)
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
        return
    assert 0.0 <= res.score <= 5.0 and math.isfinite(res.score)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=12))
def test_fuzzed_raw_bytes_never_internal(channel, blobs: list[bytes]) -> None:
    raw = channel.unary_unary("/eduscore.v1.EduScorer/ScoreBatch")
    body = b"".join(b"\x0a" + _varint(len(b)) + b for b in blobs)  # repeated field 1, any bytes
    try:
        raw(body, timeout=30)
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


# ---- in-process servers for overload and faults ----------------------------------------------


async def _start(scorer: Scorer, **overrides: object) -> App:
    app = build_server(Settings(metrics_port=-1, http_port=-1, **overrides), "127.0.0.1:0")
    await app.start(scorer=scorer)
    return app


async def test_overload_refuses_explicitly_and_loses_nothing(scorer) -> None:
    app = await _start(
        scorer,
        max_queue_size=8,
        max_batch_snippets=8,
        max_stream_inflight=8,
        max_batch_size=4,
        cache_size=0,
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)

            async def one(i: int) -> tuple[str, object]:
                try:
                    r = await stub.Score(
                        _req(f"def g{i}(x):\n    return x - {i}\n", id=str(i)), timeout=120
                    )
                    return "ok", r.id
                except grpc.aio.AioRpcError as exc:
                    return exc.code().name, exc.details()

            outcomes = await asyncio.gather(*(one(i) for i in range(80)))
            kinds = {k for k, _ in outcomes}
            assert kinds <= {"ok", "RESOURCE_EXHAUSTED"}, outcomes
            assert "RESOURCE_EXHAUSTED" in kinds and "ok" in kinds
            refused = [d for k, d in outcomes if k == "RESOURCE_EXHAUSTED"]
            assert all("--max-queue-size=8" in d for d in refused)
            ok_ids = [d for k, d in outcomes if k == "ok"]
            assert sorted(ok_ids, key=int) == [
                str(i) for i, (k, _) in enumerate(outcomes) if k == "ok"
            ]
            # A stream above capacity is slowed, not refused: every item comes back, in order.
            reqs = [_req(f"value_{i} = {i}\n", id=str(i)) for i in range(40)]
            got = [r.id async for r in stub.ScoreStream(iter(reqs), timeout=120)]
            assert got == [str(i) for i in range(40)]
    finally:
        await app.stop(1)


def _distinct(n: int) -> list[str]:
    """Snippets that differ in length, so each has its own n_tokens: a crossed result shows."""
    return [
        f"def step_{i}(x: int) -> int:\n"
        + "".join(f"    x = x * {i + 2} + {k}  # step {k}\n" for k in range(i + 1))
        + "    return x\n"
        for i in range(n)
    ]


async def test_every_result_belongs_to_its_request_under_mixed_traffic(scorer) -> None:
    """Unary, batch and stream calls in flight at once, in shuffled order, cache off: each
    answer must be its own snippet's score and n_tokens as computed alone."""
    codes = _distinct(24)
    expected = [_alone(scorer, c) for c in codes]
    assert len({e.n_tokens for e in expected}) == len(codes)
    rng = random.Random(16)
    jobs = [i for i in range(len(codes)) for _ in range(3)]
    rng.shuffle(jobs)
    unary, batched, streamed = jobs[:24], jobs[24:48], jobs[48:]
    app = await _start(scorer, cache_size=0, max_batch_size=8)
    got: list[tuple[int, pb.ScoreResult]] = []
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)

            async def one(i: int) -> None:
                got.append((i, await stub.Score(_req(codes[i], id=f"u{i}"), timeout=120)))

            async def batch(group: list[int]) -> None:
                snippets = [pb.Snippet(id=f"b{i}", code=codes[i]) for i in group]
                reply = await stub.ScoreBatch(pb.ScoreBatchRequest(snippets=snippets), timeout=120)
                got.extend(zip(group, reply.results, strict=True))

            async def stream(part: list[int]) -> None:
                reqs = [_req(codes[i], id=f"s{i}") for i in part]
                answers = [r async for r in stub.ScoreStream(iter(reqs), timeout=120)]
                got.extend(zip(part, answers, strict=True))

            groups = [batched[k : k + 5] for k in range(0, len(batched), 5)]
            calls = [
                *(one(i) for i in unary),
                *(batch(g) for g in groups),
                stream(streamed[::2]),
                stream(streamed[1::2]),
            ]
            rng.shuffle(calls)
            await asyncio.gather(*calls)
    finally:
        await app.stop(1)
    assert len(got) == len(jobs)
    mismatched = [
        (i, r.id, r.n_tokens, expected[i].n_tokens)
        for i, r in got
        if r.id[1:] != str(i)
        or r.n_tokens != expected[i].n_tokens
        or abs(r.score - expected[i].score) > TOL
    ]
    assert mismatched == [], mismatched


class _DyingScorer(Scorer):
    """The real scorer, whose worker thread is killed by a fault on the second batch."""

    def __init__(self, inner: Scorer) -> None:
        self.__dict__.update(inner.__dict__)
        self.calls = 0

    def score_units(self, snippets, threshold=None):
        self.calls += 1
        if self.calls > 1:
            raise SystemExit("injected fault: the worker dies")
        return super().score_units(snippets, threshold)


async def test_dead_worker_means_not_serving_and_explicit_errors(scorer) -> None:
    app = await _start(scorer, cache_size=0)
    app.batcher.lanes[0].runner = _DyingScorer(scorer)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            await stub.Score(_req("a = 1"), timeout=30)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Score(_req("b = 2"), timeout=30)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Score(_req("c = 3"), timeout=30)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            health = health_pb2_grpc.HealthStub(ch)
            for _ in range(50):
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
                if reply.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                    break
                await asyncio.sleep(0.05)
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        await app.stop(1)


async def test_bearer_token_required_except_for_health(scorer) -> None:
    app = await _start(scorer, auth_token="s3cret")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            for metadata in ((), (("authorization", "Bearer wrong"),)):
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub.Score(_req("x = 1"), metadata=metadata, timeout=10)
                assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            with pytest.raises(grpc.aio.AioRpcError) as err:
                async for _ in stub.ScoreStream(iter([_req("x = 1")]), timeout=10):
                    pass
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            ok = await stub.Score(
                _req("x = 1"), metadata=(("authorization", "Bearer s3cret"),), timeout=30
            )
            assert ok.score == pytest.approx(_alone(scorer, "x = 1").score, abs=TOL)
            reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await app.stop(1)


def _certs(tmp: Path) -> dict[str, bytes]:
    """A throwaway CA, a server cert for 127.0.0.1/localhost and a client cert."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("test-ca"))
        .issuer_name(name("test-ca"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(cn: str, serial: int, san: bool) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        b = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        if san:
            b = b.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        cert = b.sign(ca_key, hashes.SHA256())
        return (
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            cert.public_bytes(serialization.Encoding.PEM),
        )

    out = {"ca": ca.public_bytes(serialization.Encoding.PEM)}
    out["server_key"], out["server_cert"] = leaf("localhost", 2, True)
    out["client_key"], out["client_cert"] = leaf("client", 3, False)
    for k, v in out.items():
        (tmp / f"{k}.pem").write_bytes(v)
    return out


async def test_mutual_tls(scorer, tmp_path: Path) -> None:
    certs = _certs(tmp_path)
    app = await _start(
        scorer,
        tls_cert=str(tmp_path / "server_cert.pem"),
        tls_key=str(tmp_path / "server_key.pem"),
        tls_client_ca=str(tmp_path / "ca.pem"),
    )
    target = f"localhost:{app.port}"
    try:
        good = grpc.ssl_channel_credentials(certs["ca"], certs["client_key"], certs["client_cert"])
        async with grpc.aio.secure_channel(target, good) as ch:
            res = await eduscore_pb2_grpc.EduScorerStub(ch).Score(_req(TEXTBOOK), timeout=30)
            assert res.score > 0
        no_client_cert = grpc.ssl_channel_credentials(certs["ca"])
        async with grpc.aio.secure_channel(target, no_client_cert) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await eduscore_pb2_grpc.EduScorerStub(ch).Score(_req("x = 1"), timeout=10)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        async with grpc.aio.insecure_channel(target) as ch:
            with pytest.raises(grpc.aio.AioRpcError):
                await eduscore_pb2_grpc.EduScorerStub(ch).Score(_req("x = 1"), timeout=5)
    finally:
        await app.stop(1)
