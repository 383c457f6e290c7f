"""Compile the statements of ``@{ }`` blocks: declarations, if, loops, switch, try/catch, throw,
assignments, and local functions, over the expression compiler."""

from __future__ import annotations

from typing import Any

from apimgen.simulate.expr import ast
from apimgen.simulate.expr.environment import (
    BREAK,
    CAUGHT,
    CONTINUE,
    MAX_LOOP_ITERATIONS,
    NO_RETURN,
    Compiled,
    Environment,
    Matcher,
    guarded,
)
from apimgen.simulate.expr.errors import (
    ExpressionRuntimeError,
    ExpressionUnsupportedError,
    Misplaced,
    allowed_exception,
)
from apimgen.simulate.expr.expressions import ExpressionCompiler
from apimgen.simulate.expr.objects import CSharpException
from apimgen.simulate.expr.operators import arithmetic, compare, to_bool
from apimgen.simulate.expr.typesystem import (
    KeyValue,
    default_of,
    sequence,
)
from apimgen.simulate.expr.values import (
    CSharpError,
    JArray,
    JObject,
    UnsupportedError,
    type_name,
)

__all__ = ["Compiler"]


def iterating(
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
                return NO_RETURN
            result = body(env)
            if result is BREAK:
                return NO_RETURN
            if result is not NO_RETURN and result is not CONTINUE:
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


class Compiler(ExpressionCompiler):
    """Compiles the statements of a ``@{ }`` block and of lambda bodies."""

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
                if result is not NO_RETURN:
                    return result
            return NO_RETURN

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
                return NO_RETURN

            return declare
        if isinstance(node, ast.Declarations):  # `for (int i = 0, j = 9; ...)`
            steps = [self.statement(item) for item in node.items]

            def declare_all(env: Environment) -> Any:
                for step in steps:
                    step(env)
                return NO_RETURN

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
                return otherwise(env) if otherwise else NO_RETURN

            return guarded(node, branch)
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
                raise Misplaced(node, f"no enclosing loop out of which to {node.kind}")
            jump = BREAK if node.kind == "break" else CONTINUE
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
                return NO_RETURN

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
                if result is BREAK:
                    break
                if result is not NO_RETURN and result is not CONTINUE:
                    return result
            return NO_RETURN

        return guarded(node, loop)

    def try_(self, node: ast.Try) -> Compiled:
        """``try``/``catch``/``finally``. A catch takes the C# exceptions the expression throws
        (APIM allows no exception type but Exception to be named, so every catch takes all);
        a construct the simulator does not model stays an error, caught by nothing."""
        body = self.statement(node.body)
        handlers: list[tuple[str | None, Compiled]] = []  # each catch's variable and body
        for catch in node.catches:
            if catch.type_name is not None:
                allowed_exception(catch.type_name, catch, named=True)
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
                env.locals[CAUGHT] = caught
                if variable:
                    env.locals[variable] = caught
                return handler(env)
            finally:
                if final is not None:
                    final(env)

        return run

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
                if result is BREAK:
                    return NO_RETURN
                if result is not NO_RETURN:
                    return result  # a return value, or `continue` for the enclosing loop
            return NO_RETURN

        return guarded(node, run)

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
        return guarded(node, iterating(node, None, condition, None, body, asks_first=False))

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
        return guarded(node, iterating(node, init, condition, step, body, asks_first=True))

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
                return NO_RETURN

            return guarded(node, set_local)
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
                return NO_RETURN

            return guarded(node, set_item)
        raise ExpressionUnsupportedError("assigning to this target", node.line, node.column)
