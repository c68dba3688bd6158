"""One bounded walk over a Python syntax tree, collecting what both `python_ast` (structure)
and `python_context` (names, imports, docstrings) read: one pass instead of four.

The order and the bound are those of the signals' definitions: a depth-first walk popping the
last child first, stopped after MAX_AST_NODES nodes. The context signals were defined on a
breadth-first walk (`ast.walk`); when the tree is small enough to be walked whole both visit the
same nodes, and the docstrings are put back in breadth-first order by their (depth, index) key.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass, field

from eduscore.scoring.features.formats import MAX_AST_NODES
from eduscore.scoring.features.python_names import BUILTINS as _BUILTINS

_FuncDef = ast.FunctionDef | ast.AsyncFunctionDef
_AST = ast.AST
_Name, _Attribute, _Load = ast.Name, ast.Attribute, ast.Load
#: Nodes that open a nesting level (AsyncFunctionDef deliberately not: the signal predates it).
_NESTING = frozenset(
    {ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try}
    | {ast.FunctionDef, ast.ClassDef}
)
_STMTS = frozenset(c for c in vars(ast).values() if isinstance(c, type) and issubclass(c, ast.stmt))
_DOC_OWNERS = frozenset({ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef})
_LOOPS = frozenset({ast.For, ast.AsyncFor, ast.While})
_COMPS = frozenset({ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp})
_FUNCS = frozenset({ast.FunctionDef, ast.AsyncFunctionDef})
#: Field types of the ASDL grammar that never hold a node (names, strings, constants, ints).
_SCALARS = frozenset({"identifier", "string", "constant", "int"})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(cls: type) -> tuple[str, ...]:
    """The fields of a node class that can hold nodes, read off its ASDL signature in the
    docstring ('Name(identifier id, expr_context ctx)' -> ('ctx',)); all fields if unreadable."""
    fields: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
    sig = (cls.__doc__ or "").partition("(")[2].rstrip(")")
    decls = [d.split() for d in sig.split(", ")] if sig else []
    if [d[-1] for d in decls if len(d) == 2] == list(fields):
        fields = tuple(name for kind, name in decls if kind.rstrip("*?") not in _SCALARS)
    _CHILD_FIELDS[cls] = fields
    return fields


#: What `_other` counts.
_OTHERS = _LOOPS | _COMPS | {ast.If, ast.IfExp, ast.Match, ast.ExceptHandler, ast.Assert}
_OTHERS |= {ast.alias, ast.Import, ast.ImportFrom}


@dataclass(slots=True)
class PyWalk:
    """What the walk saw. `complete`: every node was visited (the tree is under the bound)."""

    funcs: list[_FuncDef] = field(default_factory=list)
    classes: list[ast.ClassDef] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    n_nodes: int = 0
    n_stmt: int = 0
    loops: int = 0
    branches: int = 0
    prints: int = 0
    comps: int = 0
    excepts: int = 0
    asserts: int = 0
    attr_self: int = 0
    attr_total: int = 0
    calls: int = 0
    attr_calls: int = 0
    main_guard: bool = False
    max_depth: int = 0
    #: A call, by its plain name, to a function it is inside (seen in a complete walk only).
    recursive: bool = False
    complete: bool = False
    # context: names bound and read, attribute refs, imports, builtin calls, docstrings
    defined: set[str] = field(default_factory=set)
    loaded: set[str] = field(default_factory=set)
    refs: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    builtin_calls: int = 0
    #: (owner name, docstring) in breadth-first order; the module's owner name is "".
    docs: list[tuple[str, str]] = field(default_factory=list)
    #: The docstrings as found, with their breadth-first order key.
    keyed_docs: list[tuple[tuple[int, ...], str, str]] = field(default_factory=list)


def docstring_text(node: ast.AST) -> str | None:
    """The docstring of a module, class or function node, if its body starts with one."""
    body = getattr(node, "body", None)
    if not body or not isinstance(body, list):
        return None
    first = body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first.value.value
    return None


def _call(node: ast.Call, w: PyWalk, encl: tuple[str, ...]) -> None:
    w.calls += 1
    func = node.func
    if isinstance(func, _Attribute):
        w.attr_calls += 1
    elif isinstance(func, _Name):
        w.prints += func.id == "print"
        w.builtin_calls += func.id in _BUILTINS
        w.recursive = w.recursive or func.id in encl


def _other(node: ast.AST, w: PyWalk, depth: int) -> None:
    """The less frequent node types that count for a signal."""
    t = type(node)
    if t in _LOOPS:
        w.loops += 1
    elif t is ast.If or t is ast.IfExp or t is ast.Match:
        w.branches += 1
        if t is ast.If and depth <= 1:
            test = node.test  # type: ignore[attr-defined]
            left = test.left if isinstance(test, ast.Compare) else None
            w.main_guard = w.main_guard or (isinstance(left, _Name) and left.id == "__name__")
    elif t in _COMPS:
        w.comps += 1
    elif t is ast.ExceptHandler:
        w.excepts += 1
        if node.name:  # type: ignore[attr-defined]
            w.defined.add(node.name)  # type: ignore[attr-defined]
    elif t is ast.Assert:
        w.asserts += 1
    elif t is ast.alias:
        w.defined.add((node.asname or node.name).split(".")[0])  # type: ignore[attr-defined]
    elif t is ast.Import:
        w.imports += [a.name.split(".")[0] for a in node.names]  # type: ignore[attr-defined]
    elif t is ast.ImportFrom:
        mod = "." if node.level else (node.module or "").split(".")[0]  # type: ignore[attr-defined]
        w.imports.append(mod)


def _definition(node: ast.AST, w: PyWalk, key: tuple[int, ...]) -> None:
    """A module, function or class: its name and its docstring (kept with its order key)."""
    t = type(node)
    if t is not ast.Module:
        name = node.name  # type: ignore[attr-defined]
        (w.classes if t is ast.ClassDef else w.funcs).append(node)  # type: ignore[arg-type]
        w.names.append(name)
        w.defined.add(name)
    doc = docstring_text(node)
    if doc:
        w.keyed_docs.append((key, getattr(node, "name", ""), doc))


def walk(tree: ast.Module, *, breadth_first: bool = False) -> PyWalk:
    """Visit at most MAX_AST_NODES nodes, depth-first (last child first) or breadth-first."""
    w = PyWalk()
    todo: deque[tuple[ast.AST, int, int, tuple[str, ...]]] = deque([(tree, 0, 0, ())])
    take = todo.popleft if breadth_first else todo.pop
    n = 0
    while todo and n < MAX_AST_NODES:
        node, depth, level, encl = take()
        n += 1
        t = type(node)
        if t is _Name:
            w.names.append(node.id)  # type: ignore[attr-defined]
            ld = type(node.ctx) is _Load  # type: ignore[attr-defined]
            (w.loaded if ld else w.defined).add(node.id)  # type: ignore[attr-defined]
        elif t is _Attribute:
            w.attr_total += 1
            value = node.value  # type: ignore[attr-defined]
            w.attr_self += isinstance(value, _Name) and value.id in ("self", "cls")
            w.refs.append(node.attr)  # type: ignore[attr-defined]
        elif t is ast.Call:
            _call(node, w, encl)  # type: ignore[arg-type]
        elif t is ast.arg:
            w.names.append(node.arg)  # type: ignore[attr-defined]
            w.defined.add(node.arg)  # type: ignore[attr-defined]
        elif t in _DOC_OWNERS:
            _definition(node, w, (n,) if breadth_first else (level, -n))
            if t in _FUNCS:
                encl = (*encl, node.name)  # type: ignore[attr-defined]
        elif t in _OTHERS:  # most nodes (contexts, operators, constants) count for nothing
            _other(node, w, depth)
        w.n_stmt += t in _STMTS
        if t in _NESTING:
            depth += 1
            w.max_depth = max(w.max_depth, depth)
        level += 1
        fields = _CHILD_FIELDS.get(t)  # () for the leaves: contexts, operators, constants
        for name in _child_fields(t) if fields is None else fields:
            v = getattr(node, name, None)
            if isinstance(v, _AST):
                todo.append((v, depth, level, encl))
            elif isinstance(v, list):
                for c in v:
                    if isinstance(c, _AST):
                        todo.append((c, depth, level, encl))
    w.n_nodes, w.complete = n, not todo
    # Breadth-first is level by level, and within a level the reverse of this walk's order.
    w.docs = [(name, doc) for _, name, doc in sorted(w.keyed_docs)]
    return w
