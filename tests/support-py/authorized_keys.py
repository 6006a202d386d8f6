#!/usr/bin/env python3
"""sshd AuthorizedKeysCommand for the test sshd in EC2 mode (stdlib only).

EC2 puts the public key of the launch key pair into the instance's authorized_keys. This command
plays that part for the test sshd: it accepts the offered key only while a pending or running
instance in moto was launched with a key pair whose public key it is.

    AuthorizedKeysCommand /usr/bin/python3 -I -S authorized_keys.py MOTO_URL REGIONS STATE_DIR %t %k

REGIONS is a comma-separated list searched in order. An instance keeps the key it was launched
with even when the key pair is deleted later (as on EC2): the first time the key is seen for an
instance it is remembered in STATE_DIR/launch-keys.json. Each call appends one line to
STATE_DIR/akc.log. Any failure prints nothing, which denies the login.
"""
import json
import os
import sys
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET


def ec2(url, region, params):
    body = urllib.parse.urlencode(dict(params, Version="2016-11-15")).encode()
    req = urllib.request.Request(url.rstrip("/") + "/", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        # moto does not verify signatures; the credential scope picks service and region
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20200101/%s/ec2/aws4_request, "
                         "SignedHeaders=host, Signature=0" % region,
    })
    with urllib.request.urlopen(req, timeout=20) as resp:
        root = ET.fromstring(resp.read())
    for el in root.iter():
        el.tag = el.tag.rsplit("}", 1)[-1]
    return root


def text(el, tag):
    child = el.find(tag)
    return child.text.strip() if child is not None and child.text else None


def live_instances(url, region):
    """instance id -> key name, for pending/running instances launched with a key pair."""
    root = ec2(url, region, {"Action": "DescribeInstances",
                             "Filter.1.Name": "instance-state-name",
                             "Filter.1.Value.1": "pending", "Filter.1.Value.2": "running"})
    found = {}
    for inst in root.iter("item"):
        iid, key = text(inst, "instanceId"), text(inst, "keyName")
        if iid and key:
            found[iid] = key
    return found


def key_pairs(url, region):
    """key name -> key blob (base64 part of the OpenSSH public key)."""
    root = ec2(url, region, {"Action": "DescribeKeyPairs", "IncludePublicKey": "true"})
    out = {}
    for kp in root.iter("item"):
        name, pub = text(kp, "keyName"), text(kp, "publicKey")
        if name and pub and len(pub.split()) >= 2:
            out[name] = pub.split()[1]
    return out


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save(path, data):
    tmp = "%s.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def main():
    url, regions, state_dir, key_type, key_blob = sys.argv[1:6]
    remembered_path = os.path.join(state_dir, "launch-keys.json")
    remembered = load(remembered_path)  # "region/instance id" -> key blob
    verdict, matched = "denied: no pending/running instance was launched with this key", None
    try:
        for region in regions.split(","):
            instances = live_instances(url, region)
            if not instances:
                continue
            pairs = None
            for iid, key_name in sorted(instances.items()):
                ident = "%s/%s" % (region, iid)
                if ident not in remembered:
                    pairs = key_pairs(url, region) if pairs is None else pairs
                    if key_name in pairs:
                        remembered[ident] = pairs[key_name]
                        save(remembered_path, remembered)
                if remembered.get(ident) == key_blob:
                    verdict = "accepted: key pair %s of %s in %s" % (key_name, iid, region)
                    matched = key_name
                    break
            if matched:
                break
    except Exception as e:  # sshd must never see a traceback; no output means "denied"
        verdict = "denied: asking moto failed: %r" % (e,)
    try:
        with open(os.path.join(state_dir, "akc.log"), "a") as log:
            log.write("%s %s %s...: %s\n" % (time.strftime("%H:%M:%S"), key_type, key_blob[:24],
                                              verdict))
    except OSError:
        pass
    if matched:
        sys.stdout.write("%s %s ec2-key-pair:%s\n" % (key_type, key_blob, matched))


if __name__ == "__main__":
    main()
