"""CreateFleet for the EC2 proxy, where moto falls short of EC2: the launch template's block
devices (moto's fleets launch without them; EC2 gives each instance a volume per EBS mapping of a
device the AMI does not have, tagged with the template's volume tags), a template asking for encrypted volumes (for the
proxy's `kms_launch_failure`), the instance ids of an answer, and the answers of an instant fleet
that launched nothing. `call(form)` is a call of the proxy's own to moto: (status, headers, body).
"""
import re
import time
import urllib.parse
import xml.etree.ElementTree as ET
import xml.sax.saxutils

from ec2_xml import children, local_name


def instance_ids(data):
    """The instance ids of a CreateFleet answer (fleetInstanceSet/item/instanceIds/item)."""
    return [i for block in re.findall(rb"<instanceIds>(.*?)</instanceIds>", data, re.S)
            for i in re.findall(rb"<item>\s*([^<\s]+)\s*</item>", block)]


def failed_response(fleet_id, code, message):
    esc = xml.sax.saxutils.escape
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<CreateFleetResponse xmlns="http://ec2.amazonaws'
            '.com/doc/2016-11-15/"><requestId>rpack-test-CreateFleet-%d</requestId><fleetId>%s'
            '</fleetId><errorSet><item><lifecycle>spot</lifecycle><errorCode>%s</errorCode>'
            '<errorMessage>%s</errorMessage></item></errorSet><fleetInstanceSet/>'
            '</CreateFleetResponse>'
            % (int(time.time() * 1000), fleet_id, esc(code), esc(message))).encode()


def deleted_response(ids):
    items = "".join("<item><currentFleetState>deleted_terminating</currentFleetState>"
                    "<previousFleetState>active</previousFleetState><fleetId>%s</fleetId></item>"
                    % i for i in ids)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<DeleteFleetsResponse xmlns="http://ec2.amazonaws'
            '.com/doc/2016-11-15/"><requestId>rpack-test-DeleteFleets-%d</requestId>'
            '<successfulFleetDeletionSet>%s</successfulFleetDeletionSet>'
            '<unsuccessfulFleetDeletionSet/></DeleteFleetsResponse>'
            % (int(time.time() * 1000), items)).encode()


def template(call, body):
    """The launchTemplateData element of CreateFleet's launch template version, or None."""
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    spec = "LaunchTemplateConfigs.1.LaunchTemplateSpecification."
    lt = form.get(spec + "LaunchTemplateId", [""])[0]
    if not lt:
        return None
    status, _, data = call({
        "Action": "DescribeLaunchTemplateVersions", "Version": "2016-11-15",
        "LaunchTemplateId": lt,
        "LaunchTemplateVersion.1": form.get(spec + "Version", ["$Latest"])[0]})
    if status != 200:
        return None
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    return next((e for e in root.iter() if local_name(e.tag) == "launchTemplateData"), None)

def attach_template_volumes(call, body, ids):
    """moto's CreateFleet launches without the launch template's block devices; EC2 gives
    the instance a volume for each EBS mapping of a device the AMI does not have, tagged with
    the template's volume tags.
    Done here through moto: CreateVolume in the instance's zone, AttachVolume, and the
    mapping's DeleteOnTermination."""
    data = template(call, body)
    if data is None or not ids:
        return
    maps = [m for e in data if local_name(e.tag) == "blockDeviceMappingSet" for m in e]
    tags = []
    for spec in (s for e in data if local_name(e.tag) == "tagSpecificationSet" for s in e):
        kids = children(spec)
        if kids.get("resourceType") is not None and kids["resourceType"].text == "volume":
            for t in (kids.get("tagSet") or []):
                kv = children(t)
                tags.append((kv["key"].text or "", (kv.get("value").text or "")
                             if kv.get("value") is not None else ""))
    for instance in ids:
        inst = instance.decode() if isinstance(instance, bytes) else instance
        _, _, desc = call({"Action": "DescribeInstances", "Version": "2016-11-15",
                           "InstanceId.1": inst})
        zone = re.search(rb"<availabilityZone>([^<]+)</availabilityZone>", desc)
        if not zone:
            continue
        # A mapping of a device the instance already has (the AMI's root) shapes that volume
        # in EC2, it is not a second one: moto made it, leave it.
        have = {d.decode() for d in re.findall(rb"<deviceName>([^<]+)</deviceName>", desc)}
        for m in maps:
            kids = children(m)
            ebs = kids.get("ebs")
            if (ebs is None or kids.get("noDevice") is not None
                    or kids["deviceName"].text in have):
                continue
            e = {local_name(x.tag): (x.text or "") for x in ebs}
            form = {"Action": "CreateVolume", "Version": "2016-11-15",
                    "AvailabilityZone": zone.group(1).decode(),
                    "Size": e.get("volumeSize") or "8"}
            for k, f in (("VolumeType", "volumeType"), ("Encrypted", "encrypted"),
                         ("KmsKeyId", "kmsKeyId"), ("SnapshotId", "snapshotId")):
                if e.get(f):
                    form[k] = e[f]
            if tags:
                form["TagSpecification.1.ResourceType"] = "volume"
                for i, (k, v) in enumerate(tags, 1):
                    form["TagSpecification.1.Tag.%d.Key" % i] = k
                    form["TagSpecification.1.Tag.%d.Value" % i] = v
            _, _, made = call(form)
            vol = re.search(rb"<volumeId>([^<]+)</volumeId>", made)
            if not vol:
                continue
            device = kids["deviceName"].text
            call({"Action": "AttachVolume", "Version": "2016-11-15",
                             "VolumeId": vol.group(1).decode(), "InstanceId": inst,
                             "Device": device})
            call({"Action": "ModifyInstanceAttribute", "Version": "2016-11-15",
                             "InstanceId": inst,
                             "BlockDeviceMapping.1.DeviceName": device,
                             "BlockDeviceMapping.1.Ebs.DeleteOnTermination":
                                 e.get("deleteOnTermination") or "false"})


def template_encrypted(call, body):
    """Whether CreateFleet's launch template (version) asks for an encrypted EBS volume."""
    data = template(call, body)
    return data is not None and any(
        local_name(e.tag) == "encrypted" and (e.text or "") == "true" for e in data.iter())
