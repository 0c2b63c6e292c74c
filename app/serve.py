"""`lcm-writer serve` and `python launch.py`: validate settings, load models, serve the UI."""

from __future__ import annotations

import argparse
import os
import sys

from pydantic import ValidationError

from app.config import Settings, describe_error, load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 7860)")
    parser.add_argument("--db", help="SQLAlchemy URL (default: a SQLite file in your data dir)")
    parser.add_argument("--codec", help="demo | sonar | PATH to a codec checkpoint")
    parser.add_argument("--lcm", help="demo | PATH to an LCM checkpoint directory")
    parser.add_argument("--device", help="cpu | cuda (default: cuda when present)")
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
            auth=args.auth,
        )
    except ValidationError as error:
        print(f"lcm-writer: invalid setting\n{describe_error(error)}", file=sys.stderr)
        return 2
    return serve(settings)


def serve(settings: Settings) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from app.ui import StartupError, create_app, launch_options

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="launch.py", description="Start LCM Writer.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
