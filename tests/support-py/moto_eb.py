"""moto_server plus the Elastic Beanstalk custom-platform API that moto lacks.

Run it like moto_server (`python moto_eb.py -H 127.0.0.1 -p 0`). Before serving it adds these
actions to moto's elasticbeanstalk responder: CreateStorageLocation, CreatePlatformVersion,
DescribePlatformVersion, ListPlatformVersions, DeletePlatformVersion, DescribeEvents,
DescribeApplicationVersions (always empty), CreateConfigurationTemplate, UpdateEnvironment.
Parameters are parsed and results serialized by moto against botocore's elasticbeanstalk model;
required members and string length limits of the model are checked here.

A platform version is `Creating` when created and becomes `Ready` after `build_seconds`
(MOTO_EB_BUILD_SECONDS, default 0.3): the "build" registers an AMI in moto's EC2 (a copy of the
bundle template's `source_ami` when that image exists). It becomes `Failed` instead when the
bundle in S3 lacks `platform.yaml` or the template it names. DeletePlatformVersion answers
`Deleting`, as AWS does; the version stays listed as `Deleting` for `delete_seconds`
(MOTO_EB_DELETE_SECONDS, default 0.3) and is then gone (`Deleted`). Events carry the messages EB
emits (see the spec). ListPlatformVersions pages its answer (MaxRecords, else `page_size`
records, default 100; NextToken) per botocore's model; a NextToken only continues the request
it came from (same filters and page size).

Control URLs (not AWS):
  GET  /moto-eb/requests  -> JSON list of {time, service, region, action, params} for every EB, S3, IAM, EC2
                             and CloudWatch Logs request, in order; CreatePlatformVersion
                             entries also carry `bundle_files`, the entry names of the
                             uploaded zip.
  GET  /moto-eb/state     -> JSON {platforms, configuration_templates, environment_updates}
  POST /moto-eb/reject-create -> CreatePlatformVersion answers ElasticBeanstalkServiceException
                             (custom platforms retired) until the next reset.
  POST /moto-eb/config    -> JSON body merged into the knobs {build_seconds, delete_seconds,
                             page_size} until the next reset; answers the knobs.
  POST /moto-api/reset    -> moto's reset, which also clears this module's state, log and knobs.
"""

import base64
import io
import json
import os
import re
import sys
import threading
import time
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

# The builder's instance profile attaches two AWS managed policies. moto can load all of AWS's
# (MOTO_IAM_LOAD_MANAGED_POLICIES), but that object graph makes every reset and the garbage
# collections after it cost seconds; `install` adds just the ones asked for instead.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")

from moto.core.responses import ActionResult, BaseResponse
from moto.elasticbeanstalk.responses import EBResponse
import moto.server

from eb_model import MODEL, apply_filters, check_against_model, error, s3_action  # noqa: E402

BUILDER_ENV = "eb-custom-platform-builder-packer"
LOCK = threading.RLock()

# Per (account, region): platforms by ARN, events, configuration templates.
STATE = {}
REQUESTS = []
ENV_UPDATES = []
# POST /moto-eb/reject-create: CreatePlatformVersion fails as on an account where AWS no longer
# accepts custom platforms (until the next reset).
REJECT_CREATE = {"on": False}
_local = threading.local()


def default_knobs():
    return {
        "build_seconds": float(os.environ.get("MOTO_EB_BUILD_SECONDS", "0.3")),
        "delete_seconds": float(os.environ.get("MOTO_EB_DELETE_SECONDS", "0.3")),
        "page_size": int(os.environ.get("MOTO_EB_PAGE_SIZE", "100")),
    }


# POST /moto-eb/config changes these until the next reset.
KNOBS = default_knobs()


def build_seconds():
    return float(KNOBS["build_seconds"])


def region_state(account, region):
    with LOCK:
        return STATE.setdefault(
            (account, region),
            {"platforms": {}, "events": [], "templates": {}, "builder": False},
        )


def reset_state():
    with LOCK:
        STATE.clear()
        REQUESTS.clear()
        ENV_UPDATES.clear()
        REJECT_CREATE["on"] = False
        KNOBS.clear()
        KNOBS.update(default_knobs())


