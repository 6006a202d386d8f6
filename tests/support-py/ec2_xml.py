"""EC2's query-protocol XML as the proxy's modules read it: element names without their
namespace, and an element's children by name."""


def local_name(tag):
    return tag.rsplit("}", 1)[-1]


def children(el):
    return {local_name(k.tag): k for k in el}
