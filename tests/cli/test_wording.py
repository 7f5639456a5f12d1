"""What the command says when something is wrong: what happened and what would be valid, in
command-line words (options, environment variables), never Python keyword names; and how the
collector names the gaps it reports."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bpbfx.cli import main
from bpbfx.collect import CollectorStats, gap_words

KEY_VARS = ("BACKPACK_PUBLIC_KEY", "BACKPACK_SECRET_KEY", "PUBLIC_KEY", "SECRET_KEY", "BITFINEX_API_KEY",
            "BITFINEX_API_SECRET")
PYTHON_WORDS = re.compile(r"\b(auth|api_key|api_secret|consumer|group|start|snapshot_every|maxlen)=|auth=True")


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No exchange keys in the environment and no .env file above the working directory."""
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def error_of(capsys: pytest.CaptureFixture[str], *argv: str, status: int = 2) -> str:
    """Run ``bpbfx ARGV`` in this process; the one line it printed on stderr."""
    assert main(list(argv)) == status
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert not PYTHON_WORDS.search(lines[0]), lines[0]
    return lines[0]


# ---------------------------------------------------------------------------------------- keys
def test_bitfinex_account_without_keys_says_which_variables_and_sim(capsys: pytest.CaptureFixture[str]) -> None:
    """`stream bitfinex account` without keys names the variables and --sim's test account."""
    assert error_of(capsys, "stream", "bitfinex", "account") == (
        "bpbfx stream: error: the bitfinex stream 'account' needs API keys: set BITFINEX_API_KEY and "
        "BITFINEX_API_SECRET in the environment or a .env file, or add --sim to run against the built-in "
        "simulator with a generated test account"
    )


def test_record_backpack_account_streams_without_keys(capsys: pytest.CaptureFixture[str]) -> None:
    """`record` says the same for Backpack account streams, naming both spellings of the variables."""
    line = error_of(capsys, "record", "backpack", "account.orderUpdate", "account.positionUpdate", "-o", "x.jsonl")
    assert line == (
        "bpbfx record: error: the backpack streams 'account.orderUpdate', 'account.positionUpdate' need API keys: "
        "set BACKPACK_PUBLIC_KEY and BACKPACK_SECRET_KEY (or PUBLIC_KEY and SECRET_KEY) in the environment or a "
        ".env file, or add --sim to run against the built-in simulator with a generated test account"
    )
    assert not Path("x.jsonl").exists()


def test_half_a_bitfinex_key_pair_names_the_missing_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key without its secret in the environment: which variable is missing."""
    monkeypatch.setenv("BITFINEX_API_KEY", "abc")
    assert error_of(capsys, "stream", "bitfinex", "account", "--sim") == (
        "bpbfx stream: error: the bitfinex API keys are not usable: BITFINEX_API_KEY is set but "
        "BITFINEX_API_SECRET is not; set both or neither"
    )


def test_mismatched_backpack_keys_are_named_by_their_variables(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A public key that does not belong to the secret: the message uses the variable names."""
    import base64

    monkeypatch.setenv("BACKPACK_SECRET_KEY", base64.b64encode(bytes(32)).decode())
    monkeypatch.setenv("BACKPACK_PUBLIC_KEY", base64.b64encode(bytes(range(32))).decode())
    assert error_of(capsys, "stream", "backpack", "account.orderUpdate", "--url", "ws://127.0.0.1:9") == (
        "bpbfx stream: error: the backpack API keys in BACKPACK_PUBLIC_KEY / BACKPACK_SECRET_KEY are not usable: "
        "Backpack API key (public key) does not belong to the given API secret; check that BACKPACK_PUBLIC_KEY is "
        "the public key and BACKPACK_SECRET_KEY the secret key, not the other way round"
    )


def test_sim_generates_a_test_account_for_private_streams(capsys: pytest.CaptureFixture[str]) -> None:
    """`stream bitfinex account --sim` without keys authenticates with a generated test account."""
    pytest.importorskip("websockets")
    assert main(["stream", "bitfinex", "account", "--sim", "--max-events", "5", "--duration", "20"]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "bpbfx stream bitfinex: no keys in BITFINEX_API_KEY and BITFINEX_API_SECRET: using a generated test "
        "account on the simulator"
    ]
    assert '"event":"AuthResult","stream":"account","symbol":null,"ok":true' in out