def now():
    return datetime.now(timezone.utc)


# --- platform model -----------------------------------------------------------------------

ARN_RE = re.compile(r"^arn:aws:elasticbeanstalk:([^:]+):(\d*):platform/([^/]+)/(\d+\.\d+\.\d+)$")


def platform_arn(region, account, name, version):
    return f"arn:aws:elasticbeanstalk:{region}:{account}:platform/{name}/{version}"


def add_event(st, message, arn, request_id, severity="INFO"):
    # Clients poll with StartTime = newest event + 1 ms, so no two events share a millisecond.
    when = now()
    if st["events"]:
        when = max(when, st["events"][-1]["EventDate"] + timedelta(milliseconds=1))
    st["events"].append(
        {
            "EventDate": when,
            "Message": message,
            "PlatformArn": arn,
            "RequestId": request_id,
            "Severity": severity,
        }
    )


def read_bundle(account, bucket, key):
    """The zip entry names and the parsed platform.yaml, or an error message."""
    from moto.s3.models import s3_backends

    try:
        obj = s3_backends[account]["aws"].get_object(bucket, key)
    except Exception:
        obj = None
    if obj is None:
        return None, None, f"cannot find the platform definition bundle s3://{bucket}/{key}"
    try:
        zf = zipfile.ZipFile(io.BytesIO(obj.value))
    except zipfile.BadZipFile:
        return None, None, "the platform definition bundle is not a zip archive"
    names = zf.namelist()
    files = {n[2:] if n.startswith("./") else n: n for n in names}
    if "platform.yaml" not in files:
        return names, None, "cannot find platform.yaml in bundle"
    import yaml

    try:
        definition = yaml.safe_load(zf.read(files["platform.yaml"])) or {}
    except yaml.YAMLError as e:
        return names, None, f"platform.yaml is not valid YAML: {e}"
    template = (definition.get("provisioner") or {}).get("template")
    if not template or template not in files:
        return names, None, f"cannot find the Packer template '{template}' in bundle"
    try:
        definition["_template"] = json.loads(zf.read(files[template]))
    except ValueError as e:
        return names, None, f"the Packer template '{template}' is not valid JSON: {e}"
    return names, definition, None


def builder_log(account, region, p, lines):
    """Lines of the builder's log, as EB ships it to CloudWatch Logs
    (/aws/elasticbeanstalk/platform/<name>, stream <version>), in Ruby Logger format."""
    from moto.logs.models import logs_backends

    logs = logs_backends[account][region]
    group = f"/aws/elasticbeanstalk/platform/{p['PlatformName']}"
    stream = p["PlatformVersion"]
    if group not in logs.groups:
        logs.create_log_group(group, {})
    if stream not in logs.groups[group].streams:
        logs.create_log_stream(group, stream)
    events = []
    for level, source, text in lines:
        t = now()
        stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%f+0000")
        msg = f"{level[0]}, [{stamp}#4242]  {level} -- {source}: {text}"
        events.append({"timestamp": int(t.timestamp() * 1000), "message": msg})
    logs.put_log_events(group, stream, events)


def advance(account, region, p):
    """Moves a version on once its time has come (called on every read): Creating ->
    Ready/Failed, Deleting -> Deleted."""
    if p["PlatformStatus"] == "Creating":
        finish_build(account, region, p)
    elif p["PlatformStatus"] == "Deleting":
        finish_delete(account, region, p)


def finish_delete(account, region, p):
    if time.time() < p["_deleted_at"]:
        return
    st = region_state(account, region)
    label = f"{p['PlatformName']}/{p['PlatformVersion']}"
    p["PlatformStatus"] = "Deleted"
    p["DateUpdated"] = now()
    add_event(st, f"Successfully deleted platform version '{label}'.", p["PlatformArn"], p["_delete_request_id"])


