"""PDDL domains and problems through pyperplan: parse, ground, solve with real time limits.

Everything PDDL goes through `pyperplan <https://github.com/aibasel/pyperplan>`_ 2.1 (its s-expression
reader, its domain/problem parser and semantic checks, its grounding, heuristics and searches); this
module only adds what the goal-recognition pipeline needs around it:

- **Names.** pyperplan lower-cases every token and names facts ``(on c e)`` and ground actions
  ``(unstack c e)``; :func:`normalize_atom` brings the benchmark's ``(ON C  E)`` / ``on c e`` to that form.
- **Grounding** (:func:`ground`) with ``remove_irrelevant_operators=False``, so the action vocabulary is
  every grounded operator whatever the goal, sorted by name (operator order, hence search tie-breaking,
  does not depend on Python's string hashing). The benchmark's ``template.pddl`` holds a ``<HYPOTHESIS>``
  placeholder inside ``(:goal (and ...))``; the domain is grounded once per (domain, template) text (an
  in-process cache) and a goal is swapped in with :func:`with_goal`.
- **Errors with a line.** pyperplan's parser reports no position. A PDDL syntax error becomes one line
  ``ValueError("<file>:<line>: <pyperplan's message>")``: unbalanced parentheses are found by the same
  tokenisation pyperplan uses (comments stripped, parentheses split), a structural error by mapping the
  s-expression pyperplan was reading when it failed back to its line, a semantic one (unknown predicate,
  type or object) by the first line that uses the name the message gives.
- **The STRIPS fragment pyperplan lacks**, compiled on the s-expression tree (pyperplan's requirement
  flags are ignored by pyperplan itself, so support is decided by what the formulas use):

  * ``:equality`` -- ``(= ?x ?y)`` / ``(not (= ?x ?y))`` in preconditions are removed before pyperplan
    sees them and the grounded operators that violate them are dropped (blocks-world, logistics).
  * ``:negative-preconditions`` -- ``(not (p ...))`` in preconditions are removed and attached to the
    grounded operator (:class:`NegativePreconditionOperator`, whose ``applicable`` checks them); the
    relaxation heuristics (hFF, hmax, LM-cut) ignore them, which keeps them relaxations (dwr).
  * actions defined twice under one name (campus, kitchen: alternative preconditions) -- the copies are
    renamed for pyperplan and named back after grounding, so several operators share one action name
    (``GroundedDomain.operator(name, state)`` picks the applicable one).
  * ``:action-costs`` -- ``(:functions ...)``, ``(increase (total-cost) n)`` effects, ``(= (total-cost)
    0)`` in the initial state and ``(:metric ...)`` are dropped: plans are found under unit cost, which
    is exact for the benchmark's campus and kitchen domains (every action costs 1).

  Anything else beyond STRIPS + typing (``or``, ``forall``, ``exists``, ``when``, derived predicates,
  numeric fluents) is reported by pyperplan's own message (e.g. "predicate in precondition is not in
  CNF") with the file and line.

Grounding cost, one ``100/`` template per benchmark domain (pyperplan 2.1, one shared core; operators /
fluent facts / seconds to parse and ground): blocks-world 128/81/0.01, campus 142/22/0.01, depots
2700/177/0.05, driverlog 264/78/0.01, dwr 422/133/0.02, easy-ipc-grid 372/360/0.04, intrusion-detection
90/90/0.01, kitchen 59/51/0.01, logistics 338/90/0.01, miconic 324/36/0.02, rovers 145/77/0.02, sokoban
792/324/8-14 (pyperplan enumerates every typed argument tuple of ``push`` before filtering by the static
grid predicates; hence the in-process cache). Every observed action of those problems is a grounded
action. The classical-domains (blocks, depot, driverlog, gripper, logistics00/98, miconic, rovers)
ground and solve with their first problem too.

**Search.** :func:`solve` runs pyperplan's greedy best-first search (default) or A* with hFF (default),
hmax or LM-cut. Its ``time_limit`` is real: in the main thread an ``ITIMER_REAL`` alarm interrupts the
search, and every heuristic evaluation checks the deadline too (so a search in another thread stops as
well). A search that exhausts its space proves the goal unreachable (:class:`GoalUnreachable`); a search
past its limit raises :class:`SearchTimeout`. pyperplan's GBFS has no preferred operators and sometimes
sits on a plateau (a blocks-world goal: GBFS 4.9 s for 18 actions, A* with hFF 0.01 s for 7); on 20
random goals per domain GBFS was the faster on average in blocks-world, driverlog, logistics and rovers,
A* in dwr (GBFS 5.4 s with one timeout vs 0.5 s). :func:`solve_many` solves a sequence of tasks in worker
processes (``multiprocessing`` ``fork`` context, so the grounded tasks are inherited, not pickled), each
with its own limit, and returns ``None`` for a task that was not solved (timeout or unreachable).

Within one interpreter the plans are deterministic; pyperplan's heuristics iterate over Python sets of
strings, so a different ``PYTHONHASHSEED`` may break ties differently and return another (equally
valid) plan.
"""

