#!/usr/bin/env python3
"""A minimal worker replay core, written from docs/protocol.md alone.

It shows that the protocol document is enough to build a worker in another
language: given one workflow task (a conformance fixture's `history`) and the
workflow code (the fixture's `script`, interpreted below), it replays the
history by the procedure of docs/protocol.md, "Replay", and returns what the
worker would call next: `complete_workflow_task` with the commands of the
current activation, or `fail_workflow_task` with a `NonDeterminismError`.
Standard library only (Python 3.11).

    python3 test/conformance/minimal_worker.py test/conformance/*.json

prints one line per fixture and ends with "N passed, N failed" (exit status 1
on any failure). The fixture format and the script vocabulary are described
in test/conformance/README.md.

    python3 test/conformance/minimal_worker.py --live DSN test/conformance/*.json

drives a live engine instead (through `psql`, docs/protocol.md, "The worker
loop"): it starts one workflow per script of `LIVE` below (the scripts come
from the fixtures), serves their workflow and activity tasks, sends their
signals once their first task completed, checks every completion's answer and
the workflows' results, and prints one line per workflow.
"""
import json
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

# Fixtures this worker knowingly does not support, with the reason. They are
# reported as skipped, not failed. Empty: every fixture is in the vocabulary.
SKIP = {}


class NonDeterminism(Exception):
    def __init__(self, event_id, message):
        super().__init__(message)
        self.event_id = event_id


class Unsupported(Exception):
    """Something outside the script vocabulary or this worker's scope."""


# ------------------------------------------------------------- matching
# docs/protocol.md, "Matching commands to events": command type -> its
# command event type and the fields that must be equal. `ids` maps an
# activity_id to the event id of its ActivityTaskScheduled.
def _wid(a):
    return (a.get("workflow_execution") or {}).get("workflow_id")


MATCH = {
    "schedule_activity": ("ActivityTaskScheduled", lambda c, a, ids:
                          c["activity_id"] == a["activity_id"] and c["activity_type"] == a["activity_type"]),
    "request_cancel_activity": ("ActivityTaskCancelRequested", lambda c, a, ids:
                                ids.get(c["activity_id"]) == a["scheduled_event_id"]),
    "start_timer": ("TimerStarted", lambda c, a, ids: c["timer_id"] == a["timer_id"]),
    "cancel_timer": ("TimerCanceled", lambda c, a, ids: c["timer_id"] == a["timer_id"]),
    "record_marker": ("MarkerRecorded", lambda c, a, ids: c["marker_name"] == a["marker_name"] and (
        c["marker_name"] != "core_patch" or c["details"]["patch_id"] == a["details"]["patch_id"])),
    "upsert_search_attributes": ("UpsertWorkflowSearchAttributes", lambda c, a, ids: True),
    "start_child_workflow": ("StartChildWorkflowExecutionInitiated", lambda c, a, ids:
                             c["workflow_id"] == a["workflow_id"] and c["workflow_type"] == a["workflow_type"]),
    "signal_external_workflow": ("SignalExternalWorkflowExecutionInitiated", lambda c, a, ids:
                                 c["workflow_id"] == _wid(a) and c["signal_name"] == a["signal_name"]),
    "request_cancel_external_workflow": ("RequestCancelExternalWorkflowExecutionInitiated",
                                         lambda c, a, ids: c["workflow_id"] == _wid(a)),
    "accept_update": ("WorkflowExecutionUpdateAccepted", lambda c, a, ids:
                      c["update_id"] == a["protocol_instance_id"]
                      and c["name"] == a["accepted_request"]["input"]["name"]),
    "complete_update": ("WorkflowExecutionUpdateCompleted", lambda c, a, ids:
                        c["update_id"] == a["meta"]["update_id"]),
    "complete_workflow": ("WorkflowExecutionCompleted", lambda c, a, ids: True),
    "fail_workflow": ("WorkflowExecutionFailed", lambda c, a, ids: True),
    "cancel_workflow": ("WorkflowExecutionCanceled", lambda c, a, ids: True),
    "continue_as_new": ("WorkflowExecutionContinuedAsNew", lambda c, a, ids: True),
}
COMMAND_EVENTS = {event for event, _ in MATCH.values()}


