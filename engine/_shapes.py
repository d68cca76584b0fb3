"""What a fact path may hold: a small type tree read from the facts JSON Schema and derived-fact fields."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

SCALARS = ("string", "integer", "number", "boolean", "date")


@dataclass
class Shape:
    kind: str = "any"                  # object | array | string | integer | number | boolean | date | any
    props: dict = field(default_factory=dict)
    items: Optional["Shape"] = None
    enum: Optional[list] = None
    open: bool = False                 # an object whose keys are not all declared
    exact: bool = False                # validation guarantees a present value has this kind (`type: object` -> a dict)
    has_default: bool = False          # the schema gives a `default` for an absent value
    default: object = None
    required: frozenset = frozenset()  # for an exact object: the keys validation guarantees are there

    @property
    def scalar(self) -> bool:
        """A present value is surely a scalar (text, number, boolean), never a mapping or a list."""
        if self.exact and self.kind in SCALARS:
            return True
        return bool(self.enum) and all(isinstance(v, (str, int, float, bool)) for v in self.enum)

    def child(self, key: str) -> Optional["Shape"]:
        if self.kind == "any":
            return Shape("any")
        if self.kind == "object":
            if key in self.props:
                return self.props[key]
            return Shape("any") if self.open else None
        return None


def from_schema(node, root=None, depth: int = 0) -> Shape:
    """Build a Shape from a JSON Schema node (local $ref, type lists and format: date understood)."""
    root = root if root is not None else node
    if depth > 64 or not isinstance(node, dict):
        return Shape("any")
    if "$ref" in node and isinstance(node["$ref"], str) and node["$ref"].startswith("#/"):
        target = root
        for part in node["$ref"][2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return from_schema(target, root, depth + 1)
    shape = _from_schema(node, root, depth)
    if "default" in node:
        shape.has_default, shape.default = True, node["default"]
    return shape


def _from_schema(node, root, depth: int) -> Shape:
    typ = node.get("type")
    exact = isinstance(typ, str)
    if isinstance(typ, list):
        non_null = [t for t in typ if t != "null"]
        typ = non_null[0] if len(non_null) == 1 else None
    enum = node.get("enum")
    if typ == "object" or "properties" in node:
        props = {k: from_schema(v, root, depth + 1) for k, v in (node.get("properties") or {}).items()}
        extra = node.get("additionalProperties", True)
        required = node.get("required") if isinstance(node.get("required"), list) else []
        return Shape("object", props, open=extra is not False, exact=exact and typ == "object",
                     required=frozenset(k for k in required if isinstance(k, str)))
    if typ == "array":
        return Shape("array", items=from_schema(node.get("items", {}), root, depth + 1))
    if typ == "string":
        return Shape("date" if node.get("format") == "date" else "string", enum=enum, exact=exact)
    if typ in ("integer", "number", "boolean"):
        return Shape(typ, enum=enum, exact=exact)
    return Shape("any", enum=enum)


def from_fields(fields: dict) -> Shape:
    """Derived facts declare `field: type`."""
    props = {}
    for name, typ in (fields or {}).items():
        if typ == "list":
            props[name] = Shape("array", items=Shape("any"))
        elif typ == "object":
            props[name] = Shape("object", open=True)
        else:
            props[name] = Shape(typ if typ in SCALARS else "any")
    return Shape("object", props, exact=True)


def example_text_field(shape: Shape, fallback: str = "a text field of the case file") -> str:
    """The first text field of a case file's shape, as a dotted path (objects followed in their declared order, lists
    not entered, `as_of` skipped): a hint's example in the policy's own names (`stall.licence_no`), never another's."""
    def walk(node: Shape, prefix: tuple):
        for key, child in node.props.items():
            if not prefix and key == "as_of":
                continue
            if child.kind == "string":
                return prefix + (key,)
            if child.kind == "object":
                found = walk(child, prefix + (key,))
                if found:
                    return found
        return None
    found = walk(shape, ()) if shape is not None and shape.kind == "object" else None
    return ".".join(found) if found else fallback