from __future__ import annotations

import copy
import functools
import itertools
import multiprocessing
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pyperplan import grounding
from pyperplan.heuristics.lm_cut import LmCutHeuristic
from pyperplan.heuristics.relaxation import hFFHeuristic, hMaxHeuristic
from pyperplan.pddl import lisp_parser
from pyperplan.pddl import parser as pddl_parser
from pyperplan.pddl.lisp_iterators import LispIterator
from pyperplan.search import astar_search, greedy_best_first_search
from pyperplan.task import Operator, Task
from tqdm import tqdm

__all__ = [
    "GoalUnreachable",
    "GroundedDomain",
    "NegativePreconditionOperator",
    "SearchTimeout",
    "ground",
    "normalize_atom",
    "parse_hypothesis",
    "solve",
    "solve_many",
    "with_goal",
]

HEURISTICS = {"hff": hFFHeuristic, "hmax": hMaxHeuristic, "lmcut": LmCutHeuristic}
SEARCHES = ("gbfs", "astar")
PLACEHOLDER = "<HYPOTHESIS>"


class GoalUnreachable(ValueError):
    """The search exhausted the state space: no plan reaches the goal."""


class SearchTimeout(ValueError):
    """The search ran past its time limit."""


# ----------------------------------------------------------------------------------------------
# Atoms
# ----------------------------------------------------------------------------------------------


def normalize_atom(text: str) -> str:
    """``"(ON D  R)"`` or ``"on d r"`` -> ``"(on d r)"``: lower case, single spaces, one pair of parens."""
    body = str(text).strip()
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
    words = body.lower().split()
    if not words or "(" in body or ")" in body:
        raise ValueError(f"not a ground atom: {text!r}: expected a name and its arguments, e.g. '(on a b)'")
    return "(" + " ".join(words) + ")"


_ATOM = re.compile(r"\(([^()]*)\)")


def parse_hypothesis(line: str) -> frozenset[str]:
    """A benchmark hypothesis line ``"(CLEAR D),(ONTABLE W),(ON D R)"`` -> its normalized atoms."""
    atoms = [normalize_atom(m.group(1)) for m in _ATOM.finditer(line) if m.group(1).strip()]
    rest = _ATOM.sub("", line).replace(",", "").strip()
    if not atoms or rest:
        raise ValueError(
            f"not a hypothesis line: {line.strip()!r}: expected comma-separated atoms like '(on a b),(clear a)'"
        )
    return frozenset(atoms)


# ----------------------------------------------------------------------------------------------
# Line-numbered s-expressions (the tokenisation of pyperplan.pddl.lisp_parser, keeping lines)
# ----------------------------------------------------------------------------------------------


class _Token(str):
    """A token of a PDDL file with the line it is on."""

    line: int

    def __new__(cls, text: str, line: int) -> _Token:
        token = super().__new__(cls, text)
        token.line = line
        return token


