"""The RecurrentGPT backends: the OpenAI-compatible client against a local server, the scripted and local writers.

The server runs on 127.0.0.1 in a thread; the first path segment of ``base_url`` says how it answers.
"""

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import torch

from recur_text import recurrent_gpt as rgp
from recur_text.generators import LocalLMGenerator, OpenAIChatGenerator, ScriptedGenerator, extractive_memory
from recur_text.models.char_lm import CharLM
from recur_text.recurrent_gpt import GeneratorError, RecurrentGPT, StepOutput, format_output, parse_output

CANNED = StepOutput("Mia flies her kite over the hill.", "Mia has a red kite.", ("Tom arrives.", "Rain.", "Night."))


class Handler(BaseHTTPRequestHandler):
    received: ClassVar[list] = []
    calls: ClassVar[dict] = {}

    def log_message(self, *args):
        """Quiet: the test server writes no access log to stderr."""

    def _reply(self, code, body: bytes):
        # the client may have given up already (the timeout test)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_POST(self):
        mode = self.path.strip("/").split("/")[0]
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.received.append((self.path, request, self.headers.get("Authorization")))
        Handler.calls[mode] = Handler.calls.get(mode, 0) + 1
        good = json.dumps({"choices": [{"message": {"role": "assistant", "content": format_output(CANNED)}}]})
        if mode == "good" or (mode == "flaky" and Handler.calls[mode] > 1):
            self._reply(200, good.encode())
        elif mode == "malformed":
            self._reply(200, b'{"choices": [{"message": ')
        elif mode == "nochoices":
            self._reply(200, b'{"error": "overloaded"}')
        elif mode == "prose":
            self._reply(200, json.dumps({"choices": [{"message": {"content": "Once upon a time."}}]}).encode())
        elif mode == "hang":
            time.sleep(1.5)
            self._reply(200, good.encode())
        elif mode in ("flaky", "e500"):
            self._reply(500, b'{"error": "internal"}')
        else:
            self._reply(400, b'{"error": "bad model"}')


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def client(server, mode, **options):
    return OpenAIChatGenerator(f"{server}/{mode}/v1", "test-model", api_key="k", backoff=0.01, **options)


def files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_client_posts_the_prompt_and_the_loop_parses_the_reply(server, tmp_path):
    Handler.received.clear()
    loop = RecurrentGPT.create(tmp_path / "s", "A story about Mia.", client(server, "good"), "Mia has a red kite.")
    loop.run(3)
    assert loop.state.paragraphs == [CANNED.paragraph] * 3 and loop.state.plans == list(CANNED.plans)
    path, request, auth = Handler.received[-1]
    assert path == "/good/v1/chat/completions" and auth == "Bearer k" and request["model"] == "test-model"
    prompt = request["messages"][0]["content"]
    assert "Output Paragraph:" in prompt and "Related paragraph 1: Mia flies her kite" in prompt
    assert "Input instruction (what to write now):\nTom arrives." in prompt


def test_a_5xx_is_retried(server):
    Handler.calls.clear()
    assert parse_output(client(server, "flaky", retries=1).request("p")) == CANNED
    assert Handler.calls["flaky"] == 2


@pytest.mark.parametrize(
    "mode, options, message, calls",
    [
        ("malformed", {}, "malformed JSON", 1),
        ("nochoices", {}, "without choices\\[0\\].message.content", 1),
        ("hang", {"timeout": 0.3, "retries": 1}, "no answer from .* within 0.3 s \\(after 2 attempts\\)", 2),
        ("e500", {"retries": 2}, "HTTP 500 .*internal.*after 3 attempts", 3),
        ("e400", {"retries": 2}, "HTTP 400 .*bad model.*after 1 attempt\\)", 1),
    ],
)
def test_bad_backends_are_one_line_and_leave_the_memories_intact(server, tmp_path, mode, options, message, calls):
    folder = tmp_path / "s"
    RecurrentGPT.create(folder, "A story.", ScriptedGenerator(), "Mia has a red kite.").run(3)
    before = files(folder)
    Handler.calls.clear()
    loop = RecurrentGPT.open(folder, client(server, mode, **options))
    with pytest.raises(GeneratorError, match=message) as err:
        loop.run(2)
    assert "\n" not in str(err.value) and Handler.calls[mode] == calls
    assert files(folder) == before and loop.state.step == 3


def test_a_reply_without_sections_and_an_unreachable_server_through_the_cli(server, tmp_path, capsys):
    folder = tmp_path / "s"
    RecurrentGPT.create(folder, "A story.", ScriptedGenerator(), "Mia has a red kite.").run(2)
    before = files(folder)
    for base_url, message in [
        (f"{server}/prose/v1", "no 'Output Paragraph:' section"),
        ("http://127.0.0.1:9/v1", "cannot reach http://127.0.0.1:9/v1/chat/completions"),
    ]:
        argv = ["generate", "--state", str(folder), "--backend", "openai", "--base_url", base_url, "--model", "m"]
        assert rgp.main([*argv, "--retries", "0", "--timeout", "2"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("recur-text generate: error:") and message in err and "\n" not in err
    assert files(folder) == before


def test_client_options_are_checked():
    with pytest.raises(ValueError, match="must start with http"):
        OpenAIChatGenerator("127.0.0.1:8000/v1", "m")
    with pytest.raises(ValueError, match="timeout must be positive"):
        OpenAIChatGenerator("http://x/v1", "m", timeout=0)


def test_extractive_memory_keeps_the_last_sentences():
    assert extractive_memory("A. B.", "C. D! E?", 3) == "C. D! E?"
    assert extractive_memory("", "", 3) == "(nothing yet)"


def test_scripted_answers_only_from_what_it_was_given():
    assert ScriptedGenerator.answer("Mia's kite is", "Mia has a red kite. Tom has a blue kite.") == "red"
    assert ScriptedGenerator.answer("Mia's kite is", "Mia has a red kite. Mia's kite is green.") == "green"
    assert ScriptedGenerator.answer("Mia's kite is", "Mia has a red boat.") == "unknown"
    with pytest.raises(ValueError, match="not a query plan"):
        ScriptedGenerator.answer("Go home.", "")


def test_the_local_backend_drives_the_loop_with_an_untrained_lm(tmp_path):
    torch.manual_seed(0)
    generator = LocalLMGenerator(CharLM(d_model=16, n_layers=1), paragraph_chars=40, plan_chars=20, seed=1)
    loop = RecurrentGPT.create(tmp_path / "s", "A story.", generator, "Mia has a red kite.")
    loop.run(3)
    assert loop.state.step == 3 and loop.state.paragraphs[0].startswith("Mia has a red kite.")
    assert len(loop.state.plans) == 3 and len(loop.state.long_memory) == 2
    # deterministic: the same seed writes the same text
    again = RecurrentGPT.create(tmp_path / "t", "A story.", generator, "Mia has a red kite.")
    assert again.run(3).paragraphs == loop.state.paragraphs
    prefix = generator.prefix(loop.step_input(plan="Mia's kite is"))
    assert prefix.endswith(loop.step_input(plan="Mia's kite is").retrieved[0][-50:])
