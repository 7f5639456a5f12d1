"""Metrics without a socket: the catalogue and its guide, stats -> samples, families, the
collector's bookkeeping, the collect config's metrics_port."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bpbfx import BackpackClient, ConfigurationError
from bpbfx.collect import load_config, shard
from bpbfx.metrics import METRICS, BpbfxCollector, Sample, families
from bpbfx.metrics.catalogue import GAP_REASONS
from bpbfx.metrics.samples import client_samples, stream_kind
from tests.support import Recorder

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "bpbfx" / "docs" / "metrics.md"


def trade(i: int) -> str:
    return ('{"stream":"trade.SOL_USDC","data":{"e":"trade","E":1,"s":"SOL_USDC","p":"1.5","q":"2","b":"1",'
            f'"a":"2","t":{i},"T":1,"m":true}}}}')


def by_name(samples: list[Sample], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {s.labels: s.value for s in samples if s.name == name}


def test_every_metric_is_in_the_guide_and_the_guide_names_no_other() -> None:
    """docs/metrics.md documents each metric of the catalogue with its type, and no metric that does not exist."""
    text = GUIDE.read_text()
    for info in METRICS.values():
        row = re.search(rf"^\| `{info.name}` \| {info.type} \|(.*)$", text, re.MULTILINE)
        assert row is not None, f"{info.name} ({info.type}) has no row in {GUIDE.name}"
        for label in info.labels:
            assert f"`{label}`" in row.group(1), f"{info.name}: label {label} not in its row"
    named = set(re.findall(r"\bbpbfx_[a-z_]+", text))
    assert named - set(METRICS) - {"bpbfx_collect"} == set()


def test_the_grafana_dashboard_queries_only_metrics_that_exist() -> None:
    """samples/grafana_dashboard.json is valid JSON and every bpbfx metric it queries is in the catalogue."""
    dashboard = json.loads((ROOT / "samples" / "grafana_dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    named = {name for e in exprs for name in re.findall(r"\bbpbfx_[a-z_]+", e)}
    assert named and named - set(METRICS) == set()


def test_counter_names_end_in_total_and_gauges_do_not() -> None:
    """Prometheus conventions: counters end in _total, gauges never do; ages and lags are gauges in
    seconds, merged by their largest value; no exchange name inside a metric name."""
    for info in METRICS.values():
        assert info.name.startswith("bpbfx_") and info.name.endswith("_total") == (info.type == "counter")
        assert (info.merge == "max") == info.name.endswith(("_age_seconds", "_lag_seconds")), info.name
        assert not any(word in info.name for word in ("backpack", "bitfinex", "redis"))


def test_client_samples_come_from_its_stats() -> None:
    """Stream counts, errors by class and both resync reasons are read from a fed client's stats()."""
    errors = Recorder()
    client = BackpackClient("ws://127.0.0.1:9", streams=["trade.SOL_USDC"], books=False, on_error=errors,
                            name="feeder")
    for i in range(3):
        client.feed(trade(i))
    client.feed("{not json")
    client.feed_lifecycle("close", code=1006, reason="gone")
    samples = client_samples(client)
    client.close()
    base = (("client", "feeder"), ("exchange", "backpack"))
    events = by_name(samples, "bpbfx_events_total")
    assert events[(*base, ("stream", "trade.SOL_USDC"), ("kind", "trade"))] == 3
    kinds = [type(e).__name__ for e in errors.items]
    assert len(kinds) == 2 and "ConnectionLostError" in kinds
    assert by_name(samples, "bpbfx_errors_total") == {(*base, ("error", k)): kinds.count(k) for k in kinds}
    assert client.stats().errors_by_type == {k: kinds.count(k) for k in kinds}
    assert by_name(samples, "bpbfx_book_resyncs_total") == {(*base, ("reason", "connection_lost")): 0,
                                                            (*base, ("reason", "integrity")): 0}
    assert by_name(samples, "bpbfx_books") == {base: 0} and by_name(samples, "bpbfx_sockets") == {base: 1}
    assert by_name(samples, "bpbfx_stream_last_message_age_seconds")[(*base, ("stream", "trade.SOL_USDC"))] >= 0


