"""Windows fast launch for the EC2 proxy (moto has none of it): EnableFastLaunch,
DescribeFastLaunchImages and DisableFastLaunch answered as EC2 answers them, with the fields and
XML names of botocore's EC2 model (EnableFastLaunchResult, DescribeFastLaunchImagesSuccessItem).

An enabled image shows state "enabling" for the first `polls` DescribeFastLaunchImages answers
that list it, then "enabled", or "enabling-failed" with `fail` as its stateTransitionReason.
DisableFastLaunch answers "disabling" and forgets the image. The image must exist in moto
(InvalidAMIID.NotFound otherwise, as EC2 answers).

Control (through the proxy's /__stack/config): "fast_launch": {"polls": n, "fail": reason|null}.
GET /__stack/fast_launch: {"images": {image id: state}, "disabled": [image id, ...]}.
"""
import threading
import time
import urllib.parse
import xml.sax.saxutils

ACTIONS = {"EnableFastLaunch", "DescribeFastLaunchImages", "DisableFastLaunch"}
NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
OWNER = "123456789012"


class FastLaunch:
    def __init__(self):
        self.lock = threading.Lock()
        self.polls = 1
        self.fail = None
        self.images = {}     # image id -> {"req": form, "seen": n, "state": s, "at": time}
        self.disabled = []

    def configure(self, cfg):
        with self.lock:
            self.polls = int((cfg or {}).get("polls", 1))
            self.fail = (cfg or {}).get("fail")

    def report(self):
        with self.lock:
            return {"images": {k: v["state"] for k, v in self.images.items()},
                    "disabled": list(self.disabled)}

    def answer(self, action, body, image_exists):
        """(status, XML) for one of ACTIONS; `image_exists(id)` asks moto."""
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}
        if action == "DescribeFastLaunchImages":
            wanted = [v for k, v in sorted(form.items()) if k.startswith("ImageId.")]
            with self.lock:
                items = []
                for image, rec in self.images.items():
                    if wanted and image not in wanted:
                        continue
                    rec["seen"] += 1
                    if rec["state"] == "enabling" and rec["seen"] > self.polls:
                        rec["state"] = "enabling-failed" if self.fail else "enabled"
                        rec["reason"] = self.fail or "Client.UserInitiatedFastLaunch"
                        rec["at"] = time.time()
                    items.append(item_xml(image, rec))
            return 200, response(action, "<fastLaunchImageSet>%s</fastLaunchImageSet>"
                                 % "".join("<item>%s</item>" % i for i in items))
        image = form.get("ImageId", "")
        if not image_exists(image):
            return 400, error("InvalidAMIID.NotFound",
                              "The image id '[%s]' does not exist" % image)
        with self.lock:
            if action == "EnableFastLaunch":
                rec = {"req": form, "seen": 0, "state": "enabling", "at": time.time(),
                       "reason": "Client.UserInitiatedFastLaunch"}
                self.images[image] = rec
            else:
                rec = self.images.pop(image, None)
                if rec is None:
                    return 400, error("InvalidParameterValue",
                                      "Fast launch is not enabled for image %s" % image)
                rec = dict(rec, state="disabling", at=time.time())
                self.disabled.append(image)
            return 200, response(action, item_xml(image, rec))


def item_xml(image, rec):
    req = rec["req"]
    lt = ""
    if any(k.startswith("LaunchTemplate.") for k in req):
        lt = "<launchTemplate>%s%s<version>%s</version></launchTemplate>" % (
            tag("launchTemplateId", req.get("LaunchTemplate.LaunchTemplateId")),
            tag("launchTemplateName", req.get("LaunchTemplate.LaunchTemplateName")),
            esc(req.get("LaunchTemplate.Version", "1")))
    return ("<imageId>%s</imageId><resourceType>%s</resourceType><snapshotConfiguration>"
            "<targetResourceCount>%s</targetResourceCount></snapshotConfiguration>%s"
            "<maxParallelLaunches>%s</maxParallelLaunches><ownerId>%s</ownerId><state>%s</state>"
            "<stateTransitionReason>%s</stateTransitionReason>"
            "<stateTransitionTime>%s</stateTransitionTime>"
            % (esc(image), esc(req.get("ResourceType", "snapshot")),
               esc(req.get("SnapshotConfiguration.TargetResourceCount", "5")), lt,
               esc(req.get("MaxParallelLaunches", "6")), OWNER, rec["state"],
               esc(rec["reason"]),
               time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(rec["at"]))))


def tag(name, value):
    return "<%s>%s</%s>" % (name, esc(value), name) if value else ""


def esc(s):
    return xml.sax.saxutils.escape(str(s))


def response(action, inner):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<%sResponse xmlns="%s"><requestId>'
            'rpack-test-%s-%d</requestId>%s</%sResponse>'
            % (action, NS, action, int(time.time() * 1000), inner, action)).encode()


def error(code, message):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code>'
            '<Message>%s</Message></Error></Errors><RequestID>rpack-test-%d</RequestID>'
            '</Response>' % (code, esc(message), int(time.time() * 1000))).encode()
