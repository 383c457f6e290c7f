"""Compile expression syntax trees into Python closures: parse once, evaluate per request.

Every node becomes a function of the evaluation environment. Errors carry the position of the
node that failed: C# runtime exceptions become ``ExpressionRuntimeError`` (APIM sends the request
to on-error), constructs the simulator does not model become ``ExpressionUnsupportedError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apimgen.simulate.expr import ast
from apimgen.simulate.expr.construct import EXCEPTION_TYPES, new_object
from apimgen.simulate.expr.members import call_method, get_index, get_member
from apimgen.simulate.expr.names import ALLOWED_MEMBERS, QUALIFIED_NAMES, STATIC_NAMES
from apimgen.simulate.expr.objects import CSharpException
from apimgen.simulate.expr.operators import arithmetic, compare, number, plain, to_bool
from apimgen.simulate.expr.parser import ExpressionSyntaxError, parse_expression, shifted
from apimgen.simulate.expr.purity import caller_parts
from apimgen.simulate.expr.statics import format_value
from apimgen.simulate.expr.typesystem import (
    KeyValue,
    StaticType,
    convert,
    default_of,
    is_instance,
    sequence,
    unbox,
)
from apimgen.simulate.expr.values import (
    CSharpError,
    JArray,
    JObject,
    OutRef,
    UnsupportedError,
    cs_string,
    type_name,
)
from apimgen.simulate.expr.vocabulary import closest_member

__all__ = [
    "CompiledExpression",
    "Environment",
    "ExpressionNotAllowedError",
    "ExpressionRuntimeError",
    "ExpressionUnsupportedError",
    "compile_expression",
]


class ExpressionRuntimeError(Exception):
    """A C# exception thrown while evaluating; ``kind`` is the .NET exception type."""

    def __init__(self, kind: str, message: str, line: int, column: int) -> None:
        super().__init__(f"{kind}: {message} (at {line}:{column})")
        self.kind = kind
        self.message = message
        self.line = line
        self.column = column


class ExpressionUnsupportedError(Exception):
    """A construct the simulator does not model, named, with its position."""

    def __init__(self, construct: str, line: int, column: int, message: str = "") -> None:
        super().__init__(
            message or f"unsupported in the simulator: {construct} (at {line}:{column})"
        )
        self.construct = construct
        self.line = line
        self.column = column


class ExpressionNotAllowedError(ExpressionUnsupportedError):
    """A member of a .NET type APIM refuses in expressions: the gateway rejects the policy
    when it is saved, so the simulator does too, whether or not it could run it."""

    def __init__(self, type_name_: str, member: str, line: int, column: int) -> None:
        message = (
            f"APIM does not allow {type_name_}.{member} in policy expressions: Learn lists the "
            f"members of {type_name_} it allows, and {member} is not one"
            + ("; DateTimeOffset allows all of its own" if type_name_ == "DateTime" else "")
            + f" (at {line}:{column})"
        )
        super().__init__(f"{type_name_}.{member}", line, column, message)


@dataclass(slots=True)
class Environment:
    """What one evaluation sees: the context object, static types and local variables."""

    context: Any
    statics: dict[str, StaticType]
    locals: dict[str, Any] = field(default_factory=dict)
    depth: int = 0  # lambdas and local functions running inside one another


Compiled = Callable[[Environment], Any]
Matcher = Callable[[Environment, Any], bool]  # a switch label: does it take this value?
_NO_RETURN = object()
_BREAK = object()  # `break`/`continue` travel up to their loop like a return value
_CONTINUE = object()
_CAUGHT = "\x00caught"  # the local a catch block keeps its exception in, for `throw;`
MAX_LOOP_ITERATIONS = 100_000  # a runaway loop fails the request instead of hanging the run


# .NET's stack holds more, but a C# function nested this deep in a policy expression is a
# function calling itself without end: the request fails with a stack overflow.
MAX_CALL_DEPTH = 100


class _Delegate:
    """A lambda or local function, made for one evaluation. A class, not a closure: LINQ's
    ``(x, i)`` forms read its ``arity``, and it counts how deeply calls nest, because compiled
    (native.py) recursion has no Python recursion limit to stop it."""

    __slots__ = ("arity", "body", "env", "is_block", "params")

    def __init__(
        self, env: Environment, params: tuple[str, ...], body: Compiled, is_block: bool
    ) -> None:
        self.env, self.params, self.body, self.is_block = env, params, body, is_block
        self.arity = len(params)

    def __call__(self, *values: Any) -> Any:
        env, params = self.env, self.params
        if env.depth >= MAX_CALL_DEPTH:
            raise RecursionError
        saved = {p: env.locals.get(p, _NO_RETURN) for p in params}
        env.locals.update(zip(params, values, strict=False))
        env.depth += 1
        try:
            result = self.body(env)
        finally:
            env.depth -= 1
            for p, old in saved.items():
                if old is _NO_RETURN:
                    env.locals.pop(p, None)
                else:
                    env.locals[p] = old
        return None if self.is_block and result is _NO_RETURN else result