class _Node(list):
    """A parenthesised list of a PDDL file with the line of its opening parenthesis."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line

    @classmethod
    def copy_of(cls, node: _Node) -> _Node:
        new = cls(node.line)
        new.extend(node)
        return new


def _tokens(text: str) -> Iterable[_Token]:
    # exactly pyperplan's _tokenize (comments, parentheses, '?' split, lower case), with line numbers
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.partition(";")[0]
        line = line.replace("(", " ( ").replace(")", " ) ").replace("?", " ?")
        for token in line.split():
            yield _Token(token.lower(), number)


_SECTIONS = {":action", ":predicates", ":types", ":constants", ":requirements", ":functions", ":init", ":goal"}
_SECTIONS |= {":objects", ":metric", ":domain", ":derived", ":durative-action"}


def _read_sexpr(text: str, label: str) -> _Node:
    """The file's single top-level list; unbalanced parentheses are a one-line ``<label>:<line>`` error."""
    stack: list[_Node] = []
    root: _Node | None = None
    closed_at = 0
    previous = None
    for token in _tokens(text):
        if root is not None:
            raise ValueError(
                f"{label}:{closed_at}: the list opened on line {root.line} closes here, yet {token!r} follows on "
                f"line {token.line}: is there an extra ')' above?"
            )
        if token == "(":
            node = _Node(token.line)
            if stack:
                stack[-1].append(node)
            stack.append(node)
        elif token == ")":
            if not stack:
                raise ValueError(f"{label}:{token.line}: unexpected ')': no parenthesis is open here")
            closed = stack.pop()
            if not stack:
                root, closed_at = closed, token.line
        elif not stack:
            raise ValueError(f"{label}:{token.line}: expected '(' before {token!r}")
        else:
            # a section keyword right after '(' must open a child of (define ...): a deeper one means an
            # earlier section lacks its ')'
            if token in _SECTIONS and previous == "(" and len(stack) > 2 and not stack[-1]:
                raise ValueError(
                    f"{label}:{stack[1].line}: missing closing parenthesis: the list opened here is still "
                    f"open where ({token} starts on line {token.line}"
                )
            stack[-1].append(token)
        previous = token
    if stack:
        inner = stack[1] if len(stack) > 1 else stack[0]
        raise ValueError(f"{label}:{inner.line}: missing closing parenthesis: the list opened here is never closed")
    if root is None:
        raise ValueError(f"{label}:1: empty PDDL file: expected '(define ...)'")
    return root


def _serialize(node: _Node) -> str:
    """The tree as PDDL text with every token on its original line (so pyperplan's view keeps lines)."""
    out: list[str] = []
    line = 1

    def emit(token: str, at: int) -> None:
        nonlocal line
        if at > line:
            out.append("\n" * (at - line))
            line = at
        out.append(token + " ")

    def walk(item: _Node | _Token) -> None:
        if isinstance(item, _Node):
            emit("(", item.line)
            for child in item:
                walk(child)
            emit(")", line)
        else:
            emit(str(item), item.line)

    walk(node)
    return "".join(out)


# ----------------------------------------------------------------------------------------------
# Compiling equality, negative preconditions and action costs away (on the s-expression tree)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ActionExtras:
    """What was removed from one action's precondition before pyperplan saw it."""

    parameters: tuple[str, ...]
    equalities: tuple[tuple[str, str, bool], ...]  # (left, right, must_be_equal)
    negatives: tuple[tuple[str, ...], ...]  # atoms as (predicate, arg, ...), args are ?vars or constants


def _head(item) -> str | None:
    return item[0] if isinstance(item, _Node) and item and not isinstance(item[0], _Node) else None


def _parameters(action: _Node) -> tuple[str, ...]:
    for key, value in itertools.pairwise(action):
        if key == ":parameters" and isinstance(value, _Node):
            return tuple(str(t) for t in value if isinstance(t, str) and t.startswith("?"))
    return ()


