#!/usr/bin/env python3
"""The corpus oracle: what Python's email package reads in a message.

    python3 spec/support/oracle.py FILE...

For each FILE it prints "@message<TAB>FILE", then one "key<TAB>value" line per field
missive also exposes, then "@end".  Values escape backslash, DEL and the C0 controls
as \\DDD (decimal), so a Lua pattern splits the lines and one gsub restores them (no
JSON library needed on Lua 5.1..5.4).  An absent field has no line.  If Python itself fails
on a message the record holds one "error" key.

Keys:
  subject, date, message_id          the first such header, decoded, blanks collapsed
  from.n, from.I.name, from.I.addr   likewise to.*, cc.*: every mailbox, groups flattened
  text, html                         the body parts, decoded to str, CRLF read as LF
  att.n, att.I.filename, att.I.type, att.I.size, att.I.sha256
                                     every other leaf part, in document order
  att.I.subject                      (message/rfc822) the Subject of the enclosed message
  att.I.status                       (message/delivery-status) its Status values,
                                     (message/disposition-notification) its Disposition,
                                     (message/feedback-report) its Feedback-Type
  structure                          the MIME tree: "multipart/mixed[text/plain,image/png]"
  part.n, part.I.sha256              every leaf's raw (encoded) body, line ends as LF
  x_corpus_check                     the header the corpus spec adds before re-serialising
  defects                            Python's defect class names, sorted, unique

Where the oracle reads beyond Python's defaults it says why next to the code: every such
place follows what mail clients and GMime do and what RFC text asks.
"""
import binascii
import email
import email.errors
import email.header
import email.policy
import email.utils
import hashlib
import mimetypes
import re
import sys

DEFAULT = email.policy.default

# Charset labels as the WHATWG Encoding Standard maps them (what mail clients and
# browsers do): a label that names a subset is read as its superset, so gb2312 text that
# uses GBK characters, big5 with CP950 characters and ks_c_5601-1987 Korean decode, and
# 8-bit bytes under us-ascii or latin-1 labels are windows-1252.
WHATWG = {
    "us-ascii": "cp1252", "ascii": "cp1252", "ansi_x3.4-1968": "cp1252",
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252",
    "latin-1": "cp1252", "l1": "cp1252", "windows-1252": "cp1252",
    "iso-8859-9": "cp1254", "latin5": "cp1254", "iso-8859-11": "cp874", "tis-620": "cp874",
    "gb2312": "gbk", "gb_2312-80": "gbk", "x-gbk": "gbk", "chinese": "gbk",
    "big5": "big5", "big5-hkscs": "big5", "x-x-big5": "big5", "cn-big5": "big5",
    "ks_c_5601-1987": "cp949", "ks_c_5601-1989": "cp949", "euc-kr": "cp949",
    "korean": "cp949", "ksc5601": "cp949", "windows-949": "cp949",
    # cp932 is WHATWG's Shift_JIS but for a few row-1 symbols (0x8160 is U+FF5E there,
    # U+301C in WHATWG): the corpus does not use them.
    "shift_jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "ms_kanji": "cp932",
    "windows-31j": "cp932", "x-mac-roman": "mac_roman", "macintosh": "mac_roman",
}


def codec_for(label):
    label = (label or "").strip().strip('"').lower()
    # Text without a charset label is read as windows-1252, like us-ascii (what mail
    # clients do with 8-bit text nobody labelled; plain ASCII reads the same either way).
    if label == "":
        return "cp1252"
    label = WHATWG.get(label, label)
    try:
        "".encode(label)
    except LookupError:
        return "cp1252"
    return label


def decode_text(data, label):
    codec = codec_for(label)
    if codec == "big5":
        # WHATWG's big5 is Big5 with the CP950 and HKSCS extensions; Python has them
        # in two codecs.
        for c in ("cp950", "big5hkscs"):
            try:
                return data.decode(c)
            except UnicodeDecodeError:
                pass
        codec = "cp950"
    return data.decode(codec, errors="replace")


def esc(s):
    """Backslash, TAB, CR, LF and the other C0 controls and DEL as \\DDD (decimal, as
    in Lua source): one gsub undoes it."""
    return "".join("\\%03d" % ord(ch) if ord(ch) < 0x20 or ch in "\\\x7f" else ch
                   for ch in s)


def blanks(s):
    """Runs of blanks become one space, ends trimmed.  Unfolding (RFC 5322 2.2.3) keeps
    the folding blank, and parsers differ on TAB versus space and on a blank at either
    end; none of that is content.  A blank that is there or not (between encoded-words)
    still shows."""
    return re.sub(r"[ \t\r\n]+", " ", s).strip()