def finish_build(account, region, p):
    """Creating -> Ready/Failed once the build time has passed."""
    if p["PlatformStatus"] != "Creating" or time.time() < p["_ready_at"]:
        return
    st = region_state(account, region)
    arn, rid = p["PlatformArn"], p["_request_id"]
    label = f"{p['PlatformName']}/{p['PlatformVersion']}"
    if p["_failure"]:
        builder_log(account, region, p, [("ERROR", "build.rb", f"Packer failed with error: '{p['_failure']}'")])
        add_event(st, f"Packer failed with error: '{p['_failure']}'", arn, rid, "ERROR")
        add_event(st, f"Failed to create platform version '{label}'.", arn, rid, "ERROR")
        p["PlatformStatus"] = "Failed"
        p["DateUpdated"] = now()
        return
    ami = register_ami(account, region, p)
    p["CustomAmiList"] = [
        {"VirtualizationType": "pv", "ImageId": ami},
        {"VirtualizationType": "hvm", "ImageId": ami},
    ]
    p["SupportedTierList"] = ["WebServer/Standard", "Worker/SQS/HTTP"]
    p["SupportedAddonList"] = ["Log/S3", "WorkerDaemon/SQSD"]
    ts = int(time.time())
    builder_log(
        account,
        region,
        p,
        [
            ("INFO", "build.rb", "Invoking 'packer build'..."),
            ("INFO", "Packer", f"{ts},,ui,say,HVM AMI builder output will be in this color."),
            ("INFO", "Packer", f"{ts},,ui,say,==> HVM AMI builder: Creating the AMI: {p['PlatformName']}"),
            ("INFO", "Packer", f"{ts},HVM AMI builder,artifact,0,id,{region}:{ami}"),
            ("INFO", "build.rb", "'packer build' finished."),
            ("INFO", "build.rb", f"Successfully built AMI(s): '{ami}' for '{arn}'"),
        ],
    )
    add_event(st, f"Successfully built AMI(s): '{ami}' for '{arn}'", arn, rid)
    add_event(st, f"Packer built AMIs: {ami}.", arn, rid)
    add_event(st, f"Successfully created platform version '{label}'.", arn, rid)
    p["PlatformStatus"] = "Ready"
    p["DateUpdated"] = now()


def register_ami(account, region, p):
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[account][region]
    name = f"{p['PlatformName']}-{p['PlatformVersion']}-{int(time.time() * 1000)}"
    source = p.get("_source_ami")
    if source:
        try:
            return ec2.copy_image(source, region, name=name).id
        except Exception:
            pass
    return ec2.register_image(name=name, description=p["PlatformArn"]).id


def visible(p):
    return p["PlatformStatus"] != "Deleted"


def public(p, shape_name):
    members = MODEL.shape_for(shape_name).members
    return {k: v for k, v in p.items() if k in members}


# --- the actions --------------------------------------------------------------------------


def _begin(self, action):
    check_against_model(action, self.params)
    _local.request_id = str(uuid.uuid4())
    return region_state(self.current_account, self.region)


def create_storage_location(self):
    _begin(self, "CreateStorageLocation")
    from moto.s3.models import s3_backends

    bucket = f"elasticbeanstalk-{self.region}-{self.current_account}"
    backend = s3_backends[self.current_account]["aws"]
    try:
        backend.get_bucket(bucket)
    except Exception:
        backend.create_bucket(bucket, self.region)
    return ActionResult({"S3Bucket": bucket})