def _compile_precondition(formula: _Node, parameters) -> tuple[_Node, _ActionExtras]:
    conjuncts = list(formula[1:]) if _head(formula) == "and" else [formula]
    kept, equalities, negatives = [], [], []
    for item in conjuncts:
        inner = item[1] if _head(item) == "not" and len(item) == 2 else None
        if _head(item) == "=" and len(item) == 3 and not any(isinstance(a, _Node) for a in item[1:]):
            equalities.append((str(item[1]), str(item[2]), True))
        elif _head(inner) == "=" and len(inner) == 3 and not any(isinstance(a, _Node) for a in inner[1:]):
            equalities.append((str(inner[1]), str(inner[2]), False))
        elif _head(inner) is not None and not any(isinstance(a, _Node) for a in inner) and inner[0] not in _LOGIC:
            negatives.append(tuple(str(t) for t in inner))
        else:
            kept.append(item)
    new = _Node(formula.line)
    new.append(_Token("and", formula.line))
    new.extend(kept)
    return new, _ActionExtras(tuple(parameters), tuple(equalities), tuple(negatives))


_DUPLICATE = "~copy"
_LOGIC = {"and", "or", "not", "imply", "forall", "exists", "when", "="}
_COST_EFFECTS = {"increase", "decrease", "assign", "scale-up", "scale-down"}


def _compile_domain(root: _Node) -> tuple[_Node, dict[str, _ActionExtras]]:
    extras: dict[str, _ActionExtras] = {}
    seen: dict[str, int] = {}
    out = _Node(root.line)
    for section in root:
        if _head(section) == ":functions":
            continue
        if _head(section) == ":action" and len(section) > 1:
            # a name defined again is an alternative precondition of the same action (campus, kitchen):
            # pyperplan wants unique names, so the copies are renamed here and named back after grounding
            name = str(section[1])
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                section = _Node.copy_of(section)
                section[1] = _Token(f"{name}{_DUPLICATE}{seen[name]}", section[1].line)
            section = _compile_action(section, extras)
        out.append(section)
    return out, extras


def _compile_action(action: _Node, extras: dict[str, _ActionExtras]) -> _Node:
    new = _Node.copy_of(action)
    parameters = _parameters(action)
    for i in range(len(new) - 1):
        if new[i] == ":precondition" and isinstance(new[i + 1], _Node):
            new[i + 1], found = _compile_precondition(new[i + 1], parameters)
            if found.equalities or found.negatives:
                extras[str(action[1])] = found
        elif new[i] == ":effect" and isinstance(new[i + 1], _Node) and _head(new[i + 1]) == "and":
            effect = _Node(new[i + 1].line)
            effect.extend(e for e in new[i + 1] if _head(e) not in _COST_EFFECTS)
            new[i + 1] = effect
    return new


def _compile_problem(root: _Node) -> _Node:
    out = _Node(root.line)
    for section in root:
        if _head(section) == ":metric":
            continue
        if _head(section) == ":init":
            init = _Node(section.line)
            init.extend(a for a in section if _head(a) != "=")
            section = init
        out.append(section)
    return out


class NegativePreconditionOperator(Operator):
    """A pyperplan ``Operator`` that is applicable only where none of ``negative_preconditions`` holds.

    Relaxation heuristics read only ``preconditions``, i.e. they ignore the negative ones (a relaxation).
    """

    def __init__(self, name, preconditions, add_effects, del_effects, negative_preconditions):
        super().__init__(name, preconditions, add_effects, del_effects)
        self.negative_preconditions = frozenset(negative_preconditions)

    def applicable(self, state) -> bool:
        return self.preconditions <= state and self.negative_preconditions.isdisjoint(state)


def _ground_negatives(found: _ActionExtras, binding: dict[str, str]) -> set[str]:
    return {"(" + " ".join([atom[0], *(binding.get(t, t) for t in atom[1:])]) + ")" for atom in found.negatives}


