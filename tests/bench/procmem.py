#!/usr/bin/env python3
"""Memory of a set of processes, from /proc/PID/smaps_rollup.

    procmem.py PID...        the given processes, summed
    procmem.py --tree PID    PID and all of its descendants, summed

Prints one JSON object:
    {"rss_kib": ..., "pss_kib": ..., "uss_kib": ..., "processes": N}
uss_kib is Private_Clean + Private_Dirty. Processes that vanish (or whose
smaps_rollup cannot be read) while this runs are skipped, not errors, and
are not counted in "processes". Reading other users' smaps needs root.
"""

import json
import os
import sys


def children_map():
    """ppid -> [pid] for every process in /proc."""
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name (field 2) may contain spaces and parentheses;
        # the fields after the last ')' are: state ppid ...
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) < 2:
            continue
        kids.setdefault(int(fields[1]), []).append(int(entry))
    return kids


def tree(root):
    kids = children_map()
    result, queue, seen = [], [root], {root}
    while queue:
        pid = queue.pop()
        result.append(pid)
        for child in kids.get(pid, ()):
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return sorted(result)


def rollup(pid):
    """{field: kB} from smaps_rollup, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            text = f.read()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].endswith(":") and parts[2] == "kB":
            values[parts[0][:-1]] = int(parts[1])
    # Kernel threads and zombies have an empty rollup.
    return values if "Rss" in values else None


def main(argv):
    if len(argv) == 2 and argv[0] == "--tree" and argv[1].isdigit():
        pids = tree(int(argv[1]))
    elif argv and all(a.isdigit() for a in argv):
        pids = sorted(set(int(a) for a in argv))
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    total = {"rss_kib": 0, "pss_kib": 0, "uss_kib": 0, "processes": 0}
    for pid in pids:
        values = rollup(pid)
        if values is None:
            continue
        total["rss_kib"] += values.get("Rss", 0)
        total["pss_kib"] += values.get("Pss", 0)
        total["uss_kib"] += values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)
        total["processes"] += 1
    print(json.dumps(total))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