def _deprecated_patch(marker_name, details):
    return marker_name == "core_patch" and bool((details or {}).get("deprecated"))


def match(commands, events, started_id, run):
    """Walk an activation's commands and its command events side by side."""
    commands = [c for c in commands if c["type"] != "reject_update"]
    ci = ei = 0
    while ci < len(commands) or ei < len(events):
        c = commands[ci] if ci < len(commands) else None
        e = events[ei] if ei < len(events) else None
        a = e["attributes"] if e else None
        if c and e and MATCH[c["type"]][0] == e["event_type"] and MATCH[c["type"]][1](c, a, run.activity_event):
            if c["type"] == "schedule_activity":
                run.activity_event[c["activity_id"]] = e["event_id"]
                run.activity_of[e["event_id"]] = c["activity_id"]
            ci, ei = ci + 1, ei + 1
        elif e and e["event_type"] == "MarkerRecorded" and a["marker_name"] == "core_local_activity":
            raise Unsupported("local activity markers")
        elif e and e["event_type"] == "MarkerRecorded" and _deprecated_patch(a["marker_name"], a.get("details")):
            ei += 1                     # a deprecated patch marker without partner
        elif c and c["type"] == "record_marker" and _deprecated_patch(c["marker_name"], c.get("details")):
            ci += 1
        elif e is None:
            raise NonDeterminism(started_id, f"the code sent {c['type']} but the task has no command event left")
        elif c is None:
            raise NonDeterminism(e["event_id"], f"{e['event_type']} has no command in the code")
        else:
            raise NonDeterminism(e["event_id"], f"{e['event_type']} does not match the code's {c['type']}")


