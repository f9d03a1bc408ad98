"""Option values as the protocol defines them (docs/PROTOCOL.md, "Describe
and options"): strings on the wire, parsed exactly as Go parses them, so a
value the host accepted parses here to the same thing.

Run as a script, it parses each line of stdin as TYPE VALUE and prints the
result or "error", one line each: the Go test compares that with Go's own
parsers.
"""

import math
import re

STRING, INT, BOOL, DURATION, FLOAT, ENUM = range(6)
TYPE_NAMES = {"STRING": STRING, "INT": INT, "BOOL": BOOL, "DURATION": DURATION, "FLOAT": FLOAT, "ENUM": ENUM}

_INT_RE = re.compile(r"[+-]?[0-9]+\Z")
# Go's decimal float: digits with single underscores between them, an
# optional fraction and exponent.
_DIGITS = r"[0-9](?:_?[0-9])*"
_DEC_RE = re.compile(r"[+-]?(?:%s(?:\.(?:%s)?)?|\.%s)(?:[eE][+-]?%s)?\Z" % (_DIGITS, _DIGITS, _DIGITS, _DIGITS))
_HEX_DIGITS = r"[0-9a-fA-F](?:_?[0-9a-fA-F])*"
_HEX_RE = re.compile(r"([+-]?)0[xX]_?((?:%s)?(?:\.(?:%s)?)?)[pP]([+-]?%s)\Z" % (_HEX_DIGITS, _HEX_DIGITS, _DIGITS))
_INF_RE = re.compile(r"([+-]?)(?:inf|infinity)\Z", re.IGNORECASE)
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}

# Duration units in nanoseconds.
_UNITS = {"ns": 1, "us": 1000, "\u00b5s": 1000, "\u03bcs": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_MAX_NS = (1 << 63) - 1


class OptionError(ValueError):
    """A value that does not parse; str() is the reason."""


def parse_int(v):
    if not _INT_RE.match(v):
        raise OptionError("not a whole number")
    n = int(v)
    if not -(1 << 63) <= n < (1 << 63):
        raise OptionError("out of range")
    return n


def parse_float(v):
    if _DEC_RE.match(v):
        f = float(v.replace("_", ""))
    elif _HEX_RE.match(v):
        sign, mantissa, exp = _HEX_RE.match(v).groups()
        mantissa = mantissa.replace("_", "")
        if mantissa in ("", "."):
            raise OptionError("not a number")
        f = float.fromhex(sign + "0x" + mantissa + "p" + exp.replace("_", ""))
    elif _INF_RE.match(v):
        return -math.inf if v.startswith("-") else math.inf
    elif v.lower() == "nan":
        return math.nan
    else:
        raise OptionError("not a number")
    if math.isinf(f):
        raise OptionError("out of range")
    return f


def parse_bool(v):
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise OptionError("not true or false")


def parse_duration(v):
    """Go's time.ParseDuration: returns nanoseconds."""
    s = v
    neg = False
    if s[:1] in ("-", "+"):
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if s == "":
        raise OptionError("invalid duration")
    total = 0
    while s:
        m = re.match(r"[0-9]*", s)
        whole = m.group()
        s = s[len(whole):]
        frac = ""
        if s.startswith("."):
            s = s[1:]
            frac = re.match(r"[0-9]*", s).group()
            s = s[len(frac):]
        if whole == "" and frac == "":
            raise OptionError("invalid duration")
        unit = re.match(r"[^0-9.]*", s).group()
        s = s[len(unit):]
        if unit == "":
            raise OptionError("missing unit")
        if unit not in _UNITS:
            raise OptionError("unknown unit %r" % unit)
        scale = _UNITS[unit]
        n = int(whole or "0") * scale
        if frac:
            n += int(frac) * scale // 10 ** len(frac)
        total += n
        if total > _MAX_NS + (1 if neg else 0):
            raise OptionError("out of range")
    return -total if neg else total


def parse(kind, v, choices=(), example=""):
    """Parses v as an option of type kind (one of the constants above). The
    error says what is wanted, as the host says it (example: the default)."""
    try:
        if kind == STRING:
            return v
        if kind == INT:
            return parse_int(v)
        if kind == FLOAT:
            return parse_float(v)
        if kind == BOOL:
            return parse_bool(v)
        if kind == DURATION:
            return parse_duration(v)
        if kind == ENUM and v in choices:
            return v
    except OptionError:
        pass
    want = {
        INT: "a whole number, e.g. " + (example or "3"),
        FLOAT: "a number, e.g. " + (example or "1.5"),
        BOOL: "true or false",
        DURATION: "a duration such as %s or 30s" % (example or "500ms"),
        ENUM: "one of " + ", ".join(choices),
    }.get(kind, "a value of type %d" % kind)
    raise OptionError("want " + want)


def _main():
    import sys

    for line in sys.stdin:
        kind, _, value = line.rstrip("\n").partition(" ")
        try:
            got = parse(TYPE_NAMES[kind], value)
        except OptionError:
            print("error")
            continue
        if isinstance(got, bool):
            got = "true" if got else "false"
        elif isinstance(got, float):
            got = repr(got)
        print(got)


if __name__ == "__main__":
    _main()
