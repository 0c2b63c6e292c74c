"""The background reader: reads back, a batch per transaction, the round trips that long
imports left (`WriterService.read_back_unread`), so the concept checks of a novel appear
while the writer already works in it. One daemon thread per server; it sleeps until an
import wakes it (`WriterService.unread`), and looks again now and then anyway (another
server process may have imported)."""

from __future__ import annotations

import logging
import threading

from app.service import WriterService

IDLE_SECONDS = 30.0  # how often an idle reader looks for work nobody woke it for

log = logging.getLogger(__name__)


class BackgroundReader:
    def __init__(self, service: WriterService) -> None:
        self.service = service
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="read-back", daemon=True)

    def start(self) -> BackgroundReader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self.service.unread.set()
        self._thread.join()

    def _run(self) -> None:
        after = 0
        while not self._stopped.is_set():
            self.service.unread.clear()
            try:
                last = self.service.read_back_unread(after)
            except Exception:  # e.g. the database is busy: try again later
                log.exception("reading back the nodes after id %s failed", after)
                self._stopped.wait(IDLE_SECONDS)
                continue
            if last is None:
                after = 0
                self.service.unread.wait(IDLE_SECONDS)
            else:
                after = last