def create_platform_version(self):
    st = _begin(self, "CreatePlatformVersion")
    if REJECT_CREATE["on"]:
        raise error(
            "ElasticBeanstalkServiceException",
            "Custom platforms are not supported: Elastic Beanstalk retired custom platforms.",
        )
    account, region = self.current_account, self.region
    name = self._get_param("PlatformName")
    version = self._get_param("PlatformVersion")
    if not re.match(r"^[^:/]+$", name):
        raise error("InvalidParameterValue", f"Invalid platform name '{name}'.")
    if not re.match(r"^\d+\.\d+\.\d+$", version):
        raise error("InvalidParameterValue", f"Invalid platform version '{version}'.")
    bundle = self._get_param("PlatformDefinitionBundle") or {}
    arn = platform_arn(region, account, name, version)
    rid = _local.request_id
    with LOCK:
        old = st["platforms"].get(arn)
        if old and visible(old):
            raise error(
                "InvalidParameterValue",
                f"Platform version '{name}/{version}' already exists.",
            )
        names, definition, failure = read_bundle(account, bundle.get("S3Bucket"), bundle.get("S3Key"))
        entry = getattr(_local, "entry", None)
        if entry is not None:
            entry["bundle_files"] = names
        meta = (definition or {}).get("metadata") or {}
        source_ami = None
        for b in ((definition or {}).get("_template") or {}).get("builders") or []:
            if isinstance(b.get("source_ami"), str) and b["source_ami"].startswith("ami-"):
                source_ami = b["source_ami"]
        t = now()
        p = {
            "PlatformArn": arn,
            "PlatformOwner": "self",
            "PlatformName": name,
            "PlatformVersion": version,
            "PlatformStatus": "Creating",
            "PlatformCategory": "custom",
            "DateCreated": t,
            "DateUpdated": t,
            "Description": meta.get("description"),
            "Maintainer": meta.get("maintainer"),
            "OperatingSystemName": meta.get("operating_system_name"),
            "OperatingSystemVersion": meta.get("operating_system_version"),
            "ProgrammingLanguages": [
                {"Name": meta.get("programming_language_name"), "Version": meta.get("programming_language_version")}
            ]
            if meta.get("programming_language_name")
            else [],
            "Frameworks": [{"Name": meta.get("framework_name"), "Version": meta.get("framework_version")}]
            if meta.get("framework_name")
            else [],
            "SupportedTierList": [],
            "SupportedAddonList": [],
            "_ready_at": time.time() + build_seconds(),
            "_failure": failure,
            "_request_id": rid,
            "_source_ami": source_ami,
            "_option_settings": self._get_param("OptionSettings") or [],
            "_tags": self._get_param("Tags") or [],
            "_environment_name": self._get_param("EnvironmentName"),
            "_bundle": bundle,
        }
        p = {k: v for k, v in p.items() if v is not None or k.startswith("_")}
        st["platforms"][arn] = p
        add_event(st, "createPlatform is starting.", arn, rid)
        add_event(st, f"Initiated platform version creation for '{name}/{version}'.", arn, rid)
        if not st["builder"]:
            st["builder"] = True
            add_event(st, f"Creating Packer builder environment '{BUILDER_ENV}'.", arn, rid)
        add_event(st, "Starting Packer building task.", arn, rid)
        add_event(st, f"Creating CloudWatch log group '/aws/elasticbeanstalk/platform/{name}'.", arn, rid)
        builder_log(
            account,
            region,
            p,
            [
                ("INFO", "build.rb", f"Creating CloudWatch log group '/aws/elasticbeanstalk/platform/{name}'."),
                ("INFO", "build.rb", f"Downloading EB bootstrap script .../bootstrap/{(definition or {}).get('provisioner', {}).get('flavor', 'amazon')}/eb-bootstrap.sh..."),
            ],
        )
    builder_arn = f"arn:aws:elasticbeanstalk:{region}:{account}:environment/Custom Platform Builder/{BUILDER_ENV}"
    return ActionResult({"PlatformSummary": public(p, "PlatformSummary"), "Builder": {"ARN": builder_arn}})


def find_platform(self, arn):
    st = region_state(self.current_account, self.region)
    p = st["platforms"].get(arn)
    if p is None or not visible(p):
        raise error("InvalidParameterValue", f"No Platform named '{arn}' found.")
    advance(self.current_account, self.region, p)
    if not visible(p):
        raise error("InvalidParameterValue", f"No Platform named '{arn}' found.")
    return st, p


def describe_platform_version(self):
    _begin(self, "DescribePlatformVersion")
    with LOCK:
        _, p = find_platform(self, self._get_param("PlatformArn") or "")
        return ActionResult({"PlatformDescription": public(p, "PlatformDescription")})