class _ShortCircuit(Exception):  # noqa: N818 - control flow, not an error
    """A ``?.`` met null: the whole member chain evaluates to null."""


def _located(node: ast.Node, error: Exception) -> Exception:
    if isinstance(error, CSharpError):
        return ExpressionRuntimeError(error.kind, error.message, node.line, node.column)
    if isinstance(node, ast.Member):
        meant = closest_member(node.name)
        if meant is not None:  # a typo, not a .NET member the simulator leaves out
            return ExpressionUnsupportedError(
                str(error),
                node.line,
                node.column,
                f"unknown member '{node.name}': did you mean '{meant}'? "
                f"(at {node.line}:{node.column})",
            )
    return ExpressionUnsupportedError(str(error), node.line, node.column)


# What the interpreter's own Python raises when an expression uses a construct in a way it
# does not model (an argument of an unexpected type, a missing one): never a traceback.
_PYTHON_ERRORS = (TypeError, ValueError, IndexError, KeyError, AttributeError, OverflowError)


def _iterating(
    node: ast.Node,
    init: Compiled | None,
    condition: Compiled | None,
    step: Compiled | None,
    body: Compiled,
    *,
    asks_first: bool,
) -> Compiled:
    """A loop's run: ``for``/``while`` ask the condition before each pass, ``do``/``while``
    after it; ``break`` ends the loop, a ``return`` leaves it with its value, and a loop that
    never ends fails the request rather than the run."""
    line, column = node.line, node.column

    def run(env: Environment) -> Any:
        if init is not None:
            init(env)
        for passes in range(MAX_LOOP_ITERATIONS):
            if (
                condition is not None
                and (asks_first or passes)
                and not to_bool(condition(env), "loop")
            ):
                return _NO_RETURN
            result = body(env)
            if result is _BREAK:
                return _NO_RETURN
            if result is not _NO_RETURN and result is not _CONTINUE:
                return result
            if step is not None:
                step(env)
        raise ExpressionRuntimeError(
            "InvalidOperationException",
            f"loop ran more than {MAX_LOOP_ITERATIONS} iterations",
            line,
            column,
        )

    return run


def _guard(node: ast.Node, fn: Compiled) -> Compiled:
    def run(env: Environment) -> Any:
        try:
            return fn(env)
        except (CSharpError, UnsupportedError) as error:
            raise _located(node, error) from None
        except _PYTHON_ERRORS as python_error:
            raise _unmodelled(node, python_error) from None

    return run


def _unmodelled(node: ast.Node, error: Exception) -> ExpressionUnsupportedError:
    return ExpressionUnsupportedError(
        f"this use of {_describe(node)} ({type(error).__name__}: {error})", node.line, node.column
    )


def _describe(node: ast.Node) -> str:
    if isinstance(node, ast.Call) and isinstance(node.target, ast.Member):
        return f"{node.target.name}()"
    if isinstance(node, ast.New):
        return f"new {node.type_name}()"
    return type(node).__name__.lower()


def _allowed_exception(type_name_: str, node: ast.Node, *, named: bool = False) -> None:
    """Refuse an exception type APIM does not allow; ``named``: it must be one (a catch)."""
    if type_name_ in EXCEPTION_TYPES:
        return
    if named or type_name_.endswith("Exception"):
        raise ExpressionUnsupportedError(f"the name '{type_name_}'", node.line, node.column)


class _Misplaced(Exception):  # noqa: N818 - becomes an ExpressionSyntaxError with the text
    """A statement C# refuses where it stands: ``break`` outside a loop, ``throw;`` outside
    a catch."""

    def __init__(self, node: ast.Node, message: str) -> None:
        self.node = node
        self.message = message


