#!/usr/bin/env python3
"""Writes nettool's man pages (scdoc sources, then troff through scdoc).

The options, synopsis, description and exit statuses of each command come
from `nettool CMD --help`, itself generated from the option tables in
apps/nettool (cli_opts.h), so the pages cannot say something the program
does not; the hand-written parts (nettool.1.scd: the overview;
commands.scd: each command's examples and notes) live next to this script.
The exit-code table comes from docs/EXIT-CODES.md.

  mkman.py --nettool PATH --src docs/man --exit-codes docs/EXIT-CODES.md \
           --out DIR [--scdoc PATH]

Writes DIR/nettool.1 and DIR/nettool-CMD.1 (and the .scd it made them from).
"""
import argparse
import os
import re
import subprocess
import sys

ROW = re.compile(r"^  (-[A-Za-z0-9], )?--[A-Za-z0-9][A-Za-z0-9-]*")
COL = 26  # where cli_opts_help puts the descriptions
# "Options:", "Common options (the same in every command):", "TLS options:"
SECTION = re.compile(r"^(?:[A-Z][^:]*\s)?[Oo]ptions\b[^:]*:$")


def run_help(nettool, *args):
    out = subprocess.run([nettool, *args, "--help"], check=True,
                         stdout=subprocess.PIPE, universal_newlines=True)
    return out.stdout


def commands(nettool):
    """(name, summary) of every command, from `nettool --help`."""
    cmds, inside = [], False
    for line in run_help(nettool).splitlines():
        if line.startswith("commands:"):
            inside = True
        elif inside and not line.strip():
            break
        elif inside:
            name, summary = line.split(None, 1)
            cmds.append((name, summary.strip()))
    if not cmds:
        sys.exit("mkman: no commands in 'nettool --help'")
    return cmds


def parse_help(text):
    """Splits a command's --help into usage lines, description paragraphs,
    option sections [(title, [(term, help lines)])] and epilog paragraphs."""
    lines = text.splitlines()
    i, usage = 0, []
    while i < len(lines) and lines[i].strip():
        usage.append(lines[i])
        i += 1
    desc, sections, epilog = [], [], []
    para = []
    for line in lines[i:]:
        if SECTION.match(line):
            sections.append((line.rstrip(":"), []))
            continue
        if sections and ROW.match(line):
            # "  LEFT  HELP" or "  LEFT" alone when too long; LEFT never
            # holds two spaces in a row
            m = re.match(r"^  (\S.*?)(?: {2,}(\S.*))?$", line)
            left, rest = m.group(1), m.group(2)
            sections[-1][1].append([left, [rest] if rest else []])
            continue
        if sections and sections[-1][1] and line.startswith(" " * COL) \
                and not epilog and not para:
            sections[-1][1][-1][1].append(line.strip())
            continue
        if not line.strip():
            if para:
                (epilog if sections else desc).append(para)
                para = []
            continue
        para.append(line.strip())
    if para:
        (epilog if sections else desc).append(para)
    return usage, desc, sections, epilog


def esc(s):
    """scdoc text: its markup characters taken literally."""
    s = s.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")
    if s[:1] in ("-", "#", "[", "|", "]", ";"):
        s = "\\" + s
    return s


def term(left):
    """'-k, --insecure FILE' -> *-k*, *--insecure* _FILE_"""
    names, arg = [], ""
    for part in left.split(", "):
        name, _, a = part.partition(" ")
        names.append("*" + esc(name).lstrip("\\") + "*")
        arg = a or arg
    return ", ".join(names) + (" _" + esc(arg) + "_" if arg else "")


def option_text(helps):
    """The help lines of a row as scdoc: '(may be repeated)' and lines that
    start a new clause ('-F name=@path...') stay on lines of their own."""
    out = []
    for h in helps:
        if out and not h.startswith("-") and not h.startswith("("):
            out[-1] += " " + esc(h)
        else:
            out.append(esc(h))
    return " ++\n".join(out) if out else ""


