"""An OpenAI-compatible chat server on loopback, scripted per request: a test double for an
external LLM API that speaks the real HTTP protocol (the real `openai` client talks to it).

    with ScriptedServer(lambda request: Reply.json({"a": 1})) as server:
        client = openai.OpenAI(base_url=server.url, api_key="test")

A script is a function from the parsed request body to a `Reply`: a normal completion
(any content, including malformed JSON), tool calls, a model refusal, an HTTP error with
the body shape OpenAI uses (400 unsupported request, 429 rate limit, 500 server error), or
a hang longer than the client's timeout.
Every request is recorded in `server.requests`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    content: str | None = ""
    hang_s: float = 0.0
    finish_reason: str = "stop"
    raw: tuple[str, str] | None = None
    """(content type, body) sent as is: what a broken proxy answers."""
    tool_calls: list[tuple[str, str]] | None = None
    """(function name, arguments as sent: usually JSON text) per tool call."""
    refusal: str | None = None
    """A model refusal (content None, `message.refusal` set), as OpenAI models send it."""
    message: str | None = None
    """An HTTP error's message instead of the usual one (servers echo what they were sent)."""

    @staticmethod
    def calls(*calls: tuple[str, Any]) -> Reply:
        """Tool calls; arguments given as a dict are sent as JSON text, a str as is."""
        return Reply(content=None, finish_reason="tool_calls", tool_calls=[
            (name, args if isinstance(args, str) else json.dumps(args)) for name, args in calls])

    @staticmethod
    def refuse(text: str) -> Reply:
        return Reply(content=None, refusal=text)

    @staticmethod
    def body(content_type: str, body: str) -> Reply:
        return Reply(raw=(content_type, body))

    @staticmethod
    def text(content: str | None) -> Reply:
        return Reply(content=content)

    @staticmethod
    def json(value: Any) -> Reply:
        return Reply(content=json.dumps(value))

    @staticmethod
    def error(status: int, message: str | None = None) -> Reply:
        return Reply(status=status, message=message)

    @staticmethod
    def hang(seconds: float) -> Reply:
        return Reply(hang_s=seconds)


_ERROR_TYPES = {400: ("invalid_request_error", "This model does not support the request."),
                401: ("invalid_api_key", "Incorrect API key provided: sk-abc...WXYZ."),
                404: ("model_not_found", "The model does not exist."),
                429: ("rate_limit_exceeded", "Rate limit reached, retry later."),
                500: ("server_error", "The server had an error processing the request."),
                503: ("server_error", "The engine is currently overloaded.")}


class ScriptedServer:
    def __init__(self, script: Callable[[dict[str, Any]], Reply], *,
                 runtime_lora: bool = True) -> None:
        self.script = script
        self.runtime_lora = runtime_lora
        """Whether `/v1/load_lora_adapter` exists, as in `vllm serve --enable-lora` with
        VLLM_ALLOW_RUNTIME_LORA_UPDATING=True (without it the route is a 404)."""
        self.adapters: dict[str, str] = {}
        """Adapters loaded at run time: name -> path."""
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        """Each request's HTTP headers (what the client really sent, e.g. Authorization)."""
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("retry-after-ms", "20")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [
                        {"id": "scripted", "object": "model", "created": 0, "owned_by": "test"}]})
                else:
                    self._send(404, {"error": {"message": "not found", "type": "invalid_request"}})

            def _text(self, status: int, text: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _load_lora(self, body: dict[str, Any]) -> None:
                """vLLM's runtime adapter loading: plain text on success, its error object
                when a name is taken or a field is missing, FastAPI's 404 without it."""
                if not server.runtime_lora:
                    self._send(404, {"detail": "Not Found"})
                    return
                name, path = body.get("lora_name"), body.get("lora_path")
                if not name or not path:
                    message = "Both 'lora_name' and 'lora_path' must be provided."
                elif name in server.adapters:
                    message = f"The lora adapter '{name}' has already been loaded."
                else:
                    server.adapters[name] = path
                    self._text(200, f"Success: LoRA adapter '{name}' added successfully.")
                    return
                self._send(400, {"error": {"message": message, "type": "InvalidUserInput",
                                           "param": None, "code": 400}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.rstrip("/").endswith("/load_lora_adapter"):
                    with server._lock:
                        self._load_lora(body)
                    return
                with server._lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                reply = server.script(body)
                if reply.hang_s:
                    time.sleep(reply.hang_s)
                    with contextlib.suppress(OSError):  # the client gave up, as it should
                        self._send(200, _completion(body, "too late"))
                    return
                if reply.raw:
                    data = reply.raw[1].encode()
                    self.send_response(200)
                    self.send_header("Content-Type", reply.raw[0])
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if reply.status != 200:
                    kind, message = _ERROR_TYPES.get(reply.status, ("error", "error"))
                    message = reply.message or message
                    self._send(reply.status, {"error": {"message": message, "type": kind,
                                                        "param": None, "code": kind}})
                    return
                self._send(200, _completion(body, reply.content, reply.finish_reason,
                                            reply.tool_calls, reply.refusal))

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _completion(request: dict[str, Any], content: str | None, finish_reason: str = "stop",
                tool_calls: list[tuple[str, str]] | None = None, refusal: str | None = None
                ) -> dict[str, Any]:
    prompt_tokens = sum(len(str(m.get("content", "")).split())
                        for m in request.get("messages", []))
    completion_tokens = len((content or "").split())
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
    if tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}_{int(time.time() * 1e6)}", "type": "function",
             "function": {"name": name, "arguments": arguments}}
            for i, (name, arguments) in enumerate(tool_calls)]
        completion_tokens += sum(len(a.split()) for _, a in tool_calls)
    return {
        "id": f"chatcmpl-{int(time.time() * 1e6)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "scripted"),
        "system_fingerprint": "fp_test",
        "choices": [{"index": 0, "message": message,
                     "logprobs": None, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }
