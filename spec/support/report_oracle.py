#!/usr/bin/env python3
"""The report oracle: what Python's email package reads in a delivery status or feedback
report (RFC 3464 multipart/report, RFC 6533, RFC 5965), for spec/report_spec.lua.

    python3 spec/support/report_oracle.py FILE

Prints "key<TAB>value" lines; values escape backslash and the C0 controls as \\DDD.
  kind                 delivery-status | feedback-report | none
  group.n              the status part's field groups (Python reads each as a message)
  group.I.field.n      fields of group I, in order
  group.I.field.J.name the field's name as written; .value its value unfolded (the line
                       breaks of folding removed, RFC 5322 §2.2.3)
  returned.subject     the Subject of the returned message or headers
  returned.headers_only  1 for text/rfc822-headers, else 0
"""
import email
import re
import sys
from email import policy

STATUS = {"message/delivery-status": "delivery-status",
          "message/global-delivery-status": "delivery-status",
          "message/feedback-report": "feedback-report"}


def esc(s):
    return re.sub(r"[\x00-\x1f\\\x7f]", lambda m: "\\%03d" % ord(m.group(0)), s)


def put(k, v):
    sys.stdout.write("%s\t%s\n" % (k, esc(str(v))))


def main(path):
    with open(path, "rb") as f:
        m = email.message_from_binary_file(f, policy=policy.compat32)
    if m.get_content_type() != "multipart/report":
        put("kind", "none")
        return
    status = returned = None
    for p in m.get_payload():
        t = p.get_content_type()
        if status is None and t in STATUS:
            status = p
        elif returned is None and t in ("message/rfc822", "message/global",
                                        "text/rfc822-headers", "message/global-headers"):
            returned = p
    if status is None:
        put("kind", "none")
        return
    put("kind", STATUS[status.get_content_type()])
    groups = status.get_payload()
    put("group.n", len(groups))
    for i, g in enumerate(groups, 1):
        items = g.items()
        put("group.%d.field.n" % i, len(items))
        for j, (name, value) in enumerate(items, 1):
            put("group.%d.field.%d.name" % (i, j), name)
            put("group.%d.field.%d.value" % (i, j), re.sub(r"\r?\n", "", str(value)))
    if returned is not None:
        if returned.get_content_type() in ("text/rfc822-headers", "message/global-headers"):
            inner = email.message_from_string(returned.get_payload(decode=True)
                                              .decode("utf-8", "replace"))
            put("returned.headers_only", 1)
        else:
            inner = returned.get_payload()[0]
            put("returned.headers_only", 0)
        if inner["Subject"] is not None:
            put("returned.subject", str(inner["Subject"]))


if __name__ == "__main__":
    main(sys.argv[1])
