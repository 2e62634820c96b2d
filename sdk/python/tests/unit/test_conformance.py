"""The language-neutral conformance fixtures (test/conformance/*.json, see its
README) run through the Python SDK's replay: each fixture's script is written
with the public workflow API (`durable.workflow`), its history is replayed by
`durable._runtime.run_workflow_task`, and what the worker would send
(`complete_workflow_task` commands, or a `fail_workflow_task` failure) must be
what the fixture expects. No database: the engine's side was recorded."""
import importlib.util
import json
import unittest
from datetime import timedelta
from pathlib import Path

from durable import _runtime, workflow

ROOT = Path(__file__).resolve().parents[4]
FIXTURES = ROOT / "test" / "conformance"

# the fixtures' comparison rules (durations by value, null != absent) live
# with the minimal worker; reuse them rather than restate them
_spec = importlib.util.spec_from_file_location("minimal_worker", FIXTURES / "minimal_worker.py")
_mw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mw)


class _Done(Exception):
    pass


def scripted(workflow_type: str, script: list) -> type:
    """A workflow class that runs a fixture script (test/conformance/README.md, "Scripts")."""

    @workflow.defn(name=workflow_type)
    class Scripted:
        def __init__(self):
            self.signals = []
            self.vars = {}

        @workflow.signal(dynamic=True)
        def on_signal(self, name, *args):
            self.signals.append((name, args[0] if args else None))

        def value(self, v, args):
            if isinstance(v, dict) and list(v) == ["$var"]:
                return self.vars[v["$var"]]
            if isinstance(v, dict) and list(v) == ["$arg"]:
                return args[v["$arg"]] if v["$arg"] < len(args) else None
            if isinstance(v, list):
                return [self.value(x, args) for x in v]
            return v

        async def steps(self, steps, args):
            for s in steps:
                op = s["op"]
                if op == "sleep":
                    await workflow.sleep(timedelta(seconds=s["seconds"]))
                elif op == "activity":
                    r = await workflow.execute_activity(
                        s["activity_type"], args=self.value(s.get("args", []), args),
                        start_to_close_timeout=s["start_to_close_timeout"])
                    if "save_as" in s:
                        self.vars[s["save_as"]] = r
                elif op == "wait_signal":
                    name = s["signal_name"]
                    await workflow.wait_condition(lambda: any(n == name for n, _ in self.signals))
                    i = next(i for i, (n, _) in enumerate(self.signals) if n == name)
                    got = self.signals.pop(i)[1]
                    if "save_as" in s:
                        self.vars[s["save_as"]] = got
                elif op == "patched":
                    await self.steps(s.get("then", []) if workflow.patched(s["patch_id"]) else s.get("else", []), args)
                elif op == "complete":
                    self.result = self.value(s.get("result"), args)
                    raise _Done()
                elif op == "continue_as_new":
                    workflow.continue_as_new(args=self.value(s.get("input", []), args),
                                             workflow=s["workflow_type"])
                else:
                    raise ValueError(f"script: unknown op {op}")

        @workflow.run
        async def run(self, *args):
            try:
                await self.steps(script, list(args))
            except _Done:
                return self.result
            raise ValueError("script ended without complete or continue_as_new")

    return Scripted


def sent(fixture: dict) -> dict:
    """What the SDK's worker sends for the fixture's task."""
    cls = scripted(fixture["workflow"]["workflow_type"], fixture["workflow"]["script"])
    kind, out = _runtime.run_workflow_task(
        workflow.definition_of(cls), fixture["history"], workflow_id=fixture["workflow_id"],
        run_id=fixture["run_id"], namespace="default", task_queue="q")
    return {"complete_workflow_task": out} if kind == "complete" else {"fail_workflow_task": out}


class Conformance(unittest.TestCase):
    pass


def _add(path: Path):
    fixture = json.loads(path.read_text())

    def test(self):
        got = sent(fixture)
        want = fixture["expect"]
        if "complete_workflow_task" in want:
            self.assertIn("complete_workflow_task", got, json.dumps(got))
            self.assertTrue(_mw.same(got["complete_workflow_task"], want["complete_workflow_task"]),
                            f"expected {json.dumps(want)}, got {json.dumps(got)}")
        else:
            self.assertIn("fail_workflow_task", got, json.dumps(got))
            f, w = got["fail_workflow_task"], want["fail_workflow_task"]
            self.assertEqual(f["type"], w["type"])
            if "event_id" in w:
                self.assertEqual(f["details"]["event_id"], w["event_id"], f["message"])

    test.__doc__ = fixture["description"]
    setattr(Conformance, "test_" + path.stem.replace("-", "_"), test)


for _p in sorted(FIXTURES.glob("*.json")):
    _add(_p)

if __name__ == "__main__":
    unittest.main()