class _Compiler:
    def __init__(self) -> None:
        self.scopes: list[set[str]] = [set()]
        self.loops = 0  # enclosing loops: break/continue outside one is a C# compile error
        self.catching = 0  # enclosing catch blocks: `throw;` outside one is a compile error
        self.switches = 0  # enclosing switch statements: `break` leaves the innermost

    def declared(self, name: str) -> bool:
        return any(name in scope for scope in self.scopes)

    # -- expressions ---------------------------------------------------------------------
    def expr(self, node: ast.Node, chain_top: bool = True) -> Compiled:
        compiled = self._expr(node)
        if chain_top and isinstance(node, ast.Member | ast.Index | ast.Call) and _has_nc(node):
            inner = compiled

            def top(env: Environment) -> Any:
                try:
                    return inner(env)
                except _ShortCircuit:
                    return None

            return top
        return compiled

    def _expr(self, node: ast.Node) -> Compiled:
        if isinstance(node, ast.Literal):
            value = node.value
            return lambda env: value
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Member):
            return self.member(node)
        if isinstance(node, ast.Index):
            return self.index(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Binary):
            return self.binary(node)
        if isinstance(node, ast.Unary):
            operand = self.expr(node.operand)
            op = node.op
            if op == "!":
                return _guard(node, lambda env: not to_bool(operand(env), "!"))
            if op == "-":
                return _guard(node, lambda env: -number(operand(env), "-"))
            if op == "+":
                return _guard(node, lambda env: number(operand(env), "+"))
            return _guard(node, lambda env: ~int(number(operand(env), "~")))
        if isinstance(node, ast.Conditional):
            condition, then, otherwise = (
                self.expr(node.condition),
                self.expr(node.then),
                self.expr(node.otherwise),
            )
            return _guard(
                node,
                lambda env: then(env) if to_bool(condition(env), "?:") else otherwise(env),
            )
        if isinstance(node, ast.Cast):
            operand, target = self.expr(node.operand), node.type_name
            operand_node = node.operand  # context.Variables["x"] is an object: a cast unboxes
            if isinstance(operand_node, ast.Index) and ast.is_context_path(
                operand_node.target, "Variables"
            ):
                return _guard(node, lambda env: unbox(operand(env), target))
            return _guard(node, lambda env: convert(operand(env), target))
        if isinstance(node, ast.TypeTest):
            operand, target = self.expr(node.operand), node.type_name
            if node.as_cast:

                def as_cast(env: Environment) -> Any:
                    value = operand(env)
                    return value if value is not None and is_instance(value, target) else None

                return _guard(node, as_cast)
            if node.variable is not None:
                return self.pattern(node)
            if target == "null":  # C# 7's constant pattern: `x is null`
                return _guard(node, lambda env: operand(env) is None)
            return _guard(node, lambda env: is_instance(operand(env), target))
        if isinstance(node, ast.ThrowValue):
            return self.throw(ast.Throw(node.line, node.column, node.value))
        if isinstance(node, ast.DefaultValue):
            default = default_of(node.type_name)
            return lambda env: default
        if isinstance(node, ast.Interpolated):
            parts = [
                (lambda env, text=p: text) if isinstance(p, str) else self.expr(p)
                for p in node.parts
            ]
            return _guard(node, lambda env: "".join(cs_string(plain(part(env))) for part in parts))
        if isinstance(node, ast.FormattedHole):
            value, width, spec = self.expr(node.value), node.width, node.format
            return _guard(node, lambda env: format_value(value(env), spec, width))
        if isinstance(node, ast.Lambda):
            return self.lambda_(node)
        if isinstance(node, ast.New):
            _allowed_exception(node.type_name, node)
            args = [self.expr(a) for a in node.args]
            items = [self.expr(i) for i in node.initializer]
            members = [(name, self.expr(value)) for name, value in node.members]
            type_name_ = node.type_name
            return _guard(
                node,
                lambda env: new_object(
                    type_name_,
                    [a(env) for a in args],
                    [i(env) for i in items],
                    {name: value(env) for name, value in members},
                    env.statics,
                ),
            )
        if isinstance(node, ast.ArrayCreate):
            items = [self.expr(i) for i in node.items]
            return lambda env: [i(env) for i in items]
        if isinstance(node, ast.SizedArray):
            return self.sized_array(node)
        raise ExpressionUnsupportedError(type(node).__name__, node.line, node.column)

    def sized_array(self, node: ast.SizedArray) -> Compiled:
        size, element = self.expr(node.size), default_of(node.type_name)

        def make(env: Environment) -> list[Any]:
            count = size(env)
            if isinstance(count, bool) or not isinstance(count, int):
                raise UnsupportedError(f"an array size of type {type_name(count)}")
            if count < 0:
                raise CSharpError("OverflowException", "arithmetic operation resulted in overflow")
            if count > MAX_LOOP_ITERATIONS:
                raise UnsupportedError(f"an array of {count} elements")
            return [element] * count

        return _guard(node, make)

    def name(self, node: ast.Name) -> Compiled:
        name = node.id
        if self.declared(name):

            def local(env: Environment) -> Any:
                return env.locals[name]

            return local
        if name == "context":
            return lambda env: env.context
        if name in STATIC_NAMES:
            return lambda env: env.statics[name]
        raise ExpressionUnsupportedError(f"the name '{name}'", node.line, node.column)

    def _refuse_disallowed(self, node: ast.Member) -> None:
        """``Type.Member`` on a type whose allowed members Learn lists one by one."""
        root, steps = (
            ast.member_reads(node.target)
            if isinstance(node.target, ast.Member)
            else (node.target, [])
        )
        if not isinstance(root, ast.Name) or self.declared(root.id):
            return
        dotted = ".".join([root.id, *(step.name for step in steps)])
        written = QUALIFIED_NAMES.get(dotted, "") if steps else root.id
        allowed = ALLOWED_MEMBERS.get(written)
        if allowed is not None and node.name not in allowed:
            raise ExpressionNotAllowedError(written, node.name, node.line, node.column)

    def member(self, node: ast.Member) -> Compiled:
        self._refuse_disallowed(node)
        unqualified = self._unqualified(node)
        if unqualified is not None:
            return self.expr(unqualified, chain_top=False)
        unknown = self._unknown_root(node)
        if unknown is not None:
            raise ExpressionUnsupportedError(f"the name '{unknown[0]}'", *unknown[1])
        if isinstance(node.target, ast.Member):
            return self.member_chain(node)
        target = self.expr(node.target, chain_top=False)
        name = node.name
        if node.null_conditional:

            def nc(env: Environment) -> Any:
                value = target(env)
                if value is None:
                    raise _ShortCircuit
                return get_member(value, name)

            return _guard(node, nc)
        return _guard(node, lambda env: get_member(target(env), name))

    def _unqualified(self, node: ast.Member) -> ast.Node | None:
        """``System.Net.WebUtility.UrlEncode`` read as ``WebUtility.UrlEncode``: the same
        chain with its namespace dropped, or None when it names no known type that way."""
        current, steps = ast.member_reads(node)
        if not isinstance(current, ast.Name) or self.declared(current.id):
            return None
        for count in range(len(steps), 0, -1):
            dotted = ".".join([current.id, *(step.name for step in steps[:count])])
            static = QUALIFIED_NAMES.get(dotted)
            if static is None:
                continue
            rebuilt: ast.Node = ast.Name(steps[count - 1].line, steps[count - 1].column, static)
            for step in steps[count:]:
                rebuilt = ast.Member(
                    step.line, step.column, rebuilt, step.name, step.null_conditional
                )
            return rebuilt
        return None

    def _unknown_root(self, node: ast.Member) -> tuple[str, tuple[int, int]] | None:
        """``System.Environment.MachineName``: the dotted name and its position, when the
        chain starts with a name that is neither declared, ``context`` nor a known type."""
        current, steps = ast.member_reads(node)
        if not isinstance(current, ast.Name):
            return None
        root = current.id
        if self.declared(root) or root == "context" or root in STATIC_NAMES:
            return None
        return ".".join([root, *(step.name for step in steps)]), (current.line, current.column)

    def member_chain(self, node: ast.Member) -> Compiled:
        """``a.B?.C.D`` as one loop over its property reads instead of a closure per read:
        such chains are in nearly every policy expression. Each read keeps its own position
        for errors, and ``?.`` on null ends the chain as before."""
        current, steps = ast.member_reads(node)
        root = self.expr(current, chain_top=False)
        reads = tuple((step.name, step.null_conditional, step) for step in steps)

        def walk(env: Environment) -> Any:
            value = root(env)
            for name, null_conditional, step in reads:
                if value is None and null_conditional:
                    raise _ShortCircuit
                try:
                    value = get_member(value, name)
                except (CSharpError, UnsupportedError) as error:
                    raise _located(step, error) from None
            return value

        return walk

    def index(self, node: ast.Index) -> Compiled:
        target = self.expr(node.target, chain_top=False)
        keys = [self.expr(a) for a in node.args]
        null_conditional = node.null_conditional

        def run(env: Environment) -> Any:
            value = target(env)
            if value is None and null_conditional:
                raise _ShortCircuit
            return get_index(value, [k(env) for k in keys])

        return _guard(node, run)

    def call(self, node: ast.Call) -> Compiled:
        if isinstance(node.target, ast.Name) and self.declared(node.target.id):
            return self.local_call(node)
        if isinstance(node.target, ast.Name) and node.target.id == "nameof":
            return self.nameof(node)
        if not isinstance(node.target, ast.Member):
            raise ExpressionUnsupportedError("calling a non-method", node.line, node.column)
        member = node.target
        self._refuse_disallowed(member)
        target = self.expr(member.target, chain_top=False)
        name, type_args, null_conditional = member.name, node.type_args, member.null_conditional
        positional: list[Compiled] = []
        named: list[tuple[str, Compiled]] = []
        outs: list[tuple[int, str]] = []
        for arg in node.args:
            if isinstance(arg, ast.NamedArg):
                named.append((arg.name, self.expr(arg.value)))
            elif isinstance(arg, ast.OutArg):
                self.scopes[-1].add(arg.name)
                outs.append((len(positional), arg.name))
                positional.append(lambda env: OutRef())
            else:
                positional.append(self.expr(arg))

        def run(env: Environment) -> Any:
            value = target(env)
            if value is None and null_conditional:
                raise _ShortCircuit
            args = [a(env) for a in positional]
            if named:
                args += [v(env) for _, v in named]
            try:
                result = call_method(value, name, args, type_args)
            except UnsupportedError as error:  # located at the method's name, not the call
                raise _located(member, error) from None
            for position, out_name in outs:
                env.locals[out_name] = args[position].value
            return result

        return _guard(node, run)

    def nameof(self, node: ast.Call) -> Compiled:
        """C# 6's ``nameof(x)``, ``nameof(a.B)``: the last name, as text."""
        named = node.args[0] if len(node.args) == 1 else None
        if isinstance(named, ast.Name):
            text = named.id
        elif isinstance(named, ast.Member):
            text = named.name
        else:
            raise ExpressionUnsupportedError("nameof of other than a name", node.line, node.column)
        return lambda env: text

    def local_call(self, node: ast.Call) -> Compiled:
        """``Name(args)``: a local function, or a lambda kept in a local."""
        assert isinstance(node.target, ast.Name)
        target, name = self.name(node.target), node.target.id
        if any(isinstance(arg, ast.NamedArg | ast.OutArg) for arg in node.args):
            raise ExpressionUnsupportedError(
                f"named or out arguments to {name}()", node.line, node.column
            )
        args = [self.expr(arg) for arg in node.args]

        def run(env: Environment) -> Any:
            function = target(env)
            if not callable(function):
                raise UnsupportedError(f"calling '{name}', which holds no function")
            return function(*[a(env) for a in args])

        return _guard(node, run)

    def binary(self, node: ast.Binary) -> Compiled:
        left, right, op = self.expr(node.left), self.expr(node.right), node.op
        if op == "&&":
            return _guard(node, lambda env: to_bool(left(env), op) and to_bool(right(env), op))
        if op == "||":
            return _guard(node, lambda env: to_bool(left(env), op) or to_bool(right(env), op))
        if op == "??":

            def coalesce(env: Environment) -> Any:
                value = left(env)
                return value if value is not None else right(env)

            return coalesce
        if op in ("==", "!=", "<", ">", "<=", ">="):
            return _guard(node, lambda env: compare(op, left(env), right(env)))
        if op in ("&", "|", "^"):

            def bitwise(env: Environment) -> Any:
                a, b = plain(left(env)), plain(right(env))
                if isinstance(a, bool) and isinstance(b, bool):
                    return {"&": a and b, "|": a or b, "^": a != b}[op]
                x, y = int(number(a, op)), int(number(b, op))
                return {"&": x & y, "|": x | y, "^": x ^ y}[op]

            return _guard(node, bitwise)
        return _guard(node, lambda env: arithmetic(op, left(env), right(env)))

    def lambda_(self, node: ast.Lambda) -> Compiled:
        params = node.params
        self.scopes.append(set(params))
        body = self.block(node.body) if isinstance(node.body, ast.Block) else self.expr(node.body)
        is_block = isinstance(node.body, ast.Block)
        self.scopes.pop()

        def make(env: Environment) -> Callable[..., Any]:
            return _Delegate(env, params, body, is_block)

        return make

    # -- statements ----------------------------------------------------------------------
    def block(self, node: ast.Block) -> Compiled:
        self.scopes.append(set())
        # A block's local functions may be called anywhere in it, before their declaration
        # too: each is named first and made when the block starts. Their bodies are compiled
        # last, when every local of the block they may use is known.
        functions = [s for s in node.statements if isinstance(s, ast.LocalFunction)]
        self.scopes[-1].update(function.name for function in functions)
        statements = [
            self.statement(s) for s in node.statements if not isinstance(s, ast.LocalFunction)
        ]
        makers = [
            (f.name, self.lambda_(ast.Lambda(f.line, f.column, f.params, f.body)))
            for f in functions
        ]
        self.scopes.pop()

        def run(env: Environment) -> Any:
            for statement in statements:
                result = statement(env)
                if result is not _NO_RETURN:
                    return result
            return _NO_RETURN

        if not makers:
            return run

        def run_with_functions(env: Environment) -> Any:
            for name, make in makers:
                env.locals[name] = make(env)
            return run(env)

        return run_with_functions

    def statement(self, node: ast.Node) -> Compiled:
        if isinstance(node, ast.Block):
            return self.block(node)
        if isinstance(node, ast.Declare):
            if node.value is None:  # `int x;` starts as the type's default
                initial = default_of(node.type_name)
                value: Compiled = lambda env: initial  # noqa: E731
            else:
                value = self.expr(node.value)
            self.scopes[-1].add(node.name)
            name = node.name

            def declare(env: Environment) -> Any:
                env.locals[name] = value(env)
                return _NO_RETURN

            return declare
        if isinstance(node, ast.Declarations):  # `for (int i = 0, j = 9; ...)`
            steps = [self.statement(item) for item in node.items]

            def declare_all(env: Environment) -> Any:
                for step in steps:
                    step(env)
                return _NO_RETURN

            return declare_all
        if isinstance(node, ast.Return):
            if node.value is None:
                raise ExpressionUnsupportedError("return without a value", node.line, node.column)
            value = self.expr(node.value)
            return value
        if isinstance(node, ast.If):
            condition = self.expr(node.condition)
            then = self.statement(node.then)
            otherwise = self.statement(node.otherwise) if node.otherwise else None

            def branch(env: Environment) -> Any:
                if to_bool(condition(env), "if"):
                    return then(env)
                return otherwise(env) if otherwise else _NO_RETURN

            return _guard(node, branch)
        if isinstance(node, ast.Foreach):
            return self.foreach(node)
        if isinstance(node, ast.Loop):
            return self.loop(node)
        if isinstance(node, ast.DoWhile):
            return self.do_while(node)
        if isinstance(node, ast.Switch):
            return self.switch(node)
        if isinstance(node, ast.Try):
            return self.try_(node)
        if isinstance(node, ast.Throw):
            return self.throw(node)
        if isinstance(node, ast.Jump):
            if not self.loops and not (node.kind == "break" and self.switches):
                raise _Misplaced(node, f"no enclosing loop out of which to {node.kind}")
            jump = _BREAK if node.kind == "break" else _CONTINUE
            return lambda env: jump
        if isinstance(node, ast.Assign):
            return self.assign(node)
        if isinstance(node, ast.IncDec):
            step = 1 if node.op == "++" else -1
            return self.assign(
                ast.Assign(
                    node.line,
                    node.column,
                    node.target,
                    "+=",
                    ast.Literal(node.line, node.column, step),
                )
            )
        if isinstance(node, ast.ExprStatement):
            value = self.expr(node.expr)

            def evaluate(env: Environment) -> Any:
                value(env)
                return _NO_RETURN

            return evaluate
        raise ExpressionUnsupportedError(type(node).__name__, node.line, node.column)

    def foreach(self, node: ast.Foreach) -> Compiled:
        iterable = self.expr(node.iterable)
        self.scopes.append({node.variable})
        self.loops += 1
        body = self.statement(node.body)
        self.loops -= 1
        self.scopes.pop()
        variable = node.variable

        def loop(env: Environment) -> Any:

            items = iterable(env)
            # foreach takes JObject's own enumerator: KeyValuePair<string, JToken>, not the
            # JProperty children LINQ sees
            enumerated = (
                [KeyValue(k, v) for k, v in items.items.items()]
                if isinstance(items, JObject)
                else sequence(items)
            )
            for item in enumerated:
                env.locals[variable] = item
                result = body(env)
                if result is _BREAK:
                    break
                if result is not _NO_RETURN and result is not _CONTINUE:
                    return result
            return _NO_RETURN

        return _guard(node, loop)

    def try_(self, node: ast.Try) -> Compiled:
        """``try``/``catch``/``finally``. A catch takes the C# exceptions the expression throws
        (APIM allows no exception type but Exception to be named, so every catch takes all);
        a construct the simulator does not model stays an error, caught by nothing."""
        body = self.statement(node.body)
        handlers: list[tuple[str | None, Compiled]] = []  # each catch's variable and body
        for catch in node.catches:
            if catch.type_name is not None:
                _allowed_exception(catch.type_name, catch, named=True)
            self.scopes.append({catch.variable} if catch.variable else set())
            self.catching += 1
            handlers.append((catch.variable, self.statement(catch.body)))
            self.catching -= 1
            self.scopes.pop()
        final = self.statement(node.final) if node.final is not None else None

        def run(env: Environment) -> Any:
            try:
                return body(env)
            except (ExpressionRuntimeError, CSharpError) as error:
                if not handlers:
                    raise
                # Every catch APIM allows takes every exception: the first one runs.
                variable, handler = handlers[0]
                caught = CSharpException(error.kind, error.message)
                env.locals[_CAUGHT] = caught
                if variable:
                    env.locals[variable] = caught
                return handler(env)
            finally:
                if final is not None:
                    final(env)

        return run

    def throw(self, node: ast.Throw) -> Compiled:
        if node.value is None:
            if not self.catching:
                raise _Misplaced(node, "throw; with nothing to rethrow outside a catch")

            def rethrow(env: Environment) -> Any:
                caught = env.locals[_CAUGHT]
                raise CSharpError(caught.kind, caught.Message)

            return _guard(node, rethrow)
        value = self.expr(node.value)

        def throw(env: Environment) -> Any:
            thrown = value(env)
            if not isinstance(thrown, CSharpException):
                raise UnsupportedError(f"throwing a {type_name(thrown)}")
            raise CSharpError(thrown.kind, thrown.Message)

        return _guard(node, throw)

    def pattern(self, node: ast.TypeTest) -> Compiled:
        """``x is T name``: true when x is a T, and then ``name`` holds it."""
        operand = self.expr(node.operand)
        assert node.variable is not None
        binds = self.type_pattern(node.type_name, node.variable)
        return _guard(node, lambda env: binds(env, operand(env)))

    def type_pattern(self, target: str, variable: str) -> Matcher:
        """C# 7's type pattern (``is T name``, ``case T name:``): a value of type ``target``
        binds ``variable`` to it; ``var`` takes anything, null included, a type never null."""
        self.scopes[-1].add(variable)

        def binds(env: Environment, value: Any) -> bool:
            if target != "var" and (value is None or not is_instance(value, target)):
                return False
            env.locals[variable] = value
            return True

        return binds

    def switch(self, node: ast.Switch) -> Compiled:
        """The first section with a label that matches the value runs, else the default one;
        labels are tried in order, as C# 7 does once patterns are in play."""
        value = self.expr(node.value)
        self.switches += 1
        self.scopes.append(set())  # the sections share the switch block's scope
        sections: list[tuple[list[Matcher | None], list[Compiled]]] = [
            (
                [self.case(label) if label is not None else None for label in labels],
                [self.statement(statement) for statement in statements],
            )
            for labels, statements in node.sections
        ]
        self.scopes.pop()
        self.switches -= 1

        def run(env: Environment) -> Any:
            subject = value(env)
            chosen: list[Compiled] | None = None
            fallback: list[Compiled] | None = None
            for labels, statements in sections:
                for label in labels:
                    if label is None:
                        fallback = statements
                    elif label(env, subject):
                        chosen = statements
                        break
                if chosen is not None:
                    break
            for statement in chosen if chosen is not None else fallback or []:
                result = statement(env)
                if result is _BREAK:
                    return _NO_RETURN
                if result is not _NO_RETURN:
                    return result  # a return value, or `continue` for the enclosing loop
            return _NO_RETURN

        return _guard(node, run)

    def case(self, label: ast.Node) -> Matcher:
        """Whether a ``case`` label takes the switch's value: equal to a constant, or of a
        type (a type pattern), and then its ``when`` guard holds."""
        if not isinstance(label, ast.CaseLabel):  # `case 3:`, the constant alone
            label = ast.CaseLabel(label.line, label.column, label, None, None, None)
        matches: Matcher
        if label.value is not None:
            constant = self.expr(label.value)
            matches = lambda env, subject: bool(compare("==", subject, constant(env)))  # noqa: E731
        else:
            matches = self.type_pattern(label.type_name or "var", label.variable or "")
        if label.guard is None:
            return matches
        guard = self.expr(label.guard)
        return lambda env, subject: matches(env, subject) and to_bool(guard(env), "when")

    def do_while(self, node: ast.DoWhile) -> Compiled:
        """``do { } while (c);``: the body runs once before the condition is asked."""
        self.loops += 1
        body = self.statement(node.body)
        self.loops -= 1
        condition = self.expr(node.condition)
        return _guard(node, _iterating(node, None, condition, None, body, asks_first=False))

    def loop(self, node: ast.Loop) -> Compiled:
        """``for``/``while``; the init's variables live in the loop's own scope."""
        self.scopes.append(set())
        init = self.statement(node.init) if node.init is not None else None
        condition = self.expr(node.condition) if node.condition is not None else None
        step = self.statement(node.step) if node.step is not None else None
        self.loops += 1
        body = self.statement(node.body)
        self.loops -= 1
        self.scopes.pop()
        return _guard(node, _iterating(node, init, condition, step, body, asks_first=True))

    def assign(self, node: ast.Assign) -> Compiled:
        value = self.expr(node.value)
        op = node.op
        target = node.target
        current = self.expr(target) if op != "=" else None

        def combine(env: Environment) -> Any:
            new = value(env)
            if current is None:
                return new
            old = current(env)
            if op == "??=":
                return old if old is not None else new
            return arithmetic(op[0], old, new)

        if isinstance(target, ast.Name) and self.declared(target.id):
            name = target.id

            def set_local(env: Environment) -> Any:
                env.locals[name] = combine(env)
                return _NO_RETURN

            return _guard(node, set_local)
        if isinstance(target, ast.Index):
            container = self.expr(target.target)
            keys = [self.expr(k) for k in target.args]

            def set_item(env: Environment) -> Any:
                holder = container(env)
                key = keys[0](env)
                new = combine(env)
                if isinstance(holder, JObject):
                    holder.put(str(key), new)
                elif isinstance(holder, JArray):
                    holder.put(key, new)
                elif isinstance(holder, dict | list):
                    holder[key] = new
                else:
                    raise UnsupportedError(f"assigning an element of {type_name(holder)}")
                return _NO_RETURN

            return _guard(node, set_item)
        raise ExpressionUnsupportedError("assigning to this target", node.line, node.column)


