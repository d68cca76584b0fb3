"""Schema errors as sentences: the place, what was found, what it takes, and the nearest valid name.

jsonschema's own messages show Python reprs of the schema (`'to' is a required property`,
`{...} does not have enough properties`, `should not be valid under {'pattern': ...}`). Here each
kind of error a policy file can have is said in the policy's terms, from the schema node that
failed: its `properties`, `required`, `description` and the like. A schema node that has a
`pattern` carries a `description` saying the form in words; that is what a drafter is shown.
"""
from __future__ import annotations

import re
from typing import Optional

import jsonschema

from ._dates import date_hint, date_problem
from .errors import did_you_mean, nearest
from .load import dump_json, json_type, printable

TYPE_WORDS = {"object": "a mapping", "array": "a list", "string": "text", "boolean": "true or false",
              "integer": "a whole number", "number": "a number", "null": "null"}
BOUND_WORDS = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than", "exclusiveMaximum": "less than"}
BOUND_HINTS = {"minimum": "write {n} or more", "maximum": "write {n} or less", "exclusiveMinimum": "write more than {n}",
               "exclusiveMaximum": "write less than {n}"}
# How other languages spell a value an enum has: `=` and `gte` are `==` and `>=` here. Said first,
# before the nearest spellings, because the meaning is closer than the letters.
SYNONYMS = {"=": "==", "eq": "==", "equals": "==", "is": "==", "===": "==",
            "ne": "!=", "neq": "!=", "<>": "!=", "!==": "!=", "not": "!=",
            "gt": ">", "gte": ">=", "ge": ">=", "=>": ">=", "≥": ">=",
            "lt": "<", "lte": "<=", "le": "<=", "=<": "<=", "≤": "<=",
            "not in": "not_in", "notin": "not_in", "nin": "not_in", "not-in": "not_in"}


