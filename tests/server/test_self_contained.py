"""The tree builds, tests and explains itself from a plain clone.

No tracked file may read or cite something outside the repository: a sibling
folder (`../shared`), the folder the AWS models and protocol notes once lived in,
or a path of one particular machine. Each hit is reported as file:line and the
text, so the fix is obvious. The protocol notes the code cites live in
docs/aws-protocols.md, and every `§N.M` reference to them must name a section
that exists there.
"""

import os
import re
import subprocess

SOURCE = os.environ.get("GDB_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
THIS = os.path.relpath(os.path.abspath(__file__), SOURCE)

# What a self-contained tree never mentions (this file excepted: it names them).
OUTSIDE = [
    (re.compile(r"\.\./+shared\b"), "a sibling folder outside the repository"),
    (re.compile(r"(?<![\w./-])shared/"), "the sibling shared/ folder"),
    (re.compile(r"\baws-models\b"), "the outside folder of AWS models and notes"),
    (re.compile(r"\bPROTOCOLS\.md\b"), "the outside protocol notes: cite docs/aws-protocols.md"),
    (re.compile(r"/work/"), "a path on one machine"),
    (re.compile(r"/root/"), "a path in one user's home"),
    (re.compile(r"/home/(?!nonroot\b)[\w.-]+/"), "a path in one user's home"),
]

SKIP_DIRS = {".git", "__pycache__", ".pytest_cache"}


def tracked_files():
    """The repository's files: `git ls-files`, or a walk of the tree without git."""
    try:
        out = subprocess.run(
            ["git", "-C", SOURCE, "ls-files", "-z"],
            capture_output=True,
            check=True,
        ).stdout
        return sorted(p for p in out.decode().split("\0") if p)
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(SOURCE):
            dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not x.startswith("build")]
            files += [os.path.relpath(os.path.join(d, n), SOURCE) for n in names]
        return sorted(files)


def text_of(path):
    """The file's text, or None for a binary file or a file that is not there."""
    try:
        with open(os.path.join(SOURCE, path), "rb") as f:
            data = f.read()
    except (FileNotFoundError, IsADirectoryError):
        return None  # deleted in the work tree but still in the index, or a submodule
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


def outside_references(files):
    hits = []
    for path in files:
        if path == THIS:
            continue
        text = text_of(path)
        if text is None:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            for pattern, what in OUTSIDE:
                if pattern.search(line):
                    hits.append(f"{path}:{n}: {what}: {line.strip()[:160]}")
    return hits


def test_the_file_list_is_the_repository():
    files = tracked_files()
    for must in ("CMakeLists.txt", "docs/aws-protocols.md", "pkg/aws/sigv4.c", THIS):
        assert must in files, f"{must} not among the {len(files)} files found"


def test_nothing_reads_or_cites_a_path_outside_the_tree():
    hits = outside_references(tracked_files())
    assert not hits, "the tree refers outside itself:\n" + "\n".join(hits)


def test_the_check_finds_what_it_looks_for():
    samples = {
        "a.c": "/* see ../shared/notes.md */\n",
        "b.md": "`/work/shared/aws-models/PROTOCOLS.md`\n",
        "c.py": 'open("/root/x")\nopen("/home/alice/y")\n',
        "d.md": "clean text: tests/shared_state, /home/nonroot, usr/share/doc\n",
    }
    found = []
    for name, text in samples.items():
        for n, line in enumerate(text.splitlines(), 1):
            found += [(name, n, what) for pattern, what in OUTSIDE if pattern.search(line)]
    assert {(name, n) for name, n, _ in found} == {
        ("a.c", 1),
        ("b.md", 1),
        ("c.py", 1),
        ("c.py", 2),
    }
    # /work/ (shared/ inside a longer path is not the sibling folder), aws-models, PROTOCOLS.md
    assert len([f for f in found if f[0] == "b.md"]) == 3, found


def protocol_sections():
    with open(os.path.join(SOURCE, "docs", "aws-protocols.md")) as f:
        doc = f.read()
    return set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", doc, re.M))


def test_every_protocol_note_reference_resolves():
    sections = protocol_sections()
    assert {"1.5", "2.1", "2.2", "2.10", "6.1", "7.1", "7.2", "7.3", "8", "9.3"} <= sections
    refs = []
    for path in tracked_files():
        text = text_of(path)
        if text is None:
            continue
        # In the notes themselves and in docs/aws.md a bare § is one of theirs.
        bare = path in ("docs/aws-protocols.md", "docs/aws.md")
        pattern = r"§\s*(\d+(?:\.\d+)?)" if bare else r"aws-protocols\.md\s+§\s*(\d+(?:\.\d+)?)"
        for n, line in enumerate(text.splitlines(), 1):
            refs += [(path, n, s) for s in re.findall(pattern, line)]
    assert len(refs) >= 10, refs
    dangling = [f"{p}:{n}: §{s}" for p, n, s in refs if s not in sections]
    assert not dangling, "references to sections docs/aws-protocols.md lacks:\n" + "\n".join(
        dangling
    )