def _has_nc(node: ast.Node) -> bool:
    while isinstance(node, ast.Member | ast.Index | ast.Call):
        if isinstance(node, ast.Member | ast.Index) and node.null_conditional:
            return True
        node = node.target
    return False


# Values safe to hand out again: nothing can change them in place.
_IMMUTABLE = (str, int, float, bool, type(None))
MAX_REMEMBERED_CALLERS = 1024  # per expression; past it the memo starts afresh


@dataclass(frozen=True)
class CompiledExpression:
    """A parsed and compiled ``@(...)``/``@{...}``; ``evaluate`` runs it against a context.

    An expression that reads only the caller's parts of the context (see purity.py) is
    evaluated once per caller: its value is remembered per the part objects it reads."""

    text: str
    node: ast.Node
    is_block: bool
    run: Compiled
    caller_parts: tuple[str, ...] | None = None
    where: str = field(default="", compare=False)  # the policy and file:line it was written at
    _memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def describe(self) -> str:
        """The expression as an error message names it: its start and where it was written
        (a whole @{ } block in every message would drown the reason)."""
        text = " ".join(self.text.split())
        shown = text if len(text) <= 60 else text[:59] + "…"
        return f"{shown} ({self.where})" if self.where else shown

    def evaluate(self, context: Any, statics: dict[str, StaticType]) -> Any:
        parts = self.caller_parts
        if parts is None:
            return self._evaluate(context, statics)
        # Keyed by the part objects themselves, which hash by identity and are held by the
        # memo, so a part that dies cannot hand its id and its value to another.
        key = (
            getattr(context, parts[0])
            if len(parts) == 1
            else tuple(getattr(context, part) for part in parts)
        )
        memo = self._memo
        value = memo.get(key, _NO_RETURN)
        if value is _NO_RETURN:
            value = self._evaluate(context, statics)
            if isinstance(value, _IMMUTABLE):
                if len(memo) >= MAX_REMEMBERED_CALLERS:
                    memo.clear()
                memo[key] = value
        return value

    def _evaluate(self, context: Any, statics: dict[str, StaticType]) -> Any:
        env = Environment(context, statics)
        try:
            result = self.run(env)
        except _PYTHON_ERRORS as error:  # raised outside any guarded node
            raise _unmodelled(self.node, error) from None
        except RecursionError:
            # A local function or lambda calling itself without end: .NET's stack overflows
            # (no catch can take it) and the request fails; here MAX_CALL_DEPTH stops it, or
            # Python's own recursion limit when a deep expression gets there first.
            raise ExpressionRuntimeError(
                "StackOverflowException", "the expression recursed too deeply", 1, 1
            ) from None
        if result is _NO_RETURN:
            raise ExpressionRuntimeError(
                "InvalidProgramException", "not all code paths return a value", 1, 1
            )
        return result


def compile_expression(text: str, where: str = "") -> CompiledExpression:
    """Parse and compile; raises ExpressionSyntaxError or ExpressionUnsupportedError.

    ``where`` names the policy and place the expression was written, for run-time errors."""
    node, is_block = parse_expression(text)
    compiler = _Compiler()
    try:
        run = (
            compiler.block(node)
            if is_block and isinstance(node, ast.Block)
            else compiler.expr(node)
        )
    except _Misplaced as error:
        at = error.node
        misplaced = ExpressionSyntaxError(error.message, text, at.line, at.column)
        raise shifted(misplaced, text) from None
    parts = None if is_block else caller_parts(node)
    return CompiledExpression(
        text, node, is_block, run, None if parts is None else tuple(sorted(parts)), where
    )
