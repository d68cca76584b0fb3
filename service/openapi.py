"""The OpenAPI document's response schemas: what each route answers, for clients generated from /openapi.json.

The problem (RFC 9457 with regcode's issues), the evaluation (`regcode eval --format json` plus `decision_id`),
a batch's reply, the policy listing and /health are written here once. An evaluation's `decisions` are typed
from the declarations of the versions served (a bool, an enum's members, a date ...), read from the compiled
policies, never named in code: a new policy version changes the document, not this file."""
from __future__ import annotations

from typing import Optional

REF = "#/components/schemas/"

LOCATION = {"type": "object", "description": "Where the problem is: a file (`<request>` for a body), its line and column "
            "(1-based; 0 when not known), and the JSON path inside it",
            "required": ["file", "line", "column", "path"],
            "properties": {"file": {"type": "string"}, "line": {"type": "integer", "minimum": 0},
                           "column": {"type": "integer", "minimum": 0}, "path": {"type": "string"}}}
ISSUE = {"type": "object", "description": "One problem, as the CLI says it: `file:line:col: code: message (hint)`",
         "required": ["code", "message", "location"],
         "properties": {"code": {"type": "string", "description": "family.name, the CLI's codes (input.schema, select.no_version_in_force ...)"},
                        "message": {"type": "string"}, "hint": {"type": "string", "description": "the fix"},
                        "location": {"$ref": REF + "Location"}}}
PROBLEM = {"type": "object", "description": "An RFC 9457 problem; `errors` holds every problem found, sorted by place",
           "required": ["type", "title", "status", "detail", "errors"],
           "properties": {"type": {"type": "string", "description": "urn:regcode:problem:CODE, of the first issue"},
                          "title": {"type": "string"}, "status": {"type": "integer"},
                          "detail": {"type": "string", "description": "the CLI's stderr paragraph"},
                          "errors": {"type": "array", "items": {"$ref": REF + "Issue"}}},
           "additionalProperties": True}
MATCHED = {"type": "object", "required": ["path", "value"],
           "properties": {"path": {"type": "string", "description": "a fact of the case (`licenses[0].issued_on`), "
                                   "a derived fact's field, or `decisions.NAME`"}, "value": {}}}
REASON = {"type": "object", "description": "One rule's claim on a decision: the rule, the article it encodes, the value "
          "it claimed, whether that shaped the final value, and the facts it matched",
          "required": ["rule", "article", "title", "value", "decisive", "matched"],
          "properties": {"rule": {"type": "string"}, "article": {"type": "string"}, "clause": {"type": "string"},
                         "title": {"type": "string"}, "value": {}, "decisive": {"type": "boolean"},
                         "key": {"description": "the key it claimed, for a decision that maps keys to values"},
                         "fact": {"type": "string", "description": "the derived fact it fired on"},
                         "matched": {"type": "array", "items": {"$ref": REF + "Matched"}}}}
DERIVED = {"type": "object", "required": ["kind", "fact", "fields", "derived_by"],
           "properties": {"kind": {"type": "string"}, "fact": {"type": "string"}, "fields": {"type": "object"},
                          "derived_by": {"type": "array", "items": {"type": "object", "required": ["rule", "from"],
                                                                     "properties": {"rule": {"type": "string"},
                                                                                    "from": {"type": "string"}}}}}}
POLICY_REF = {"type": "object", "required": ["id", "version", "title", "content_hash"],
              "properties": {"id": {"type": "string"}, "version": {"type": "string"}, "title": {"type": "string"},
                             "content_hash": {"type": "string", "description": "of the compiled version: the same "
                                              "hash, the same rules"}}}
BATCH_ERROR = {"type": "object", "description": "A case file of the batch that was not evaluated, in its place",
               "required": ["errors", "line", "source"],
               "properties": {"errors": {"type": "array", "items": {"$ref": REF + "Issue"}},
                              "line": {"type": "integer", "description": "its line (JSON lines) or 1 (an array's element)"},
                              "source": {"type": "string"}},
               "additionalProperties": True}