def sections_from(extra):
    """commands.scd: '## CMD' then '### SECTION' blocks of scdoc text."""
    pages, cmd, sec = {}, None, None
    for line in extra.splitlines():
        m = re.match(r"^## (\S+)\s*$", line)
        if m:
            cmd, sec = m.group(1), None
            pages.setdefault(cmd, {})
            continue
        m = re.match(r"^### (.+?)\s*$", line)
        if m and cmd:
            sec = m.group(1)
            pages[cmd][sec] = []
            continue
        if cmd and sec:
            pages[cmd][sec].append(line)
    return {c: {s: "\n".join(v).strip() for s, v in d.items()}
            for c, d in pages.items()}


ENV_ALL = [
    ("NETTOOL\\_LOG", "the library's log level on stderr: none, error, "
     "warn (the default), info or debug. debug shows the protocol dialogue with "
     "passwords masked; *-v* shows only the dialogue."),
    ("NETTOOL\\_BACKEND", "the reactor's I/O backend: epoll (the default) or "
     "poll; any other name makes the commands fail (exit 1)."),
]
ENV_PROXY = [  # the clients (not ts-server, resolve)
    ("http\\_proxy, https\\_proxy, ftp\\_proxy, nntp\\_proxy, all\\_proxy",
     "without *--proxy*, the proxy for that URL scheme, else all\\_proxy "
     "(upper-case forms too, except HTTP\\_PROXY, as curl reads them): "
     "socks5://, socks5h:// or http:// (CONNECT) [USER[:PASS]@]HOST[:PORT]."),
    ("no\\_proxy, NO\\_PROXY", "hosts that go direct, with or without "
     "*--proxy*: names (and their subdomains), addresses, CIDR networks, "
     "or \\* for all."),
]
ENV_NNTP = [
    ("NNTPSERVER", "the news server (HOST[:PORT]) when neither *--server* "
     "nor a URL names one."),
    ("NNTPPASS", "the password for *-u* USER when none is given after a "
     "colon (the terminal is asked otherwise)."),
]


def env_section(name):
    env = ENV_ALL + ([] if name in ("ts-server", "resolve") else ENV_PROXY) + \
        (ENV_NNTP if name.startswith("nntp-") else [])
    return "\n\n".join("*%s*\n\t%s" % e for e in env)


def command_page(nettool, name, summary, allcmds, extra):
    usage, desc, sections, epilog = parse_help(run_help(nettool, name))
    out = ["nettool-%s(1)" % name, "", "# NAME", "",
           "nettool-%s - %s" % (name, esc(summary)), "", "# SYNOPSIS", ""]
    # the usage lines as they are, in a literal block
    out += ["```"] + [re.sub(r"^usage: ", "", u) if i == 0
                      else re.sub(r"^       ", "", u)
                      for i, u in enumerate(usage)] + ["```", ""]
    out += ["# DESCRIPTION", ""]
    for p in desc:
        out += [esc(" ".join(p)), ""]
    if extra.get("DESCRIPTION"):
        out += [extra["DESCRIPTION"], ""]
    # the paragraphs after the options: exit statuses, or more description
    exits = [p for p in epilog if re.match(r"^Exit (status|codes)", p[0])]
    for p in epilog:
        if p not in exits:
            out += [esc(" ".join(p)), ""]
    for title, rows in sections:
        heading = re.sub(r" \(.*", "", title).upper()
        out += ["# " + heading, ""]
        if heading == "COMMON OPTIONS":
            out += ["The same options mean the same thing in every nettool "
                    "command (see *nettool*(1)); the text says what they "
                    "mean here.", ""]
        for left, helps in rows:
            out += [term(left), "\t" + option_text(helps), ""]
    out += ["# EXIT STATUS", ""]
    if extra.get("EXIT STATUS"):
        out += [extra["EXIT STATUS"], ""]
    for p in exits:
        text = re.sub(r"^Exit (status|codes): ", "", " ".join(p))
        out += [esc(text[:1].upper() + text[1:]), ""]
    out += ["Failures print one line on stderr, _nettool: %s: what "
            "happened_. *nettool*(1) lists every exit code; "
            "docs/EXIT-CODES.md gives the cases for each command." % name, ""]
    out += ["# ENVIRONMENT", "", env_section(name), ""]
    for sec in ("EXAMPLES", "NOTES"):
        if extra.get(sec):
            out += ["# " + sec, "", extra[sec], ""]
    family = name.split("-")[0]
    see = ["*nettool*(1)"] + ["*nettool-%s*(1)" % c for c, _ in allcmds
                              if c != name and c.split("-")[0] == family]
    if extra.get("SEE ALSO"):
        see.append(extra["SEE ALSO"])
    out += ["# SEE ALSO", "", ", ".join(see), ""]
    return "\n".join(out)