def test_stream_kind_is_the_stream_type() -> None:
    """The kind label: Backpack's stream type, Bitfinex's channel."""
    assert stream_kind("backpack", "depth.200ms.SOL_USDC") == "depth"
    assert stream_kind("backpack", "account.orderUpdate.SOL_USDC") == "account.orderUpdate"
    assert stream_kind("backpack", "kline.1m.SOL_USDC") == "kline"
    assert stream_kind("bitfinex", "book:tBTCUSD:P0:F0:25") == "book"
    assert stream_kind("bitfinex", "candles:trade:1m:tBTCUSD") == "candles"
    assert stream_kind("bitfinex", "account") == "account"


def test_families_type_document_and_merge_series() -> None:
    """Counters and gauges come out typed and documented; equal series add up, ages keep the largest."""
    labels = (("client", "a"), ("exchange", "backpack"))
    out = {f.name: f for f in families([
        Sample("bpbfx_messages_total", labels, 2), Sample("bpbfx_messages_total", labels, 3),
        Sample("bpbfx_last_message_age_seconds", labels, 4.0), Sample("bpbfx_last_message_age_seconds", labels, 1.0),
        Sample("my_own", (), 7),
    ])}
    messages = out["bpbfx_messages"]
    assert messages.type == "counter" and messages.documentation == METRICS["bpbfx_messages_total"].help
    assert [(s.name, s.labels, s.value) for s in messages.samples] == [
        ("bpbfx_messages_total", dict(labels), 5.0)]
    assert out["bpbfx_last_message_age_seconds"].type == "gauge"
    assert out["bpbfx_last_message_age_seconds"].samples[0].value == 4.0
    assert out["my_own"].type == "gauge" and out["my_own"].samples[0].value == 7.0


def test_collector_adds_each_object_once_and_removes_it() -> None:
    """add() ignores an object already read; remove() stops reading it and says whether it was read."""
    client = BackpackClient("ws://127.0.0.1:9", streams=["trade.SOL_USDC"], books=False, name="one")
    collector = BpbfxCollector(clients=[client])
    collector.add(clients=[client])
    names = [s.name for s in collector.samples()]
    assert names.count("bpbfx_messages_total") == 1
    assert {f.name for f in collector.collect()} >= {"bpbfx_messages", "bpbfx_events", "bpbfx_sockets"}
    assert collector.remove(client) and not collector.remove(client)
    assert collector.samples() == [] and list(collector.collect()) == []
    client.close()


def test_gap_reasons_are_the_documented_ones() -> None:
    """Every gap reason the sink documents is exposed from the start."""
    from bpbfx.sinks import SinkStats

    doc = SinkStats.__doc__ or ""
    assert all(f"``{reason}``" in doc for reason in GAP_REASONS)


def test_metrics_port_in_the_collect_config(tmp_path: Path) -> None:
    """metrics_port/metrics_addr are read from the config file, checked, and turn on the workers' samples."""
    path = tmp_path / "c.toml"
    path.write_text('metrics_port = 9100\nmetrics_addr = "0.0.0.0"\n[backpack]\nstreams = ["trade.SOL_USDC"]\n')
    config = load_config(path)
    assert config.metrics_port == 9100 and config.metrics_addr == "0.0.0.0"
    assert [s.metrics for s in shard(config)] == [True]
    assert [s.metrics for s in shard(load_config(path, metrics_port=None))] == [True]
    path.write_text('[backpack]\nstreams = ["trade.SOL_USDC"]\n')
    assert load_config(path).metrics_port is None and [s.metrics for s in shard(load_config(path))] == [False]
    for bad in ("70000", '"9100"', "-1", "true"):
        path.write_text(f'metrics_port = {bad}\n[backpack]\nstreams = ["trade.SOL_USDC"]\n')
        with pytest.raises(ConfigurationError, match="metrics_port must be a port number"):
            load_config(path)