EW_LABEL = re.compile(r"(=\?)([^?*]+)(?=[*?])")


def raw_header(msg, name):
    """The first `name` header as text: unfolded; raw 8-bit bytes read as UTF-8 (RFC
    6532), or as windows-1252 when they are not UTF-8.  Python keeps such bytes as
    surrogates and its header parser then yields U+FFFD."""
    for k, v in msg.raw_items():
        if k.lower() == name:
            v = "".join(re.split(r"\r\n|\r|\n", str(v)))
            if re.search("[\udc80-\udcff]", v):
                b = v.encode("ascii", "surrogateescape")
                try:
                    v = b.decode("utf-8")
                except UnicodeDecodeError:
                    v = b.decode("cp1252", errors="replace")
            # An encoded-word's charset label is read as WHATWG says, like body text
            # (Outlook labels windows-1252 dashes and quotes iso-8859-1).
            return EW_LABEL.sub(lambda m: m.group(1) + WHATWG.get(m.group(2).lower(),
                                                                  m.group(2)), v)
    return None


def decoded_unstructured(raw):
    value = str(DEFAULT.header_factory("subject", raw))
    # Some mailers split one character across two encoded-words (against RFC 2047
    # section 5); compat32's decode_header joins adjacent words of a charset before
    # decoding, as GMime and mail clients do.  Used only where the default policy gave
    # U+FFFD and compat32 does not.
    if "\ufffd" in value and "\ufffd" not in raw:
        try:
            alt = str(email.header.make_header(email.header.decode_header(raw)))
            if "\ufffd" not in alt:
                value = alt
        except (email.errors.HeaderParseError, LookupError, UnicodeError):
            pass
    return value


def addresses(msg, name):
    raw = raw_header(msg, name)
    if raw is None:
        return None
    h = DEFAULT.header_factory(name, raw)
    out = []
    for a in h.addresses:
        dn = a.display_name
        if not dn:
            # "addr (Full Name)": RFC 822's habit of naming a mailbox in a comment after
            # it.  Python drops the comment; GMime, Thunderbird and mutt show it as the
            # name, and so does missive.
            m = re.search(re.escape(a.addr_spec) + r"[ \t]*\(([^()]*)\)", raw)
            if m:
                dn = m.group(1)
        out.append((dn, a.addr_spec))
    return out


def is_leaf(part):
    return part.get_content_maintype() != "multipart" or not part.is_multipart()


def leaves(part):
    """Leaf parts in document order; message/* parts are leaves (their inside belongs to
    the enclosed message)."""
    if part.get_content_maintype() == "message" or is_leaf(part):
        yield part
        return
    for sub in part.get_payload():
        yield from leaves(sub)


REPORTS = {"message/delivery-status": "status",
           "message/disposition-notification": "disposition",
           "message/feedback-report": "feedback-type"}
UU_BEGIN = re.compile(rb"^begin [0-7]{3,4} (.+?)\r?$")