def _apply_extras(operators, extras: dict[str, _ActionExtras], static_true: frozenset[str], fluents) -> list:
    """Drop operators violating (in)equalities, attach negative preconditions, name copies back."""
    kept = []
    for op in operators:
        words = op.name[1:-1].split()
        found = extras.get(words[0])
        if found is not None:
            # parameters take the operator's arguments; constants stand for themselves
            binding = dict(zip(found.parameters, words[1:], strict=False))
            if any((binding.get(a, a) == binding.get(b, b)) != equal for a, b, equal in found.equalities):
                continue
            negatives = _ground_negatives(found, binding)
            if negatives & static_true:
                continue
            if negatives & fluents:
                op = NegativePreconditionOperator(
                    op.name, op.preconditions, op.add_effects, op.del_effects, negatives & fluents
                )
        if _DUPLICATE in words[0]:
            op = copy.copy(op)
            op.name = "(" + " ".join([words[0].partition(_DUPLICATE)[0], *words[1:]]) + ")"
        kept.append(op)
    return kept


# ----------------------------------------------------------------------------------------------
# Parsing with pyperplan, errors with lines
# ----------------------------------------------------------------------------------------------


def _line_of_failure(exc: BaseException, pyperplan_tree, tree: _Node, text: str) -> int | None:
    """The line of the s-expression pyperplan was reading when it raised, or of a name its message gives."""
    lines: dict[int, _Node] = {}

    def pair(theirs, ours) -> None:
        if isinstance(theirs, list) and isinstance(ours, _Node):
            lines[id(theirs)] = ours
            for a, b in zip(theirs, ours, strict=False):
                pair(a, b)

    if pyperplan_tree is not None:
        pair(pyperplan_tree, tree)
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for value in frame.f_locals.values():
            if isinstance(value, LispIterator) and id(value.contents) in lines:
                node = lines[id(value.contents)]
                position = min(max(value.position - 1, 0), len(node) - 1)
                item = node[position] if len(node) else node
                return item.line
    # semantic errors name the offending token: its first use (from the goal on, for goal errors)
    message = str(exc).lower()
    names = re.findall(r"(?:name|type|predicate|object|keyword[^:]*:|domain:)\s+([^\s!,]+)", message)
    tokens = list(_tokens(text))
    start = next((i for i, t in enumerate(tokens) if t == ":goal"), 0) if "goal" in message else 0
    for name in names:
        for token in tokens[start:] + tokens[:start]:
            if token == name:
                return token.line
    return None


def _pyperplan_read(text: str, label: str, what: str, domain=None):
    """Parse ``text`` (domain or problem PDDL) with pyperplan; one-line ``<label>:<line>:`` errors."""
    tree = _read_sexpr(text, label)
    if what == "domain":
        compiled, extras = _compile_domain(tree)
    else:
        compiled, extras = _compile_problem(tree), {}
    theirs = None
    try:
        theirs = lisp_parser.parse_nested_list(_serialize(compiled).split("\n"))
        if what == "domain":
            ast = pddl_parser.parse_domain_def(LispIterator(theirs))
            visitor = pddl_parser.TraversePDDLDomain()
            ast.accept(visitor)
            return visitor.domain, extras
        ast = pddl_parser.parse_problem_def(LispIterator(theirs))
        visitor = pddl_parser.TraversePDDLProblem(domain)
        ast.accept(visitor)
        return visitor.get_problem(), extras
    except Exception as exc:  # pyperplan raises ValueError, ParseError, SemanticError, and worse on bad input
        line = _line_of_failure(exc, theirs, compiled, text)
        message = " ".join(str(exc.args[0] if exc.args else exc).split()) or type(exc).__name__
        where = f"{label}:{line}" if line else label
        if (
            "CNF" in message
            or "reserved" in message
            or re.search(r"predicate (or|forall|exists|imply|when)\b", message)
        ):
            message += " (pyperplan reads STRIPS with typing: or/forall/exists/when need ADL)"
        raise ValueError(f"{where}: {message}") from None