BATCH = {"type": "object", "required": ["read", "evaluated", "failed", "results"],
         "properties": {"read": {"type": "integer"}, "evaluated": {"type": "integer"}, "failed": {"type": "integer"},
                        "results": {"type": "array", "description": "one per case file, in order",
                                    "items": {"anyOf": [{"$ref": REF + "Evaluation"}, {"$ref": REF + "BatchError"}]}}},
         "additionalProperties": True}
HEALTH = {"type": "object", "required": ["status", "workers", "policy_versions", "regcode_version"],
          "properties": {"status": {"enum": ["ok", "degraded", "starting"], "description": "degraded: a version "
                                    "whose files failed on the last reload serves its last good compile (see `kept`), "
                                    "or the decision log refused the last write, so that each decision is a 503 until "
                                    "one succeeds (see `decision_log`; /health is then a 503 too, as while "
                                    "`starting`)"},
                         "kept": {"type": "array", "items": {"type": "string"}, "description": "ID@VERSION of each"},
                         "decision_log": {"type": "string", "description": "why the decision log's last write failed "
                                          "(`ENOSPC: No space left on device`); present only while it is so"},
                         "policy_versions": {"type": "integer"},
                         "regcode_version": {"type": "string"}, "workers": {"type": "integer"}},
          "additionalProperties": True}
POLICIES = {"type": "object", "required": ["policies"],
            "properties": {"policies": {"type": "array", "items": {
                "type": "object", "required": ["id", "version", "content_hash", "status"],
                "properties": {"id": {"type": "string"}, "version": {"type": "string"}, "title": {"type": "string"},
                               "content_hash": {"type": ["string", "null"]}, "effective_from": {"type": "string", "format": "date"},
                               "effective_to": {"type": ["string", "null"], "format": "date"},
                               "extends": {"type": ["string", "null"]},
                               "status": {"type": "string", "description": "new | unchanged | changed | kept (its "
                                          "files fail now; the last good compile serves) | failed"}},
                "additionalProperties": True}}},
            "additionalProperties": True}

VERSION_STATUS = {"type": "string", "description": "new | unchanged | changed | kept (its files fail now; the last "
                  "good compile serves) | failed"}
POLICY_VERSION = {"type": "object", "description": "One version after inheritance: what `regcode show --format json` prints, "
                  "with its content hash and the chain of versions it inherits from",
                  "required": ["content_hash", "chain", "policy", "decisions", "rules", "articles"],
                  "properties": {"content_hash": {"type": "string"},
                                 "chain": {"type": "array", "items": {"type": "string"}, "description": "ID@VERSION, "
                                           "this version first"},
                                 "policy": {"type": "object", "additionalProperties": True},
                                 "decisions": {"type": "object", "additionalProperties": {"type": "object"}},
                                 "derived_facts": {"type": "object", "additionalProperties": {"type": "object"}},
                                 "parameters": {"type": "object", "additionalProperties": {"type": "object"}},
                                 "event_dates": {"type": "object"}, "facts_schema": {"type": "object"},
                                 "rules": {"type": "array", "items": {"type": "object", "required": ["id"],
                                                                      "additionalProperties": True}},
                                 "articles": {"type": "array", "items": {"type": "object", "additionalProperties": True}}},
                  "additionalProperties": True}
RELOAD = {"type": "object", "description": "Each version with its status since the reload; the 422 of a reload that "
          "failed carries these fields too, beside the problem's",
          "required": ["ok", "versions", "removed"],
          "properties": {"ok": {"type": "boolean"},
                         "versions": {"type": "array", "items": {
                             "type": "object", "required": ["id", "version", "status", "content_hash"],
                             "properties": {"id": {"type": "string"}, "version": {"type": "string"},
                                            "status": VERSION_STATUS, "content_hash": {"type": ["string", "null"]},
                                            "errors": {"type": "array", "items": {"$ref": REF + "Issue"}}}}},
                         "removed": {"type": "array", "items": {"type": "string"}, "description": "ID@VERSION of each "
                                     "version no longer served"}},
          "additionalProperties": True}

_SCALAR = {"bool": {"type": "boolean"}, "number": {"type": "number"}, "string": {"type": "string"},
           "date": {"type": "string", "format": "date"}}


def _value(typ: Optional[str], values: Optional[list]) -> dict:
    if typ == "enum" and values:
        return {"enum": list(values)}
    return dict(_SCALAR.get(typ or "", {}))