def list_platform_versions(self):
    st = _begin(self, "ListPlatformVersions")
    filters = self._get_param("Filters") or []
    size = self._get_param("MaxRecords")
    size = int(size) if size not in (None, "") else int(KNOBS["page_size"])
    token = self._get_param("NextToken")
    # A token names the request it continues: the same filters and page size (botocore:
    # "All other parameter values must be identical to the ones specified in the initial
    # request").
    signature = json.dumps([filters, size], sort_keys=True, default=str)
    offset = 0
    if token:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
            offset, same = int(data["offset"]), data["signature"] == signature
        except Exception:
            raise error("InvalidParameterValue", "Invalid NextToken.")
        if not same:
            raise error(
                "InvalidParameterValue",
                "Invalid NextToken: the other parameters must be identical to the first request's.",
            )
    with LOCK:
        for p in st["platforms"].values():
            advance(self.current_account, self.region, p)
        platforms = [p for p in st["platforms"].values() if visible(p)]
        platforms = apply_filters(platforms, filters)
        platforms.sort(key=lambda p: (p["DateCreated"], p["PlatformArn"]))
        page = platforms[offset : offset + size]
        result = {"PlatformSummaryList": [public(p, "PlatformSummary") for p in page]}
        if offset + size < len(platforms):
            data = {"offset": offset + size, "signature": signature}
            result["NextToken"] = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
        return ActionResult(result)


def environments_using(account, region, arn):
    from moto.elasticbeanstalk.models import eb_backends

    backend = eb_backends[account][region]
    uses = []
    for app in backend.applications.values():
        for env in app.environments.values():
            if getattr(env, "_platform_arn", None) == arn:
                uses.append(env.environment_name)
    return uses


def delete_platform_version(self):
    _begin(self, "DeletePlatformVersion")
    rid = _local.request_id
    with LOCK:
        st, p = find_platform(self, self._get_param("PlatformArn") or "")
        if p["PlatformStatus"] in ("Creating", "Deleting"):
            doing = "created" if p["PlatformStatus"] == "Creating" else "deleted"
            raise error(
                "OperationInProgressFailure",
                f"Unable to delete a platform version that is still being {doing}.",
            )
        used = environments_using(self.current_account, self.region, p["PlatformArn"])
        if used:
            raise error(
                "PlatformVersionStillReferencedException",
                f"Platform version '{p['PlatformArn']}' is in use by environment(s): {', '.join(used)}.",
            )
        label = f"{p['PlatformName']}/{p['PlatformVersion']}"
        add_event(st, f"Deleting platform version '{label}'.", p["PlatformArn"], rid)
        p["PlatformStatus"] = "Deleting"
        p["DateUpdated"] = now()
        p["_deleted_at"] = time.time() + float(KNOBS["delete_seconds"])
        p["_delete_request_id"] = rid
        p["_delete_resources"] = self._get_param("DeleteResources")
        return ActionResult({"PlatformSummary": public(p, "PlatformSummary")})


def describe_events(self):
    st = _begin(self, "DescribeEvents")
    arn = self._get_param("PlatformArn")
    rid = self._get_param("RequestId")
    severity = self._get_param("Severity")
    start = self._get_param("StartTime")
    end = self._get_param("EndTime")
    limit = self._get_param("MaxRecords")
    levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
    with LOCK:
        for p in st["platforms"].values():
            advance(self.current_account, self.region, p)
        events = list(st["events"])
    if arn:
        events = [e for e in events if e["PlatformArn"] == arn]
    if rid:
        events = [e for e in events if e["RequestId"] == rid]
    if severity:
        events = [e for e in events if levels.index(e["Severity"]) >= levels.index(severity)]
    if start:
        start = as_datetime(start)
        events = [e for e in events if e["EventDate"] >= start]
    if end:
        end = as_datetime(end)
        events = [e for e in events if e["EventDate"] < end]
    # EB returns the newest event first.
    events = sorted(events, key=lambda e: e["EventDate"], reverse=True)
    if limit:
        events = events[: int(limit)]
    return ActionResult({"Events": events})


def as_datetime(v):
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=timezone.utc)
    s = str(v)
    try:
        return datetime.fromtimestamp(float(s), timezone.utc)
    except ValueError:
        d = datetime.fromisoformat(s.replace("Z", "+00:00"))
        return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def describe_application_versions(self):
    _begin(self, "DescribeApplicationVersions")
    return ActionResult({"ApplicationVersions": []})