def shown(value, limit: int = 80) -> str:
    """A value as a message quotes it, in YAML/JSON terms and cut short: 'text', 3, true, null, {"a": 1}."""
    if isinstance(value, str):
        text = repr(value)
    elif value is None or isinstance(value, (bool, int, float, dict, list)):
        try:
            text = dump_json(value)
        except (TypeError, ValueError):     # not JSON-shaped (an infinite number): as Python writes it
            text = repr(value)
    else:
        text = repr(value)
    text = printable(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _written(value) -> str:
    """A value as it is written in YAML: text as it is, `true` (not Python's `True`), `null`, 3."""
    return value if isinstance(value, str) else shown(value)


def _ticks(names) -> list:
    return [f"`{n}`" for n in names]


def _either(names, word: str = "or") -> str:
    """`a`, `b` or `c`."""
    names = _ticks(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + f" {word} " + names[-1]


def place(path, default: str) -> str:
    """What an error is about, for a message: "`within`" (the key it is under), "item 2 of `any`"
    (a list item), or `default` at the top of the node checked."""
    keys = list(path)
    if not keys:
        return default
    last = keys[-1]
    if isinstance(last, str):
        tail = []
        for k in reversed(keys):   # the keys after the last list index: `source.file`
            if not isinstance(k, str):
                break
            tail.insert(0, k)
        return f"`{'.'.join(tail)}`"
    name = next((k for k in reversed(keys) if isinstance(k, str)), None)
    return f"item {last + 1} of `{name}`" if name else f"item {last + 1}"


def _key(path) -> str:
    """The name of the key an error is under, for an example (`any: [...]`); "" at the top."""
    return next((k for k in reversed(list(path)) if isinstance(k, str)), "")


def _noun(schema: dict) -> str:
    """What a schema node takes, in words: "a list of conditions", "text", "a mapping or a list"."""
    typ = schema.get("type")
    if typ == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        ref = items.get("$ref")
        if isinstance(ref, str) and "/" in ref:
            return f"a list of {ref.rsplit('/', 1)[-1].replace('_', ' ')}s"
        if isinstance(items.get("type"), str) and items["type"] in TYPE_WORDS:
            inner = TYPE_WORDS[items["type"]]
            return "a list of " + ("texts" if inner == "text" else inner.split(" ", 1)[-1] + "s")
        return "a list"
    if isinstance(typ, list):
        return " or ".join(TYPE_WORDS.get(t, t) for t in typ)
    return TYPE_WORDS.get(typ, str(typ))


def _strays(err) -> list:
    """Keys of the mapping that its schema does not take (when it takes only those it names)."""
    schema, instance = err.schema, err.instance
    if not isinstance(schema, dict) or not isinstance(instance, dict) or schema.get("additionalProperties") is not False:
        return []
    known = set(schema.get("properties") or {})
    return sorted(k for k in instance if k not in known and not _patterned(schema, k))


def _patterned(schema: dict, key: str) -> bool:
    return any(re.search(p, key) for p in (schema.get("patternProperties") or {}))


def _required_of(alternative) -> list:
    return list(alternative.get("required") or []) if isinstance(alternative, dict) else []


def explain(err: jsonschema.ValidationError, default: str = "here", operator: bool = False,
            hints: Optional[dict] = None, where: Optional[str] = None) -> tuple:
    """(message, hint, key) for one schema error. `default` names the node checked ("`within`"),
    `key` is the key of the mapping to point at (an unknown key, a misspelt one) or None.
    `operator` chooses the rule language's wording for an unknown key ("`some` does not take `were`").
    `where` names the place instead of its last keys (a case file's `licenses[0].issued_on`)."""
    hints = hints or {}
    where = where or place(err.absolute_path, default)
    at_top = where == default
    instance, schema, validator = err.instance, err.schema if isinstance(err.schema, dict) else {}, err.validator
    if validator == "required" and isinstance(instance, dict):
        missing = [k for k in err.validator_value if k not in instance] or list(err.validator_value)[:1]
        strays = _strays(err)
        inside = "here" if where == "here" else f"in {where}"
        message = f"{_either(missing, 'and')} {'is' if len(missing) == 1 else 'are'} required {inside}"
        if strays:
            message += f"; {_either(strays, 'and')} {'is not a key' if len(strays) == 1 else 'are not keys'} it takes"
            hint = did_you_mean(strays[0], missing) or did_you_mean(strays[0], schema.get("properties") or {})
            return message, hint or f"add `{missing[0]}:`", strays[0]
        return message, hints.get(missing[0], f"add `{missing[0]}:`"), None
    if validator == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties") or {})
        extra = _strays(err) or sorted(set(instance) - set(allowed))
        hint = did_you_mean(extra[0], allowed) if extra else ""
        if operator:
            message = (f"{where} does not take {', '.join(_ticks(extra))}; it takes {', '.join(_ticks(allowed))}"
                       if allowed else f"{where} takes no keys besides its own; found {', '.join(_ticks(extra))}")
        else:
            message = f"unknown key {', '.join(_ticks(extra))}; allowed: {', '.join(allowed)}"
        return message, hint or "remove it", extra[0] if extra else None
    if validator in ("minProperties", "maxProperties") and isinstance(instance, dict):
        return _count_of_keys(err, where)
    if validator == "type":
        found = json_type(instance)
        want = _noun(schema)
        key = _key(err.absolute_path) or default.strip("`")
        if schema.get("type") == "array":
            items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
            of_mappings = items.get("type") == "object" or "properties" in items or "$ref" in items
            example = (f"`{key}: [{{...}}, {{...}}]`" if of_mappings
                       else f"`{key}: [{instance}]`" if isinstance(instance, str) and instance.strip()   # their own name, listed
                       else f"`{key}: [a, b]`")
            hint = f"write a list, e.g. {example}"
        elif schema.get("type") == "object" and key == "expr":     # the left side of a comparison: an expression
            hint = ("write an expression, e.g. `expr: {param: name}` or `expr: {count: ...}`; a literal goes on the right, "
                    "in `value:` (a code in a list fact: `some: LIST, as: x, where: {path: x, op: '==', value: CODE}`)")
        elif schema.get("type") == "object":
            hint = f"write a mapping, e.g. `{key}: {{name: value}}`"
        elif schema.get("type") == "string" and not isinstance(instance, (dict, list)):
            in_list = bool(err.absolute_path) and isinstance(list(err.absolute_path)[-1], int)
            text = _written(instance)
            article = _as_article(instance, schema.get("pattern"))
            if article and not in_list:     # `article: 5`: the article's form, not '5' quoted
                hint = f"write it as an article: `{key}: {article}`"
            elif in_list:    # an item of a list: quote the item, the key is the list's
                hint = f"put it in quotes: `'{text}'`" if instance is not None else "write text for the item"
            else:
                hint = f"put it in quotes: `{key}: '{text}'`" if instance is not None else f"write text after `{key}:`"
        elif (schema.get("type") == "string" and isinstance(instance, list) and len(instance) == 1
              and isinstance(instance[0], (str, int, float)) and not isinstance(instance[0], bool)):
            in_list = bool(err.absolute_path) and isinstance(list(err.absolute_path)[-1], int)
            # `article: [第五十五条]`: the one item, written without its brackets (in the article's form: `[5]`)
            alone = _as_article(instance[0], schema.get("pattern")) or _written(instance[0])
            hint = f"write it alone: `{alone}`" if in_list or not key else f"write it alone: `{key}: {alone}`"
        else:
            hint = f"write {want}"
        return f"{where} must be {want}, found {found}", hint, None
    if validator == "enum":
        allowed = [str(v) for v in err.validator_value]
        synonym = SYNONYMS.get(str(instance).strip().lower()) if isinstance(instance, str) else None
        hint = (f"did you mean `{synonym}`?" if synonym in allowed else did_you_mean(str(instance), allowed))
        prefix = "" if at_top else f"{where}: "
        return f"{prefix}{shown(instance)} is not one of {', '.join(allowed)}", hint, None
    if validator == "const":
        prefix = "" if at_top else f"{where}: "
        return f"{prefix}{shown(instance)} should be {shown(err.validator_value)}", f"write `{_written(err.validator_value)}`", None
    if validator == "pattern" and isinstance(instance, str):
        return _pattern(err, where, err.validator_value)
    if validator == "not" and isinstance(err.validator_value, dict):
        banned = err.validator_value
        if set(banned) == {"required"}:
            keys = _either(banned["required"], "and")
            return f"{where} has {keys}: it takes one of them, not both", "keep one", None
        if set(banned) == {"pattern"} and isinstance(instance, str):
            return _pattern(err, where, None)
    if validator == "format" and err.validator_value == "date":
        return _not_a_date(err, where, at_top)
    if validator in ("oneOf", "anyOf"):
        found = _alternatives(err, where, default, operator, hints)
        if found is not None:
            return found
    if validator in ("minItems", "maxItems") and isinstance(instance, list):
        n = err.validator_value
        least = validator == "minItems"
        return (f"{where} {'needs at least' if least else 'takes at most'} {n} item{'s' if n != 1 else ''}, found {len(instance)}",
                "add one" if least else "split it", None)
    if validator in ("minLength", "maxLength") and isinstance(instance, str):
        n = err.validator_value
        if validator == "minLength" and n == 1:
            return f"{where} is empty", f"write something after `{_key(err.absolute_path) or 'it'}:`", None
        return (f"{where} {'needs at least' if validator == 'minLength' else 'takes at most'} {n} characters, found {len(instance)}",
                "", None)
    if validator == "uniqueItems" and isinstance(instance, list):
        seen, twice = [], None
        for item in instance:
            if item in seen:
                twice = item
                break
            seen.append(item)
        return f"{where} lists {shown(twice)} twice", "keep one", None
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{where} must be {BOUND_WORDS[validator]} {err.validator_value}, found {shown(instance)}", "", None
    return (err.message if at_top else f"{where}: {err.message}"), "", None


def _pattern(err, where: str, pattern: Optional[str], search=None) -> tuple:
    """A value (or a key, under `propertyNames`) of the wrong form: the form in the schema's words."""
    instance = err.instance
    described = err.schema.get("description") if isinstance(err.schema, dict) else None
    form = described or (f"the form is {pattern}" if pattern else "")
    if "propertyNames" in err.schema_path:
        message = f"{shown(instance)} is not a valid name in {where}" if where != "here" else f"{shown(instance)} is not a valid name here"
    else:
        message = f"{where}: {shown(instance)} does not have the expected form" if where != "here" else f"{shown(instance)} does not have the expected form"
    if form:
        message += f" ({form})"
    width = _fixed_width(pattern) if pattern and isinstance(instance, str) else None
    if width is not None and len(instance) != width:   # a code of one length (a credit code's 18): say what is off
        message += f"; it is {len(instance)} characters long, the form takes {width}"
    hint = ""
    article = _as_article(instance, pattern)
    if article:     # `article: '55'`: the article of that number
        key = _key(err.absolute_path)
        return message, f"write it as an article: `{key}: {article}`" if key else f"e.g. `{article}`", None
    if pattern:   # the nearest spelling that has the form, when lower case and dashes give one
        for candidate in (instance.strip().lower(), re.sub(r"[\s_]+", "-", instance.strip().lower()),
                          re.sub(r"[\s-]+", "_", instance.strip().lower())):
            if candidate != instance and (search(pattern, candidate) if search else re.search(pattern, candidate)):
                hint = f"e.g. `{candidate}`"
                break
    return message, hint, None


def _as_article(value, pattern: Optional[str]) -> str:
    """The article a number names where an article goes (5 or '5' -> 第五条), when the form takes it; else ""."""
    if not pattern or "条" not in pattern or isinstance(value, bool):
        return ""
    number = value if isinstance(value, int) else int(value.strip()) if isinstance(value, str) and value.strip().isascii() \
        and value.strip().isdigit() else None
    if number is None or not 1 <= number <= 999:
        return ""
    from ._text import zh_numeral
    article = f"第{zh_numeral(number)}条"
    return article if re.search(pattern, article) else ""


def _fixed_width(pattern: str) -> Optional[int]:
    """The one length every text of `pattern` has (anchored at both ends), else None. Read with Python's own
    parser of patterns, which only measures it here (the schema's patterns are matched by a linear-time engine)."""
    if not (pattern.startswith("^") and pattern.endswith("$")) or len(pattern) > 500:
        return None
    try:
        import re._parser as parser
    except ImportError:     # (before Python 3.11)
        import sre_parse as parser
    try:
        low, high = parser.parse(pattern).getwidth()
    except Exception:       # a pattern Python's `re` does not read (the schema's engine does): no length to say
        return None
    return low if low == high and 0 < low < 1000 else None


def _not_a_date(err, where: str, at_top: bool) -> tuple:
    """A text where a date goes that is no date: why, in the calendar's terms, and the date to write."""
    prefix = "" if at_top else f"{where}: "
    return f"{prefix}{shown(err.instance)} is not a date: {date_problem(err.instance)}", date_hint(err.instance), None


def explain_case(err: jsonschema.ValidationError, where: str, search=None, json: bool = False) -> tuple:
    """(message, hint, key) for one error of a case file against its policy's facts schema: explain's
    sentences with the place named by its path (`licenses[0].issued_on`, "the case file" at the top), and a
    hint that always says what to write there: the date's form, true or false, one of the enum's values.
    `search(pattern, text)` matches the policy's patterns (linear time, not Python's backtracking `re`). With
    `json`, a case file read as JSON: text to quote is shown as JSON writes it (`"name": "1"`), not as YAML."""
    schema = err.schema if isinstance(err.schema, dict) else {}
    is_date = schema.get("format") == "date"
    if is_date and err.validator == "pattern" and isinstance(err.instance, str):   # said once, as a date, not as a pattern
        return _not_a_date(err, where or "the case file", not where)
    if err.validator == "pattern" and isinstance(err.instance, str):
        message, hint, key = _pattern(err, where or "here", err.validator_value, search)
    else:
        message, hint, key = explain(err, "the case file", where=where or None)
    if err.validator == "type" and is_date:
        hint = date_hint(err.instance)
    elif err.validator == "type" and isinstance(schema.get("enum"), list):     # `risk_level: 1`: the values it takes
        hint = f"write {_either([str(v) for v in schema['enum']])}"
    elif err.validator == "type" and schema.get("type") == "object" and schema.get("required"):
        keys = ", ".join(f"{k}: ..." for k in schema["required"])
        hint = f"write a mapping, e.g. `{_key(err.absolute_path) or 'it'}: {{{keys}}}`"
    elif err.validator == "enum" and not hint:
        hint = f"write {_either([str(v) for v in err.validator_value])}"
    elif err.validator in BOUND_HINTS and not hint:
        hint = BOUND_HINTS[err.validator].format(n=err.validator_value)
    elif err.validator == "pattern" and not hint:
        hint = "write it in that form"
    if json and err.validator == "type" and schema.get("type") == "string" and not isinstance(err.instance, (dict, list)) \
            and err.instance is not None and not is_date:
        text = dump_json(_written(err.instance))
        in_list = bool(err.absolute_path) and isinstance(list(err.absolute_path)[-1], int)
        hint = f"put it in quotes: `{text}`" if in_list else f"put it in quotes: `{dump_json(_key(err.absolute_path) or 'it')}: {text}`"
    return message, hint, key


def _count_of_keys(err, where: str) -> tuple:
    """minProperties / maxProperties, said with the keys the node takes: `within` needs one of `years`,
    `months`, `days` beside `path`."""
    schema, instance, n = err.schema, err.instance, err.validator_value
    props = list(schema.get("properties") or {})
    required = [k for k in (schema.get("required") or []) if k in props]
    optional = [p for p in props if p not in required]
    extra = n - len(required)
    count = "one" if extra == 1 else str(extra)
    beside = f" beside {_either(required, 'and')}" if required else ""
    if err.validator == "minProperties":
        if optional and extra >= 1:
            return (f"{where} needs {count} of {_either(optional)}{beside}",
                    f"add one, e.g. `{optional[0]}: ...`", None)
        return f"{where} needs at least {n} entr{'y' if n == 1 else 'ies'}, found {len(instance)}", "add one", None
    written = [p for p in optional if p in instance]
    if optional and extra >= 1 and written:
        return (f"{where} takes only {count} of {_either(optional)}{beside}; found {_either(written, 'and')}",
                "keep one" if extra == 1 else f"keep {extra}", written[-1])
    return f"{where} takes at most {n} entr{'y' if n == 1 else 'ies'}, found {len(instance)}", "", None


def settle(err: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """The error to report: for a oneOf / anyOf whose alternatives are told apart by a key (`decide` or
    `derive`), the best error of the alternative whose key the mapping has, followed down; else `err`."""
    for _ in range(32):
        if err.validator not in ("oneOf", "anyOf") or not isinstance(err.instance, dict) or not err.context:
            return err
        alternatives = err.validator_value if isinstance(err.validator_value, list) else []
        keyed = [_required_of(a) for a in alternatives]
        present = [i for i, req in enumerate(keyed) if req and all(k in err.instance for k in req)]
        if len(present) != 1:
            return err
        chosen = [sub for sub in err.context if sub.relative_schema_path and sub.relative_schema_path[0] == present[0]]
        if not chosen:
            return err
        err = jsonschema.exceptions.best_match(chosen)
    return err


def _alternatives(err, where: str, default: str, operator: bool, hints: dict) -> Optional[tuple]:
    """oneOf / anyOf over mappings told apart by a key (`decide` or `derive`, `expect` or `expect_error`):
    the form the writer meant is the one whose keys are there; with none, say which keys would do."""
    alternatives = err.validator_value if isinstance(err.validator_value, list) else []
    instance = err.instance
    if not isinstance(instance, dict) or not alternatives:
        return None
    keyed = [_required_of(a) for a in alternatives]
    if not all(keyed):
        return None
    present = [i for i, req in enumerate(keyed) if all(k in instance for k in req)]
    if err.validator == "oneOf" and not err.context and len(present) > 1:
        keys = [k for i in present for k in keyed[i]]
        return f"{where} has {_either(keys, 'and')}: it takes one of them, not both", "keep one", keys[-1]
    if not present:
        firsts = [req[0] for req in keyed]
        meant = next(((k, near) for k in instance for near in [nearest(str(k), firsts)] if near is not None), None)
        if meant is not None:   # a misspelt keyword (`decid:`): said at it, with the one it is nearest to
            return (f"{where} needs {_either(firsts)}; `{meant[0]}` is not a key it takes", f"did you mean `{meant[1]}`?",
                    meant[0])
        return (f"{where} needs {_either(firsts)}", "add " + " or ".join(f"`{k}:`" for k in firsts), None)
    return None
