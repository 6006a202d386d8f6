#!/usr/bin/env python3
"""Counting, fault-injecting HTTP proxy in front of moto for rpack's integration tests (stdlib only).

    client (rpack, aws-sdk) --> this proxy (127.0.0.1:<free port>) --> moto_server

Started by tests/it/support/proxy.rs, which reads the chosen port from the first line of stdout
("listening on 127.0.0.1:PORT"). Every request is forwarded unchanged unless a fault applies, and
its Action (from the form body or query string, EC2's query protocol) is recorded in order.

What a test can switch at run time, through the control endpoint (never forwarded to moto):

  GET  /__stack/calls         {"calls": [[action, status, injected], ...]}
  GET  /__stack/requests      {"requests": [[action, form body], ...]}: what each forwarded or
                              answered call asked for (EC2 query protocol), to assert on
                              parameters moto accepts but ignores
  POST /__stack/calls/reset   forget the recorded calls and requests
  POST /__stack/config        JSON object; each key present replaces that setting:
      "transitions": seconds | {action: seconds}
                                instances show pending (after Run/StartInstances), stopping,
                                shutting-down, and images pending (after Create/Register/CopyImage)
                                for that long in DescribeInstances, DescribeInstanceStatus and
                                DescribeImages. moto itself switches states instantly. An object
                                sets the window per transition action (others: none), so a test
                                can hold one phase without slowing every other.
      "fault": null | {"kind": "throttle" | "server-error" | "access-denied" | "expired-token"
                               | "auth-failure", "fraction": f, "actions": [..] | null,
                       "limit": n | null}
                                answers a fraction f of the matching calls itself, without asking
                                moto: "throttle" is EC2's RequestLimitExceeded (HTTP 503),
                                "server-error" an InternalError (HTTP 500), "access-denied"
                                EC2's UnauthorizedOperation (HTTP 403; IAM's AccessDenied for
                                the IAM actions in IAM_ACTIONS), "expired-token" EC2's
                                RequestExpired for an expired session token (HTTP 400),
                                "auth-failure" EC2's AuthFailure for keys AWS does not know
                                (HTTP 401). The choice is
                                deterministic, failing first: f = 0.5 fails calls 1, 3, 5, ...;
                                "limit" caps how many calls fail in total.
                                STS DecodeAuthorizationMessage (which moto lacks) is always
                                answered here: the decision behind the last access-denied
                                fault for the encoded message that fault sent, else
                                InvalidAuthorizationMessageException.
      "delay": null | {"seconds": s, "actions": [..] | null}
                                holds moto's answer to the matching calls for s seconds.
      "console": null | {"keys": ["<type> <base64> [comment]", ...], "truncate": bool}
                                answers GetConsoleOutput with a cloud-init style boot log: with
                                keys, the "ec2:" fingerprint block and the
                                "-----BEGIN SSH HOST KEY KEYS-----" block listing them (a test
                                passes its sshd's real host keys, or other keys to play a man in
                                the middle); with no keys, a log without any key block; with
                                "truncate", the log stops inside the key block. null: moto's
                                own fixed answer.
CreateImage with a TagSpecification of ResourceType "snapshot" (which moto does not implement)
is forwarded without it, and the proxy then tags the new image's snapshots with those tags
through moto (DescribeImages + CreateTags), as EC2 does in the call itself; the request log
keeps the request as sent.

RegisterImage's TagSpecifications (which moto ignores) are applied to the new image through moto
(CreateTags), as EC2 does in the call itself.

CreateFleet's launch template block devices (which moto's fleets ignore) become volumes of each
new instance through moto (CreateVolume with the template's volume tags, AttachVolume, the
mapping's DeleteOnTermination), as EC2 attaches them (see fleets.py).

      "raw_snapshot_tags": bool  forward CreateImage's snapshot TagSpecifications to moto as sent
                                (moto then fails the call with HTTP 500, as an EC2 stand-in
                                without them does); default false: split them off as below.
      "kms_launch_failure": bool
                                plays EC2 refusing the key of an encrypted launch: a RunInstances
                                asking for an encrypted EBS volume (BlockDeviceMapping.N.Ebs.
                                Encrypted=true) is forwarded, then the proxy terminates the new
                                instance through moto and DescribeInstances gives it EC2's state
                                reason "Client.InvalidKMSKey.InvalidState: The KMS key provided
                                is in an incorrect state". CreateFleet with a launch template
                                whose volumes are encrypted is treated the same way (its
                                instances are terminated). Unencrypted launches go through.
      "fleet_errors": null | {"count": n, "code": c, "message": m}
                                answers the next n CreateFleet calls itself as EC2 answers an
                                instant fleet that launched nothing: a new fleet id, no
                                instance, and one error (errorCode c, errorMessage m), e.g.
                                InvalidParameterValue / "... Invalid IAM Instance Profile name"
                                while a new instance profile has not reached EC2. DeleteFleets
                                naming only such fleets is answered here too. Later CreateFleet
                                calls go to moto.
  GET  /__stack/fleets        {"created": [...], "deleted": [...]}: the fleets "fleet_errors"
                              made, and those DeleteFleets deleted
      "fast_launch": {"polls": n, "fail": reason | null}
                                Windows fast launch, which moto lacks, answered here (see
                                fast_launch.py): an image shows "enabling" for n
                                DescribeFastLaunchImages answers, then "enabled" (or
                                "enabling-failed" with the reason).
  GET  /__stack/fast_launch   {"images": {image id: state}, "disabled": [...]}
      "stub": null | [action, ...]
                                answers these actions itself with an empty success
                                (<return>true</return>), for EC2 actions moto does not implement
                                (e.g. EnableImageDeprecation); the request log shows what was asked.
"""
import base64
import hashlib
import http.client
import json
import math
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
import xml.sax.saxutils
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Started with `python3 -I` (isolated: the script's folder is not on the path); its sibling
# module is found here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fast_launch  # noqa: E402
from ec2_xml import children, local_name  # noqa: E402
import fleets  # noqa: E402

# Action -> (which table, id element in the response, state name, state code) for transitions.
TRANSITIONS = {
    "RunInstances": ("instance", "instanceId", "pending", "0"),
    "StartInstances": ("instance", "instanceId", "pending", "0"),
    "StopInstances": ("instance", "instanceId", "stopping", "64"),
    "TerminateInstances": ("instance", "instanceId", "shutting-down", "32"),
    "CreateImage": ("image", "imageId", "pending", None),
    "RegisterImage": ("image", "imageId", "pending", None),
    "CopyImage": ("image", "imageId", "pending", None),
}
REWRITTEN = {"DescribeInstances", "DescribeInstanceStatus", "DescribeImages"}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
              "trailer", "upgrade", "content-length"}