def create_configuration_template(self):
    st = _begin(self, "CreateConfigurationTemplate")
    from moto.elasticbeanstalk.models import eb_backends

    app = self._get_param("ApplicationName")
    name = self._get_param("TemplateName")
    if app not in eb_backends[self.current_account][self.region].applications:
        raise error("InvalidParameterValue", f"No Application named '{app}' found.")
    stack = self._get_param("SolutionStackName")
    arn = self._get_param("PlatformArn")
    if not stack and not arn and not self._get_param("SourceConfiguration") and not self._get_param("EnvironmentId"):
        raise error(
            "InvalidParameterCombination",
            "Either SolutionStackName, PlatformArn, SourceConfiguration or EnvironmentId must be specified.",
        )
    with LOCK:
        if (app, name) in st["templates"]:
            raise error(
                "InvalidParameterValue",
                f"Configuration Template {name} already exists for application {app}.",
            )
        t = now()
        tpl = {
            "ApplicationName": app,
            "TemplateName": name,
            "SolutionStackName": stack,
            "PlatformArn": arn,
            "Description": self._get_param("Description"),
            "DeploymentStatus": "deployed" if False else None,
            "DateCreated": t,
            "DateUpdated": t,
            "OptionSettings": self._get_param("OptionSettings") or [],
        }
        tpl = {k: v for k, v in tpl.items() if v is not None}
        st["templates"][(app, name)] = dict(tpl, Tags=self._get_param("Tags") or [])
    return ActionResult(tpl)


def update_environment(self):
    _begin(self, "UpdateEnvironment")
    from moto.elasticbeanstalk.models import eb_backends

    name = self._get_param("EnvironmentName")
    backend = eb_backends[self.current_account][self.region]
    for app in backend.applications.values():
        env = app.environments.get(name)
        if env is not None:
            with LOCK:
                ENV_UPDATES.append(
                    {
                        "EnvironmentName": name,
                        "TemplateName": self._get_param("TemplateName"),
                        "OptionSettings": self._get_param("OptionSettings") or [],
                    }
                )
            return ActionResult(
                {
                    "EnvironmentName": name,
                    "ApplicationName": app.application_name,
                    "TemplateName": self._get_param("TemplateName"),
                    "Status": "Updating",
                }
            )
    raise error("InvalidParameterValue", f"No Environment found for EnvironmentName = '{name}'.")


_orig_create_environment = EBResponse.create_environment

# moto's Environment.platform_arn is a "TODO" placeholder; answer with the ARN it was created on.
from moto.elasticbeanstalk.models import Environment

Environment.platform_arn = property(lambda env: getattr(env, "_platform_arn", None))


def create_environment(self):
    """moto's CreateEnvironment, remembering PlatformArn (moto drops it) for delete checks."""
    result = _orig_create_environment(self)
    arn = self._get_param("PlatformArn")
    if arn:
        env = result.result
        env._platform_arn = arn
    return result


ACTIONS = {
    "create_storage_location": create_storage_location,
    "create_platform_version": create_platform_version,
    "describe_platform_version": describe_platform_version,
    "list_platform_versions": list_platform_versions,
    "delete_platform_version": delete_platform_version,
    "describe_events": describe_events,
    "describe_application_versions": describe_application_versions,
    "create_configuration_template": create_configuration_template,
    "update_environment": update_environment,
    "create_environment": create_environment,
}


