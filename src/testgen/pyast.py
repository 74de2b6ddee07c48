# llamac testgen's reader for Python sources, run with python3 (standard
# library only). Compiled into the llamac binary and written to a temporary
# file when used, so nothing needs installing.
#
#   pyast.py functions FILE   the module's top-level functions, as JSON
#   pyast.py units FILE       a candidate's test functions, imports and code
#
# Output is one JSON object on stdout; a syntax error gives
# {"ok": false, "error": "FILE:LINE:COL: message"}.
import ast
import json
import sys


def segment(text, node):
    return ast.get_source_segment(text, node, padded=True) or ""


def annotation(node):
    return ast.unparse(node) if node is not None else ""


def signature(fn):
    return "def %s(%s)%s" % (fn.name, ast.unparse(fn.args),
                             " -> " + annotation(fn.returns) if fn.returns else "")


def params(fn):
    a = fn.args
    every = a.posonlyargs + a.args + ([a.vararg] if a.vararg else []) + a.kwonlyargs
    return [{"name": p.arg, "annotation": annotation(p.annotation)} for p in every]


def functions(path, text, tree):
    out, context = [], []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            lines = text.splitlines()[start - 1:node.end_lineno]
            out.append({"name": node.name, "signature": signature(node),
                        "source": "\n".join(lines) + "\n", "returns": annotation(node.returns),
                        "params": params(node), "line_start": start,
                        "line_end": node.end_lineno})
        elif isinstance(node, ast.ClassDef):
            # the class's shape (its methods' signatures), not its bodies
            context.append("class %s:  # methods: %s" % (node.name, ", ".join(
                signature(m) for m in node.body if isinstance(m, ast.FunctionDef))))
        else:
            context.append(segment(text, node))
    return {"ok": True, "functions": out, "context": "\n".join(context) + "\n"}


def units(path, text, tree):
    tests, defs, code, imports = [], [], [], []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(segment(text, node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs.append(node.name)
            if node.name.startswith("test") and not isinstance(node, ast.ClassDef):
                tests.append(node.name)
            start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            code.append("\n".join(text.splitlines()[start - 1:node.end_lineno]))
        elif isinstance(node, ast.Assign):
            code.append(segment(text, node))
    return {"ok": True, "tests": tests, "defs": defs, "imports": "\n".join(imports),
            "code": "\n\n\n".join(code) + "\n"}


def main():
    mode, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as e:
        print(json.dumps({"ok": False, "error": "%s:%s:%s: %s" % (path, e.lineno, e.offset, e.msg)}))
        return
    print(json.dumps(functions(path, text, tree) if mode == "functions" else units(path, text, tree)))


main()
