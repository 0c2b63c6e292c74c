"""`lcm-writer serve` and `python launch.py`: validate settings, load models, serve the UI."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from pydantic import ValidationError

from app.config import Settings, codec_dtype, describe_error, load_settings

if TYPE_CHECKING:
    import gradio as gr


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 7860)")
    parser.add_argument("--db", help="SQLAlchemy URL (default: a SQLite file in your data dir)")
    parser.add_argument("--codec", help="demo | sonar | PATH to a codec checkpoint")
    parser.add_argument("--lcm", help="demo | demo-quant | PATH to an LCM checkpoint directory")
    parser.add_argument("--device", help="cpu | cuda (default: cuda when present)")
    parser.add_argument(
        "--precision", help="auto | fp32 | bf16: the codec's arithmetic (default auto)"
    )
    parser.add_argument("--auth", help="user:password to require a login")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(
            host=args.host,
            port=args.port,
            db=args.db,
            codec=args.codec,
            lcm=args.lcm,
            device=args.device,
            precision=args.precision,
            auth=args.auth,
        )
    except ValidationError as error:
        print(f"lcm-writer: invalid setting\n{describe_error(error)}", file=sys.stderr)
        return 2
    return serve(settings)


def serve(settings: Settings) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from app.ui import launch_options

    try:
        demo = create_app(settings)
    except StartupError as error:
        print(f"lcm-writer: {error}", file=sys.stderr)
        return 1
    auth = tuple(settings.auth.split(":", 1)) if settings.auth else None
    print(f"LCM Writer on http://{settings.host}:{settings.port}", flush=True)
    demo.queue(default_concurrency_limit=2).launch(
        server_name=settings.host,
        server_port=settings.port,
        auth=auth,
        max_file_size=f"{settings.max_upload_mb}mb",
        show_error=False,
        **launch_options(),
    )
    return 0


class StartupError(Exception):
    """A model or the database could not be opened; the message says what to do."""


def create_app(settings: Settings) -> gr.Blocks:
    """Load the codec, the LCM and the database named in `settings`, then build the page."""
    from app.service import WriterService
    from engine.codec import CodecError, load_codec
    from engine.errors import ModelMismatchError, check_same_space
    from engine.lcm import load_lcm
    from storage import DocumentStore, StorageError

    try:
        codec = load_codec(settings.codec, device=settings.device, dtype=codec_dtype(settings))
    except (CodecError, OSError, ValueError) as error:
        raise StartupError(
            f"could not load the codec {settings.codec!r}: {error}"
            + _other_choice("--codec", settings.codec, "a codec checkpoint directory")
        ) from error
    try:
        lcm = load_lcm(settings.lcm, device=settings.device)
    except (OSError, ValueError) as error:  # LCMNotFoundError, LCMCheckpointError
        raise StartupError(
            f"could not load the LCM {settings.lcm!r}: {error}"
            + _other_choice(
                "--lcm", settings.lcm, "a directory with config.json and model.safetensors"
            )
        ) from error
    try:
        check_same_space(lcm, codec)
    except ModelMismatchError as error:
        raise StartupError(str(error)) from error
    try:
        store = DocumentStore(settings.db)
    except (StorageError, OSError) as error:
        raise StartupError(f"could not open the database {settings.db}: {error}") from error
    except Exception as error:  # SQLAlchemy's errors: the app may not import sqlalchemy
        raise StartupError(
            f"could not open the database {settings.db}: {error}. Check the --db URL "
            "(for example sqlite:///path/to/documents.sqlite3) and that its folder is writable."
        ) from error
    service = WriterService(codec, lcm, store)
    try:
        service.warm_up()
    except CodecError as error:  # a lazily loaded codec (SONAR) fails on first use
        raise StartupError(f"the codec {settings.codec!r} could not run: {error}") from error
    from app.read_back import BackgroundReader
    from app.ui import create_app_from

    BackgroundReader(service).start()
    return create_app_from(service, max_upload_mb=settings.max_upload_mb)


def _other_choice(flag: str, chosen: str, path_hint: str) -> str:
    """What else to pass to `flag` (the bundled demo model unless that is what failed)."""
    if chosen == "demo":
        return ""
    return f". Use `{flag} demo` for the bundled model, or point `{flag}` at {path_hint}."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="launch.py", description="Start LCM Writer.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
