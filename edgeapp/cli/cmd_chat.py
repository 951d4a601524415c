"""`edgeapp chat REF`: one answer with --prompt, a plain streaming conversation without."""

from __future__ import annotations

import argparse
import sys

from edgeapp.cli.output import add_json_flag, emit_json
from edgeapp.cli.prepare import add_run_flags


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "chat",
        help="chat with a model (one answer with --prompt, a conversation without)",
        description=(
            "Load REF in an engine process and chat with it through the model's own chat template. "
            "With --prompt, print one answer (or, with --json, the answer and its measurements) and exit. "
            "Without, read messages from standard input: /new starts over, /exit or Ctrl-D ends, "
            "Ctrl-C stops a reply. Works offline with the bundled default."
        ),
    )
    parser.add_argument(
        "ref", metavar="REF", nargs="?", default="default", help="model (default: the bundled default)"
    )
    parser.add_argument("--prompt", default=None, help="answer this once and exit")
    parser.add_argument("--system", default=None, help="system prompt (default: from settings)")
    parser.add_argument("--seed", type=int, default=None, help="sampling seed (default: from settings)")
    parser.add_argument("--temperature", type=float, default=None, help="sampling temperature; 0 = greedy")
    parser.add_argument("--max-tokens", type=int, default=None, metavar="N", help="longest answer in tokens")
    add_run_flags(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run)


def _settings(args: argparse.Namespace, gpu_layers: int):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from edgeapp.errors import UsageError
    from edgeapp.runs import RunSettings
    from edgeapp.settings import load_settings

    saved = load_settings()
    sampling = saved.sampling()
    if args.seed is not None:
        sampling = replace(sampling, seed=args.seed)
    if args.temperature is not None:
        sampling = replace(sampling, temperature=args.temperature)
    max_tokens = args.max_tokens if args.max_tokens is not None else saved.max_tokens
    if max_tokens < 1:
        raise UsageError("--max-tokens must be at least 1")
    settings = RunSettings(
        n_ctx=args.ctx, gpu_layers=gpu_layers, threads=args.threads, max_tokens=max_tokens, sampling=sampling
    )
    system = saved.system_prompt if args.system is None else args.system
    return settings, system


def run(args: argparse.Namespace) -> int:
    from edgeapp.cli.prepare import prepare_model

    prepared = prepare_model(args.ref, args.ctx, args.gpu_layers, force=args.force, quiet=args.json)
    settings, system = _settings(args, prepared.gpu_layers)
    if args.prompt is not None:
        return _answer_once(prepared.model, settings, system, args.prompt, args.json)
    return _conversation(prepared.model, settings, system)


def _messages(system: str, turns: list[tuple[str, str]], prompt: str):  # type: ignore[no-untyped-def]
    from edgeapp.engine.protocol import ChatMessage

    messages = [ChatMessage("system", system)] if system else []
    for user, assistant in turns:
        messages += [ChatMessage("user", user), ChatMessage("assistant", assistant)]
    messages.append(ChatMessage("user", prompt))
    return tuple(messages)


def _answer_once(model, settings, system: str, prompt: str, as_json: bool) -> int:  # type: ignore[no-untyped-def]
    from edgeapp.runs import run_prompt

    def notify(message: str) -> None:
        print(f"edgeapp: {message}", file=sys.stderr)

    result = run_prompt(
        model,
        settings,
        messages=_messages(system, [], prompt),
        on_tokens=None if as_json else _print_tokens,
        notify=notify,
    )
    if as_json:
        emit_json(result.to_json())
    else:
        sys.stdout.write("\n")
        print(_stats_line(result.stats, result.loaded.load_s, result.peak_rss_bytes), file=sys.stderr)
    return 0


def _stats_line(stats, load_s: float | None = None, peak_rss: int | None = None) -> str:  # type: ignore[no-untyped-def]
    from edgeapp.cli.output import format_bytes

    parts = []
    if load_s is not None:
        parts.append(f"load {load_s:.2f} s")
    parts += [
        f"TTFT {stats.ttft_s * 1000:.0f} ms",
        f"prompt {stats.prompt_tps:.0f} tok/s",
        f"{stats.gen_tokens} tokens at {stats.gen_tps:.1f} tok/s",
    ]
    if peak_rss:
        parts.append(f"peak RSS {format_bytes(peak_rss)}")
    if stats.stop_reason not in ("eos", "stop"):
        parts.append(f"stopped: {stats.stop_reason}")
    return "[" + " · ".join(parts) + "]"


def _conversation(model, settings, system: str) -> int:  # type: ignore[no-untyped-def]
    from edgeapp.engine.client import EngineClient
    from edgeapp.runs import generate_request, load_request, load_with_fallback, stream_reply

    turns: list[tuple[str, str]] = []
    interactive = sys.stdin.isatty()
    with EngineClient() as engine:
        loaded = load_with_fallback(
            engine, load_request(model, settings), lambda m: print(f"edgeapp: {m}", file=sys.stderr)
        )
        print(
            f"{model.label} loaded in {loaded.load_s:.2f} s ({loaded.description}). /new starts over, /exit ends.",
            file=sys.stderr,
        )
        while True:
            try:
                line = input("you> " if interactive else "")
            except EOFError:
                break
            except KeyboardInterrupt:
                print(file=sys.stderr)
                break
            text = line.strip()
            if not text:
                continue
            if text in ("/exit", "/quit"):
                break
            if text == "/new":
                turns.clear()
                print("(new conversation)", file=sys.stderr)
                continue
            request = generate_request(settings, messages=_messages(system, turns, text))
            try:
                stats, _ = stream_reply(engine, request, _print_tokens)
            except KeyboardInterrupt:
                engine.cancel()
                stats, _ = _drain(engine)
            sys.stdout.write("\n")
            turns.append((text, stats.text))
            print(_stats_line(stats), file=sys.stderr)
    return 0


def _print_tokens(tokens) -> None:  # type: ignore[no-untyped-def]
    sys.stdout.write(tokens.text)
    sys.stdout.flush()


def _drain(engine):  # type: ignore[no-untyped-def]
    """Read the rest of a cancelled generation (the engine answers with its statistics)."""
    from edgeapp.engine.protocol import Finished

    while True:
        event = engine._receive(30.0, "stopping the reply")
        if isinstance(event, Finished):
            return event.stats, ()
