"""A small Python module for the testgen replay tests."""


def slugify(text: str) -> str:
    words = text.lower().split()
    if not words:
        return ""
    return "-".join(words)


def safe_div(a: float, b: float) -> float:
    if b == 0:
        raise ZeroDivisionError("b is zero")
    return a / b