def install_managed_policies_on_demand():
    """IAM knows an AWS managed policy (arn:aws:iam::aws:policy/...) from the first time a
    request names it, with the document moto ships."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy, IAMBackend

    data = json.loads(aws_managed_policies_data)

    def ensure(backend, arn):
        if arn in backend.managed_policies or not isinstance(arn, str):
            return
        m = re.match(r"^arn:aws[\w-]*:iam::aws:policy/(?:.*/)?([^/]+)$", arn)
        if m and m.group(1) in data:
            p = AWSManagedPolicy.from_data(m.group(1), backend.account_id, backend.region_name, data[m.group(1)])
            backend.managed_policies[p.arn] = p

    for method in ("attach_role_policy", "attach_user_policy", "attach_group_policy", "get_policy", "get_policy_version", "list_entities_for_policy"):
        orig = getattr(IAMBackend, method, None)
        if orig is None:
            continue

        def wrapped(self, *args, _orig=orig, **kwargs):
            arn = kwargs.get("policy_arn", args[0] if args else None)
            ensure(self, arn)
            return _orig(self, *args, **kwargs)

        setattr(IAMBackend, method, wrapped)


def install():
    for name, fn in ACTIONS.items():
        setattr(EBResponse, name, fn)
    install_managed_policies_on_demand()

    def enrich(headers, body):
        # moto's own version rewrites everything between the first and the last <RequestId>,
        # which corrupts DescribeEvents (every event has a RequestId); only touch the metadata.
        rid = getattr(_local, "request_id", None) or str(uuid.uuid4())
        _local.request_id = None
        if "status" in headers:
            headers["status"] = str(headers["status"])
        headers["x-amzn-requestid"] = rid
        if isinstance(body, str):
            body = re.sub(
                r"<ResponseMetadata><RequestId>[^<]*</RequestId>",
                f"<ResponseMetadata><RequestId>{rid}</RequestId>",
                body,
            )
        return headers, body

    EBResponse._enrich_response = staticmethod(enrich)


# --- request log and control URLs ---------------------------------------------------------


def service_of(environ):
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", auth)
    return m.group(1) if m else None


def region_of(environ):
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/", auth)
    return m.group(1) if m else None


def json_default(v):
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v)


class Recorder:
    """WSGI middleware: records EB/S3/IAM/EC2/Logs requests and serves /moto-eb/*."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/moto-eb/requests":
            with LOCK:
                body = json.dumps(REQUESTS, default=json_default).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if path == "/moto-eb/state":
            with LOCK:
                state = {
                    "platforms": [
                        {k.lstrip("_"): v for k, v in p.items()}
                        for st in STATE.values()
                        for p in st["platforms"].values()
                    ],
                    "configuration_templates": [t for st in STATE.values() for t in st["templates"].values()],
                    "environment_updates": ENV_UPDATES,
                }
                body = json.dumps(state, default=json_default).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if path == "/moto-eb/reject-create":
            REJECT_CREATE["on"] = True
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b"{}"]
        if path == "/moto-eb/config":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(size) if size else b""
            with LOCK:
                KNOBS.update(json.loads(raw or b"{}"))
                body = json.dumps(KNOBS).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if path == "/moto-api/reset":
            reset_state()
        service = service_of(environ)
        if service in ("elasticbeanstalk", "s3", "iam", "ec2", "logs"):
            self.record(environ, service)
        return self.app(environ, start_response)

    def record(self, environ, service):
        method = environ.get("REQUEST_METHOD")
        entry = {
            "time": time.time(),
            "service": service,
            "region": region_of(environ),
            "method": method,
            "path": environ.get("PATH_INFO", ""),
        }
        if service == "logs":
            # JSON protocol: the action is in X-Amz-Target, the parameters are the body.
            size = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(size) if size else b""
            environ["wsgi.input"] = io.BytesIO(raw)
            entry["action"] = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
            try:
                entry["params"] = json.loads(raw or b"{}")
            except ValueError:
                entry["params"] = {}
        elif service in ("elasticbeanstalk", "iam", "ec2"):
            size = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(size) if size else b""
            environ["wsgi.input"] = io.BytesIO(raw)
            form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
            entry["action"] = form.pop("Action", None)
            form.pop("Version", None)
            entry["params"] = form
        else:
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            entry["action"] = s3_action(method, environ.get("PATH_INFO", ""), query)
            entry["params"] = {k: v[0] for k, v in query.items()}
        _local.entry = entry
        with LOCK:
            REQUESTS.append(entry)


def main(argv):
    install()
    orig = moto.server.DomainDispatcherApplication

    class Dispatcher(orig):
        def __call__(self, environ, start_response):
            return Recorder(super().__call__)(environ, start_response)

    moto.server.DomainDispatcherApplication = Dispatcher
    moto.server.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