# ---------------------------------------------------------------------------------------- other options
def test_unreachable_host_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listening: the URL, the timeout and the option that sets it."""
    line = error_of(capsys, "stream", "backpack", "trade.SOL_USDC", "--url", "ws://127.0.0.1:9",
                    "--connect-timeout", "0.5", status=1)
    assert line.startswith("bpbfx stream: error: could not connect to ws://127.0.0.1:9 within 0.5s (--connect-timeout)")


def test_collect_without_streams_says_how_to_give_them(capsys: pytest.CaptureFixture[str]) -> None:
    """`collect` with no streams names the options and the config file tables."""
    assert error_of(capsys, "collect") == (
        "bpbfx collect: error: nothing to collect: give streams with --backpack STREAM... and/or --bitfinex "
        "STREAM..., or --all-markets [EXCHANGE...], or a config file (CONFIG.toml) with streams = [...] or "
        'markets = "all" in [backpack] and/or [bitfinex]'
    )


def test_collect_snapshot_every_not_below_maxlen_names_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    """--snapshot-every at or above --maxlen: both options and the config table are named."""
    pytest.importorskip("redis")
    assert error_of(capsys, "collect", "--bitfinex", "trades:tBTCUSD", "--redis", "redis://127.0.0.1:9/0",
                    "--maxlen", "50", "--snapshot-every", "50") == (
        "bpbfx collect: error: snapshot_every (50) must be below the book streams' maxlen (50), or late readers "
        "could find no snapshot (set with --snapshot-every and --maxlen, or in the [sink] table of the config file)"
    )


def test_collect_bad_redis_url_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    """A --redis value that is not a Redis URL."""
    pytest.importorskip("redis")
    assert error_of(capsys, "collect", "--bitfinex", "trades:tBTCUSD", "--redis", "http://x") == (
        "bpbfx collect: error: --redis: not a Redis URL: 'http://x' (redis://host:port/db, redis+cluster://...)"
    )


def test_tail_options_in_command_line_words(capsys: pytest.CaptureFixture[str]) -> None:
    """`tail` option mistakes are said with the option names."""
    pytest.importorskip("redis")
    assert error_of(capsys, "tail", "redis://127.0.0.1:9/0", "bitfinex:trades:tBTCUSD", "--consumer", "c1") == (
        "bpbfx tail: error: --consumer names a member of a consumer group: give --group NAME too"
    )
    assert error_of(capsys, "tail", "redis://127.0.0.1:9/0", "bitfinex:trades:tBTCUSD", "--start", "soon") == (
        "bpbfx tail: error: --start must be latest, earliest or an entry id like 1700000000000-0, got 'soon'"
    )


# ---------------------------------------------------------------------------------------- gaps
def stats(gaps: int, resumed: int = 0, restart_gaps: int = 0, dropped: int = 0, lost: int = 0) -> CollectorStats:
    return CollectorStats(workers=1, alive=1, restarts=0, events=1, books=0, written=1, dropped=dropped, lost=lost,
                          gaps=gaps, errors=0, reconnects=0, elapsed=1.0, resumed=resumed, restart_gaps=restart_gaps)


def test_gap_words_tell_writer_restarts_from_data_gaps() -> None:
    """Gaps from resumed streams are writer restarts, no data lost; the rest are counted apart."""
    assert gap_words(stats(0)) == "gaps 0"
    assert gap_words(stats(2, resumed=2)) == "gaps 2 (2 writer restarts, no data lost)"
    assert gap_words(stats(1, resumed=1)) == "gaps 1 (1 writer restart, no data lost)"
    assert gap_words(stats(3, resumed=1, restart_gaps=1)) == "gaps 3 (1 writer restart, 1 after a worker restart, " \
        "1 data gap)"
    assert gap_words(stats(2, resumed=2, dropped=5)) == "gaps 2 (2 writer restarts)"
    assert gap_words(stats(1)) == "gaps 1 (1 data gap)"
    assert stats(3, resumed=1, restart_gaps=1).data_gaps == 1


def collect_until(args: list[str], cwd: Path, pattern: str) -> str:
    """Run `bpbfx collect ARGS` until a stats line matches ``pattern``, then Ctrl-C it; its last line."""
    proc = subprocess.Popen([sys.executable, "-m", "bpbfx", "collect", *args, "--stats-interval", "0.3"],
                            stderr=subprocess.PIPE, text=True, cwd=cwd, start_new_session=True)
    assert proc.stderr is not None
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if re.search(pattern, line):
                break
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
        seen.append(proc.communicate(timeout=30)[1])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = "".join(seen)
    assert proc.returncode == 0 and "Traceback" not in err, err
    return err.strip().splitlines()[-1]


def test_collect_rerun_on_the_same_redis_reports_writer_restarts(redis_url: str, tmp_path: Path) -> None:
    """A clean re-run of `collect --redis` reports its gaps as writer restarts, with no data lost."""
    pytest.importorskip("websockets")
    args = ["--sim", "--bitfinex", "trades:tBTCUSD", "--backpack", "trade.SOL_USDC", "--redis", redis_url]
    first = collect_until(args, tmp_path, r"entries written ([5-9]\d|\d{3,}) ")  # both streams written
    assert first.startswith("collect: done") and "gaps 0," in first, first
    second = collect_until(args, tmp_path, r"gaps 2 ")
    assert second.startswith("collect: done") and "gaps 2 (2 writer restarts, no data lost)," in second, second


def test_bitfinex_unknown_channel_mentions_account(capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt Bitfinex channel lists the valid ones, `account` among them."""
    line = error_of(capsys, "stream", "bitfinex", "trade:tBTCUSD")
    assert line.startswith("bpbfx stream: error: unknown channel 'trade' in 'trade:tBTCUSD'; valid channels: ")
    assert line.endswith(" (and account: the authenticated account data)")


def test_moved_collect_commands_still_import_with_a_warning() -> None:
    """bpbfx.collect.cmd_collect / cmd_tail / add_parsers still work, with a DeprecationWarning."""
    import bpbfx.collect
    from bpbfx.cli import collect as command
    from bpbfx.cli.parser import add_collect_parsers

    for name, target in (("cmd_collect", command.cmd_collect), ("cmd_tail", command.cmd_tail),
                         ("add_parsers", add_collect_parsers)):
        with pytest.warns(DeprecationWarning, match=f"bpbfx.collect.{name} moved"):
            assert getattr(bpbfx.collect, name) is target
    with pytest.raises(AttributeError):
        bpbfx.collect.no_such_name  # noqa: B018


def test_bench_help_names_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    """bpbfx bench --help shows 'usage: bpbfx bench', not a module path."""
    from bpbfx.cli import main

    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert capsys.readouterr().out.startswith("usage: bpbfx bench")
