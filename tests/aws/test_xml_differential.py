"""Differential test: our XML parser (pkg/aws/xml.c) against expat.

Every file of the fuzz corpus (tests/aws/corpus/xml), of any fuzz findings
directory, and of the edge cases in tests/aws/xml-diff is parsed twice: by
aws_xml_parse() through the xml_dump helper, and by expat (Python's pyexpat,
which xml.etree uses) into the same canonical tree. Expat runs without
namespace processing, because our parser does not interpret namespaces (xml.h):
it is the XML 1.0 well-formedness judge, and names are compared by their local
part as our parser reports them.

- both accept: the trees must be equal (local names, each element's own text
  with line ends normalised, CDATA as text, references decoded, and where in
  its parent's text each child sits);
- expat refuses: ours must refuse too, never accept malformed XML;
- ours refuses what expat accepts: only for a refusal xml.h documents;
- ours accepts what expat refuses: only for what xml.h says it does not check.

Documents generated from fixed seeds add more of the "both accept" side, and
the size cap is probed at its edge.
"""

import glob
import json
import os
import random
import re
import subprocess
import xml.parsers.expat

import pytest

from waiting import HANG_GUARD_S

HERE = os.path.dirname(os.path.abspath(__file__))
DUMP = os.environ["GDB_XML_DUMP"]
# Refusals xml.h documents, so a hostile body cannot make the parser fetch,
# expand or allocate beyond a bound set by its own size.
MAX_BODY = 8 << 20  # AWS_XML_MAX_BODY
MAX_DEPTH = 256  # AWS_XML_MAX_DEPTH

DIRS = [os.path.join(HERE, "corpus", "xml"), os.path.join(HERE, "xml-diff")]
DIRS += sorted(glob.glob(os.path.join(HERE, "*findings*")))
FILES = sorted(f for d in DIRS for f in glob.glob(os.path.join(d, "*")) if os.path.isfile(f))


def ours(path):
    r = subprocess.run([DUMP, path], capture_output=True, timeout=HANG_GUARD_S)
    assert r.returncode == 0, f"{path}: xml_dump exited {r.returncode}: {r.stderr!r}"
    return json.loads(r.stdout)


class Expat:
    """The canonical tree from expat's events, the deepest nesting, every name, any DOCTYPE."""

    def __init__(self):
        self.stack, self.root, self.depth, self.names, self.doctype = [], None, 0, set(), False
        self.parser = p = xml.parsers.expat.ParserCreate()
        p.StartElementHandler = self.start
        p.EndElementHandler = self.end
        p.CharacterDataHandler = self.chars
        p.StartDoctypeDeclHandler = self.doctype_decl

    def parse(self, body):
        self.parser.Parse(body, True)

    def start(self, qname, attrs):
        parent = self.stack[-1] if self.stack else None
        pos = len("".join(parent["text"]).encode()) if parent else 0
        node = {"name": qname.rsplit(":", 1)[-1], "text": [], "pos": pos, "children": []}
        if parent:
            parent["children"].append(node)
        else:
            self.root = node
        self.stack.append(node)
        self.depth = max(self.depth, len(self.stack))
        self.names.add(qname)

    def end(self, qname):
        node = self.stack.pop()
        node["text"] = "".join(node["text"])

    def doctype_decl(self, *args):
        self.doctype = True

    def chars(self, data):
        self.stack[-1]["text"].append(data)


