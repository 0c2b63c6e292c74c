"""The writer served for real: tiny models with random weights built offline and saved to
a temporary folder, a real SQLite file, the Gradio app on a free 127.0.0.1 port, and
Debian's Chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from tests.app.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.app.tiny import TINY_DIM, build_toy_lcm, build_toy_quant_lcm
from tests.demo.tiny import save_tiny_demo_codec

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory) -> tuple[Path, Path]:
    """(codec, LCM) checkpoint folders of tiny models with random weights."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("models")
    codec_dir = save_tiny_demo_codec(folder, dim=TINY_DIM)
    return codec_dir, build_toy_lcm(folder, dim=TINY_DIM)


@contextmanager
def loaded(codec_dir: Path, lcm_dir: Path, db_dir: Path) -> Iterator:
    """A WriterService on models loaded back from disk and a fresh SQLite file."""
    from app.service import WriterService
    from engine.codec import load_codec
    from engine.lcm import load_lcm
    from storage import DocumentStore

    codec = load_codec(codec_dir, device="cpu")
    lcm = load_lcm(lcm_dir, device="cpu")
    store = DocumentStore(f"sqlite:///{db_dir / 'documents.sqlite3'}")
    yield WriterService(codec, lcm, store, rng=random.Random(0))
    store.close()


@pytest.fixture(scope="session")
def service(tmp_path_factory, model_dirs):
    """The writer on the tiny codec and the toy (diffusion) Two-Tower."""
    with loaded(*model_dirs, tmp_path_factory.mktemp("db")) as writer:
        yield writer


@pytest.fixture(scope="session")
def quant_service(tmp_path_factory, model_dirs):
    """The writer on the tiny codec and a toy quantized LCM, whose control is temperature."""
    folder = tmp_path_factory.mktemp("quant")
    with loaded(model_dirs[0], build_toy_quant_lcm(folder), folder) as writer:
        yield writer


@pytest.fixture(autouse=True)
def seeded_service(request) -> None:
    """Every test that reaches the service starts from the same seed, whatever ran before
    it, so what the models generate is the same on every run."""
    if {"service", "client", "page", "app_url"} & set(request.fixturenames):
        request.getfixturevalue("service").rng.seed(0)
    if {"quant_service", "quant_page"} & set(request.fixturenames):
        request.getfixturevalue("quant_service").rng.seed(0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(service) -> Iterator[str]:
    """The real app, served by Gradio in this process on a free 127.0.0.1 port."""
    from app.ui import create_app_from, launch_options

    demo = create_app_from(service, max_upload_mb=1)
    demo.queue(default_concurrency_limit=2).launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        show_error=False,
        max_file_size="1mb",
        **launch_options(),
    )
    yield demo.local_url.rstrip("/")
    demo.close()


@pytest.fixture(scope="session")
def app_url(service) -> Iterator[str]:
    with served(service) as url:
        yield url


@pytest.fixture(scope="session")
def quant_url(quant_service) -> Iterator[str]:
    with served(quant_service) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def opened(browser, url: str) -> Iterator:
    """A fresh browser tab on `url`, once the page's first read is in."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.wait_for_selector("#library .loading", state="detached")
    yield page
    context.close()


@pytest.fixture
def page(browser, app_url):
    with opened(browser, app_url) as tab:
        yield tab


@pytest.fixture
def quant_page(browser, quant_url):
    with opened(browser, quant_url) as tab:
        yield tab


@pytest.fixture
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