def decision_schema(decl) -> dict:
    """A decision's value as JSON Schema, from its declaration: a list of its members, a map of its value type,
    a scalar or an enum; null where it may have no value."""
    if decl.type == "list":
        out = {"type": "array", "items": _value("enum" if decl.values else None, decl.values)}
    elif decl.type == "map":
        out = {"type": "object", "additionalProperties": _value(decl.value_type, decl.values)}
    else:
        inner = _value(decl.type, decl.values)
        out = {"anyOf": [inner, {"type": "null"}]} if decl.default is None else inner
    if decl.title:
        out["title"] = decl.title
    return out


def decisions_schema(policies: list) -> dict:
    """The `decisions` of an evaluation by any of the versions served: each name with its schema (a name two
    versions declare differently takes either)."""
    found: dict = {}
    for policy in policies:
        for name, decl in policy.decisions.items():
            schema = decision_schema(decl)
            known = found.setdefault(name, [])
            if schema not in known:
                known.append(schema)
    props = {name: (s[0] if len(s) == 1 else {"anyOf": s}) for name, s in sorted(found.items())}
    return {"type": "object", "description": "one value per decision of the version that decided it (GET "
            "/v1/policies/{id}/{version} lists them)", "properties": props, "additionalProperties": True}


def schemas(policies: list) -> dict:
    evaluation = {
        "type": "object", "description": "`regcode eval --format json`'s object, plus `decision_id` (the decision log's); "
        "the case's identity fields (as its policy declares them) are at the top too",
        "required": ["decision_id", "as_of", "source", "policy", "decisions", "rules_fired"],
        "properties": {"decision_id": {"type": "string", "description": "a UUIDv7, as in the decision log"},
                       "as_of": {"type": "string", "format": "date"}, "source": {"type": "string"},
                       "policy": {"$ref": REF + "PolicyRef"}, "decisions": decisions_schema(policies),
                       "rules_fired": {"type": "integer", "description": "how many rules fired (the decision log lists their ids)"},
                       "why": {"type": "object", "description": "with explain decisive or full: per decision, the claims on it",
                               "additionalProperties": {"type": "array", "items": {"$ref": REF + "Reason"}}},
                       "derived": {"type": "array", "description": "with explain full: the facts rules derived",
                                   "items": {"$ref": REF + "DerivedFact"}},
                       "notes": {"type": "array", "description": "only when there are any, at every explain level: what a "
                                 "reader of the decisions must know: an item of the case naming, by a field its policy's "
                                 "facts schema declares in `references:`, no item of the list it refers to "
                                 "(case.reference); a `version` named outside its window (select.outside_window)",
                                 "items": {"$ref": REF + "Note"}}},
        "additionalProperties": True}
    note = {"type": "object", "required": ["code", "path", "value", "message", "hint"], "additionalProperties": False,
            "properties": {"code": {"type": "string", "enum": ["case.reference", "select.outside_window"]},
                           "path": {"type": "string", "description": "the field, like checks[2].site (empty "
                                    "where the note is about no field: the count of notes left out, a date not in the case)"},
                           "value": {"description": "the value that names nothing"},
                           "message": {"type": "string"}, "hint": {"type": "string"}}}
    return {"Location": LOCATION, "Issue": ISSUE, "Problem": PROBLEM, "Matched": MATCHED, "Reason": REASON,
            "DerivedFact": DERIVED, "PolicyRef": POLICY_REF, "Evaluation": evaluation, "Note": note, "BatchError": BATCH_ERROR,
            "Batch": BATCH, "Health": HEALTH, "Policies": POLICIES, "PolicyVersion": POLICY_VERSION, "Reload": RELOAD}


# the 200 of each route: its schema (the others answer what the framework's own document says)
OK = {("/v1/evaluate", "post"): "Evaluation", ("/v1/evaluate/batch", "post"): "Batch",
      ("/v1/policies", "get"): "Policies", ("/v1/policies/{policy_id}/{version}", "get"): "PolicyVersion",
      ("/health", "get"): "Health", ("/health", "head"): "Health", ("/v1/admin/reload", "post"): "Reload"}

