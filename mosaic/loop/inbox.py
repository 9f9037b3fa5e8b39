"""What people send a run while it runs or waits: notes for the diagnoser and stop requests.

    Inbox(run).send(Message(kind="note", text="keep ifeval steady", origin="chat"))
    Inbox(run).notes()            # every note, oldest first (the diagnoser reads these)
    Inbox(run).stop_requested()   # whether someone asked the run to stop

One JSON line per message in `<run>/inbox.jsonl`, appended under an exclusive lock and
synced before `send` returns, so any number of senders at once (fifty `mosaic chat RUN
"/note ..."` started together) are queued and none is lost. Sending never waits for the
process that drives the run: the loop reads the inbox when it needs it (each diagnosis and
each stop check). Rules are kept apart, in constraints.json (RunContext.add_constraint),
because each is checked against the rules in force before it is accepted. events.jsonl
records that a message came, for people watching the run; it is not read back.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, ValidationError

from mosaic.redact import redact
from mosaic.schema import MAX_NOTE_CHARS, Record
from mosaic.store import RunFolder


class Message(Record):
    kind: Literal["note", "stop"]
    text: str = Field(default="", max_length=MAX_NOTE_CHARS)
    origin: str = "chat"
    time: str = Field(default_factory=lambda: datetime.now(UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"))


_LEGACY = ("note", "stop_requested")
"""The events that carried messages before the inbox existed."""


class Inbox:
    def __init__(self, run: RunFolder) -> None:
        self.run = run
        self.path = run.root / "inbox.jsonl"

    def send(self, message: Message) -> None:
        """Append `message` (waits for other senders, never for the run)."""
        line = redact(message.model_dump_json()) + "\n"
        with open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
            handle.seek(0, os.SEEK_END)
            if handle.tell() > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # a line torn by a kill: end it, keep ours whole
                    line = "\n" + line
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        self.run.log("message_received", kind=message.kind, origin=message.origin)

    def read(self) -> list[Message]:
        """Every message so far; a line torn by a kill mid-write is skipped. A run folder
        from before the inbox kept its messages in events.jsonl: those are read too."""
        messages = [Message(kind="note" if e["event"] == "note" else "stop",
                            text=str(e.get("text", ""))[:MAX_NOTE_CHARS], origin="chat",
                            time=str(e.get("time", "")))
                    for e in self.run.read_events() if e.get("event") in _LEGACY]
        if not self.path.is_file():
            return messages
        # errors="replace": a line torn inside a character spoils only itself
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                messages.append(Message.model_validate(json.loads(line)))
            except (ValueError, ValidationError):
                continue
        return messages

    def notes(self) -> list[str]:
        return [m.text for m in self.read() if m.kind == "note" and m.text]

    def stop_requested(self) -> bool:
        return any(m.kind == "stop" for m in self.read())