class State:
    """Everything the control endpoint changes, behind one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = []            # [action, status, injected]
        self.requests = []         # [action, form body]
        self.last_denied = None    # the action the last access-denied fault answered
        self.stub = set()          # actions answered with an empty success
        self.transitions = 0.0     # seconds, or {action: seconds}
        self.since = {}            # (table, id) -> (time, state, code, action)
        self.fault = None          # dict, plus "seen"/"failed" counters
        self.delay = None          # dict
        self.console = None        # GetConsoleOutput: {"keys": [...], "truncate": bool}
        self.raw_snapshot_tags = False  # forward CreateImage's snapshot tags to moto as sent
        self.kms_launch_failure = False  # encrypted launches end terminated with a KMS reason
        self.kms_failed = set()    # instance ids the proxy terminated that way
        self.fleet_errors = None   # {"count", "code", "message"}: CreateFleet launching nothing
        self.fleets_made = []      # fleet ids those answers named
        self.fleets_deleted = []   # ... and those DeleteFleets deleted

    def take_fleet_error(self):
        """The (code, message) to answer this CreateFleet with, or None to forward it."""
        with self.lock:
            f = self.fleet_errors
            if not f or f.get("count", 0) <= 0:
                return None
            f["count"] -= 1
            return f.get("code", "InvalidParameterValue"), f.get("message", "")

    def pick_fault(self, action):
        """The fault kind to answer this call with, or None to forward it."""
        with self.lock:
            f = self.fault
            if not f or (f.get("actions") and action not in f["actions"]):
                return None
            limit = f.get("limit")
            if limit is not None and f["failed"] >= limit:
                return None
            n, frac = f["seen"], float(f.get("fraction", 1.0))
            f["seen"] = n + 1
            # fail call n+1 when it crosses the next multiple: ceil keeps the first call failing
            if math.ceil(round((n + 1) * frac, 9)) > math.ceil(round(n * frac, 9)):
                f["failed"] += 1
                return f["kind"]
            return None

    def delay_for(self, action):
        with self.lock:
            d = self.delay
            if not d or (d.get("actions") and action not in d["actions"]):
                return 0.0
            return float(d.get("seconds", 0))


STATE = State()
FAST_LAUNCH = fast_launch.FastLaunch()


def record_transitions(action, body):
    table, id_tag, state, code = TRANSITIONS[action]
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return
    now = time.time()
    with STATE.lock:
        for el in root.iter():
            if local_name(el.tag) == id_tag and el.text:
                STATE.since[(table, el.text.strip())] = (now, state, code, action)


def rewrite_states(action, body):
    """Shows recent transitions as still in progress; returns the new body or None."""
    with STATE.lock:
        window = STATE.transitions
        since = dict(STATE.since)
    if not since or not window:
        return None
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    now, changed = time.time(), False
    images = action == "DescribeImages"
    for item in root.iter():
        kids = children(item)
        id_el = kids.get("imageId" if images else "instanceId")
        if id_el is None or not id_el.text:
            continue
        rec = since.get(("image" if images else "instance", id_el.text.strip()))
        if not rec:
            continue
        held = window.get(rec[3], 0.0) if isinstance(window, dict) else window
        if now - rec[0] >= held:
            continue
        if images and "imageState" in kids:
            kids["imageState"].text = rec[1]
            changed = True
        elif not images and "instanceState" in kids:
            state = children(kids["instanceState"])
            if "name" in state:
                state["name"].text = rec[1]
            if "code" in state:
                state["code"].text = rec[2]
            changed = True
    if not changed:
        return None
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    ET.register_namespace("", ns)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# IAM actions an access-denied fault answers in IAM's format (query protocol, ErrorResponse).
IAM_ACTIONS = {"CreateInstanceProfile", "CreateRole", "PutRolePolicy", "AddRoleToInstanceProfile",
               "GetInstanceProfile"}


def fault_response(kind, action):
    if kind == "access-denied" and action in IAM_ACTIONS:
        msg = ("User: arn:aws:iam::123456789012:user/ci is not authorized to perform: iam:%s on "
               "resource: arn:aws:iam::123456789012:role/packer-x because no identity-based "
               "policy allows the iam:%s action" % (action, action))
        body = ('<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error>'
                '<Type>Sender</Type><Code>AccessDenied</Code><Message>%s</Message></Error>'
                '<RequestId>rpack-test-%s-%d</RequestId></ErrorResponse>'
                % (msg, action, int(time.time() * 1000)))
        return 403, body.encode()
    if kind == "throttle":
        status, code, msg = 503, "RequestLimitExceeded", "Request limit exceeded."
    elif kind == "access-denied":
        # EC2's answer to a call the IAM policy refuses, with a (fake) encoded message as long
        # as real ones.
        status, code = 403, "UnauthorizedOperation"
        msg = ("You are not authorized to perform this operation. User: "
               "arn:aws:iam::123456789012:user/ci is not authorized to perform: ec2:%s on "
               "resource: arn:aws:ec2:us-east-1:123456789012:instance/* because no "
               "identity-based policy allows the ec2:%s action. Encoded authorization failure "
               "message: %s" % (action, action, ENCODED_BLOB))
    elif kind == "expired-token":
        status, code, msg = 400, "RequestExpired", "Request has expired."
    elif kind == "auth-failure":
        status, code, msg = (401, "AuthFailure",
                             "AWS was not able to validate the provided access credentials")
    else:
        status, code, msg = 500, "InternalError", "An internal error has occurred."
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code>'
            '<Message>%s</Message></Error></Errors><RequestID>rpack-test-%s-%d</RequestID>'
            '</Response>' % (code, msg, action, int(time.time() * 1000))).encode()
    return status, body


ENCODED_BLOB = "Zm9v" * 600


def decode_authorization_response(body, last_denied):
    """STS DecodeAuthorizationMessage (query protocol, botocore's sts 2011-06-15 model): the
    policy decision behind the last access-denied fault, for the encoded message the fault sent;
    any other message is InvalidAuthorizationMessageException (HTTP 400)."""
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    encoded = (form.get("EncodedMessage") or [""])[0]
    rid = "rpack-test-decode-%d" % int(time.time() * 1000)
    if encoded != ENCODED_BLOB or not last_denied:
        err = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
               '<Type>Sender</Type><Code>InvalidAuthorizationMessageException</Code>'
               '<Message>The encoded authorization message is not valid.</Message></Error>'
               '<RequestId>%s</RequestId></ErrorResponse>' % rid)
        return 400, err.encode()
    decoded = json.dumps({
        "allowed": False, "explicitDeny": False,
        "matchedStatements": {"items": []}, "failures": {"items": []},
        "context": {"principal": {"id": "AIDAEXAMPLE", "name": "ci",
                                  "arn": "arn:aws:iam::123456789012:user/ci"},
                    "action": "ec2:%s" % last_denied,
                    "resource": "arn:aws:ec2:us-east-1:123456789012:instance/*",
                    "conditions": {"items": []}}}, separators=(",", ":"))
    ok = ('<DecodeAuthorizationMessageResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
          '<DecodeAuthorizationMessageResult><DecodedMessage>%s</DecodedMessage>'
          '</DecodeAuthorizationMessageResult><ResponseMetadata><RequestId>%s</RequestId>'
          '</ResponseMetadata></DecodeAuthorizationMessageResponse>'
          % (xml.sax.saxutils.escape(decoded), rid))
    return 200, ok.encode()


def console_text(cfg):
    """A cloud-init boot log as EC2 instances print it, listing the host keys in cfg["keys"]."""
    stamp = time.strftime("%b %d %H:%M:%S", time.gmtime())
    lines = ["[    0.000000] Linux version 6.1.0 (rpack test stack)",
             "[    1.234567] cloud-init[512]: Cloud-init v. 23.1 running 'modules:config'"]
    keys = [k.split() for k in cfg.get("keys") or [] if len(k.split()) >= 2]
    if keys:
        tag = "<14>%s ec2: " % stamp
        lines += [tag, tag + "#" * 61, tag + "-----BEGIN SSH HOST KEY FINGERPRINTS-----"]
        for k in keys:
            digest = hashlib.sha256(base64.b64decode(k[1])).digest()
            fp = base64.b64encode(digest).decode().rstrip("=")
            lines.append(tag + "256 SHA256:%s root@ip-10-0-0-10 (%s)" % (fp, k[0]))
        lines += [tag + "-----END SSH HOST KEY FINGERPRINTS-----", tag + "#" * 61,
                  "-----BEGIN SSH HOST KEY KEYS-----"]
        lines += ["%s %s root@ip-10-0-0-10" % (k[0], k[1]) for k in keys]
        if cfg.get("truncate"):
            return "\r\n".join(lines)[:-10]
        lines.append("-----END SSH HOST KEY KEYS-----")
    lines.append("[   12.345678] cloud-init[777]: Cloud-init v. 23.1 finished")
    return "\r\n".join(lines) + "\r\n"


def rewrite_console(data, cfg):
    b64 = base64.b64encode(console_text(cfg).encode()).decode()
    new, n = re.subn(rb"<output>[^<]*</output>", ("<output>%s</output>" % b64).encode(), data)
    if n == 0:  # moto left the element out: add it
        new = re.sub(rb"</instanceId>", ("</instanceId><output>%s</output>" % b64).encode(), data, 1)
    return new


def stub_response(action):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<%sResponse xmlns="http://ec2.amazonaws.com/doc/'
            '2016-11-15/"><requestId>rpack-test-%s-%d</requestId><return>true</return></%sResponse>'
            % (action, action, int(time.time() * 1000), action)).encode()


def split_snapshot_tags(body):
    """CreateImage's form body without its snapshot TagSpecifications (renumbered), and the tags
    those asked for as [(key, value)]."""
    pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    specs = {}
    rest = []
    for k, v in pairs:
        m = re.match(r"TagSpecification\.(\d+)\.(.*)$", k)
        if m:
            specs.setdefault(int(m.group(1)), []).append((m.group(2), v))
        else:
            rest.append((k, v))
    snapshot_tags = []
    n = 0
    for i in sorted(specs):
        fields = dict(specs[i])
        if fields.get("ResourceType") == "snapshot":
            j = 1
            while "Tag.%d.Key" % j in fields:
                snapshot_tags.append((fields["Tag.%d.Key" % j], fields.get("Tag.%d.Value" % j, "")))
                j += 1
            continue
        n += 1
        rest.extend(("TagSpecification.%d.%s" % (n, f), v) for f, v in specs[i])
    return urllib.parse.urlencode(rest).encode(), snapshot_tags


def image_tag_specs(body):
    """The tags a RegisterImage form body asks for on the image, as [(key, value)]."""
    pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    specs = {}
    for k, v in pairs:
        m = re.match(r"TagSpecification\.(\d+)\.(.*)$", k)
        if m:
            specs.setdefault(int(m.group(1)), {})[m.group(2)] = v
    tags = []
    for i in sorted(specs):
        fields = specs[i]
        if fields.get("ResourceType") != "image":
            continue
        j = 1
        while "Tag.%d.Key" % j in fields:
            tags.append((fields["Tag.%d.Key" % j], fields.get("Tag.%d.Value" % j, "")))
            j += 1
    return tags


KMS_REASON = ("Client.InvalidKMSKey.InvalidState",
              "Client.InvalidKMSKey.InvalidState: The KMS key provided is in an incorrect state")


def encrypted_launch(body):
    """Whether a RunInstances form body asks for an encrypted EBS volume."""
    pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return any(re.match(r"BlockDeviceMapping\.\d+\.Ebs\.Encrypted$", k) and v == "true"
               for k, v in pairs)


def rewrite_kms_reasons(body, failed):
    """DescribeInstances with EC2's KMS state reason on the instances in `failed`."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    q = (lambda t: "{%s}%s" % (ns, t)) if ns else (lambda t: t)
    changed = False
    for item in root.iter():
        kids = children(item)
        id_el = kids.get("instanceId")
        if id_el is None or (id_el.text or "").strip() not in failed or "instanceState" not in kids:
            continue
        reason = kids.get("stateReason")
        if reason is None:
            reason = ET.SubElement(item, q("stateReason"))
        for k in list(reason):
            reason.remove(k)
        ET.SubElement(reason, q("code")).text = KMS_REASON[0]
        ET.SubElement(reason, q("message")).text = KMS_REASON[1]
        changed = True
    if not changed:
        return None
    ET.register_namespace("", ns)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None  # (host, port)
    local = threading.local()

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def action_of(self, body):
        target = self.headers.get("X-Amz-Target")  # JSON-protocol services: "Service.Action"
        if target:
            return target.rsplit(".", 1)[-1]
        query = urllib.parse.urlsplit(self.path).query
        for text in (body.decode("utf-8", "replace"), query):
            m = re.search(r"(?:^|&)Action=([^&]*)", text)
            if m:
                return urllib.parse.unquote_plus(m.group(1))
        return "%s %s" % (self.command, urllib.parse.urlsplit(self.path).path)

    def reply(self, status, body, headers=(), content_type=None):
        self.send_response_only(status)
        for k, v in headers:
            if k.lower() not in HOP_BY_HOP:
                self.send_header(k, v)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def control(self, body):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/__stack/calls" and self.command == "GET":
            with STATE.lock:
                out = {"calls": list(STATE.calls)}
        elif path == "/__stack/requests" and self.command == "GET":
            with STATE.lock:
                out = {"requests": list(STATE.requests)}
        elif path == "/__stack/fast_launch" and self.command == "GET":
            out = FAST_LAUNCH.report()
        elif path == "/__stack/fleets" and self.command == "GET":
            with STATE.lock:
                out = {"created": list(STATE.fleets_made), "deleted": list(STATE.fleets_deleted)}
        elif path == "/__stack/calls/reset" and self.command == "POST":
            with STATE.lock:
                STATE.calls.clear()
                STATE.requests.clear()
            out = {"ok": True}
        elif path == "/__stack/config" and self.command == "POST":
            try:
                cfg = json.loads(body or b"{}")
            except ValueError as e:
                return self.reply(400, ("bad JSON: %s" % e).encode(), content_type="text/plain")
            with STATE.lock:
                if "transitions" in cfg:
                    t = cfg["transitions"] or 0
                    STATE.transitions = ({k: float(v) for k, v in t.items()} if isinstance(t, dict)
                                         else float(t))
                if "fault" in cfg:
                    STATE.fault = dict(cfg["fault"], seen=0, failed=0) if cfg["fault"] else None
                if "delay" in cfg:
                    STATE.delay = cfg["delay"] or None
                if "stub" in cfg:
                    STATE.stub = set(cfg["stub"] or [])
                if "console" in cfg:
                    STATE.console = cfg["console"] or None
                if "raw_snapshot_tags" in cfg:
                    STATE.raw_snapshot_tags = bool(cfg["raw_snapshot_tags"])
                if "kms_launch_failure" in cfg:
                    STATE.kms_launch_failure = bool(cfg["kms_launch_failure"])
                if "fast_launch" in cfg:
                    FAST_LAUNCH.configure(cfg["fast_launch"])
                if "fleet_errors" in cfg:
                    STATE.fleet_errors = dict(cfg["fleet_errors"]) if cfg["fleet_errors"] else None
            out = {"ok": True}
        else:
            return self.reply(404, b"unknown control path", content_type="text/plain")
        self.reply(200, json.dumps(out).encode(), content_type="application/json")

    def upstream_conn(self):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(*self.upstream, timeout=120)
            self.local.conn = conn
        return conn

    def forward(self, body):
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):  # a kept-alive upstream connection may have been closed by moto
            try:
                conn = self.upstream_conn()
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.getheaders(), resp.read()
            except (http.client.HTTPException, OSError):
                try:
                    self.local.conn.close()
                except Exception:
                    pass
                self.local.conn = None
                if attempt == 2:
                    raise

    def tag_new_image_snapshots(self, data, tags):
        """After a CreateImage that asked for snapshot tags: tag the image's snapshots."""
        m = re.search(rb"<imageId>([^<]+)</imageId>", data)
        if not m:
            return
        image = m.group(1).decode()
        _, _, desc = self.local_call(
            {"Action": "DescribeImages", "Version": "2016-11-15", "ImageId.1": image})
        snaps = [s.decode() for s in re.findall(rb"<snapshotId>([^<]+)</snapshotId>", desc)]
        if not snaps:
            return
        form = {"Action": "CreateTags", "Version": "2016-11-15"}
        for i, s in enumerate(snaps, 1):
            form["ResourceId.%d" % i] = s
        for i, (k, v) in enumerate(tags, 1):
            form["Tag.%d.Key" % i] = k
            form["Tag.%d.Value" % i] = v
        self.local_call(form)

    def tag_registered_image(self, data, tags):
        """After a RegisterImage that asked for image tags: tag the new image."""
        m = re.search(rb"<imageId>([^<]+)</imageId>", data)
        if not m or not tags:
            return
        form = {"Action": "CreateTags", "Version": "2016-11-15", "ResourceId.1": m.group(1).decode()}
        for i, (k, v) in enumerate(tags, 1):
            form["Tag.%d.Key" % i] = k
            form["Tag.%d.Value" % i] = v
        self.local_call(form)

    def fail_launch_over_kms(self, found):
        """Terminates the instances a launch answer names (`found`: their ids), as EC2 does
        with a key the volumes cannot use, and remembers them for their state reason."""
        ids = [i.decode() for i in found]
        if not ids:
            return
        form = {"Action": "TerminateInstances", "Version": "2016-11-15"}
        for i, x in enumerate(ids, 1):
            form["InstanceId.%d" % i] = x
        self.local_call(form)
        with STATE.lock:
            STATE.kms_failed.update(ids)

    def image_exists(self, image):
        """Whether moto knows AMI `image`."""
        status, _, data = self.local_call(
            {"Action": "DescribeImages", "Version": "2016-11-15", "ImageId.1": image})
        return status == 200 and b"<imageId>" in data

    def local_call(self, form):
        """A call of the proxy's own to moto, signed like the request being handled."""
        return self.forward(urllib.parse.urlencode(form).encode())

    def handle_any(self):
        body = self.read_body()
        if self.path.startswith("/__stack/"):
            return self.control(body)
        action = self.action_of(body)
        with STATE.lock:
            STATE.requests.append([action, body.decode("utf-8", "replace")])
            stubbed = action in STATE.stub
        if action == "DecodeAuthorizationMessage":  # moto has no such call
            with STATE.lock:
                last = STATE.last_denied
            status, data = decode_authorization_response(body, last)
            with STATE.lock:
                STATE.calls.append([action, status, True])
            return self.reply(status, data, content_type="text/xml")
        kind = STATE.pick_fault(action)
        if kind:
            status, data = fault_response(kind, action)
            if kind == "access-denied":
                with STATE.lock:
                    STATE.last_denied = action
            with STATE.lock:
                STATE.calls.append([action, status, True])
            return self.reply(status, data, content_type="text/xml")
        if action == "CreateFleet":
            failure = STATE.take_fleet_error()
            if failure:
                fleet_id = "fleet-%s" % uuid.uuid4()
                with STATE.lock:
                    STATE.fleets_made.append(fleet_id)
                    STATE.calls.append([action, 200, True])
                return self.reply(200, fleets.failed_response(fleet_id, *failure),
                                  content_type="text/xml")
        if action == "DeleteFleets":
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            ids = [v[0] for k, v in form.items() if k.startswith("FleetId.")]
            with STATE.lock:
                ours = bool(ids) and all(i in STATE.fleets_made for i in ids)
                if ours:
                    STATE.fleets_deleted.extend(ids)
                    STATE.calls.append([action, 200, True])
            if ours:
                return self.reply(200, fleets.deleted_response(ids), content_type="text/xml")
        if action in fast_launch.ACTIONS and not stubbed:
            status, data = FAST_LAUNCH.answer(action, body, self.image_exists)
            with STATE.lock:
                STATE.calls.append([action, status, True])
            return self.reply(status, data, content_type="text/xml")
        if stubbed:
            data = stub_response(action)
            with STATE.lock:
                STATE.calls.append([action, 200, True])
            return self.reply(200, data, content_type="text/xml")
        snapshot_tags = []
        if action == "CreateImage" and b"snapshot" in body and not STATE.raw_snapshot_tags:
            body, snapshot_tags = split_snapshot_tags(body)
        try:
            status, headers, data = self.forward(body)
            if status == 200 and snapshot_tags:
                self.tag_new_image_snapshots(data, snapshot_tags)
            if status == 200 and action == "RegisterImage":
                self.tag_registered_image(data, image_tag_specs(body))
            if (status == 200 and action == "RunInstances" and STATE.kms_launch_failure
                    and encrypted_launch(body)):
                self.fail_launch_over_kms(re.findall(rb"<instanceId>([^<]+)</instanceId>", data))
            if (status == 200 and action == "CreateFleet" and STATE.kms_launch_failure
                    and fleets.template_encrypted(self.local_call, body)):
                self.fail_launch_over_kms(fleets.instance_ids(data))
            elif status == 200 and action == "CreateFleet":
                fleets.attach_template_volumes(self.local_call, body, fleets.instance_ids(data))
        except (http.client.HTTPException, OSError) as e:
            with STATE.lock:
                STATE.calls.append([action, 502, False])
            return self.reply(502, ("moto unreachable: %s" % e).encode(), content_type="text/plain")
        pause = STATE.delay_for(action)
        if pause > 0:  # moto has acted; only the answer is late, as with a slow API
            time.sleep(pause)
        if status == 200:
            if action in TRANSITIONS:
                record_transitions(action, data)
            elif action in REWRITTEN:
                data = rewrite_states(action, data) or data
                with STATE.lock:
                    failed = set(STATE.kms_failed)
                if failed and action == "DescribeInstances":
                    data = rewrite_kms_reasons(data, failed) or data
            elif action == "GetConsoleOutput" and STATE.console is not None:
                data = rewrite_console(data, STATE.console)
        with STATE.lock:
            STATE.calls.append([action, status, False])
        self.reply(status, data, headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: ec2_proxy.py UPSTREAM_URL")
    up = urllib.parse.urlsplit(sys.argv[1])
    Handler.upstream = (up.hostname, up.port or 80)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