def uu_blocks(data):
    """uuencoded blocks inside a text body ("begin 644 name" .. "end"), as Eudora, old
    Outlook and Usenet posters wrote them.  Python leaves them in the text; mail clients
    show them as attachments and the text around them as the body, which is what the
    oracle reports: (text without the blocks, [(name, bytes)])."""
    lines = data.split(b"\n")
    kept, found, i = [], [], 0
    while i < len(lines):
        m = UU_BEGIN.match(lines[i])
        if m is None:
            kept.append(lines[i])
            i += 1
            continue
        j = i + 1
        out = []
        while j < len(lines) and lines[j].rstrip(b"\r") != b"end":
            ln = lines[j].rstrip(b"\r")
            if ln and ln != b"`":
                try:
                    out.append(binascii.a2b_uu(ln))
                except binascii.Error:
                    # Some encoders pad lines; decode the length the count byte says.
                    nbytes = (ln[0] - 32) & 63
                    out.append(binascii.a2b_uu(ln[:((nbytes + 2) // 3) * 4 + 1]))
            j += 1
        if j >= len(lines):        # no "end": not a block
            kept.append(lines[i])
            i += 1
            continue
        found.append((m.group(1).decode("utf-8", "replace"), b"".join(out)))
        i = j + 1
    return b"\n".join(kept), found


def text_of(part):
    data = part.get_payload(decode=True) or b""
    label = part.get_param("charset")
    if isinstance(label, tuple):           # RFC 2231 form
        label = email.utils.collapse_rfc2231_value(label)
    uu = []
    if part.get_content_subtype() == "plain":
        data, uu = uu_blocks(data)
    return decode_text(data, label).replace("\r\n", "\n"), uu


def structure(part, raws):
    """The MIME tree as text ("multipart/mixed[text/plain,image/png]"), and the raw
    (still encoded) body of every leaf appended to raws, line ends read as LF: what a
    re-serialiser that leaves untouched parts alone keeps byte for byte."""
    ctype = part.get_content_type()
    if part.get_content_maintype() == "multipart" and part.is_multipart():
        return ctype + "[" + ",".join(structure(p, raws) for p in part.get_payload()) + "]"
    if ctype == "message/rfc822" and part.is_multipart():
        return ctype + "[" + structure(part.get_payload(0), raws) + "]"
    raw = part._payload      # get_payload() would decode 8-bit text: the bytes as sent
    if isinstance(raw, str):
        raws.append(raw.encode("ascii", "surrogateescape").replace(b"\r\n", b"\n"))
    else:                    # a report read as header blocks: no bytes kept
        raws.append(None)
    return ctype


def defects_of(msg):
    names = set()
    for part in msg.walk():
        for d in part.defects:
            names.add(type(d).__name__)
        for k, _ in part.raw_items():
            try:
                for d in part[k].defects:
                    names.add(type(d).__name__)
            except Exception:       # a header Python cannot parse at all
                names.add("HeaderParseFailure")
    return sorted(names)


def fields(data):
    msg = email.message_from_bytes(data, policy=DEFAULT)
    out = []

    def put(k, v):
        if v is not None:
            out.append((k, str(v)))

    subj = raw_header(msg, "subject")
    put("subject", blanks(decoded_unstructured(subj)) if subj is not None else None)
    for k, name in (("date", "date"), ("message_id", "message-id")):
        v = raw_header(msg, name)
        put(k, blanks(v) if v is not None else None)
    for name in ("from", "to", "cc"):
        lst = addresses(msg, name)
        if lst is None:
            continue
        put(name + ".n", len(lst))
        for i, (dn, addr) in enumerate(lst, 1):
            if dn:
                put("%s.%d.name" % (name, i), blanks(dn))
            put("%s.%d.addr" % (name, i), addr)

    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    atts = []
    if plain is not None:
        text, uu = text_of(plain)
        put("text", text)
    if html is not None:
        put("html", text_of(html)[0])
    for part in leaves(msg):
        if part is plain:
            atts.extend(("uu", name, body) for name, body in uu)
            continue
        if part is html:
            continue
        atts.append(("part", part, None))
    put("att.n", len(atts))
    for i, (kind, p, body) in enumerate(atts, 1):
        key = "att.%d." % i
        if kind == "uu":
            put(key + "filename", p)
            # No header names a type: like mail clients, guess it from the name.
            put(key + "type", mimetypes.guess_type(p, strict=True)[0]
                or "application/octet-stream")
        else:
            put(key + "filename", p.get_filename())
            put(key + "type", p.get_content_type())
            ctype = p.get_content_type()
            if ctype == "message/rfc822" and p.is_multipart():
                inner = p.get_payload(0)
                s = raw_header(inner, "subject")
                put(key + "subject",
                    blanks(decoded_unstructured(s)) if s is not None else None)
                continue
            if ctype in REPORTS and p.is_multipart():
                # Python reads a report as header blocks and keeps no bytes: compare the
                # field that carries the outcome.
                field = REPORTS[ctype]
                st = [blanks(b.get(field, "")) for b in p.get_payload() if b.get(field)]
                put(key + "status", ",".join(st))
                continue
            body = p.get_payload(decode=True)
            if body is None:
                continue
        put(key + "size", len(body))
        put(key + "sha256", hashlib.sha256(body).hexdigest())
    raws = []
    put("structure", structure(msg, raws))
    put("part.n", len(raws))
    for i, raw in enumerate(raws, 1):
        put("part.%d.sha256" % i, hashlib.sha256(raw).hexdigest() if raw is not None else "-")
    put("x_corpus_check", raw_header(msg, "x-corpus-check"))
    put("defects", ",".join(defects_of(msg)))
    return out


def main(paths):
    w = sys.stdout.write
    for path in paths:
        w("@message\t%s\n" % esc(path))
        try:
            with open(path, "rb") as f:
                data = f.read()
            for k, v in fields(data):
                w("%s\t%s\n" % (k, esc(v)))
        except Exception as e:           # the record says so; the next file still runs
            w("error\t%s\n" % esc("%s: %s" % (type(e).__name__, e)))
        w("@end\n")


if __name__ == "__main__":
    sys.stdout.reconfigure(encoding="utf-8", errors="surrogateescape")
    main(sys.argv[1:])
