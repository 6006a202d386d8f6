"""The Elastic Beanstalk model side of moto_eb.py: botocore's elasticbeanstalk service model,
the checks of a request against its input shape (required members, list and string limits,
integer ranges, enums) with EB's error codes, ListPlatformVersions' filters (operators,
`latest`, `self`) as the API applies them, and the S3 action a REST request stands for (for the
request log).
"""

import botocore.session
from moto.core.exceptions import ServiceException

MODEL = botocore.session.get_session().get_service_model("elasticbeanstalk")


class EBError(ServiceException):
    pass


def error(code, message):
    e = EBError(message)
    e.code = code
    return e


def check_against_model(action, params):
    """Required members and string/list limits of the botocore input shape."""
    shape = MODEL.operation_model(action).input_shape
    if shape is None:
        return
    check_shape(shape, params or {}, "")


def check_shape(shape, value, path):
    if shape.type_name == "structure":
        for name in shape.required_members:
            if value.get(name) in (None, ""):
                raise error(
                    "MissingParameter",
                    f"The request must contain the parameter {path}{name}",
                )
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                check_shape(member, value[name], f"{path}{name}.")
    elif shape.type_name == "list":
        meta = shape.metadata
        if "max" in meta and len(value) > meta["max"]:
            raise error(
                "ValidationError",
                f"{path.rstrip('.')} has {len(value)} items; at most {meta['max']} are allowed",
            )
        for i, item in enumerate(value):
            check_shape(shape.member, item, f"{path}member.{i + 1}.")
    elif shape.type_name in ("integer", "long"):
        meta = shape.metadata
        try:
            n = int(value)
        except (TypeError, ValueError):
            raise error("ValidationError", f"Value '{value}' at '{path.rstrip('.')}' is not an integer")
        if "min" in meta and n < meta["min"] or "max" in meta and n > meta["max"]:
            raise error(
                "ValidationError",
                f"Value '{value}' at '{path.rstrip('.')}' failed to satisfy constraint: "
                f"Member must have value between {meta.get('min', '-inf')} and {meta.get('max', 'inf')}",
            )
    elif shape.type_name == "string":
        meta = shape.metadata
        n = len(str(value))
        if "min" in meta and n < meta["min"] or "max" in meta and n > meta["max"]:
            raise error(
                "ValidationError",
                f"Value '{value}' at '{path.rstrip('.')}' failed to satisfy constraint: "
                f"length between {meta.get('min', 0)} and {meta.get('max', 'any')}",
            )
        if "enum" in shape.metadata and value not in shape.metadata["enum"]:
            raise error(
                "ValidationError",
                f"Value '{value}' at '{path.rstrip('.')}' is not one of {shape.metadata['enum']}",
            )


def compare(op, have, want):
    def key(v):
        parts = v.split(".")
        return [int(x) for x in parts] if all(x.isdigit() for x in parts) else parts

    if op == "=":
        return have == want
    if op == "!=":
        return have != want
    if op == "contains":
        return want in have
    if op == "begins_with":
        return have.startswith(want)
    if op == "ends_with":
        return have.endswith(want)
    try:
        a, b = key(have), key(want)
    except Exception:
        a, b = have, want
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


FILTER_FIELDS = {
    "PlatformName": "PlatformName",
    "PlatformVersion": "PlatformVersion",
    "PlatformStatus": "PlatformStatus",
    "PlatformOwner": "PlatformOwner",
    "OperatingSystemName": "OperatingSystemName",
    "PlatformBranchName": "PlatformBranchName",
}


def apply_filters(platforms, filters):
    latest = False
    for f in filters or []:
        ftype, op, values = f.get("Type"), f.get("Operator", "="), f.get("Values") or []
        if ftype == "PlatformVersion" and values == ["latest"]:
            latest = True
            continue
        if ftype not in FILTER_FIELDS:
            continue
        if ftype == "PlatformOwner" and values == ["self"]:
            platforms = [p for p in platforms if p["PlatformOwner"] == "self"]
            continue
        field = FILTER_FIELDS[ftype]
        platforms = [
            p for p in platforms if any(compare(op, str(p.get(field, "")), v) for v in values)
        ]
    if latest:
        best = {}
        for p in platforms:
            k = p["PlatformName"]
            if k not in best or compare(">", p["PlatformVersion"], best[k]["PlatformVersion"]):
                best[k] = p
        platforms = list(best.values())
    return platforms


def s3_action(method, path, query):
    parts = [p for p in path.split("/") if p]
    has_key = len(parts) > 1
    if method == "PUT":
        if "uploadId" in query:
            return "UploadPart"
        return "PutObject" if has_key else "CreateBucket"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
        return "PostObject"
    if method in ("GET", "HEAD"):
        if has_key:
            return "GetObject" if method == "GET" else "HeadObject"
        if "location" in query:
            return "GetBucketLocation"
        if query.get("list-type") == ["2"]:
            return "ListObjectsV2"
        return "ListObjects" if parts else "ListBuckets"
    if method == "DELETE":
        return "DeleteObject" if has_key else "DeleteBucket"
    return method
