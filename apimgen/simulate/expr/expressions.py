"""Compile expression nodes into Python closures: names, members, calls, operators, casts, type
tests and lambdas. Every node becomes a function of the evaluation environment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apimgen.simulate.expr import ast
from apimgen.simulate.expr.construct import new_object
from apimgen.simulate.expr.environment import (
    CAUGHT,
    MAX_LOOP_ITERATIONS,
    Compiled,
    Delegate,
    Environment,
    Matcher,
    ShortCircuit,
    guarded,
)
from apimgen.simulate.expr.errors import (
    ExpressionNotAllowedError,
    ExpressionUnsupportedError,
    Misplaced,
    allowed_exception,
    located,
)
from apimgen.simulate.expr.members import call_method, get_index, get_member
from apimgen.simulate.expr.names import ALLOWED_MEMBERS, QUALIFIED_NAMES, STATIC_NAMES
from apimgen.simulate.expr.objects import CSharpException
from apimgen.simulate.expr.operators import arithmetic, compare, number, plain, to_bool
from apimgen.simulate.expr.statics import format_value
from apimgen.simulate.expr.typesystem import (
    convert,
    default_of,
    is_instance,
    unbox,
)
from apimgen.simulate.expr.values import (
    CSharpError,
    OutRef,
    UnsupportedError,
    cs_string,
    type_name,
)

__all__ = ["ExpressionCompiler"]


def _has_nc(node: ast.Node) -> bool:
    while isinstance(node, ast.Member | ast.Index | ast.Call):
        if isinstance(node, ast.Member | ast.Index) and node.null_conditional:
            return True
        node = node.target
    return False


class ExpressionCompiler:
    """Compiles expression nodes; statements (blocks, loops, try, switch) are compiled by the
    subclass in statements.py, which a lambda with a block body reaches through ``block``."""

    def __init__(self) -> None:
        self.scopes: list[set[str]] = [set()]
        self.loops = 0  # enclosing loops: break/continue outside one is a C# compile error
        self.catching = 0  # enclosing catch blocks: `throw;` outside one is a compile error
        self.switches = 0  # enclosing switch statements: `break` leaves the innermost

    def declared(self, name: str) -> bool:
        return any(name in scope for scope in self.scopes)

    def expr(self, node: ast.Node, chain_top: bool = True) -> Compiled:
        compiled = self._expr(node)
        if chain_top and isinstance(node, ast.Member | ast.Index | ast.Call) and _has_nc(node):
            inner = compiled

            def top(env: Environment) -> Any:
                try:
                    return inner(env)
                except ShortCircuit:
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
                return guarded(node, lambda env: not to_bool(operand(env), "!"))
            if op == "-":
                return guarded(node, lambda env: -number(operand(env), "-"))
            if op == "+":
                return guarded(node, lambda env: number(operand(env), "+"))
            return guarded(node, lambda env: ~int(number(operand(env), "~")))
        if isinstance(node, ast.Conditional):
            condition, then, otherwise = (
                self.expr(node.condition),
                self.expr(node.then),
                self.expr(node.otherwise),
            )
            return guarded(
                node,
                lambda env: then(env) if to_bool(condition(env), "?:") else otherwise(env),
            )
        if isinstance(node, ast.Cast):
            operand, target = self.expr(node.operand), node.type_name
            operand_node = node.operand  # context.Variables["x"] is an object: a cast unboxes
            if isinstance(operand_node, ast.Index) and ast.is_context_path(
                operand_node.target, "Variables"
            ):
                return guarded(node, lambda env: unbox(operand(env), target))
            return guarded(node, lambda env: convert(operand(env), target))
        if isinstance(node, ast.TypeTest):
            operand, target = self.expr(node.operand), node.type_name
            if node.as_cast:

                def as_cast(env: Environment) -> Any:
                    value = operand(env)
                    return value if value is not None and is_instance(value, target) else None

                return guarded(node, as_cast)
            if node.variable is not None:
                return self.pattern(node)
            if target == "null":  # C# 7's constant pattern: `x is null`
                return guarded(node, lambda env: operand(env) is None)
            return guarded(node, lambda env: is_instance(operand(env), target))
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
            return guarded(node, lambda env: "".join(cs_string(plain(part(env))) for part in parts))
        if isinstance(node, ast.FormattedHole):
            value, width, spec = self.expr(node.value), node.width, node.format
            return guarded(node, lambda env: format_value(value(env), spec, width))
        if isinstance(node, ast.Lambda):
            return self.lambda_(node)
        if isinstance(node, ast.New):
            allowed_exception(node.type_name, node)
            args = [self.expr(a) for a in node.args]
            items = [self.expr(i) for i in node.initializer]
            members = [(name, self.expr(value)) for name, value in node.members]
            type_name_ = node.type_name
            return guarded(
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

        return guarded(node, make)

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
                    raise ShortCircuit
                return get_member(value, name)

            return guarded(node, nc)
        return guarded(node, lambda env: get_member(target(env), name))

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
                    raise ShortCircuit
                try:
                    value = get_member(value, name)
                except (CSharpError, UnsupportedError) as error:
                    raise located(step, error) from None
            return value

        return walk

    def index(self, node: ast.Index) -> Compiled:
        target = self.expr(node.target, chain_top=False)
        keys = [self.expr(a) for a in node.args]
        null_conditional = node.null_conditional

        def run(env: Environment) -> Any:
            value = target(env)
            if value is None and null_conditional:
                raise ShortCircuit
            return get_index(value, [k(env) for k in keys])

        return guarded(node, run)

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
                raise ShortCircuit
            args = [a(env) for a in positional]
            if named:
                args += [v(env) for _, v in named]
            try:
                result = call_method(value, name, args, type_args)
            except UnsupportedError as error:  # located at the method's name, not the call
                raise located(member, error) from None
            for position, out_name in outs:
                env.locals[out_name] = args[position].value
            return result

        return guarded(node, run)

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

        return guarded(node, run)

    def binary(self, node: ast.Binary) -> Compiled:
        left, right, op = self.expr(node.left), self.expr(node.right), node.op
        if op == "&&":
            return guarded(node, lambda env: to_bool(left(env), op) and to_bool(right(env), op))
        if op == "||":
            return guarded(node, lambda env: to_bool(left(env), op) or to_bool(right(env), op))
        if op == "??":

            def coalesce(env: Environment) -> Any:
                value = left(env)
                return value if value is not None else right(env)

            return coalesce
        if op in ("==", "!=", "<", ">", "<=", ">="):
            return guarded(node, lambda env: compare(op, left(env), right(env)))
        if op in ("&", "|", "^"):

            def bitwise(env: Environment) -> Any:
                a, b = plain(left(env)), plain(right(env))
                if isinstance(a, bool) and isinstance(b, bool):
                    return {"&": a and b, "|": a or b, "^": a != b}[op]
                x, y = int(number(a, op)), int(number(b, op))
                return {"&": x & y, "|": x | y, "^": x ^ y}[op]

            return guarded(node, bitwise)
        return guarded(node, lambda env: arithmetic(op, left(env), right(env)))

    def lambda_(self, node: ast.Lambda) -> Compiled:
        params = node.params
        self.scopes.append(set(params))
        body = self.block(node.body) if isinstance(node.body, ast.Block) else self.expr(node.body)
        is_block = isinstance(node.body, ast.Block)
        self.scopes.pop()

        def make(env: Environment) -> Callable[..., Any]:
            return Delegate(env, params, body, is_block)

        return make

    def pattern(self, node: ast.TypeTest) -> Compiled:
        """``x is T name``: true when x is a T, and then ``name`` holds it."""
        operand = self.expr(node.operand)
        assert node.variable is not None
        binds = self.type_pattern(node.type_name, node.variable)
        return guarded(node, lambda env: binds(env, operand(env)))

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

    def throw(self, node: ast.Throw) -> Compiled:
        if node.value is None:
            if not self.catching:
                raise Misplaced(node, "throw; with nothing to rethrow outside a catch")

            def rethrow(env: Environment) -> Any:
                caught = env.locals[CAUGHT]
                raise CSharpError(caught.kind, caught.Message)

            return guarded(node, rethrow)
        value = self.expr(node.value)

        def throw(env: Environment) -> Any:
            thrown = value(env)
            if not isinstance(thrown, CSharpException):
                raise UnsupportedError(f"throwing a {type_name(thrown)}")
            raise CSharpError(thrown.kind, thrown.Message)

        return guarded(node, throw)

    def block(self, node: ast.Block) -> Compiled:
        raise NotImplementedError  # statements.Compiler compiles blocks