# ------------------------------------------------------------- the script
class Run:
    """One workflow run: a deterministic interpreter of a fixture script."""

    def __init__(self, script):
        self.steps = list(script)       # the steps still to run, in order
        self.waiting = None             # the blocked step, with its timer/activity id
        self.closed = False
        self.args = None
        self.vars = {}
        self.signals = []               # buffered (name, input), oldest first
        self.cancel_requested = False
        self.fired = set()              # timer ids
        self.results = {}               # activity_id -> result
        self.failed = set()             # activity ids closed other than completed
        self.timer_seq = self.activity_seq = 0
        self.activity_event = {}        # activity_id -> ActivityTaskScheduled id
        self.activity_of = {}           # ActivityTaskScheduled id -> activity_id
        self.patches = {}               # patch_id -> patched() value, memoised
        self.patch_markers = set()      # patch ids recorded by replayed tasks
        self.replaying = False
        self.commands = []

    def value(self, v):
        if isinstance(v, dict) and len(v) == 1 and "$arg" in v:
            i = v["$arg"]
            return self.args[i] if isinstance(self.args, list) and i < len(self.args) else None
        if isinstance(v, dict) and len(v) == 1 and "$var" in v:
            return self.vars[v["$var"]]
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, dict):
            return {k: self.value(x) for k, x in v.items()}
        return v

    def apply(self, e):
        """docs/protocol.md, "What each event does" (the events a script uses)."""
        t, a = e["event_type"], e["attributes"]
        if t == "WorkflowExecutionStarted":
            self.args = a.get("input")
        elif t == "WorkflowExecutionSignaled":
            self.signals.append((a["signal_name"], a.get("input")))
        elif t == "WorkflowExecutionCancelRequested":
            self.cancel_requested = True
        elif t == "ActivityTaskCompleted":
            self.results[self.activity_of[a["scheduled_event_id"]]] = a.get("result")
        elif t in ("ActivityTaskFailed", "ActivityTaskTimedOut", "ActivityTaskCanceled"):
            self.failed.add(self.activity_of[a["scheduled_event_id"]])
        elif t == "TimerFired":
            self.fired.add(a["timer_id"])
        elif t.startswith(("ChildWorkflowExecution", "StartChildWorkflow", "ExternalWorkflow",
                           "SignalExternal", "RequestCancelExternal")):
            raise Unsupported(f"{t} (outside the script vocabulary)")

    def patched(self, patch_id):
        if patch_id not in self.patches:
            self.patches[patch_id] = not self.replaying or patch_id in self.patch_markers
            if self.patches[patch_id]:
                self.commands.append({"type": "record_marker", "marker_name": "core_patch",
                                      "details": {"patch_id": patch_id, "deprecated": False}})
        return self.patches[patch_id]

    def close(self, command):
        self.commands.append(command)
        self.closed = True

    def start(self, step):
        """Run one step; return what it now waits for, or None."""
        op = step["op"]
        if op in ("sleep", "activity", "wait_signal") and self.cancel_requested:
            self.close({"type": "cancel_workflow", "details": None})
        elif op == "sleep":
            self.timer_seq += 1
            tid = str(self.timer_seq)
            self.commands.append({"type": "start_timer", "timer_id": tid, "duration": f"{step['seconds']}s"})
            return {"step": step, "id": tid}
        elif op == "activity":
            self.activity_seq += 1
            aid = str(self.activity_seq)
            self.commands.append({"type": "schedule_activity", "activity_id": aid,
                                  "activity_type": step["activity_type"], "input": self.value(step["args"]),
                                  "start_to_close_timeout": step["start_to_close_timeout"]})
            return {"step": step, "id": aid}
        elif op == "wait_signal":
            return {"step": step}
        elif op == "patched":
            self.steps[0:0] = step["then"] if self.patched(step["patch_id"]) else step["else"]
        elif op == "complete":
            self.close({"type": "complete_workflow", "result": self.value(step["result"])})
        elif op == "continue_as_new":
            self.close({"type": "continue_as_new", "input": self.value(step["input"]),
                        "workflow_type": step["workflow_type"]})
        else:
            raise Unsupported(f"script op {op!r}")
        return None

    def resolved(self, w):
        """Whether the blocked step can go on (saving its value if it has one)."""
        step = w["step"]
        if step["op"] == "sleep":
            return w["id"] in self.fired
        if step["op"] == "activity":
            if w["id"] in self.failed:
                raise Unsupported("an activity failure (outside the vocabulary)")
            found, value = w["id"] in self.results, self.results.get(w["id"])
        else:
            i = next((i for i, s in enumerate(self.signals) if s[0] == step["signal_name"]), None)
            found = i is not None
            if found:
                inp = self.signals.pop(i)[1]
                value = inp[0] if isinstance(inp, list) and inp else None
        if found and "save_as" in step:
            self.vars[step["save_as"]] = value
        return found

    def cancel(self, w):
        op = w["step"]["op"]
        if op == "sleep":
            self.commands.append({"type": "cancel_timer", "timer_id": w["id"]})
        elif op == "activity":
            self.commands.append({"type": "request_cancel_activity", "activity_id": w["id"]})
        self.close({"type": "cancel_workflow", "details": None})

    def activate(self, replaying, patch_markers):
        """Run the code until it is blocked or closed; return its commands."""
        self.replaying, self.commands = replaying, []
        self.patch_markers |= patch_markers
        while not self.closed:
            if self.waiting is None:
                if not self.steps:
                    raise Unsupported("the script ended without complete or continue_as_new")
                self.waiting = self.start(self.steps.pop(0))
            elif self.resolved(self.waiting):
                self.waiting = None
            else:
                if self.cancel_requested:
                    self.cancel(self.waiting)
                break
        return self.commands


