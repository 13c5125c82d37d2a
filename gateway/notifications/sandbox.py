"""Stores' templates run in Jinja's immutable sandbox, with limits on everything that costs.

A store's template is untrusted code: `{% for a in range(10000) %}{% for b in range(10000) %}`
would hold a CPU for minutes and `'x' * 100000000` builds 100 MB. `BoundedSandbox` refuses, with
`TemplateLimitExceeded` naming the limit, anything past `Limits`:

- `range()` sizes, and sequences a template builds (`*`, `+`, filters, method calls);
- string growth: each operation that can make text longer is checked before it runs where
  its size is known (`*`, `%`, `replace`, `join`, `indent`, ...), and every text result after;
- numbers (`**` and `*` on integers), and integer arguments (widths, counts);
- total loop iterations, and total characters produced (literal text and `{{ }}` alike);
- wall time, checked at every step the template takes (attribute, call, filter, operator, loop
  iteration, output): each single step is bounded by the size limits, so the render stops
  within one step of its deadline.

Only scalars (text, numbers) may be printed, joined or formatted: turning a container into text
could cost any amount. Filters are an allow-list; string methods too (no `format`, `center`...).
Rendering runs off the event loop (`off_loop`, a two-thread pool), not in a process: a thread
cannot be killed, but it needs not be, since every step is bounded in size and the deadline is
checked between steps, so the render stops by itself within a step of its deadline. A process
would add a fork or a pickled round trip to every message the worker renders, and killing a
pool's stuck child needs private APIs. The one cost of a thread, the GIL, is paid back by
handing it over every few steps (`sandbox_limits.Budget.tick`): the event loop then never
waits a switch interval (5 ms) for it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment

from gateway.notifications.sandbox_limits import (
    LIMITS,
    PERCENT_SPEC,
    SCALARS,
    SEQUENCE_FILTERS,
    STR_METHODS,
    TEXT_FILTERS,
    Budget,
    Limits,
    TemplateLimitExceeded,
)

T = TypeVar("T")
_GUARD_LOOP: Final = "_lastmile_guard_loop"
_TEXT_PART: Final = "_lastmile_text_part"


class _GuardedCodeGenerator(CodeGenerator):
    """Counts the literal text each output statement adds (it bypasses `finalize`)."""

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        size = sum(len(c.data) for c in node.nodes if isinstance(c, nodes.TemplateData))
        if size:
            self.writeline(f"environment.produce_literal({size})")
        super().visit_Output(node, frame)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """An immutable sandbox with a budget; make one per render (the budget starts with it)."""

    code_generator_class = _GuardedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, limits: Limits = LIMITS, *, autoescape: bool = False) -> None:
        super().__init__(
            undefined=jinja2.StrictUndefined, autoescape=autoescape, finalize=self._finalize
        )
        self.limits = limits
        self.budget = Budget(limits)
        self.globals = {
            "range": self._range,
            "dict": dict,
            "namespace": self.globals["namespace"],
            "cycler": self.globals["cycler"],
            "joiner": self.globals["joiner"],
        }
        allowed = TEXT_FILTERS | SEQUENCE_FILTERS
        self.filters = {n: self._guarded(n, f) for n, f in self.filters.items() if n in allowed}
        self.filters[_GUARD_LOOP] = self._guard_loop
        self.filters[_TEXT_PART] = self._text_part

    # -- parsing: every loop counted, every `~` operand a bounded scalar, no recursive loops

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            if loop.recursive:
                raise jinja2.TemplateSyntaxError("recursive loops are not allowed", loop.lineno)
            loop.iter = self._wrap(loop.iter, _GUARD_LOOP)
        for concat in tree.find_all(nodes.Concat):
            concat.nodes = [self._wrap(part, _TEXT_PART) for part in concat.nodes]
        return tree

    def _wrap(self, node: nodes.Node, name: str) -> nodes.Filter:
        wrapped = nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)
        wrapped.set_environment(self)
        return wrapped

    def _guard_loop(self, iterable: Iterable[T]) -> Iterator[T]:
        for item in iterable:
            self.budget.iterate()
            yield item

    def _text_part(self, value: T) -> T:
        self._scalar(value)
        return value

    # -- runtime hooks: each step ticks the clock and checks what it made

    def produce_literal(self, chars: int) -> None:
        self.budget.produce(chars)

    def _finalize(self, value: Any) -> Any:
        self._scalar(value)
        self.budget.produce(len(value) if isinstance(value, str) else 20)
        return value

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.budget.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.budget.tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> None:
        return None  # no str.format / format_map: a width in the format string costs its size

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and callable(value):
            return attr in STR_METHODS
        return bool(super().is_safe_attribute(obj, attr, value))

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        self.budget.tick()
        self._integer_arguments(args, kwargs)
        return self._sized(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.budget.tick()
        if operator == "*":
            self._check_repeat(left, right)
        elif operator == "**":
            self._check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            self._check_percent(left, right)
        elif operator == "+" and isinstance(left, (str, list, tuple)):
            self._check_size(left, len(left) + len(right) if hasattr(right, "__len__") else 0)
        return self._sized(super().call_binop(context, operator, left, right))

    # -- filters

    def _guarded(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        check = _PRECHECKS.get(name)
        text_filter = name in TEXT_FILTERS

        @functools.wraps(func)  # keeps jinja's pass_context/pass_environment marker
        def guarded(*args: Any, **kwargs: Any) -> Any:
            self.budget.tick()
            skip = 1 if getattr(func, "jinja_pass_arg", None) else 0
            if text_filter:
                self._scalar(args[skip])
            self._integer_arguments(args[skip + 1 :], kwargs)
            if check is not None:
                check(self, args[skip], *args[skip + 1 :], **kwargs)
            return self._sized(func(*args, **kwargs))

        return guarded

    # -- checks

    def _range(self, *args: int) -> range:
        self._integer_arguments(args, {}, limit=2**62)
        numbers = range(*args)
        if len(numbers) > self.limits.range_items:
            raise TemplateLimitExceeded("range_items", self.limits.range_items)
        return numbers

    def _scalar(self, value: Any) -> None:
        if isinstance(value, jinja2.Undefined):
            return  # StrictUndefined raises its own, clearer error when used
        if not isinstance(value, SCALARS):
            raise jinja2.exceptions.SecurityError(
                "only text and numbers can be printed, joined or formatted"
            )
        self._sized(value)

    def _integer_arguments(
        self, args: Iterable[Any], kwargs: dict[str, Any], *, limit: int | None = None
    ) -> None:
        limit = self.limits.integer_argument if limit is None else limit
        for value in (*args, *kwargs.values()):
            if isinstance(value, int) and abs(value) > limit:
                raise TemplateLimitExceeded("integer_argument", limit)

    def _sized(self, value: T) -> T:
        if isinstance(value, (str, list, tuple, dict, set, frozenset)):
            self._check_size(value, len(value))
        elif isinstance(value, int) and value.bit_length() > self.limits.number_bits:
            raise TemplateLimitExceeded("number_bits", self.limits.number_bits)
        return value

    def _check_size(self, like: object, size: int) -> None:
        if isinstance(like, str):
            if size > self.limits.string_chars:
                raise TemplateLimitExceeded("string_chars", self.limits.string_chars)
        elif size > self.limits.sequence_items:
            raise TemplateLimitExceeded("sequence_items", self.limits.sequence_items)

    def _check_repeat(self, left: Any, right: Any) -> None:
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > self.limits.number_bits:
                raise TemplateLimitExceeded("number_bits", self.limits.number_bits)
            return
        seq, times = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(times, int) and hasattr(seq, "__len__"):
            self._check_size(seq, len(seq) * max(times, 0))

    def _check_power(self, base: Any, exponent: Any) -> None:
        if not (isinstance(base, int) and isinstance(exponent, int) and exponent > 0):
            return
        if max(base.bit_length(), 1) * exponent > self.limits.number_bits:
            raise TemplateLimitExceeded("number_bits", self.limits.number_bits)

    def _check_percent(self, text: str, args: Any) -> None:
        """`'%09999999d' % 1` allocates its width first: widths and precisions are capped."""
        values = args if isinstance(args, tuple) else (args,)
        if isinstance(args, dict):
            values = tuple(args.values())
        for value in values:
            self._scalar(value)
        for match in PERCENT_SPEC.finditer(text):
            for number in (match[1], match[2]):
                if number == "*" or (number and int(number) > self.limits.integer_argument):
                    raise TemplateLimitExceeded("integer_argument", self.limits.integer_argument)


def _check_replace(env: BoundedSandbox, value: Any, old: Any, new: Any, *_: Any, **__: Any) -> None:
    text, old_text, new_text = str(value), str(old), str(new)
    count = len(text) + 1 if not old_text else text.count(old_text)
    env._check_size(text, len(text) + count * max(len(new_text) - len(old_text), 0))


def _check_join(env: BoundedSandbox, value: Any, glue: Any = "", *_: Any, **__: Any) -> None:
    items = value if isinstance(value, (list, tuple)) else None
    if items is None:
        return  # a generator or a mapping: each part is checked as it is made, the result after
    for item in items:
        env._scalar(item)
    joined = sum(len(str(item)) for item in items) + len(str(glue)) * max(len(items) - 1, 0)
    env._check_size("", joined)


def _check_indent(env: BoundedSandbox, value: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    text, pad = str(value), width if isinstance(width, str) else " " * int(width)
    env._check_size(text, len(text) + (text.count("\n") + 1) * len(pad))


def _check_wordwrap(env: BoundedSandbox, value: Any, width: Any = 79, *a: Any, **k: Any) -> None:
    if int(width) < 20:  # below that, textwrap takes its time over a long text
        raise TemplateLimitExceeded("wordwrap_width_minimum", 20)
    wrap = str(k.get("wrapstring", a[1] if len(a) > 1 else "\n") or "\n")
    text = str(value)
    env._check_size(text, len(text) + (len(text) // int(width) + 1) * len(wrap))


def _check_format(env: BoundedSandbox, value: Any, *args: Any, **kwargs: Any) -> None:
    env._check_percent(str(value), kwargs if kwargs else tuple(args))


def _check_sum(env: BoundedSandbox, value: Any, *_: Any, **kwargs: Any) -> None:
    items = value if isinstance(value, (list, tuple)) else ()
    if any(not isinstance(item, (int, float)) for item in items) or "start" in kwargs:
        raise jinja2.exceptions.SecurityError("sum adds numbers only")


_PRECHECKS: Final[dict[str, Callable[..., None]]] = {
    "replace": _check_replace,
    "join": _check_join,
    "indent": _check_indent,
    "wordwrap": _check_wordwrap,
    "format": _check_format,
    "sum": _check_sum,
}

_RENDERERS: Final = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lastmile-template")


async def off_loop(func: Callable[..., T], *args: Any) -> T:
    """`func(*args)` in the template threads: a render never runs on the event loop."""
    return await asyncio.get_running_loop().run_in_executor(
        _RENDERERS, functools.partial(func, *args)
    )


def render_bounded(source: str, context: dict[str, Any], *, autoescape: bool) -> str:
    """Compile and render `source` in a fresh BoundedSandbox. Raises TemplateLimitExceeded,
    jinja2.TemplateError (syntax, security, undefined) or what the template's code raised."""
    env = BoundedSandbox(LIMITS, autoescape=autoescape)
    template = env.from_string(source)
    return template.render(context)


__all__ = ["LIMITS", "BoundedSandbox", "Limits", "TemplateLimitExceeded", "off_loop"]