def documented_refusal(body, tree):
    """Why xml.h says our parser refuses body although expat accepts it, or None."""
    if len(body) > MAX_BODY:
        return "larger than AWS_XML_MAX_BODY"
    if tree.depth > MAX_DEPTH:
        return "nested deeper than AWS_XML_MAX_DEPTH"
    if tree.doctype:
        return "a DOCTYPE (no entity declarations)"
    if body.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in body[:4]:
        return "not UTF-8 (UTF-16)"
    decl = re.match(rb"(?:\xef\xbb\xbf)?<\?xml\s[^>]*?encoding\s*=\s*[\"']([^\"']*)", body)
    if decl and decl.group(1).lower() != b"utf-8":
        return "an encoding declaration that does not say UTF-8"
    decl = re.match(rb"(?:\xef\xbb\xbf)?<\?xml\s+version\s*=\s*[\"']([^\"']*)", body)
    if decl and not re.fullmatch(rb"1\.[0-9]+", decl.group(1)):
        return "an XML declaration whose version is not 1.x"
    if any(q.startswith(":") or q.endswith(":") for q in tree.names):
        return "a prefixed name with an empty prefix or local part"
    return None


def documented_acceptance(body, err, index):
    """What xml.h says our parser does not check, when that is all expat refused body for.

    index is the byte where expat stopped. A non-ASCII character expat will not
    take in a name is replaced by an ASCII name character and the body tried
    again, so the answer is None unless that was expat's only objection.
    """
    codes = xml.parsers.expat.errors.codes
    why = None
    for _ in range(64):
        if err.code == codes[xml.parsers.expat.errors.XML_ERROR_DUPLICATE_ATTRIBUTE]:
            return "duplicate attributes are not checked"
        in_tag = body.rfind(b"<", 0, index) > body.rfind(b">", 0, index)
        if err.code != codes[xml.parsers.expat.errors.XML_ERROR_INVALID_TOKEN] or not in_tag:
            return None
        if index >= len(body) or body[index] < 0x80:
            return None
        end = index + 1
        while end < len(body) and 0x80 <= body[end] < 0xC0:
            end += 1
        body = body[:index] + b"x" + body[end:]
        why = "the Unicode classes of non-ASCII name characters are not checked"
        tree = Expat()
        try:
            tree.parse(body)
            return why
        except xml.parsers.expat.ExpatError as e:
            err, index = e, tree.parser.ErrorByteIndex
    return None


@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.relpath(p, HERE))
def test_agrees_with_expat(path):
    check_file(path)


def check_file(path):
    """Our parser's answer on the file at path against expat's, by the rules above."""
    with open(path, "rb") as f:
        body = f.read()
    got = ours(path)
    tree = Expat()
    try:
        tree.parse(body)
    except LookupError as e:  # an encoding Python does not know: expat refuses
        assert "error" in got, f"{path}: expat refuses ({e}) but our parser accepts it: {got}"
        return
    except xml.parsers.expat.ExpatError as e:
        if "error" in got:
            return
        why = documented_acceptance(body, e, tree.parser.ErrorByteIndex)
        assert why, f"{path}: expat refuses ({e}) but our parser accepts it: {got}"
        return
    if "error" in got:
        why = documented_refusal(body, tree)
        assert why, f"{path}: expat accepts it but our parser refuses it ({got['error']})"
        return
    assert got == tree.root, f"{path}: the trees differ"


def test_the_inputs_are_there():
    """The corpus and the edge cases are found (an empty parametrisation would pass)."""
    names = {os.path.basename(f) for f in FILES}
    assert "describe_db_clusters.xml" in names and "cdata_mixed.xml" in names


# ---- generated documents: well-formed by construction, so both must accept ----

TEXT_PIECES = [
    "a",
    " ",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "é",
    "€",
    "😀",
    "]x",
    ">",
    "x y",
    "&amp;",
    "&lt;",
    "&gt;",
]
TEXT_PIECES += ["&quot;", "&apos;", "&#65;", "&#x1F600;", "&#13;", "&#xD;", "&#10;", "&#0000066;"]
TEXT_PIECES += [
    "<![CDATA[<&>]]>",
    "<![CDATA[]]>",
    "<![CDATA[\r\n]]]]>",
    "<!-- c -->",
    "<!---->",
    "<?p d?>",
    "<?q?>",
]
NAMES = ["a", "Foo", "a:b", "_x", "x.y-z9", "ns1:Item", "é", "a:é"]