# ------------------------------------------------------------- replay
def workflow_task(workflows, history):
    """docs/protocol.md, "The procedure", for a whole history: the call the
    worker makes, as {"complete_workflow_task": commands} or
    {"fail_workflow_task": failure}."""
    try:
        if history[0]["event_id"] != 1 or history[0]["event_type"] != "WorkflowExecutionStarted":
            raise Unsupported("a partial (sticky) history: fetch workflow_task_history first")
        wtype = history[0]["attributes"]["workflow_type"]
        if wtype not in workflows:
            raise Unsupported(f"no workflow type {wtype!r}")
        last = len(history) - 1
        bounds = [k for k, e in enumerate(history) if e["event_type"] == "WorkflowTaskStarted"
                  and (k == last or history[k + 1]["event_type"] == "WorkflowTaskCompleted")]
        if not bounds or bounds[-1] != last:
            raise Unsupported("the history does not end with the task's WorkflowTaskStarted")
        seen = [history[(bounds[i - 1] + 1 if i else 0):b + 1] for i, b in enumerate(bounds)]
        cmd_events = [[e for e in s if e["event_type"] in COMMAND_EVENTS] for s in seen[1:]]
        run, commands = Run(workflows[wtype]), None
        for i, b in enumerate(bounds):
            if i:
                match(commands, cmd_events[i - 1], history[bounds[i - 1]]["event_id"], run)
            for e in seen[i]:
                run.apply(e)
            past = i < len(bounds) - 1
            markers = {e["attributes"]["details"]["patch_id"] for e in (cmd_events[i] if past else [])
                       if e["event_type"] == "MarkerRecorded" and e["attributes"]["marker_name"] == "core_patch"}
            commands = run.activate(past, markers)
        return {"complete_workflow_task": commands}
    except NonDeterminism as nd:
        return {"fail_workflow_task": {"type": "NonDeterminismError", "message": str(nd),
                                       "non_retryable": False, "details": {"event_id": nd.event_id}}}


# ------------------------------------------------------------- comparing
DURATION_KEYS = {"duration", "schedule_to_close_timeout", "schedule_to_start_timeout",
                 "start_to_close_timeout", "heartbeat_timeout", "execution_timeout", "run_timeout",
                 "task_timeout", "backoff_start_interval", "initial_interval", "maximum_interval"}
UNITS = {"us": Decimal("0.000001"), "microsecond": Decimal("0.000001"), "ms": Decimal("0.001"),
         "millisecond": Decimal("0.001"), "s": 1, "sec": 1, "second": 1, "m": 60, "min": 60,
         "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400, "w": 604800, "week": 604800}


def seconds(v):
    """A duration (docs/protocol.md, "Durations") in seconds, or None."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return Decimal(str(v))
    if not isinstance(v, str):
        return None
    s = v.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return Decimal(s)
    m = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d+)?)", s)
    if m:
        return int(m[1]) * 3600 + int(m[2]) * 60 + Decimal(m[3])
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)\s*", s)
    if not parts or "".join(re.findall(r"\d+(?:\.\d+)?\s*[a-z]+\s*", s)) != s:
        return None
    total = Decimal(0)
    for num, unit in parts:
        unit = unit[:-1] if unit.endswith("s") and unit[:-1] in UNITS else unit
        if unit not in UNITS:
            return None
        total += Decimal(num) * UNITS[unit]
    return total


def same(a, b, key=None):
    """JSON equality as the README's "Comparing commands" says."""
    if key in DURATION_KEYS and seconds(a) is not None and seconds(b) is not None:
        return seconds(a) == seconds(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], k) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return type(a) in (int, float) and type(b) in (int, float) and a == b or \
        type(a) is type(b) and a == b


def check(fixture):
    """Run one fixture; return None when the worker does what it expects,
    else a reason."""
    workflows = {fixture["workflow"]["workflow_type"]: fixture["workflow"]["script"]}
    got = workflow_task(workflows, fixture["history"])
    want = fixture["expect"]
    if "complete_workflow_task" in want:
        if same(got.get("complete_workflow_task"), want["complete_workflow_task"]):
            return None
    elif "fail_workflow_task" in got:
        f, w = got["fail_workflow_task"], want["fail_workflow_task"]
        if f["type"] == w["type"] and ("event_id" not in w or f["details"]["event_id"] == w["event_id"]):
            return None
    return f"expected {json.dumps(want)}, got {json.dumps(got)}"


# ------------------------------------------------------------- live
# (workflow type, input, signals sent after its first task, expected result)
LIVE = [
    ("timer_done", [], [], "done"),
    ("activity_echo", ["hello"], [], "HELLO"),
    ("wait_signal", [], [("go", ["a"])], "a"),
    ("sleep_then_signal", [], [("go", ["payload"])], "payload"),
    ("patched_flow", ["x"], [], "new:x"),
    ("can_first", [], [], "from first"),          # continues as can_second
]
ACTIVITIES = {"echo": lambda x: x.upper(), "new_way": lambda x: f"new:{x}", "old_way": lambda x: f"old:{x}"}
QUEUE, WORKER = "minimal-live", "minimal-worker"