def _text_and_label(source: str | Path, kind: str) -> tuple[str, str]:
    if isinstance(source, str) and re.search(r"\(\s*define\b", source, flags=re.IGNORECASE):
        return source, f"<{kind} text>"
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"PDDL {kind} file not found: {path} (give a path or the PDDL text itself)")
    return path.read_text(encoding="utf-8", errors="replace"), str(path)


# ----------------------------------------------------------------------------------------------
# Grounding
# ----------------------------------------------------------------------------------------------


@dataclass
class GroundedDomain:
    """A domain + problem template grounded by pyperplan.

    Attributes:
        task: pyperplan ``Task`` (operators sorted by name, irrelevant ones kept, statics removed).
        actions: every grounded operator name, sorted (the action vocabulary), e.g. ``"(unstack c e)"``.
        facts: every fluent fact, sorted (the goal-fact vocabulary), e.g. ``"(on c e)"``.
        initial_state: the fluent facts true initially.
        domain_file, problem_file: where the PDDL came from (a path, or ``<domain text>``).
        predicates: predicate name -> arity; objects: every object and constant; static_facts: the
        initial facts no operator changes (removed from ``task``).
    """

    task: Task
    actions: tuple[str, ...]
    facts: tuple[str, ...]
    initial_state: frozenset[str]
    domain_file: str
    problem_file: str
    predicates: dict[str, int] = field(default_factory=dict)
    objects: tuple[str, ...] = ()
    static_facts: frozenset[str] = frozenset()
    _by_name: dict[str, tuple[Operator, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def operator(self, name: str, state: Iterable[str] | None = None) -> Operator:
        """The grounded operator called ``name`` (any case/spacing); ValueError naming it when absent.

        A domain that defines an action name twice (campus, kitchen: alternative preconditions) has
        several operators of one name; with ``state`` the one applicable there is returned (ValueError
        when none is), without it the first.
        """
        if not self._by_name:
            by_name: dict[str, list[Operator]] = {}
            for op in self.task.operators:
                by_name.setdefault(op.name, []).append(op)
            self._by_name = {key: tuple(ops) for key, ops in by_name.items()}
        key = normalize_atom(name)
        ops = self._by_name.get(key)
        if ops is None:
            raise ValueError(
                f"action {key} is not a grounded action of {self.domain_file} with {self.problem_file} "
                f"({len(self.actions)} actions, e.g. {', '.join(self.actions[:3])})"
            )
        if state is None:
            return ops[0]
        state = frozenset(state)
        for op in ops:
            if op.applicable(state):
                return op
        missing = " ".join(sorted(ops[0].preconditions - state))
        raise ValueError(f"action {key} is not applicable in this state (missing {missing or 'a precondition'})")


@functools.lru_cache(maxsize=16)
def _ground_cached(domain_text: str, domain_label: str, template_text: str, template_label: str) -> GroundedDomain:
    domain, extras = _pyperplan_read(domain_text, domain_label, "domain")
    problem, _ = _pyperplan_read(template_text.replace(PLACEHOLDER, ""), template_label, "problem", domain)
    try:
        task = grounding.ground(problem, remove_statics_from_initial_state=False, remove_irrelevant_operators=False)
    except Exception as exc:  # pyperplan's grounding fails with KeyError/TypeError on inconsistent input
        raise ValueError(f"{template_label}: pyperplan could not ground it: {type(exc).__name__}: {exc}") from None
    full_init = frozenset(task.initial_state)
    operators = _apply_extras(task.operators, extras, full_init - task.facts, task.facts)
    operators.sort(key=lambda op: op.name)
    # the fluents of the operators left (equality filtering drops e.g. (on a a)), as pyperplan collects them
    fluents = frozenset(task.goals).union(*(op.preconditions | op.add_effects | op.del_effects for op in operators))
    initial = full_init & fluents
    task = Task(task.name, fluents, initial, frozenset(task.goals), operators)
    objects = sorted({*problem.objects, *domain.constants})
    return GroundedDomain(
        task=task,
        actions=tuple(sorted({op.name for op in operators})),
        facts=tuple(sorted(fluents)),
        initial_state=initial,
        domain_file=domain_label,
        problem_file=template_label,
        predicates={name: len(p.signature) for name, p in domain.predicates.items()},
        objects=tuple(objects),
        static_facts=full_init - fluents,
    )


def ground(domain: str | Path, template: str | Path, goal: Iterable[str] | None = None) -> GroundedDomain:
    """Parse and ground ``domain`` with the problem ``template`` (paths, or PDDL text containing ``(define``).

    A ``<HYPOTHESIS>`` placeholder in the template (the benchmark's ``(:goal (and <HYPOTHESIS>))``) is
    replaced by ``goal``, or by the empty (trivially true) goal when ``goal`` is None; a template without
    the placeholder keeps its own goal unless ``goal`` is given. Syntax errors are one-line
    ``ValueError("<file>:<line>: <message>")``; a missing file is FileNotFoundError.
    """
    domain_text, domain_label = _text_and_label(domain, "domain")
    template_text, template_label = _text_and_label(template, "template")
    grounded = _ground_cached(domain_text, domain_label, template_text, template_label)
    if goal is not None:
        grounded = replace(grounded, task=with_goal(grounded, goal))
    return grounded


def with_goal(grounded: GroundedDomain, goal: Iterable[str]) -> Task:
    """A pyperplan ``Task`` with the grounded operators and initial state and a new conjunctive ``goal``.

    Goal atoms are normalized; one naming an unknown predicate or object (or with the wrong arity) is a
    ValueError; one that is statically true is dropped; one no operator can make true stays in the goal
    (:func:`solve` then raises :class:`GoalUnreachable`).
    """
    atoms = set()
    known = set(grounded.objects)
    for raw in goal:
        atom = normalize_atom(raw)
        words = atom[1:-1].split()
        arity = grounded.predicates.get(words[0])
        if arity is None:
            raise ValueError(
                f"goal fact {atom} names no predicate of {grounded.domain_file} "
                f"(predicates: {', '.join(sorted(grounded.predicates))})"
            )
        if arity != len(words) - 1:
            raise ValueError(
                f"goal fact {atom} does not fit {grounded.domain_file}: {words[0]} takes {arity} arguments, "
                f"not {len(words) - 1}"
            )
        unknown = sorted(set(words[1:]) - known)
        if unknown:
            shown = ", ".join(grounded.objects[:8]) + (", ..." if len(grounded.objects) > 8 else "")
            raise ValueError(
                f"goal fact {atom} does not fit {grounded.problem_file}: no object {', '.join(unknown)} "
                f"(objects: {shown})"
            )
        if atom not in grounded.static_facts:
            atoms.add(atom)
    task = grounded.task
    goals = frozenset(atoms)
    return Task(task.name, task.facts | goals, task.initial_state, goals, task.operators)


# ----------------------------------------------------------------------------------------------
# Search with real time limits
# ----------------------------------------------------------------------------------------------


class _Expired(BaseException):
    """Raised inside the search (by the alarm or the deadline check) to stop it."""


class _DeadlineHeuristic:
    """Wraps a pyperplan heuristic: every evaluation first checks the wall-clock deadline."""

    def __init__(self, heuristic, deadline: float):
        self.heuristic = heuristic
        self.deadline = deadline

    def __call__(self, node):
        if time.monotonic() > self.deadline:
            raise _Expired
        return self.heuristic(node)


def _on_alarm(signum, frame):
    raise _Expired


def _disarm(alarm: bool, previous) -> None:
    if alarm:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)


def _goal_text(task: Task) -> str:
    text = " ".join(sorted(task.goals))
    return text if len(text) <= 200 else text[:197] + "..."


def solve(
    task: Task,
    time_limit: float = 10.0,
    search: Literal["gbfs", "astar"] = "gbfs",
    heuristic: Literal["hff", "lmcut", "hmax"] = "hff",
) -> list[str]:
    """A plan (operator names) for ``task`` by pyperplan's GBFS or A* with hFF, LM-cut or hmax.

    Raises GoalUnreachable when the search proves there is no plan, SearchTimeout past ``time_limit``
    seconds (heuristic set-up included).
    """
    if search not in SEARCHES:
        raise ValueError(f"unknown search {search!r}: choose one of {', '.join(SEARCHES)}")
    if heuristic not in HEURISTICS:
        raise ValueError(f"unknown heuristic {heuristic!r}: choose one of {', '.join(HEURISTICS)}")
    if not time_limit > 0:
        raise ValueError(f"time_limit must be positive seconds, got {time_limit}")
    if task.goals <= task.initial_state:
        return []
    reachable = set(task.initial_state).union(*(op.add_effects for op in task.operators))
    if not task.goals <= reachable:
        missing = " ".join(sorted(task.goals - reachable))
        raise GoalUnreachable(f"goal {_goal_text(task)} is unreachable: no operator makes {missing} true")
    deadline = time.monotonic() + time_limit
    alarm = threading.current_thread() is threading.main_thread() and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    previous = signal.getsignal(signal.SIGALRM) if alarm else None
    try:
        try:
            if alarm:
                signal.signal(signal.SIGALRM, _on_alarm)
                # one shot: the alarm fires at most once, so disarming below cannot be interrupted twice
                signal.setitimer(signal.ITIMER_REAL, time_limit)
            h = _DeadlineHeuristic(HEURISTICS[heuristic](task), deadline)
            run = greedy_best_first_search if search == "gbfs" else astar_search
            plan = run(task, h)
        finally:
            _disarm(alarm, previous)
    except _Expired:
        _disarm(alarm, previous)  # again: the alarm may have fired inside the first disarm
        raise SearchTimeout(
            f"no plan for goal {_goal_text(task)} within {time_limit:g} s ({search} + {heuristic}): "
            "raise time_limit or give an easier goal"
        ) from None
    if plan is None:
        raise GoalUnreachable(f"goal {_goal_text(task)} is unreachable: {search} exhausted the state space")
    return [op.name for op in plan]


# Tasks handed to forked workers by key (inherited through fork, never pickled).
_JOBS: dict[str, Sequence[Task]] = {}


def _solve_job(key: str, time_limit: float, search: str, heuristic: str, index: int) -> list[str] | None:
    try:
        return solve(_JOBS[key][index], time_limit=time_limit, search=search, heuristic=heuristic)
    except (SearchTimeout, GoalUnreachable):
        return None


def solve_many(
    tasks: Sequence[Task],
    workers: int = 1,
    time_limit: float = 10.0,
    search: Literal["gbfs", "astar"] = "gbfs",
    heuristic: Literal["hff", "lmcut", "hmax"] = "hff",
    progress: bool = False,
    desc: str = "solving",
) -> list[list[str] | None]:
    """:func:`solve` every task, each with its own ``time_limit``; ``None`` where no plan was found.

    ``workers > 1`` forks that many processes (``fork`` context: the tasks are inherited, not pickled);
    results come back in the order of ``tasks`` whatever the number of workers. Progress is a tqdm bar
    on stderr when ``progress``.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    key = uuid.uuid4().hex
    _JOBS[key] = tasks
    job = functools.partial(_solve_job, key, time_limit, search, heuristic)
    bar = tqdm(total=len(tasks), desc=desc, file=sys.stderr, disable=not progress, leave=False)
    try:
        if workers == 1 or len(tasks) <= 1:
            results = []
            for i in range(len(tasks)):
                results.append(job(i))
                bar.update()
            return results
        with multiprocessing.get_context("fork").Pool(min(workers, len(tasks))) as pool:
            results = []
            for plan in pool.imap(job, range(len(tasks)), chunksize=1):
                results.append(plan)
                bar.update()
            return results
    finally:
        bar.close()
        del _JOBS[key]
