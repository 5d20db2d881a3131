"""The RecurrentGPT loop's generators: ``StepInput -> str``, the answer in labelled sections.

Three backends, all answering in the format :func:`~recur_text.recurrent_gpt.parse_output` reads:

- :class:`OpenAIChatGenerator`: any OpenAI-compatible server (``POST {base_url}/chat/completions``),
  through ``urllib`` from the standard library, with a timeout and retries. For real use.
- :class:`LocalLMGenerator`: a character LM trained here (:mod:`recur_text.models.char_lm`, recipe
  ``char_lm/stories``), offline. A model of this size cannot follow instructions, write summaries or plan,
  so the loop's structure is kept honestly by construction: the paragraph is the plan's words continued
  by the LM, conditioned on a prefix of the short-term memory, the last paragraph's end and the
  retrieved long-term paragraphs (nearest the plan, last); the short-term memory is extractive (the
  last ``memory_sentences`` sentences written); the candidate plans are sentences the LM samples after
  its paragraph.
- :class:`ScriptedGenerator`: a deterministic template writer for evaluation and tests. It writes the
  plan's sentence plus filler sentences, keeps the same extractive short-term memory, and answers a
  query plan ``Mia's kite is`` from the text it was given (retrieved paragraphs, memory, last
  paragraph) or with ``unknown``: what it recalls is exactly what the memories delivered.

A failure is a :class:`~recur_text.recurrent_gpt.GeneratorError` with one line (timeout, HTTP status,
malformed JSON, no choices); the loop then writes nothing, so the state folder keeps its last step.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import torch

from recur_text.data.stories import filler_sentence
from recur_text.recurrent_gpt import GeneratorError, StepInput, StepOutput, format_output, render_prompt

__all__ = [
    "LocalLMGenerator",
    "OpenAIChatGenerator",
    "ScriptedGenerator",
    "extractive_memory",
    "sentences",
]

_SENTENCE = re.compile(r"[^.!?]+[.!?]+")
_QUERY = re.compile(r"^\s*([A-Z][a-z]+)'s ([a-z]+) is\s*$")


def sentences(text: str) -> list[str]:
    """The complete sentences of ``text`` (ending in ``.``, ``!`` or ``?``), stripped."""
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def extractive_memory(short_memory: str, paragraph: str, keep: int) -> str:
    """The short-term memory update of the local and scripted backends: the last ``keep`` sentences of the
    old memory followed by the new paragraph (a sliding summary; the paper asks an LLM for 10–20 sentences)."""
    kept = (sentences(short_memory) + sentences(paragraph))[-keep:] if keep > 0 else []
    return " ".join(kept) or "(nothing yet)"


class ScriptedGenerator:
    """A deterministic writer that exercises the loop's memories (see the module docstring).

    A plan of the form ``Mia's kite is`` is a query: the answer sentence takes the colour from
    ``<Name> has a <colour> <object>.`` (or an earlier ``<Name>'s <object> is <colour>.``) found in the
    retrieved paragraphs, the short-term memory or the last paragraph, else ``unknown``. Any other plan
    that is a sentence opens the paragraph; ``fillers`` filler sentences (names, objects, places, no
    colours; drawn from ``seed`` and the step) follow.

    Args:
        fillers: filler sentences per paragraph.
        memory_sentences: sentences the short-term memory keeps.
        num_plans: candidate plans proposed per step.
        seed: the filler draws.
    """

    def __init__(self, fillers: int = 4, memory_sentences: int = 6, num_plans: int = 3, seed: int = 0) -> None:
        self.fillers, self.memory_sentences, self.num_plans, self.seed = fillers, memory_sentences, num_plans, seed

    @staticmethod
    def answer(query: str, context: str) -> str:
        """The colour ``context`` gives for a query plan (``Mia's kite is``): its latest mention, or ``unknown``."""
        match = _QUERY.match(query)
        if match is None:
            raise ValueError(f'not a query plan: {query!r} (expected e.g. "Mia\'s kite is")')
        name, obj = match.groups()
        pattern = rf"\b{name} has an? (\w+) {obj}\.|\b{name}'s {obj} is (\w+)\."
        found = [a or b for a, b in re.findall(pattern, context)]
        found = [c for c in found if c != "unknown"]
        return found[-1] if found else "unknown"

    def __call__(self, step: StepInput) -> str:
        rng = random.Random(f"{self.seed}/{step.step}")
        if _QUERY.match(step.plan):
            context = " ".join([*reversed(step.retrieved), step.short_memory, step.paragraph])
            paragraph = f"{step.plan} {self.answer(step.plan, context)}."
        else:
            opening = sentences(step.plan)[:1] if step.plan != step.premise else []
            paragraph = " ".join(opening + [filler_sentence(rng) for _ in range(self.fillers)])
        plans = tuple(filler_sentence(rng) for _ in range(self.num_plans))
        memory = extractive_memory(step.short_memory, paragraph, self.memory_sentences)
        return format_output(StepOutput(paragraph, memory, plans))


class LocalLMGenerator:
    """The offline backend: a character LM continues the plan, conditioned on the memories (module docstring).

    The prefix is ``short memory · last paragraph · retrieved paragraphs (best last)`` cut to its last
    ``context_chars`` characters, then the plan; the paragraph is the plan plus up to ``paragraph_chars``
    sampled characters, cut after its last complete sentence.

    Args:
        model: a :class:`~recur_text.models.char_lm.CharLM` (or anything with its ``sample``).
        context_chars: characters of memory text before the plan.
        paragraph_chars: characters sampled per paragraph.
        plan_chars: characters sampled per candidate plan (cut at its first sentence end).
        memory_sentences: sentences the extractive short-term memory keeps.
        num_plans: candidate plans per step.
        temperature: sampling temperature (0: greedy).
        seed: the sampling generator's seed (each step reseeds from ``seed`` and the step).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        context_chars: int = 600,
        paragraph_chars: int = 240,
        plan_chars: int = 60,
        memory_sentences: int = 4,
        num_plans: int = 3,
        temperature: float = 0.7,
        seed: int = 0,
    ) -> None:
        self.model = model.eval()
        self.context_chars, self.paragraph_chars, self.plan_chars = context_chars, paragraph_chars, plan_chars
        self.memory_sentences, self.num_plans = memory_sentences, num_plans
        self.temperature, self.seed = temperature, seed

    @classmethod
    def from_checkpoint(cls, path: str | Path, **options) -> LocalLMGenerator:
        """Load the ``CharLMTask`` checkpoint at ``path`` (``recur-text fit --config char_lm/stories``)."""
        from recur_core.engine import read_checkpoint
        from recur_text.char_lm_task import CharLMTask

        checkpoint = read_checkpoint(path, "--checkpoint")
        hparams = checkpoint.get("hyper_parameters", {})
        if hparams.get("model") != "char_lm":
            raise ValueError(
                f"--checkpoint {path}: not a char_lm checkpoint; train one with recur-text fit --config char_lm/stories"
            )
        task = CharLMTask(**{k: v for k, v in hparams.items() if not k.startswith("_")})
        task.load_state_dict(checkpoint["state_dict"])
        return cls(task.net, **options)

    def prefix(self, step: StepInput) -> str:
        """The memory text the LM reads before the plan."""
        parts = [
            step.short_memory if step.short_memory != "(nothing yet)" else "",
            step.paragraph,
            *reversed(step.retrieved),
        ]
        text = " ".join(" ".join(p.split()) for p in parts if p.strip())
        return text[-self.context_chars :]

    def __call__(self, step: StepInput) -> str:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step.step)
        plan = " ".join(step.plan.split())
        if plan == " ".join(step.premise.split()):
            # the premise is an instruction, not story text: start from the memories alone
            plan = ""
        context = self.prefix(step)
        start = (context + " " + plan).strip() if plan else context
        continuation = self.model.sample(
            start + (" " if not plan else ""), self.paragraph_chars, self.temperature, generator
        )
        paragraph = (plan + (" " if plan and not plan.endswith(" ") else "") + continuation).strip()
        whole = sentences(paragraph)
        if plan and not continuation.strip():
            whole = [paragraph]
        paragraph = " ".join(whole) if whole else paragraph
        if not paragraph.strip():
            raise GeneratorError("the local LM wrote nothing (it sampled a line end at once); try another --seed")
        plans = []
        for _ in range(self.num_plans):
            text = self.model.sample(
                (context + " " + paragraph)[-self.context_chars :] + " ", self.plan_chars, self.temperature, generator
            )
            first = sentences(text)[:1]
            plans.append(first[0] if first else (text.strip() or paragraph.split(".")[0]))
        memory = extractive_memory(step.short_memory, paragraph, self.memory_sentences)
        return format_output(StepOutput(paragraph, memory, tuple(plans)))


class OpenAIChatGenerator:
    """An OpenAI-compatible chat backend: ``POST {base_url}/chat/completions`` with the rendered prompt.

    Only the standard library is used (``urllib``). A request that times out, fails to connect, or gets a
    5xx or 429 answer is retried ``retries`` times, ``backoff * 2**i`` seconds apart; a 4xx is not.

    Args:
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1`` (``https://api.openai.com/v1``).
        model: the model name the server expects.
        api_key: sent as a bearer token; default ``$OPENAI_API_KEY`` (none sent when unset).
        timeout: seconds per request.
        retries: further attempts after a retryable failure.
        backoff: seconds before the first retry.
        temperature, max_tokens: sampling options passed to the server.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 2,
        backoff: float = 1.0,
        temperature: float = 0.7,
        max_tokens: int | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.timeout, self.retries, self.backoff = model, timeout, retries, backoff
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.temperature, self.max_tokens = temperature, max_tokens

    def request(self, prompt: str) -> str:
        """The assistant's reply to one user message ``prompt``."""
        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}], "temperature": self.temperature}
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, json.dumps(body).encode(), headers, method="POST")
        failure = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    payload = response.read()
                return self._content(payload)
            except urllib.error.HTTPError as err:
                detail = " ".join(err.read(200).decode("utf-8", "replace").split())
                failure = f"HTTP {err.code} from {self.url}: {detail or err.reason}"
                if err.code != 429 and err.code < 500:
                    break
            except TimeoutError:
                failure = f"no answer from {self.url} within {self.timeout:g} s"
            except urllib.error.URLError as err:
                if isinstance(err.reason, TimeoutError):
                    failure = f"no answer from {self.url} within {self.timeout:g} s"
                else:
                    failure = f"cannot reach {self.url}: {err.reason}"
        attempts = f" (after {attempt + 1} attempt{'s' if attempt else ''})"
        raise GeneratorError(failure + attempts)

    def _content(self, payload: bytes) -> str:
        try:
            reply = json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError):
            snippet = " ".join(payload[:80].decode("utf-8", "replace").split())
            raise GeneratorError(f"{self.url} answered with malformed JSON: {snippet!r}") from None
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise GeneratorError(
                f"{self.url} answered without choices[0].message.content: {str(reply)[:80]!r}"
            ) from None
        if not isinstance(content, str):
            raise GeneratorError(f"{self.url} answered with non-text content ({type(content).__name__})")
        return content

    def __call__(self, step: StepInput) -> str:
        return self.request(render_prompt(step))