def gen_element(rnd, depth):
    name = rnd.choice(NAMES)
    attrs = "".join(
        rnd.choice([" ", "\n", "\t"])
        + f"at{i}"
        + rnd.choice(["=", " = "])
        + rnd.choice(['"v&amp;\'"', "'v\"&#65;'", '""'])
        for i in range(rnd.randint(0, 2))
    )
    if rnd.random() < 0.2:
        return f"<{name}{attrs}{rnd.choice(['/', ' /'])}>"
    parts = []
    for _ in range(rnd.randint(0, 5)):
        if depth < 6 and rnd.random() < 0.4:
            parts.append(gen_element(rnd, depth + 1))
        else:
            parts.append(rnd.choice(TEXT_PIECES))
    return f"<{name}{attrs}>{''.join(parts)}</{name}{rnd.choice(['', ' ', chr(10)])}>"


def gen_document(rnd):
    prolog = rnd.choice(
        ["", "\ufeff", '<?xml version="1.0" encoding="UTF-8"?>\n', "<?xml version='1.0'?>"]
    )
    misc = lambda: rnd.choice(["", "\n", "<!-- m -->", "<?pi x?>\n"])  # noqa: E731
    return (prolog + misc() + gen_element(rnd, 0) + misc()).encode()


@pytest.mark.parametrize("seed", range(10))
def test_generated_documents_agree(seed, tmp_path):
    """Random well-formed documents of the constructs AWS bodies use give the same tree."""
    rnd = random.Random(seed)
    for i in range(30):
        body = gen_document(rnd)
        path = tmp_path / f"gen{i}.xml"
        path.write_bytes(body)
        tree = Expat()
        tree.parse(body)
        assert ours(str(path)) == tree.root, f"seed {seed} document {i} differs: {body!r}"


def test_size_cap_edge(tmp_path):
    """A body of exactly AWS_XML_MAX_BODY bytes parses like expat; one byte more is refused."""
    for extra, want_error in ((0, False), (1, True)):
        body = b"<r>" + b"a" * (MAX_BODY - 7 + extra) + b"</r>"
        path = tmp_path / "big.xml"
        path.write_bytes(body)
        tree = Expat()
        tree.parse(body)
        got = ours(str(path))
        if want_error:
            assert (
                "error" in got and documented_refusal(body, tree) == "larger than AWS_XML_MAX_BODY"
            )
        else:
            assert got == tree.root


# Bytes check_body() must stop at, as one character each: controls, NUL, DEL,
# non-ASCII (valid, truncated, overlong, surrogate, U+FFFE/U+FFFF, beyond
# U+10FFFF, five-byte), a child element, CR and a misplaced "]]>".
SPECIALS = [
    b"\x01",
    b"\x00",
    b"\x1f",
    b"\x7f",
    b"\xc3\xa9",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xef\xbf\xbe",
]
SPECIALS += [
    b"\xef\xbf\xbf",
    b"\xf4\x90\x80\x80",
    b"\xf0\x9f\x98\x80",
    b"\xe0\x80\x80",
    b"\xc0\x80",
]
SPECIALS += [b"\xf8\x88\x80\x80\x80", b"\xc2\x85", b"<a/>", b"\r", b"\r\n", b"]]>"]


@pytest.mark.parametrize("special", SPECIALS, ids=lambda b: b.hex())
def test_byte_at_every_word_offset(special, tmp_path):
    """The first pass reads eight bytes at a time: a byte it must notice, at each offset of a word."""
    for pad in range(17):
        for body in (
            b"<r>" + b"x" * pad + special + b"</r>",
            b"<r>" + b"x" * pad + special + b"y" * 9 + b"</r>",
            b"<r" + b"x" * pad + special + b"/>",
        ):
            path = tmp_path / "w.xml"
            path.write_bytes(body)
            check_file(str(path))