# What any route may answer, whatever it is: the HTTP reader's refusals (service/protocol.py: a request that is
# not HTTP/1.1, a head too slow or too large, a Content-Length of more digits than any body), the method not
# served, and a bug of ours
EVERY_ROUTE = {
    "400": "A problem: the request is not HTTP/1.1 (`request.syntax`: a bad request line, header or framing; "
           "`request.http_version`: another version, `GET / HTTP/2.0` or HTTP/2's preface `PRI * HTTP/2.0`, and the "
           "connection is closed)",
    "405": "A problem (`request.method`): the method is not served here; `Allow` lists those that are",
    "408": "A problem (`request.timeout`): the request's head did not arrive in time, or its body paused too long",
    "413": "A problem (`request.too_large`): the body is larger than the service reads (its Content-Length)",
    "431": "A problem (`request.headers_too_large`): the request's headers are larger than the server reads",
    "500": "A problem (`internal.*`): a bug in regcode, not in the request",
}
# and the routes that read a body, what they answer of it
BODY_ROUTES = {("/v1/evaluate", "post"), ("/v1/evaluate/batch", "post")}
WITH_BODY = {
    "411": "A problem (`request.length_required`): a body sent without Content-Length (nor chunked) is not read",
    "415": "A problem (`request.media_type`, `request.content_encoding`): a media type, charset or encoding not read here",
}
HEAD_NOTE = " (HEAD: the status and headers of GET, without the body)"
# the routes answering JSON, what they answer to an Accept that refuses it (app.accepts_json)
NOT_ACCEPTABLE = ("A problem (`request.not_acceptable`): the Accept header refuses application/json, the type this route "
                  "answers (`text/html` alone, `application/json;q=0`); a problem is sent as application/problem+json "
                  "whatever Accept says")


# ... and which of their answers say that they depend on Accept (app.negotiates): all but those made before the route
# is reached (the HTTP reader's 408 and 431, a method not served); a 400 or 413 of the reader's has no Vary
VARY = {"description": "`Accept`: the answer depends on the Accept header (a 406 or this), so a cache keys it by Accept "
                       "too (RFC 9110 12.5.5)", "schema": {"type": "string"}}
NOT_NEGOTIATED = ("405", "408", "431")


def _problem_response(description: str) -> dict:
    return {"description": description, "content": {"application/problem+json": {"schema": {"$ref": REF + "Problem"}}}}


def attach(spec: dict, policies: list) -> dict:
    """Put the schemas in the document and point each response at its own: the 200s above, every
    application/problem+json at Problem. The framework's own validation-error schemas, which no response of
    this service has (its 422 is a problem), are taken out, and so is any response that still names them."""
    components = spec.setdefault("components", {})
    found = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        found.pop(name, None)
    found.update(schemas(policies))
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            for status, response in list(responses.items()):
                content = response.get("content") or {}
                if "application/problem+json" in content:
                    content["application/problem+json"]["schema"] = {"$ref": REF + "Problem"}
                if status == "422" and "application/json" in content and "HTTPValidationError" in str(content["application/json"]):
                    del responses[status]   # the framework's; a parameter it refuses is our 400, never a 422
                if status == "200" and (path, method) in OK and "application/json" in content:
                    content["application/json"]["schema"] = {"$ref": REF + OK[(path, method)]}
                if status == "503" and path == "/health" and "application/json" in content:
                    content["application/json"]["schema"] = {"$ref": REF + "Health"}
            said = {**EVERY_ROUTE, **(WITH_BODY if (path, method) in BODY_ROUTES else {}),
                    **({"406": NOT_ACCEPTABLE} if (path, method) in OK else {})}
            for status, description in said.items():
                responses.setdefault(status, _problem_response(description))
            if (path, method) in OK:
                for status, response in responses.items():
                    if status not in NOT_NEGOTIATED:
                        response["headers"] = {**response.get("headers", {}), "Vary": VARY}
        # HEAD wherever GET is served (app._Framing): its own operation in the document, as /health's is
        if "get" in ops and "head" not in ops:
            head = {**ops["get"], "summary": ops["get"].get("summary", "") + HEAD_NOTE,
                    "operationId": ops["get"].get("operationId", path) + "_head"}
            ops["head"] = head
    for ops in spec.get("paths", {}).values():
        for op in ops.values():
            op["responses"] = dict(sorted(op["responses"].items()))
    return spec