def psql(dsn, query, **params):
    """Run one statement; params are psql variables, quoted with :'name'."""
    cmd = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", dsn]
    for k, v in params.items():
        cmd += ["-v", f"{k}={v}"]
    r = subprocess.run(cmd, input=query, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(r.stderr.strip())
    return r.stdout.strip()


def live(dsn, paths):
    scripts = {}
    for p in paths:
        f = json.loads(Path(p).read_text())
        scripts[f["workflow"]["workflow_type"]] = f["workflow"]["script"]
    tag = str(int(time.time() * 1000))
    runs = {}
    for wtype, inp, signals, want in LIVE:
        wid = f"mw-{wtype}-{tag}"
        psql(dsn, "SELECT durable.start_workflow(:'t', :'i'::jsonb, workflow_id => :'w', task_queue => :'q')",
             t=wtype, i=json.dumps(inp), w=wid, q=QUEUE)
        runs[wid] = {"type": wtype, "signals": signals, "want": want, "tasks": 0}
    problems, deadline = [], time.time() + 60
    while time.time() < deadline:
        row = psql(dsn, "SELECT to_json(t) FROM durable.poll_task(:'q', :'w', '{workflow,activity}', "
                        "'1 second') t", q=QUEUE, w=WORKER)
        if not row:
            open_ = psql(dsn, "SELECT count(*) FROM durable.workflows WHERE task_queue = :'q' "
                              "AND status = 'running' AND workflow_id LIKE :'p'", q=QUEUE, p=f"mw-%-{tag}")
            if open_ == "0":
                break
            continue
        t = json.loads(row)
        if t["kind"] == "activity":
            inp = t["input"] or []
            psql(dsn, "SELECT durable.complete_activity(:'k', :'r'::jsonb)", k=t["task_token"],
                 r=json.dumps(ACTIVITIES[t["activity_type"]](*inp)))
            continue
        if t["kind"] != "workflow":
            continue                # a kind this worker does not know
        out = workflow_task(scripts, t["history"])
        if "fail_workflow_task" in out:
            problems.append(f"{t['workflow_id']}: {out['fail_workflow_task']['message']}")
            psql(dsn, "SELECT durable.fail_workflow_task(:'k', :'f'::jsonb)", k=t["task_token"],
                 f=json.dumps(out["fail_workflow_task"]))
            continue
        answer = json.loads(psql(dsn, "SELECT durable.complete_workflow_task(:'k', :'c'::jsonb)",
                                 k=t["task_token"], c=json.dumps(out["complete_workflow_task"])))
        if answer != {"outcome": "completed"}:
            problems.append(f"{t['workflow_id']}: the engine answered {answer}")
        r = runs[t["workflow_id"]]
        r["tasks"] += 1
        for name, payload in r["signals"] if r["tasks"] == 1 else []:
            psql(dsn, "SELECT durable.signal_workflow(:'w', :'n', :'p'::jsonb)", w=t["workflow_id"], n=name,
                 p=json.dumps(payload))
    passed = failed = 0
    for wid, r in runs.items():
        got = psql(dsn, "SELECT durable.workflow_result(:'w', wait => '0')", w=wid)
        mine = [p for p in problems if p.startswith(wid + ":")]
        if got and json.loads(got) == r["want"] and not mine:
            print(f"pass live {r['type']} ({r['tasks']} workflow tasks)")
            passed += 1
        else:
            print(f"FAIL live {r['type']}: result {got!r}, expected {json.dumps(r['want'])}; {'; '.join(mine)}")
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


def main(paths):
    if paths[:1] == ["--live"]:
        return live(paths[1], paths[2:])
    passed = failed = skipped = 0
    for path in paths:
        name = Path(path).stem
        if name in SKIP:
            print(f"skip {name}: {SKIP[name]}")
            skipped += 1
            continue
        try:
            reason = check(json.loads(Path(path).read_text()))
        except (Unsupported, KeyError, IndexError, TypeError, ValueError) as e:
            reason = f"{type(e).__name__}: {e}"
        if reason is None:
            print(f"pass {name}")
            passed += 1
        else:
            print(f"FAIL {name}: {reason}")
            failed += 1
    if skipped:
        print(f"{skipped} skipped")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