def exit_codes(path):
    """The first table of docs/EXIT-CODES.md as scdoc terms."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\|\s*(\d+)\s*\|\s*([A-Z][A-Z0-9_]*)\s*\|\s*([^|]*)\|", line)
            if m:
                rows.append(m.groups())
            elif rows:
                break
    if not rows:
        sys.exit("mkman: no exit-code table in " + path)
    return "\n\n".join("*%s*\n\t%s: %s" % (c, n, esc(m.strip().replace("`", "")))
                       for c, n, m in rows)


def shared_options(nettool, allcmds):
    """The "Common options" of every command, each once with the commands
    that accept it (what it means there is on their pages)."""
    rows = {}  # term -> commands, in the order the help lists them
    for name, _ in allcmds:
        _, _, sections, _ = parse_help(run_help(nettool, name))
        for title, rs in sections:
            if title.startswith("Common options"):
                for left, _ in rs:
                    rows.setdefault(left, []).append(name)
    return "\n\n".join(
        "%s\n\t%s" % (term(left), "every command" if len(cmds) == len(allcmds)
                       else esc(", ".join(cmds)))
        for left, cmds in rows.items())


def main_page(nettool, src, allcmds, codes):
    with open(os.path.join(src, "nettool.1.scd"), encoding="utf-8") as f:
        text = f.read()
    cmdlist = "\n\n".join("*nettool-%s*(1)\n\t%s" % (c, esc(s))
                          for c, s in allcmds)
    return (text.replace("@COMMANDS@", cmdlist)
                .replace("@SHARED_OPTIONS@", shared_options(nettool, allcmds))
                .replace("@EXIT_CODES@", codes)
                .replace("@ENVIRONMENT@", "\n\n".join(
                    "*%s*\n\t%s" % e for e in ENV_ALL + ENV_PROXY + ENV_NNTP)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nettool", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--exit-codes", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--scdoc", default="scdoc")
    ap.add_argument("--expect", nargs="*", default=[],
                    help="the pages the build expects (a warning names others)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    allcmds = commands(a.nettool)
    with open(os.path.join(a.src, "commands.scd"), encoding="utf-8") as f:
        extras = sections_from(f.read())
    unknown = set(extras) - {c for c, _ in allcmds}
    if unknown:
        sys.exit("mkman: commands.scd describes unknown commands: %s"
                 % ", ".join(sorted(unknown)))
    pages = {"nettool": main_page(a.nettool, a.src, allcmds,
                                  exit_codes(a.exit_codes))}
    for name, summary in allcmds:
        pages["nettool-" + name] = command_page(a.nettool, name, summary,
                                                allcmds, extras.get(name, {}))
    made = {os.path.join(a.out, p + ".1") for p in pages}
    for extra in sorted(made - set(a.expect)) if a.expect else []:
        print("mkman: warning: %s is not installed: add its command to "
              "CMakeLists.txt's man page list" % extra, file=sys.stderr)
    for page, text in pages.items():
        scd = os.path.join(a.out, page + ".1.scd")
        with open(scd, "w", encoding="utf-8") as f:
            f.write(text)
        with open(scd, "rb") as fin, open(os.path.join(a.out, page + ".1"),
                                          "wb") as fout:
            if subprocess.run([a.scdoc], stdin=fin, stdout=fout).returncode:
                sys.exit("mkman: scdoc failed on " + scd)


if __name__ == "__main__":
    main()
